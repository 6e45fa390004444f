import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/**
 * The import boundaries biome.json enforces (noRestrictedImports, per folder through overrides):
 * probe files that import across each boundary, linted with the project's own configuration in
 * a scratch directory, must be flagged on exactly the lines that cross it, and on no other.
 */
const BIOME = resolve('node_modules/.bin/biome');

/** Imports per probe file: `true` = must be refused, `false` = allowed. */
const PROBES: Record<string, Array<[string, boolean]>> = {
  'functions/core/fleet/probe.ts': [
    ['@aws-sdk/client-ec2', true],
    ['@aws-sdk/lib-dynamodb', true],
    ['aws-cdk-lib', true],
    ['aws-cdk-lib/aws-sqs', true],
    ['constructs', true],
    ['@middy/core', true],
    ['@aws-lambda-powertools/logger', true],
    ['@aws-lambda-powertools/logger/middleware', true],
    ['../../adapters/ec2-actions', true],
    ['../../handlers/triage', true],
    ['../../app/ports', true],
    ['../../steps/rollout', true],
    ['../../../cli/main', true],
    ['../../../lib/settings', true],
    ['../../../sim/fleet-sim', true],
    ['zod', false],
    ['yaml', false],
    ['./fleet', false],
    ['../change/spec', false],
    ['../defaults', false],
  ],
  'functions/steps/probe.ts': [
    ['@aws-sdk/client-sfn', true],
    ['../adapters/dynamo-client', true],
    ['../core/change/rollout/rollout', false],
    ['./state-names', false],
    ['zod', false],
  ],
  'functions/adapters/probe.ts': [
    ['../handlers/telemetry', true],
    ['../app/ports', true],
    ['../../cli/io', true],
    ['@aws-sdk/client-ec2', false],
    ['../core/defaults', false],
    ['./dynamo-client', false],
  ],
};

describe('import boundaries (biome.json noRestrictedImports)', () => {
  let flagged: Map<string, Set<number>>;

  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetops-boundaries-'));
    try {
      copyFileSync('biome.json', join(dir, 'biome.json'));
      for (const [file, imports] of Object.entries(PROBES)) {
        mkdirSync(dirname(join(dir, file)), { recursive: true });
        const lines = imports.map(([from], k) => `import * as m${k} from '${from}';`);
        lines.push(`export const all = [${imports.map((_, k) => `m${k}`).join(', ')}];`);
        writeFileSync(join(dir, file), `${lines.join('\n')}\n`);
      }
      const run = spawnSync(BIOME, ['lint', '--vcs-enabled=false', '--max-diagnostics=500', 'functions'], {
        cwd: dir,
        encoding: 'utf8',
      });
      const output = `${run.stdout}${run.stderr}`;
      flagged = new Map();
      for (const [, file, line] of output.matchAll(
        /^(\S+\.ts):(\d+):\d+ lint\/style\/noRestrictedImports/gm,
      )) {
        const lines = flagged.get(file) ?? new Set<number>();
        lines.add(Number(line));
        flagged.set(file, lines);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(Object.keys(PROBES))('%s: refused exactly where a boundary is crossed', (file) => {
    const got = PROBES[file].map(([from], k) => [from, flagged.get(file)?.has(k + 1) ?? false]);
    expect(got).toEqual(PROBES[file]);
  });
});
