import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../cli/main';
import { parseChangeSpec, parseFleet, parseServices } from '../../functions/core/input/files';
import { type FleetSimReport, rehearseChange } from '../../sim/fleet-sim';
import { parseScenario, type Scenario, scenarioFleet } from '../../sim/scenario';

/**
 * A rehearsal (`fleetops simulate --fleet --services --spec --scenario`): the operator's change
 * over an exported fleet (examples/rehearsal/: 300 instances, 3 zones, target groups and groups)
 * with a scenario of timed events, run by the real planner and state machines on the simulator.
 */

const DIR = join(__dirname, '../../examples/rehearsal');
const file = (name: string) => join(DIR, name);
const read = (name: string) => readFileSync(file(name), 'utf8');
const fleet = parseFleet(read('fleet.json'), 'fleet.json');
const services = parseServices(read('services.yaml'), 'services.yaml');
const spec = parseChangeSpec(read('change.yaml'), 'change.yaml');
const scenario = (name: string): Scenario => parseScenario(read(name), name, scenarioFleet(fleet.instances));
const strip = (r: FleetSimReport) => JSON.stringify({ ...r, wallClock: undefined });

async function fleetops(...args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (t) => (out += t), err: (t) => (err += t), color: false });
  return { code, out, err };
}

describe('a rehearsal over the example fleet: a zone fault at 1 h, churn, a freeze', () => {
  const entered = new Set<string>();
  let r: FleetSimReport;
  beforeAll(async () => {
    r = await rehearseChange(
      { fleet, services, spec, scenario: scenario('scenario.yaml'), churnRate: 0.005, seed: 1 },
      { onState: (machine, state) => machine === 'rollout' && entered.add(state) },
    );
  });

  it('completes the change over the fleet as it is by the end, every invariant kept', () => {
    // Assess
    expect(r.change.id).toBe('security-patch-2026-12');
    expect(r.change.status).toBe('completed');
    expect(r.change.attempts).toHaveLength(1);
    expect(r.invariants.list).toEqual([]);
    expect(r.invariants.coverage).toMatchObject({ uncovered: 0 });
    expect(r.invariants.coverage!.changed).toBeGreaterThan(290);
    expect(r.parameters).toMatchObject({
      instances: 300,
      zones: 3,
      services: 4,
      action: 'ssm-command',
      churnRate: 0.005,
    });
    expect(r.traffic).toMatchObject({ targetGroups: 2, groups: 2 });
    expect(r.rehearsal).toMatchObject({ fleet: 'fleet', spec: 'spec', scenario: null, warnings: [] });
  });

  it('applies each event at its offset: the zone fault, the scale-in and scale-outs, the freeze the rollout waits for', () => {
    const events = r.rehearsal!.events;
    expect(events.map((e) => `${e.at} ${e.kind}`)).toEqual([
      '1h fault',
      '1h30m terminate',
      '1h30m launch',
      '2h launch',
      '2h30m freeze',
      '3h terminate',
    ]);
    expect(events[0].applied).toMatch(
      /^system-status-check-failed on \d+ of 10 chosen among \d+ instances of every service in us-east-1b/,
    );
    expect(events[1].applied).toMatch(/^scaled in 6 of 6 asked among \d+ instances of web$/);
    expect(events[4].applied).toMatch(/^froze account until 2026-01-05T03:30:00.000Z/);
    // The faults cleared by themselves after 45 minutes, or an action or the group did first.
    expect(r.faults.injected).toBeGreaterThan(5);
    expect(r.faults.unrecovered).toBe(0);
    expect(r.faults.recoveredBy.itself).toBeGreaterThan(0);
    // The freeze is the real record the rollout reads: a wave waited for it.
    expect(entered).toContain('Wait for the window');
    expect(r.churn!.launched).toBeGreaterThanOrEqual(9);
    expect(r.churn!.launchedChanged).toBeGreaterThan(0);
  });

  it('reports the plan as it was revised while it ran', () => {
    expect(r.change.revisionCount).toBe(r.change.revisions.length);
    expect(r.change.revisionCount).toBeGreaterThan(0);
    for (const v of r.change.revisions) {
      expect(v.change).toBe('security-patch-2026-12');
      expect(v.reason.length).toBeGreaterThan(0);
      expect(v.waves).toBeGreaterThan(0);
      expect(Date.parse(v.at)).toBeGreaterThanOrEqual(Date.parse('2026-01-05T00:00:00Z'));
    }
    expect(r.change.makespanToPredicted).toBeCloseTo(r.change.makespanMinutes / r.change.predictedMinutes, 2);
  });

  it('gives the same report for the same seed', async () => {
    const again = await rehearseChange({
      fleet,
      services,
      spec,
      scenario: scenario('scenario.yaml'),
      churnRate: 0.005,
      seed: 1,
    });

    expect(strip(again)).toBe(strip(r));
  });
});

describe('a latency regression the change brings', () => {
  it('is read by the canary judge: the wave fails its gate and the person rejects the change', async () => {
    // Act
    const r = await rehearseChange({
      fleet,
      services,
      spec,
      scenario: scenario('scenario-regression.yaml'),
      seed: 1,
    });

    // Assess
    expect(r.rehearsal!.events).toEqual([
      {
        at: '30m',
        kind: 'latency-regression',
        applied: 'p99LatencyMs × 1.6 on changed instances of api, read by the canary judge',
      },
    ]);
    expect(r.change.gates.fail).toBeGreaterThan(0);
    expect(r.change.status).toBe('failed');
    expect(r.change.reason).toMatch(/rejected/);
    // A rejected change is not started again.
    expect(r.change.attempts).toHaveLength(1);
    expect(r.requests.other.GetMetricData).toBeGreaterThan(0);
    expect(r.invariants.violations).toBe(0);
  });

  it('says so when the spec gates on no metric', async () => {
    const noMetrics = { ...spec, gates: { ...spec.gates, metrics: [] } };

    const r = await rehearseChange({
      fleet,
      services,
      spec: noMetrics,
      scenario: scenario('scenario-regression.yaml'),
      seed: 1,
    });

    expect(r.rehearsal!.events[0].applied).toMatch(/the spec gates on no metric, so no gate reads it$/);
    expect(r.change.status).toBe('completed');
  });
});

describe('fleetops simulate --fleet --services --spec', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'fleetops-rehearsal-'));

  it('rehearses from the files and prints the report with the revisions and the events', async () => {
    const result = await fleetops(
      'simulate',
      '--fleet',
      file('fleet.json'),
      '--services',
      file('services.yaml'),
      '--spec',
      file('change.yaml'),
      '--scenario',
      file('scenario.yaml'),
      '--json',
    );

    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    const json = JSON.parse(result.out);
    expect(json.rehearsal.scenario).toBe(file('scenario.yaml'));
    expect(json.parameters).toMatchObject({ instances: 300, faultRate: 0, churnRate: 0 });
    expect(json.change).toHaveProperty('revisions');
    expect(json.invariants.violations).toBe(0);
  });

  it.each([
    [['--instances', '10'], '--instances: only for the synthetic fleet; a rehearsal takes it from its files'],
    [
      ['--bake-minutes', '5'],
      '--bake-minutes: only for the synthetic fleet; a rehearsal takes it from its files',
    ],
  ])('refuses synthetic-only options %j', async (extra, message) => {
    const result = await fleetops(
      'simulate',
      '--fleet',
      file('fleet.json'),
      '--services',
      file('services.yaml'),
      '--spec',
      file('change.yaml'),
      ...extra,
    );

    expect(result.code).toBe(2);
    expect(result.err).toContain(message);
  });

  it('refuses a rehearsal without its spec, and a scenario that names what the fleet does not have', async () => {
    const missing = await fleetops(
      'simulate',
      '--fleet',
      file('fleet.json'),
      '--services',
      file('services.yaml'),
    );
    const bad = join(scratch, 'bad.yaml');
    writeFileSync(bad, 'events:\n  - at: 1h\n    fault: { zone: eu-west-1a }\n');
    const wrong = await fleetops(
      'simulate',
      '--fleet',
      file('fleet.json'),
      '--services',
      file('services.yaml'),
      '--spec',
      file('change.yaml'),
      '--scenario',
      bad,
    );

    expect(missing.code).toBe(2);
    expect(missing.err).toContain('a rehearsal takes --fleet, --services (the file) and --spec together');
    expect(wrong.code).toBe(2);
    expect(wrong.err).toBe(
      `error: ${bad}:3:20: events[0].fault.zone: expected a zone of the fleet ("us-east-1a", "us-east-1b", "us-east-1c"), found "eu-west-1a"\n`,
    );
  });
});
