import { recheckPlan } from '../../functions/core/change/plan/plan-check';
import { planChange } from '../../functions/core/change/plan/planner';
import {
  PLAN_VIOLATION,
  type RolloutPorts,
  recordNotStarted,
  startRollout,
} from '../../functions/core/change/rollout/rollout';
import type { ChangeSpec } from '../../functions/core/change/spec';
import type { Instance } from '../../functions/core/fleet/fleet';
import { type ServicesFile, serviceCatalog } from '../../functions/core/fleet/services';
import { parseServices } from '../../functions/core/input/files';
import type { AuditRecord } from '../../functions/core/ports/fleet-records';
import { instances, spec } from '../support/builders';

const services = (yaml: string): ServicesFile => parseServices(yaml, 'services.yaml');

describe('recheckPlan: the plan again at the rollout’s start', () => {
  // Prepare: 12 web in two zones (budget 2, 1 per zone), 6 api in one zone (budget 50%).
  const fleet = [
    ...instances(6, 'web', 'eu-west-1a'),
    ...instances(6, 'web', 'eu-west-1b'),
    ...instances(6, 'api', 'eu-west-1a'),
  ];
  const budgets = services(
    'services: { web: { maxUnavailable: 2, maxUnavailablePerZone: 1 }, api: { maxUnavailable: 50% } }',
  );
  const s = spec({ target: { services: ['web', 'api'] } });
  const plan = planChange({ instances: fleet, catalog: serviceCatalog(budgets), spec: s });
  const check = (p = plan, fleetNow: readonly Instance[] = fleet, file = budgets, sp: ChangeSpec = s) =>
    recheckPlan(p, { instances: fleetNow, catalog: serviceCatalog(file), spec: sp });
  const planned = plan.waves.flatMap((w) => w.instances);
  const withInstance = (id: string, fields: Partial<Instance>) =>
    fleet.map((i) => (i.id === id ? { ...i, ...fields } : i));

  it('accepts the planner’s plan over the same fleet', () => {
    expect(plan.waves.length).toBeGreaterThan(2);
    expect(check()).toEqual([]);
  });

  it('does not refuse what the waves handle: instances gone, terminated, stopped or impaired since planning', () => {
    const [a, b, c, d] = planned.slice(-4);
    const drifted = fleet
      .filter((i) => i.id !== a)
      .map((i) =>
        i.id === b
          ? { ...i, state: 'terminated' as const }
          : i.id === c
            ? { ...i, state: 'stopped' as const }
            : i.id === d
              ? { ...i, health: 'impaired' as const }
              : i,
      );
    expect(check(plan, drifted)).toEqual([]);
  });

  it('does not refuse budget spent by others now: the lease waits for it', () => {
    // Every web instance outside the plan's first wave is down: no room now, but room once they are back.
    const first = new Set(plan.waves[0].instances);
    const down = fleet.map((i) =>
      i.service === 'web' && !first.has(i.id) ? { ...i, state: 'pending' as const } : i,
    );
    expect(check(plan, down)).toEqual([]);
  });

  it('refuses a wave the budgets no longer allow even with nothing else down', () => {
    const tightened = services(
      'services: { web: { maxUnavailable: 1, maxUnavailablePerZone: 1 }, api: { maxUnavailable: 1 } }',
    );
    const problems = check(plan, fleet, tightened);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).toMatch(
      /of api unavailable at once exceeds its budget \(1\), even with nothing else down/,
    );
  });

  it('refuses a plan that is not the spec’s, or whose waves were edited', () => {
    const other = spec({
      id: 'other-change',
      target: { services: ['web', 'api'] },
      action: { type: 'stop-start' },
    });
    expect(check(plan, fleet, budgets, other)).toEqual(
      expect.arrayContaining([
        'the plan is for test-change, not other-change',
        'the plan applies reboot, the spec stop-start',
      ]),
    );
    const [w0, w1, ...rest] = plan.waves;
    const twice = {
      ...plan,
      waves: [w0, { ...w1, instances: [...w1.instances.slice(1), w0.instances[0]] }, ...rest],
    };
    expect(check(twice).join('\n')).toContain(`${w0.instances[0]} is changed twice`);
    const miscounted = {
      ...plan,
      waves: [
        {
          ...w0,
          size: w0.size + 1,
          instances: [...w0.instances, w1.instances[0]],
          services: { ...w0.services },
        },
        ...rest,
      ],
    };
    expect(check(miscounted).join('\n')).toMatch(/wave 0: services add up to \d+, the wave has \d+/);
  });

  it('still catches a miscount when an instance has gone from the inventory', () => {
    const [w0, ...rest] = plan.waves;
    const gone = w0.instances[0];
    const service = fleet.find((i) => i.id === gone)!.service;
    const edited = { ...plan, waves: [{ ...w0, services: { ...w0.services, [service]: 0 } }, ...rest] };
    expect(check(edited, withInstance(gone, { state: 'terminated' })).join('\n')).toContain(
      'services add up to',
    );
  });
});

describe('startRollout re-checks the stored plan before the first wave', () => {
  const fleet = instances(10, 'web', 'eu-west-1a');
  const file = services('services: { web: { maxUnavailable: 2 } }');
  const s = spec();
  const plan = planChange({ instances: fleet, catalog: serviceCatalog(file), spec: s });

  function ports(servicesNow: ServicesFile) {
    const status: Array<[string, string]> = [];
    const audit: AuditRecord[] = [];
    const notices: string[] = [];
    const record = { status: 'planned', waves: plan.waves.length };
    const p = {
      changes: {
        loadPlan: async () => plan,
        loadSpec: async () => s,
        get: async () => record,
        setStatus: async (_id: string, st: string, reason: string) => {
          record.status = st;
          status.push([st, reason]);
        },
      },
      fleet: {
        listInstances: async () => fleet,
        getServices: async () => servicesNow,
        audit: async (records: readonly AuditRecord[]) => void audit.push(...records),
      },
      notify: { publish: async (subject: string) => void notices.push(subject) },
      now: () => 1_000,
      actor: 'test',
    } as unknown as RolloutPorts;
    return { p, status, audit, notices };
  }

  it('starts a plan that still holds', async () => {
    const { p, status } = ports(file);
    expect(await startRollout(p, s.id)).toMatchObject({ changeId: s.id, wave: 0, waves: plan.waves.length });
    expect(status).toEqual([['running', `started: ${plan.waves.length} waves`]]);
  });

  it('refuses one that breaks a rule without marking it running, and the refusal is recorded as not started', async () => {
    const { p, status, audit, notices } = ports(services('services: { web: { maxUnavailable: 1 } }'));
    const refusal = await startRollout(p, s.id).catch((e: Error) => e);
    expect(refusal).toBeInstanceOf(Error);
    expect((refusal as Error).name).toBe(PLAN_VIOLATION);
    expect((refusal as Error).message).toMatch(
      /^the plan breaks \d+ rules?: wave 1: 2 of web unavailable at once exceeds its budget \(1\)/,
    );
    expect(status).toEqual([]);
    // What the state machine's Catch hands to "Record that it could not start" (Lambda's Cause is JSON).
    const cause = JSON.stringify({
      errorType: PLAN_VIOLATION,
      errorMessage: (refusal as Error).message,
      trace: [],
    });
    await recordNotStarted(p, { changeId: s.id, error: { Error: PLAN_VIOLATION, Cause: cause } });
    expect(status).toEqual([['failed', `the change did not start: ${(refusal as Error).message}`]]);
    expect(audit.map((a) => [a.action, a.reason])).toEqual([
      ['change.not-started', `the change did not start: ${(refusal as Error).message}`],
    ]);
    expect(notices).toEqual([`FleetOps: ${s.id} did not start`]);
  });

  it('still says "could not be loaded" for any other start error', async () => {
    const { p, status } = ports(file);
    await recordNotStarted(p, {
      changeId: s.id,
      error: { Error: 'PlanCorrupted', Cause: 'digest mismatch' },
    });
    expect(status).toEqual([['failed', 'the change could not be loaded: PlanCorrupted (digest mismatch)']]);
  });
});
