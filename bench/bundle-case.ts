// Each Lambda handler bundled as CDK bundles it (lib/bundling.ts), then: its size, and the time
// to import it in a fresh Node process against bare `node -e 0`, median of N runs each,
// interleaved so both see the same machine. Prints one JSON line.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { HANDLER_BUNDLING, HANDLERS } from '../lib/bundling';

const RUNS = Number(process.argv[2] ?? 9);
const out = mkdtempSync(join(tmpdir(), 'fleetops-bundles-'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// What the handlers read at import (their configuration), with placeholder values.
const env = {
  ...process.env,
  TABLE_NAME: 'fleetops',
  TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:fleetops',
  REMEDIATION_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:remediation',
  MANAGED_TAG_KEY: 'fleetops:managed',
  MANAGED_TAG_VALUE: 'true',
  SERVICE_TAG_KEY: 'fleetops:service',
  AWS_REGION: 'us-east-1',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

function timed(args: string[]): number {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${result.stderr}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const results = HANDLERS.map((handler) => {
  const file = join(out, `${handler}.mjs`);
  execFileSync(
    resolve('node_modules/.bin/esbuild'),
    [
      `functions/handlers/${handler}.ts`,
      '--bundle',
      '--platform=node',
      '--format=esm',
      `--target=${HANDLER_BUNDLING.target}`,
      `--main-fields=${HANDLER_BUNDLING.mainFields.join(',')}`,
      ...(HANDLER_BUNDLING.minify ? ['--minify'] : []),
      ...HANDLER_BUNDLING.externalModules.map((m) => `--external:${m}`),
      `--banner:js=${HANDLER_BUNDLING.banner}`,
      `--outfile=${file}`,
      '--log-level=error',
    ],
    { stdio: 'inherit' },
  );
  const bare: number[] = [];
  const imported: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    bare.push(timed(['-e', '0']));
    imported.push(timed(['-e', `import(${JSON.stringify(file)})`]));
  }
  const bareMs = median(bare);
  const importMs = median(imported);
  return {
    handler,
    bytes: statSync(file).size,
    importMs: Math.round(importMs),
    bareNodeMs: Math.round(bareMs),
    ratio: Math.round((importMs / bareMs) * 100) / 100,
  };
});
process.stdout.write(`${JSON.stringify({ runs: RUNS, handlers: results })}\n`);
