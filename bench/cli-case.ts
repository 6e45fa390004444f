// The whole `fleetops plan --json` command on a 100,000-instance inventory file: read, validate,
// plan, print. Usage: tsx bench/cli-case.ts <instances> <services> <zones> <runs>
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatQuantity, type Quantity } from '../functions/core/safety/quantity';
import { syntheticFleet } from '../sim/world/synthetic-fleet';

const asWritten = (q: Quantity) => (q.kind === 'count' ? q.value : formatQuantity(q));

const [instances, services, zones, runs] = process.argv.slice(2).map(Number);
const fleet = syntheticFleet({ instances, services, zones, seed: 42 });
const dir = mkdtempSync(join(tmpdir(), 'fleetops-bench-'));
writeFileSync(join(dir, 'fleet.json'), JSON.stringify({ instances: fleet.instances }));
const declared = Object.fromEntries(
  Object.entries(fleet.services.services).map(([name, p]) => [
    name,
    {
      maxUnavailable: asWritten(p.maxUnavailable),
      ...(p.maxUnavailablePerZone ? { maxUnavailablePerZone: asWritten(p.maxUnavailablePerZone) } : {}),
      impact: p.impact,
    },
  ]),
);
writeFileSync(join(dir, 'services.json'), JSON.stringify({ services: declared }));
writeFileSync(
  join(dir, 'spec.yaml'),
  'id: bench\ndescription: bench\ntarget: { tags: {} }\naction: { type: reboot }\nrisk: medium\n',
);
const args = [
  'dist/fleetops.js',
  'plan',
  '--json',
  '-f',
  join(dir, 'fleet.json'),
  '-s',
  join(dir, 'services.json'),
];
args.push('-c', join(dir, 'spec.yaml'));
const times: number[] = [];
for (let i = 0; i < runs; i++) {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { maxBuffer: 1 << 30 });
  if (result.status !== 0) throw new Error(`fleetops plan failed: ${result.stderr}`);
  times.push(Number(process.hrtime.bigint() - start) / 1e6);
}
const bare: number[] = [];
for (let i = 0; i < runs; i++) {
  const start = process.hrtime.bigint();
  spawnSync(process.execPath, ['-e', '0']);
  bare.push(Number(process.hrtime.bigint() - start) / 1e6);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
process.stdout.write(
  `${JSON.stringify({ instances, services, zones, runs, medianMs: median(times), bareNodeMs: median(bare) })}\n`,
);
