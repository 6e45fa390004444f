import { runCli } from '../../cli/main';
import { FLEET_SIM_DEFAULTS, type FleetSimReport, simulateFleet } from '../../sim/fleet-sim';

/** The report without its wall-clock figures: what must be byte-identical for the same options. */
const deterministic = (r: FleetSimReport) => JSON.stringify({ ...r, wallClock: undefined });

async function fleetops(...args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (t) => (out += t), err: (t) => (err += t), color: false });
  return { code, out, err };
}

const small = { instances: 2000, zones: 3, services: 50, seed: 1 } as const;

/** The instances the change's final waves added (late joiners and revisits). */
const joined = (r: Awaited<ReturnType<typeof simulateFleet>>) =>
  r.change.revisions.reduce((n, x) => n + (x.late ?? 0) + (x.revisits ?? 0), 0);

describe('simulateFleet', () => {
  it('is deterministic by seed: the same options give the same report, byte for byte (wall clock aside)', async () => {
    // Prepare / Act
    const a = await simulateFleet({ ...small, faultRate: 0.001 });
    const b = await simulateFleet({ ...small, faultRate: 0.001 });
    const other = await simulateFleet({ ...small, faultRate: 0.001, seed: 2 });

    // Assess
    expect(deterministic(a)).toBe(deterministic(b));
    expect(deterministic(other)).not.toBe(deterministic(a));
    expect(a.wallClock.ms).toBeGreaterThan(0);
  });

  it('runs the whole change and remediates faults without breaking an invariant (small fleet)', async () => {
    const r = await simulateFleet({ ...small, faultRate: 0.001 });

    expect(r.invariants.violations).toBe(0);
    expect(r.invariants.list).toEqual([]);
    expect(r.change.status).toBe('completed');
    // Each instance rebooted at most once: the planned ones, and those the final waves added (launched
    // since planning, or back after their wave skipped them); every grant, act and record checked.
    expect(Object.keys(r.actions.change)).toEqual(['reboot']);
    expect(r.actions.change.reboot).toBeLessThanOrEqual(r.change.planned + joined(r));
    expect(r.actions.change.reboot).toBeGreaterThan(r.change.planned * 0.95);
    expect(r.invariants.checks.records).toBeGreaterThanOrEqual(r.change.planned);
    expect(r.invariants.checks.grants).toBeGreaterThanOrEqual(r.change.wavesRun);
    expect(r.faults.injected).toBeGreaterThan(0);
    expect(r.remediation.cases).toBeGreaterThan(0);
    expect(r.faults.recovered + r.faults.unrecovered).toBe(r.faults.injected);
    expect(r.requests.ec2.RebootInstances).toBeGreaterThan(0);
    expect(r.change.makespanMinutes).toBeGreaterThan(0);
  });

  it('keeps every invariant on a medium fleet under a high fault rate, with replacements and duplicated steps', async () => {
    const r = await simulateFleet({
      instances: 10_000,
      zones: 3,
      services: 200,
      faultRate: 0.0005,
      seed: 7,
      autoScaling: true,
      retryRate: 0.2,
      bakeMinutes: 5,
    });

    expect(r.invariants.violations).toBe(0);
    expect(r.change.retriedTasks).toBeGreaterThan(0);
    expect(r.faults.injected).toBeGreaterThan(20);
  });

  it('keeps every invariant for a Run Command change', async () => {
    const r = await simulateFleet({ ...small, faultRate: 0.001, action: 'ssm-command' });

    expect(r.invariants.violations).toBe(0);
    expect(Object.keys(r.actions.change)).toEqual(['ssm']);
    expect(r.actions.change.ssm).toBeLessThanOrEqual(r.change.planned + joined(r));
    expect(r.actions.change.ssm).toBeGreaterThan(r.change.planned * 0.95);
    expect(r.requests.other.SendCommand).toBeGreaterThan(0);
  });

  it('takes instances out of traffic around their reboots: drained, rebooted, back and healthy, none replaced', async () => {
    const r = await simulateFleet({ ...small, faultRate: 0.001 });

    expect(r.invariants.violations).toBe(0);
    expect(r.traffic.targetGroups).toBeGreaterThan(0);
    expect(r.traffic.groups).toBeGreaterThan(0);
    expect(r.traffic.instancesInTargetGroups).toBeGreaterThan(small.instances / 2);
    // Draining is bounded by the target groups' deregistration delays (30–300 s) and readiness by
    // healthy threshold × interval (20–150 s) plus ExitStandby's Pending.
    expect(r.traffic.drainSecondsPerWave).toBeGreaterThan(0);
    expect(r.traffic.drainSecondsPerWave).toBeLessThanOrEqual(300);
    expect(r.traffic.readySecondsPerWave).toBeGreaterThan(0);
    expect(r.traffic.readySecondsPerWave).toBeLessThanOrEqual(300);
    expect(r.traffic.replacedAfterFleetOps).toBe(0);
    expect(r.traffic.exitsLeft).toBe(0);
    expect(r.requests.elb.DeregisterTargets).toBeGreaterThan(0);
    expect(r.requests.elb.RegisterTargets).toBeGreaterThan(0);
    expect(r.requests.autoScaling.EnterStandby).toBeGreaterThan(0);
    expect(r.requests.autoScaling.ExitStandby).toBeGreaterThan(0);
    expect(r.requests.ec2.GetConsoleOutput).toBeGreaterThan(0);
    expect(r.invariants.checked).toEqual(
      expect.arrayContaining(['traffic-budget', 'drain-before-act', 'no-replacement', 'back-in-service']),
    );
    expect(r.invariants.checks.changesEnded).toBe(r.change.attempts.length);
  });

  it('without traffic, has no target group and no group, and measures nothing per wave', async () => {
    const r = await simulateFleet({ ...small, faultRate: 0.001, traffic: false });

    expect(r.invariants.violations).toBe(0);
    expect(r.traffic).toMatchObject({
      targetGroups: 0,
      groups: 0,
      drainSecondsPerWave: null,
      readySecondsPerWave: null,
    });
    expect(r.requests.elbTotal).toBe(0);
  });

  it('opens no remediation case and takes no remediation action when nothing fails', async () => {
    const r = await simulateFleet({ ...small, faultRate: 0, incidents: false });

    expect(r.faults.injected).toBe(0);
    expect(r.remediation.cases).toBe(0);
    expect(r.actions.remediation).toEqual({});
    expect(r.change.status).toBe('completed');
    expect(r.change.attempts).toHaveLength(1);
    expect(r.invariants.violations).toBe(0);
  });
});

/**
 * The default scenario (its incidents: hosts failing in one zone under the change's canary, twice
 * the zone's in-flight cap, some of them the canary's; a zone event of 30% for 20 minutes six hours
 * in) at a small size: every invariant kept, and each deliberate defect caught.
 */
describe('the default scenario', () => {
  const defaults = {
    instances: 1000,
    zones: 3,
    services: 20,
    seed: 1,
    faultRate: FLEET_SIM_DEFAULTS.faultRate,
  } as const;

  it('keeps every invariant through the failing hosts and the zone event, the breaker paging once for the zone', async () => {
    const r = await simulateFleet(defaults);

    expect(r.invariants.list).toEqual([]);
    expect(r.parameters.incidents).toBe(true);
    expect(r.faults.incidents?.map((e) => e.kind)).toEqual(['failing-hosts', 'zone-event']);
    // The failing hosts: twice the zone's cap (3 at 1,000 instances), one of them the canary's.
    expect(r.faults.incidents![0].applied).toMatch(
      /^failing hosts in us-east-1\w: 6 instances \(the zone's in-flight cap is 3\): 1 of the change's wave/,
    );
    const zone = /a zone event in (us-east-1\w)/.exec(r.faults.incidents![1].applied)![1];
    expect(r.remediation.pages.breakerByScope[`zone:${zone}`]).toBe(1);
    for (const [scope, f] of Object.entries(r.remediation.inFlight))
      expect({ scope, over: f.peak > f.cap }).toEqual({ scope, over: false });
    expect(r.invariants.checked).toEqual(expect.arrayContaining(['in-flight-cap', 'breaker']));
  });

  it.each([
    ['ignore-budgets', 'disruption-budget'],
    // A case wants an instance of the canary the change holds (its service has budget to spare).
    ['ignore-leases', 'one-actor'],
    ['no-fencing', 'at-most-once'],
    // Twice the zone's cap of failing hosts at once.
    ['ignore-caps', 'in-flight-cap'],
    // EnterStandby and DeregisterTargets that do nothing: the rollout's reboots reach instances in service.
    ['skip-standby', 'drain-before-act'],
    // The breaker's counts say every scope is healthy: remediation acts in the zone event.
    ['ignore-breaker', 'breaker'],
  ] as const)('catches the defect %s as a %s violation', async (defect, invariant) => {
    const r = await simulateFleet({ ...defaults, defect });

    expect(r.invariants.byInvariant[invariant]).toBeGreaterThan(0);
    const v = r.invariants.list.find((x) => x.invariant === invariant)!;
    expect(v.subject).toMatch(/^(service|instance|fault|scope):/);
    expect(Date.parse(v.at)).toBeGreaterThanOrEqual(Date.parse('2026-01-05T00:00:00Z'));
  });
});

describe('fleetops simulate', () => {
  it('prints the documented JSON and exits 0 when no invariant is violated', async () => {
    const result = await fleetops(
      'simulate',
      '--instances',
      '2000',
      '--services',
      '50',
      '--fault-rate',
      '0.001',
      '--seed',
      '3',
      '--json',
    );

    expect(result.code).toBe(0);
    const json = JSON.parse(result.out);
    expect(Object.keys(json)).toEqual([
      'parameters',
      'change',
      'budgets',
      'faults',
      'remediation',
      'actions',
      'requests',
      'traffic',
      'invariants',
      'simulation',
      'wallClock',
    ]);
    expect(json.parameters).toMatchObject({
      instances: 2000,
      zones: 3,
      services: 50,
      faultRate: 0.001,
      seed: 3,
    });
    expect(Object.keys(json.change)).toEqual(
      expect.arrayContaining(['status', 'makespanMinutes', 'waves', 'wavesRun', 'attempts']),
    );
    expect(Object.keys(json.budgets)).toEqual(expect.arrayContaining(['maxRatio', 'atBudget', 'top']));
    expect(Object.keys(json.faults.recoveryMinutes)).toEqual(['mean', 'p50', 'p90', 'max']);
    expect(Object.keys(json.requests)).toEqual(
      expect.arrayContaining(['ec2', 'ec2TokenWaitSeconds', 'ec2TokenWaitSecondsTotal']),
    );
    expect(json.invariants.violations).toBe(0);
    expect(Object.keys(json.wallClock)).toEqual(['ms']);
  });

  it('prints a readable report by default', async () => {
    const result = await fleetops(
      'simulate',
      '--instances',
      '1000',
      '--services',
      '20',
      '--fault-rate',
      '0.001',
    );

    expect(result.code).toBe(0);
    expect(result.out).toMatch(/^change sim-reboot \(reboot, bake 10 min\): completed/m);
    expect(result.out).toMatch(
      /^invariants \(disruption-budget, one-actor, at-most-once, traffic-budget, drain-before-act, no-replacement, back-in-service, every-path-ends, change-coverage, in-flight-cap, breaker\): .*no violation$/m,
    );
    expect(result.out).toMatch(/^EC2 requests: \d+ /m);
    expect(result.out).toMatch(/^ELB requests: \d+ /m);
    expect(result.out).toMatch(
      /^ {2}per wave \(median of \d+\): draining [\d.]+ s, back to healthy [\d.]+ s/m,
    );
  });

  it('exits 1 and names the violations when a broken port lets FleetOps overspend a budget', async () => {
    const result = await fleetops(
      'simulate',
      '--instances',
      '2000',
      '--services',
      '50',
      '--fault-rate',
      '0.002',
      '--inject-defect',
      'ignore-budgets',
    );

    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^\d+ invariant violations: see the report$/m);
    expect(result.out).toMatch(/^ {2}disruption-budget {2}service:svc-\d{4}(@\S+)? {2}at 2026-/m);
  });

  it('exits 1 and names drain-before-act when Standby and deregistration silently do nothing', async () => {
    const result = await fleetops(
      'simulate',
      '--instances',
      '1000',
      '--services',
      '20',
      '--fault-rate',
      '0',
      '--inject-defect',
      'skip-standby',
    );

    expect(result.code).toBe(1);
    expect(result.out).toMatch(/DEFECT INJECTED: skip-standby/);
    expect(result.out).toMatch(
      /^ {2}drain-before-act {2}instance:i-[0-9a-f]{17} {2}at 2026-.*sent reboot while it was healthy in target group/m,
    );
  });

  it.each([
    [['--instances', 'many'], /--instances: expected a whole number from 1 to 1000000, found "many"/],
    [['--instances', '0'], /--instances: expected a whole number/],
    [['--fault-rate', '2'], /--fault-rate: expected a fraction from 0 to 1, found "2"/],
    [['--fault-rate', '-0.1'], /--fault-rate: expected a fraction/],
    [['--services', '5000', '--instances', '100'], /--services: expected a whole number from 1 to 100/],
    [['--retry-rate', 'often'], /--retry-rate: expected a probability/],
    [['--action', 'reinstall'], /argument 'reinstall' is invalid/],
    [['--inject-defect', 'everything'], /argument 'everything' is invalid/],
    [['--frobnicate'], /unknown option/],
  ])('exits 2 on bad arguments: %j', async (args, message) => {
    const result = await fleetops('simulate', ...args);

    expect(result.code).toBe(2);
    expect(result.err).toMatch(message);
    expect(result.out).toBe('');
  });
});
