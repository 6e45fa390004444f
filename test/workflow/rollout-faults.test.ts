import { definition, rolloutHarness } from '../support/rollout-harness';

type Wrap = NonNullable<Parameters<ReturnType<typeof rolloutHarness>['runChange']>[1]>['wrap'];

/**
 * Invariant 9, every path ends: whichever Task state of rollout.asl.json fails for good (every
 * retry used up), the execution ends in a state that records the change's outcome — the change
 * is never left `running` and it holds no lease — or, when the recording step itself keeps
 * failing, the execution says so (OutcomeNotRecorded). The real ASL, the real handler, moto.
 */
describe('rollout: any step failing for good ends the change recorded', () => {
  const h = rolloutHarness('us-east-2');
  const latency = [
    { name: 'Latency', namespace: 'App', statistic: 'Average', direction: 'increase', critical: true },
  ];
  const states = (
    definition as { States: Record<string, { Type: string; Retry?: Array<{ ErrorEquals: string[] }> }> }
  ).States;

  /** An error the state's retrier `r` matches (so its retries are used up first), as Lambda would raise it. */
  function failureFor(state: string, r = 0): Error {
    const first = states[state].Retry?.[r]?.ErrorEquals[0] ?? 'Error';
    const error = new Error(`injected: ${state} keeps failing`);
    if (!first.startsWith('States.')) error.name = first;
    return error;
  }

  async function inZone(zone: number, n: number, from = 0): Promise<string[]> {
    return (await h.stores.fleet.listInstances())
      .filter((i) => i.service === 'web' && i.zone === h.zones[zone] && i.state === 'running')
      .map((i) => i.id)
      .sort()
      .slice(from, from + n);
  }

  /** A change shape, and what a person (or the fleet) does while it runs. */
  interface Scenario {
    readonly fields: (ids: string[]) => Record<string, unknown>;
    readonly ids: () => Promise<string[]>;
    readonly decision?: 'approve' | 'reject';
    readonly input?: (id: string) => Record<string, unknown>;
    readonly prepare?: (id: string, ids: string[], canary: readonly string[]) => Promise<void>;
  }
  const base: Scenario = {
    ids: () => inZone(0, 2),
    fields: (ids) => ({ target: { instanceIds: ids }, action: { type: 'set-tag', tags: { v: 'f' } } }),
  };
  /** The canary (the first two) answers 60% slower than the two left untouched: the judge fails it. */
  const slowCanary = async (_id: string, ids: string[], canary: readonly string[]) => {
    const slow = new Set(canary);
    await h.putLatency(ids, (i) => (slow.has(i) ? 160 : 100));
  };
  const judged = (extra: Record<string, unknown>): Scenario => ({
    ids: () => inZone(1, 4),
    prepare: slowCanary,
    fields: (ids) => ({
      target: { instanceIds: ids },
      strategy: { canary: 2, growth: { mode: 'linear', factor: 2 } },
      ...extra,
      gates: { metrics: latency, ...((extra.gates as object) ?? {}) },
    }),
  });
  const scenarios = {
    base,
    approval: {
      ...base,
      decision: 'approve',
      fields: (ids: string[]) => ({ ...base.fields(ids), risk: 'medium' }),
    },
    rollback: judged({
      action: { type: 'set-tag', tags: { v: 'r' } },
      rollback: { action: { type: 'set-tag', tags: { v: 'q' } } },
    }),
    nothingToUndo: judged({ action: { type: 'reboot' } }),
    pause: { ...judged({ action: { type: 'reboot' }, gates: { onFailure: 'pause' } }), decision: 'reject' },
    unjudged: {
      ids: () => inZone(2, 2),
      decision: 'approve',
      fields: (ids: string[]) => ({
        target: { instanceIds: ids },
        action: { type: 'set-tag', tags: { v: 'u' } },
        gates: { metrics: [{ ...latency[0], name: 'NeverWritten' }] },
      }),
    },
    /** One instance in each of two zones, a bake after the first. */
    zoneBake: {
      ids: async () => [...(await inZone(0, 1, 4)), ...(await inZone(1, 1, 4))],
      fields: (ids: string[]) => ({
        ...base.fields(ids),
        strategy: { zoneBakeMinutes: 5, zoneOrder: h.zones },
      }),
    },
    requestedRollback: {
      ...base,
      fields: (ids: string[]) => ({
        ...base.fields(ids),
        rollback: { action: { type: 'set-tag', tags: { v: 'q' } } },
      }),
      input: (id: string) => ({ changeId: id, rollback: true }),
    },
    budgetHeld: {
      ...base,
      ids: () => inZone(0, 2, 2),
      // Another owner holds the first instance for longer than the change will try.
      prepare: async (_id: string, ids: string[]) => {
        const held = await h.stores.leases.acquire({
          owner: 'someone-else',
          instanceIds: [ids[0]],
          nonDisruptiveServices: new Set(),
          ttlMs: 3_600_000,
          now: Date.now(),
        });
        expect(held.acquired).toBe(true);
      },
    },
  } satisfies Record<string, Scenario>;

  afterEach(async () => {
    const other = (await h.stores.leases.activeLeases(Date.now())).filter((l) => l.owner === 'someone-else');
    if (other.length > 0) await h.stores.leases.release('someone-else', other, new Set());
  });

  const cases: Array<{
    breaks: string[];
    scenario: keyof typeof scenarios;
    ends: RegExp;
    recorded: boolean;
    /** Which of the state's retriers the injected error matches (the first by default). */
    retrier?: number;
  }> = [
    { breaks: ['Load the plan'], scenario: 'base', ends: /ChangeNotStarted/, recorded: true },
    // Load the plan's retriers: PlanViolation (never retried), Lambda's own errors, any task failure.
    { breaks: ['Load the plan'], retrier: 1, scenario: 'base', ends: /ChangeNotStarted/, recorded: true },
    { breaks: ['Load the plan'], retrier: 2, scenario: 'base', ends: /ChangeNotStarted/, recorded: true },
    {
      breaks: ['Load the plan', 'Record that it could not start'],
      scenario: 'base',
      ends: /ChangeNotStarted/,
      recorded: false,
    },
    { breaks: ['Check freeze and time window'], scenario: 'base', ends: /ChangeFailed/, recorded: true },
    { breaks: ['Lease the wave'], scenario: 'base', ends: /ChangeFailed/, recorded: true },
    {
      breaks: ['Lease the wave', 'Record the failure'],
      scenario: 'base',
      ends: /OutcomeNotRecorded/,
      recorded: false,
    },
    { breaks: ['Apply the action'], scenario: 'base', ends: /ChangeFailed/, recorded: true },
    {
      breaks: ['Apply the action', 'Release after an error'],
      scenario: 'base',
      ends: /ChangeFailed/,
      recorded: true,
    },
    { breaks: ['Check the action'], scenario: 'base', ends: /ChangeFailed/, recorded: true },
    { breaks: ['Health gate'], scenario: 'base', ends: /ChangeFailed/, recorded: true },
    { breaks: ['Release the wave'], scenario: 'base', ends: /ChangeFailed/, recorded: true },
    { breaks: ['Complete the change'], scenario: 'base', ends: /OutcomeNotRecorded/, recorded: false },
    { breaks: ['Wait for approval'], scenario: 'approval', ends: /ChangeFailed/, recorded: true },
    { breaks: ['Release the failed wave'], scenario: 'rollback', ends: /HealthGateFailed/, recorded: true },
    { breaks: ['Plan the rollback'], scenario: 'rollback', ends: /HealthGateFailed/, recorded: true },
    {
      breaks: ['Plan the rollback', 'Record the gate failure'],
      scenario: 'rollback',
      ends: /OutcomeNotRecorded/,
      recorded: false,
    },
    { breaks: ['Complete the rollback'], scenario: 'rollback', ends: /OutcomeNotRecorded/, recorded: false },
    {
      breaks: ['Record why nothing was rolled back'],
      scenario: 'nothingToUndo',
      ends: /OutcomeNotRecorded/,
      recorded: false,
    },
    { breaks: ['Release the paused wave'], scenario: 'pause', ends: /ChangeFailed/, recorded: true },
    { breaks: ['Record the rejection'], scenario: 'pause', ends: /OutcomeNotRecorded/, recorded: false },
    { breaks: ['Release the unjudged wave'], scenario: 'unjudged', ends: /ChangeFailed/, recorded: true },
    {
      breaks: ['Plan the requested rollback'],
      scenario: 'requestedRollback',
      ends: /ChangeNotStarted/,
      recorded: true,
    },
    { breaks: ['Check the baked zone'], scenario: 'zoneBake', ends: /ChangeFailed/, recorded: true },
    // Nothing broken: the budget never frees, and the change ends failed saying so.
    { breaks: [], scenario: 'budgetHeld', ends: /ChangeFailed/, recorded: true },
    {
      breaks: ['Record that the budget never freed'],
      scenario: 'budgetHeld',
      ends: /OutcomeNotRecorded/,
      recorded: false,
    },
  ];

  it('covers every Task state of the rollout', () => {
    const tasks = Object.entries(states)
      .filter(([, s]) => s.Type === 'Task')
      .map(([name]) => name);
    expect(new Set(cases.flatMap((c) => c.breaks))).toEqual(new Set(tasks));
  });

  it.each(
    cases.map(
      (c, k) =>
        [`${c.breaks.join(' + ') || 'nothing'}${c.retrier ? ` (retrier ${c.retrier})` : ''}`, k] as const,
    ),
  )('%s failing for good', async (_name, k) => {
    const c = cases[k];
    const scenario: Scenario = scenarios[c.scenario];
    const id = `fault-${k}`;
    const ids = await scenario.ids();
    const { plan } = await h.plannedChange(id, scenario.fields(ids));
    await scenario.prepare?.(id, ids, plan.waves[0].instances);
    if (c.scenario === 'requestedRollback') {
      // A finished change an operator asks to undo.
      await h.runChange(id).result.catch(() => undefined);
    }
    const broken = new Set(c.breaks);
    const approve: Wrap | undefined = scenario.decision
      ? h.withApproval(id, scenario.decision, 'decided in the fault test')
      : undefined;
    const wrap: Wrap = (state, call) => {
      const inner = approve ? approve(state, call) : call;
      return async (input) => {
        if (broken.has(state)) throw failureFor(state, c.retrier);
        return inner(input);
      };
    };
    const failed = await h.runChange(id, { wrap, input: scenario.input?.(id) }).result.then(
      () => undefined,
      (error: { cause?: { name?: string } }) => error,
    );
    // The Fail state the execution ended in.
    expect(failed?.cause?.name).toMatch(c.ends);

    const subject = c.scenario === 'requestedRollback' ? `${id}-rollback` : id;
    const record = await h.changes().get(subject);
    if (c.recorded) {
      // Ended, with a reason; nothing left running or held.
      if (record) expect(['failed', 'rolled-back', 'completed', 'aborted']).toContain(record.status);
      const audit = (await h.stores.fleet.auditOf(`change:${subject}`, 300)).map((r) => r.action);
      expect(audit.some((a) => a === 'change.failed' || a === 'change.not-started')).toBe(true);
    }
    expect(await h.leasesOf(id)).toEqual([]);
  });
});
