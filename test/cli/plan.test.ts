import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../cli/main';

async function fleetops(...args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (t) => (out += t), err: (t) => (err += t), color: false });
  return { code, out, err };
}

const examples = ['--fleet', 'examples/fleet.json', '--services', 'examples/services.yaml'];
const scratch = mkdtempSync(join(tmpdir(), 'fleetops-cli-'));

describe('fleetops plan', () => {
  it('prints a readable table with the binding constraint, the duration and the skipped instances', async () => {
    const { code, out } = await fleetops('plan', ...examples, '--spec', 'examples/changes/ssm-patch.yaml');
    expect(code).toBe(0);
    expect(out).toMatch(/^wave\s+kind\s+zone\s+size\s+bound by\s+services$/m);
    expect(out).toMatch(/^\s+0\s+canary\s+us-east-1a\s+7\s+canary\s+/m);
    expect(out).toContain('── waits for approval: after the canary ──');
    expect(out).toMatch(/predicted duration: \d+ h( \d+ min)?, plus time waiting for 1 approval/);
    expect(out).toContain('× impaired: left to remediation');
  });

  it('prints the documented JSON, the same bytes every time', async () => {
    const args = ['plan', ...examples, '--spec', 'examples/changes/kernel-reboot.yaml', '--json'];
    const first = await fleetops(...args);
    const second = await fleetops(...args);
    expect(first.code).toBe(0);
    expect(second.out).toBe(first.out);
    const plan = JSON.parse(first.out);
    expect(plan.changeId).toBe('kernel-6-1-115-reboot');
    expect(typeof plan.predictedMinutes).toBe('number');
    expect(plan.waves[0]).toEqual(
      expect.objectContaining({
        index: 0,
        zone: 'us-east-1a',
        instances: expect.any(Array),
        bindingConstraint: expect.any(String),
      }),
    );
    expect(plan.skipped[0]).toEqual({ id: expect.stringMatching(/^i-/), reason: expect.any(String) });
  });

  it('exits 2 with the file, field, expectation and finding for a bad spec, and no stack trace', async () => {
    const bad = join(scratch, 'bad.yaml');
    writeFileSync(
      bad,
      'id: x\ndescription: y\ntarget: { services: [web] }\naction: { type: reboot }\nrisk: extreme\n',
    );
    const { code, err } = await fleetops('plan', ...examples, '--spec', bad);
    expect(code).toBe(2);
    expect(err).toBe(
      `error: ${bad}:5:7: risk: expected one of "low", "medium", "high", "kernel", found "extreme"\n`,
    );
  });

  it('exits 3 when nothing can proceed', async () => {
    const fleet = join(scratch, 'fleet.json');
    const services = join(scratch, 'services.yaml');
    const spec = join(scratch, 'spec.yaml');
    writeFileSync(
      fleet,
      JSON.stringify({
        instances: [
          { id: 'i-00000001', service: 'db', zone: 'us-east-1a', state: 'running', health: 'impaired' },
        ],
      }),
    );
    writeFileSync(services, 'services: { db: { maxUnavailable: 1 } }\n');
    writeFileSync(
      spec,
      'id: x\ndescription: y\ntarget: { services: [db] }\naction: { type: reboot }\nrisk: low\n',
    );
    const { code, err } = await fleetops('plan', '--fleet', fleet, '--services', services, '--spec', spec);
    expect(code).toBe(3);
    expect(err).toContain('nothing can proceed');
  });

  it('rejects unknown flags and missing files with exit 2', async () => {
    expect((await fleetops('plan', ...examples, '--spec', 'x.yaml', '--frobnicate')).code).toBe(2);
    const missing = await fleetops('plan', ...examples, '--spec', 'does-not-exist.yaml');
    expect(missing).toMatchObject({
      code: 2,
      err: 'error: does-not-exist.yaml: expected a readable file, found no such file\n',
    });
  });

  it('ships as a binary with --help and --version', () => {
    execFileSync('node', ['scripts/build-cli.mjs']);
    const version = spawnSync('node', ['dist/fleetops.js', '--version'], { encoding: 'utf8' });
    expect(version.stdout.trim()).toBe(require('../../package.json').version);
    const help = spawnSync('node', ['dist/fleetops.js', 'plan', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--spec <file>');
    const bad = spawnSync('node', ['dist/fleetops.js', 'plna'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("unknown command 'plna'");
  });
});

describe('fleetops judge', () => {
  const judgeFiles = ['--baseline', 'examples/judge/baseline.json', '--canary', 'examples/judge/canary.json'];

  it('shows per metric why the gate fails, and exits 3', async () => {
    const { code, out } = await fleetops('judge', ...judgeFiles, '--config', 'examples/judge/judge.yaml');
    expect(code).toBe(3);
    expect(out).toMatch(/^Latency \(critical\)\s+fail\s+60\/60/m);
    expect(out).toContain('verdict: FAIL');
  });

  it('prints JSON and passes when the canary is the baseline', async () => {
    const { code, out } = await fleetops(
      'judge',
      '--baseline',
      'examples/judge/baseline.json',
      '--canary',
      'examples/judge/baseline.json',
      '--json',
    );
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ verdict: 'pass', score: 100 });
  });

  it('rejects a malformed samples file with exit 2', async () => {
    const bad = join(scratch, 'samples.json');
    writeFileSync(bad, JSON.stringify({ Latency: [1, 'fast', 3] }));
    const { code, err } = await fleetops('judge', '--baseline', bad, '--canary', bad);
    expect(code).toBe(2);
    expect(err).toContain(`error: ${bad}: Latency[1]: expected a number, found "fast"`);
  });
});
