// `npm start` end to end, once (dependencies installed): the wall-clock time from launch to
// exit, with what the run did. Prints one JSON line.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRecord } from '../cli/local/report';

const out = join(mkdtempSync(join(tmpdir(), 'fleetops-local-')), 'report.html');
const start = process.hrtime.bigint();
const run = spawnSync(process.execPath, ['--import', 'tsx', 'cli/local/start.ts', out], { stdio: 'ignore' });
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
if (run.status !== 0) throw new Error(`the local runtime exited with ${run.status}`);
const record = JSON.parse(readFileSync(out.replace(/\.html$/, '.json'), 'utf8')) as RunRecord;
const remediations: Record<string, number> = {};
for (const r of record.remediations) remediations[r.status] = (remediations[r.status] ?? 0) + 1;
process.stdout.write(
  `${JSON.stringify({
    seconds: Math.round(seconds * 10) / 10,
    runSeconds: Math.round(record.seconds * 10) / 10,
    instances: record.services.reduce((n, s) => n + s.instances, 0),
    changes: Object.fromEntries(record.changes.map((c) => [c.id, c.status])),
    remediations,
    pages: record.pages.length,
    checksOk: record.checks.every((c) => c.ok),
  })}\n`,
);
