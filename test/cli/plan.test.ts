import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../cli/main';
import { expectedEndLine, progressOf, renderProgress, waveProgress } from '../../cli/render-progress';
import type { ChangeRecord, WaveRecord } from '../../functions/adapters/dynamo-change-store';
import type { Plan, Wave } from '../../functions/core/change/plan/planner';
import { expectedEnd } from '../../functions/core/change/plan/predict';
import { changeSpecSchema } from '../../functions/core/change/spec';
import { serviceCatalog } from '../../functions/core/fleet/services';

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
    const { code, out } = await fleetops(
      'plan',
      ...examples,
      '--spec',
      'examples/changes/ssm-patch.yaml',
      '--start',
      '2026-03-03T14:00Z',
    );
    expect(code).toBe(0);
    expect(out).toMatch(/^wave\s+kind\s+zone\s+size\s+bound by\s+services$/m);
    expect(out).toMatch(/^\s+0\s+canary\s+us-east-1a\s+7\s+canary\s+/m);
    expect(out).toContain('── waits for approval: after the canary ──');
    expect(out).toContain('× impaired: left to remediation');
  });

  it('breaks the predicted duration down: actions and bakes, approvals, zone bakes, time windows', async () => {
    // ssm-patch: 34 waves of 7.75 + 10 min (the 5-min estimate is seen at settle's look at 465 s:
    // 15, 45, 105, 225, 465 s), one approval point (60 min expected by default), a 20-min bake after
    // each of its two zone changes, windows Monday to Thursday 14:00–22:00 UTC. Starting Tuesday
    // 14:00 UTC, the waves fill Tuesday's eight hours and Wednesday's first hours, with the 16 h
    // overnight less what the last wave of Tuesday ran past 22:00 (8 min 15 s: 15 h 51.75 min).
    const { out } = await fleetops(
      'plan',
      ...examples,
      '--spec',
      'examples/changes/ssm-patch.yaml',
      '--start',
      '2026-03-03T14:00Z',
    );
    const duration = out.slice(out.indexOf('predicted duration'), out.indexOf('\nskipped'));
    expect(duration).toBe(
      [
        'predicted duration: 29 h 40 min',
        '   12 h 8 min  actions and bakes (41 waves × 17.7 min, 7 of them final waves for instances skipped for a spent budget)',
        '          1 h  expected approval waits (1 × 60 min)',
        '       40 min  zone bakes',
        '  15 h 52 min  waiting for time windows (starting 2026-03-03T14:00:00.000Z)',
        '',
      ].join('\n'),
    );
    // A fleet that was scaling the day before: the joiners it expects, at the rate it read.
    const fleet = JSON.parse(readFileSync('examples/fleet.json', 'utf8')) as {
      instances: Array<Record<string, unknown>>;
    };
    const start = Date.parse('2026-03-03T14:00Z');
    fleet.instances.forEach((i, k) => {
      i.launchedAt = new Date(start - (k % 3 === 0 ? 3_600_000 : 40 * 86_400_000)).toISOString();
    });
    const scaling = join(scratch, 'scaling-fleet.json');
    writeFileSync(scaling, JSON.stringify(fleet));
    const args = ['plan', '--fleet', scaling, '--services', 'examples/services.yaml'];
    const spec = ['--spec', 'examples/changes/ssm-patch.yaml', '--start', '2026-03-03T14:00Z'];
    const churning = await fleetops(...args, ...spec);
    expect(churning.out).toMatch(
      /of them final waves for ~\d+ instances expected to join \(\d+(\.\d)? launches\/h the day before\) and those skipped for a spent budget/,
    );
    const json = JSON.parse((await fleetops(...args, ...spec, '--json')).out) as Plan;
    expect(json.launchesPerHour).toBeGreaterThan(0);
    expect(json.expectedLateJoiners).toBeGreaterThan(0);
    expect(json.predictedMinutes).toBeGreaterThan(29 * 60 + 40);
    // Without windows, approvals or zone bakes: the waves alone, one line.
    const config = await fleetops('plan', ...examples, '--spec', 'examples/changes/config-push.yaml');
    expect(config.out).toMatch(/^predicted duration: \d+ h( \d+ min)?$/m);
    expect(config.out).not.toContain('actions and bakes');
  });

  it('predicts from --start (default: now), and refuses a start it cannot read', async () => {
    const at = async (start: string) =>
      JSON.parse(
        (
          await fleetops(
            'plan',
            ...examples,
            '--spec',
            'examples/changes/kernel-reboot.yaml',
            '--json',
            '--start',
            start,
          )
        ).out,
      );
    // kernel-reboot opens Tuesday to Thursday, 09:00–16:00 in New York: Tuesday 09:00 EST waits
    // for nothing at first; Monday 09:00 waits a day more for it.
    const tuesday = await at('2026-03-03T09:00:00-05:00');
    const monday = await at('2026-03-02T09:00:00-05:00');
    expect(tuesday.predictedFrom).toBe('2026-03-03T14:00:00.000Z');
    expect(monday.windowMinutes - tuesday.windowMinutes).toBe(24 * 60);
    expect(monday.predictedMinutes - tuesday.predictedMinutes).toBe(24 * 60);
    const bad = await fleetops(
      'plan',
      ...examples,
      '--spec',
      'examples/changes/kernel-reboot.yaml',
      '--start',
      'tuesday',
    );
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--start: expected an ISO 8601 date and time with its zone');
  });

  it('prints the documented JSON, the same bytes every time', async () => {
    // Its windows make the prediction depend on the start: the same start, the same bytes.
    const args = [
      'plan',
      ...examples,
      '--spec',
      'examples/changes/kernel-reboot.yaml',
      '--json',
      '--start',
      '2026-03-03T14:00Z',
    ];
    const first = await fleetops(...args);
    const second = await fleetops(...args);
    expect(first.code).toBe(0);
    expect(second.out).toBe(first.out);
    const plan = JSON.parse(first.out);
    expect(plan.changeId).toBe('kernel-6-1-115-reboot');
    // 28 waves of 7.75 + 15 min (a reboot is seen finished at settle's look at 465 s), one approval
    // point (30 min expected), a 120-min bake after the first zone and a 30-min one after the second.
    expect(plan).toMatchObject({
      trafficMinutes: 0,
      approvalMinutes: 30,
      zoneBakeMinutes: 150,
      predictedFrom: '2026-03-03T14:00:00.000Z',
    });
    // The waves, the approval wait, the zone bakes, the windows, and the expected final waves.
    expect(plan.predictedMinutes).toBeGreaterThan(28 * 22.75 + 30 + 150 + plan.windowMinutes);
    expect(plan.expectedFinalWaves).toBeGreaterThan(0);
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

describe('change status and watch: the rendering', () => {
  const NOW = Date.UTC(2026, 4, 5, 12);
  const MINUTE = 60_000;
  const wave = (index: number, zone: string, ids: string[], fields: Partial<Wave> = {}): Wave => ({
    index,
    kind: index === 0 ? 'canary' : 'rollout',
    zone,
    zones: [zone],
    size: ids.length,
    limit: ids.length,
    bindingConstraint: 'growth',
    services: { web: ids.length },
    instances: ids,
    approvalAfter: null,
    ...fields,
  });
  const plan = {
    changeId: 'c-1',
    description: 'reboot web',
    action: 'reboot',
    risk: 'low',
    zoneOrder: ['us-east-1a', 'us-east-1b'],
    summary: { targeted: 7, planned: 7, skipped: 0, waves: 4, approvals: 0, blastRadiusBeforeApproval: null },
    predictedMinutes: 60,
    waves: [
      wave(0, 'us-east-1a', ['i-00000001']),
      wave(1, 'us-east-1a', ['i-00000002', 'i-00000003'], { cap: 4 }),
      wave(2, 'us-east-1b', ['i-00000004', 'i-00000005']),
      wave(3, 'us-east-1a', ['i-00000006', 'i-00000007'], { joiners: 'late', bindingConstraint: 'final' }),
    ],
    skipped: [],
    budgets: [],
    warnings: [],
    revision: 2,
    revisions: [
      {
        revision: 1,
        wave: 1,
        at: '2026-05-05T11:20:00.000Z',
        reason: 'wave 1: budget:web has room for 2 of 4 now',
        waves: 3,
      },
      {
        revision: 2,
        wave: 3,
        at: '2026-05-05T11:50:00.000Z',
        reason: 'final waves: 2 launched after planning, 0 back since they were skipped',
        waves: 4,
        late: ['i-00000006', 'i-00000007'],
        lateCount: 2,
        revisits: [],
        revisitCount: 0,
      },
    ],
  } as Plan;
  const spec = changeSpecSchema.parse({
    id: 'c-1',
    description: 'reboot web',
    target: { services: ['web'] },
    action: { type: 'reboot' },
    risk: 'low',
    strategy: { bakeMinutes: 10, zoneBakeMinutes: 20 },
  });
  const record: ChangeRecord = {
    id: 'c-1',
    status: 'running',
    description: 'reboot web',
    waves: 4,
    planDigest: 'x',
    planChunks: 1,
    planRevision: 2,
    createdAt: NOW - 60 * MINUTE,
    createdBy: 'cli:test',
  };
  const at = (minutesAgo: number) => NOW - minutesAgo * MINUTE;
  const records: WaveRecord[] = [
    { wave: 0, part: 'apply#1', at: at(50), body: { applied: ['i-00000001'] } },
    { wave: 0, part: 'result', at: at(40), body: { verdict: 'pass', outcomes: { 'i-00000001': 'ok' } } },
    {
      wave: 1,
      part: 'deferred#000001777980000',
      at: at(39),
      body: {
        instances: [
          { id: 'i-00000004', reason: 'budget:web' },
          { id: 'i-00000005', reason: 'budget:web' },
        ],
      },
    },
    // A retried lease step records the same deferral again: counted once.
    {
      wave: 1,
      part: 'deferred#000001777980001',
      at: at(39),
      body: { instances: [{ id: 'i-00000005', reason: 'budget:web' }] },
    },
    { wave: 1, part: 'apply#2', at: at(38), body: { applied: ['i-00000002', 'i-00000003'] } },
    {
      wave: 1,
      part: 'result',
      at: at(25),
      body: { verdict: 'pass', outcomes: { 'i-00000002': 'ok', 'i-00000003': 'ok' } },
    },
    {
      wave: 2,
      part: 'skipped#000001777990000',
      at: at(5),
      body: { instances: [{ id: 'i-00000009', reason: 'terminated' }] },
    },
    { wave: 2, part: 'apply#3', at: at(4), body: { applied: ['i-00000004', 'i-00000005'] } },
  ];
  const waves = waveProgress(plan, records);

  it('counts the instances deferred to later waves next to those skipped', () => {
    expect(waves.map((w) => w.deferred)).toEqual([0, 2, 0, 0]);
    const lines = renderProgress(record, waves, { plan });
    expect(lines).toContain(
      '  wave   1  us-east-1a         2 planned      2 applied  passed (2 deferred to later waves)',
    );
    expect(lines).toContain('  wave   2  us-east-1b         2 planned      2 applied  baking (1 skipped)');
  });

  it('lists the plan’s revisions and its final waves with their instances', () => {
    const lines = renderProgress(record, waves, { plan });
    const from = lines.indexOf('  plan revisions (2):');
    expect(lines.slice(from)).toEqual([
      '  plan revisions (2):',
      '    r1 at wave 1, 2026-05-05T11:20:00.000Z: wave 1: budget:web has room for 2 of 4 now (3 waves after)',
      '    r2 at wave 3, 2026-05-05T11:50:00.000Z: final waves: 2 launched after planning, 0 back since they were skipped (4 waves after)',
      '      late joiners (2): i-00000006, i-00000007',
      '  final waves (1):',
      '    wave 3 us-east-1a 2 launched after planning, pending: i-00000006, i-00000007',
    ]);
  });

  it('shows the expected end re-estimated from the wave under way, in ISO time and hours and minutes', () => {
    const progress = progressOf(record, records, waves);
    // Wave 2 began 5 minutes ago (its first record).
    expect(progress).toEqual({ phase: 'acting', wave: 2, since: at(5) });
    const estimate = expectedEnd({
      waves: plan.waves,
      spec,
      instances: [],
      catalog: serviceCatalog({ services: {} }),
      progress: progress!,
      now: NOW,
    });
    // A reboot wave is 7.75 + 10 min (the reboot seen at settle's look at 465 s): 12.75 min left of
    // wave 2, the zone bake back to us-east-1a (20), the final wave (17.75): 50.5 min, shown as 51.
    expect(expectedEndLine(estimate)).toBe('expected end: 2026-05-05T12:50:30.000Z (in 51 min)');
    const lines = renderProgress(record, waves, { plan, estimate });
    expect(lines[0]).toBe('c-1: running');
    expect(lines[2]).toBe('  expected end: 2026-05-05T12:50:30.000Z (in 51 min)');
  });

  it('knows where a change is: waiting for a person after a wave, between waves, or ended', () => {
    const passed = records.filter((r) => r.wave < 2);
    expect(progressOf(record, passed, waveProgress(plan, passed))).toEqual({
      phase: 'before',
      wave: 2,
      previousEndedAt: at(25),
    });
    const waiting = { ...record, status: 'waiting-approval' as const, updatedAt: at(24) };
    expect(progressOf(waiting, passed, waveProgress(plan, passed))).toEqual({
      phase: 'waiting-approval',
      wave: 1,
      since: at(24),
    });
    expect(progressOf({ ...record, status: 'completed' }, records, waves)).toBeUndefined();
    expect(progressOf({ ...record, status: 'rolling-back' }, records, waves)).toBeUndefined();
  });
});
