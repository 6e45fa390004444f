// Each Lambda handler bundled as CDK bundles it (lib/bundling.ts, bundleHandler), then: its size, and the time
// to import it in a fresh Node process against bare `node -e 0`, median of N runs each,
// interleaved so both see the same machine. Prints one JSON line.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MANAGED_TAG, SERVICE_TAG_KEY } from '../functions/core/defaults';
import { bundleEntry, bundleHandler, HANDLER_NODE_OPTIONS, HANDLERS } from '../lib/bundling';

/** The row of the floor: what the DynamoDB client alone costs. */
const FLOOR = '(floor: DynamoDB client only)';

const RUNS = Number(process.argv[2] ?? 9);
const out = mkdtempSync(join(tmpdir(), 'fleetops-bundles-'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// What the handlers read at import (their configuration), with placeholder values.
const env = {
  ...process.env,
  TABLE_NAME: 'fleetops',
  TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:fleetops',
  REMEDIATION_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:remediation',
  MANAGED_TAG_KEY: MANAGED_TAG.key,
  MANAGED_TAG_VALUE: MANAGED_TAG.value,
  SERVICE_TAG_KEY,
  AWS_REGION: 'us-east-1',
  // As deployed: both the handler and bare Node start with the functions' NODE_OPTIONS.
  NODE_OPTIONS: HANDLER_NODE_OPTIONS,
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

function timed(args: string[]): number {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${result.stderr}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function main() {
  const bundles = [];
  for (const handler of HANDLERS)
    bundles.push({ handler, ...(await bundleHandler(handler, join(out, handler))) });
  // The floor: only the DynamoDB document client, bundled the same way.
  bundles.push({ handler: FLOOR, ...(await bundleEntry(resolve('bench/sdk-floor.ts'), join(out, 'floor'))) });
  // One baseline for the whole run: bare Node started between every import, all of them.
  const bare: number[] = [];
  const imported = new Map<string, number[]>(bundles.map((b) => [b.handler, []]));
  for (let i = 0; i < RUNS; i++) {
    for (const { handler, file } of bundles) {
      bare.push(timed(['-e', '0']));
      imported.get(handler)?.push(timed(['-e', `import(${JSON.stringify(file)})`]));
    }
  }
  const bareMs = median(bare);
  const handlers = bundles.map(({ handler, bytes }) => {
    const importMs = median(imported.get(handler) ?? []);
    return {
      handler,
      bytes,
      importMs: Math.round(importMs),
      bareNodeMs: Math.round(bareMs),
      ratio: Math.round((importMs / bareMs) * 100) / 100,
    };
  });
  process.stdout.write(`${JSON.stringify({ runs: RUNS, nodeOptions: HANDLER_NODE_OPTIONS, handlers })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
