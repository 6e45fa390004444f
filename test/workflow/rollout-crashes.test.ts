import type { RolloutPorts } from '../../functions/core/change/rollout/rollout';
import { rolloutHarness } from '../support/rollout-harness';

/**
 * Crash tests as a habit: each step of the rollout that writes more than once is crashed after
 * each of its writes (the Lambda dies: the write happened, the step did not return), Step
 * Functions retries it, and the change must end exactly as an uncrashed one — every instance
 * stopped once (and started again), the change completed, every lease released. A stop-start
 * change, because its effect can be read back (a reboot's cannot: see resolveDoubt). The real ASL, the real handler, moto.
 */
describe('rollout: a crash between any two writes of a step, retried, ends in exactly one action', () => {
  const h = rolloutHarness('ap-southeast-1');

  /** The port methods that change something outside the step (the table, EC2, the topic). */
  const WRITES: Record<string, readonly string[]> = {
    changes: [
      'save',
      'revisePlan',
      'setStatus',
      'recordWave',
      'awaitApproval',
      'claimApproval',
      'settleApproval',
    ],
    leases: ['acquire', 'release', 'recordAction', 'renew'],
    fleet: ['audit'],
    ec2: ['reboot', 'stop', 'start', 'setTags'],
    ssm: ['send'],
    autoscaling: ['terminateKeepingCapacity'],
    notify: ['publish'],
  };

  /**
   * The handler's ports with every write counted; with `crashAfter`, the write of that number
   * happens and then the step dies. `stopped` counts what EC2 was asked to reboot.
   */
  function instrumented(
    crashAfter: number | undefined,
    counter: { writes: number; stopped: Map<string, number> },
  ) {
    const wrapped: Record<string, unknown> = { ...h.ports };
    for (const [port, methods] of Object.entries(WRITES)) {
      const target = (
        h.ports as unknown as Record<string, Record<string, (...a: unknown[]) => Promise<unknown>>>
      )[port];
      const proxy: Record<string, unknown> = {};
      for (const key of new Set([
        ...Object.keys(target),
        ...Object.getOwnPropertyNames(Object.getPrototypeOf(target)),
      ])) {
        if (key === 'constructor' || typeof target[key] !== 'function') continue;
        proxy[key] = async (...args: unknown[]) => {
          const out = await target[key].apply(target, args);
          if (!methods.includes(key)) return out;
          if (port === 'ec2' && key === 'stop')
            for (const id of args[0] as string[]) counter.stopped.set(id, (counter.stopped.get(id) ?? 0) + 1);
          counter.writes++;
          if (crashAfter !== undefined && counter.writes === crashAfter)
            throw new Error(`crash after write ${crashAfter} (${port}.${key})`);
          return out;
        };
      }
      wrapped[port] = proxy;
    }
    return wrapped as unknown as RolloutPorts;
  }

  const steps = [
    'Load the plan',
    'Check freeze and time window',
    'Lease the wave',
    'Apply the action',
    'Check the action',
    'Health gate',
    'Release the wave',
    'Complete the change',
  ];

  async function instances(n: number, from: number): Promise<string[]> {
    return (await h.stores.fleet.listInstances())
      .filter((i) => i.service === 'web' && i.zone === h.zones[0] && i.state === 'running')
      .map((i) => i.id)
      .sort()
      .slice(from, from + n);
  }

  /** Runs a stop-start change; the first call of `step` runs over crashing ports, every other call over clean ones. */
  async function run(id: string, ids: string[], step?: string, crashAfter?: number, call = 1) {
    await h.plannedChange(id, { target: { instanceIds: ids }, action: { type: 'stop-start' } });
    const counter = { writes: 0, stopped: new Map<string, number>() };
    let crashed = false;
    let calls = 0;
    const perStep = new Map<string, number>();
    const probe = { writes: 0, stopped: counter.stopped };
    const result = await h.runChange(id, {
      handler: async (event) => {
        const state = String((event as { step?: string; Payload?: { step?: string } }).step);
        const before = probe.writes;
        const crashing = !crashed && state === stepName(step) && crashAfter !== undefined && ++calls === call;
        if (crashing) crashed = true;
        try {
          return await h.stepWith(
            instrumented(crashing ? crashAfter : undefined, crashing ? counter : probe),
            event,
          );
        } finally {
          if (!crashing) perStep.set(state, Math.max(perStep.get(state) ?? 0, probe.writes - before));
        }
      },
    }).result;
    return { result, stopped: counter.stopped, perStep };
  }

  /** The handler's step name of a Task state. */
  const STEP_OF: Record<string, string> = {
    'Load the plan': 'start',
    'Check freeze and time window': 'check-window',
    'Lease the wave': 'lease',
    'Apply the action': 'apply',
    'Check the action': 'settle',
    'Health gate': 'gate',
    'Release the wave': 'release',
    'Complete the change': 'finish',
  };
  const stepName = (state?: string) => (state ? STEP_OF[state] : undefined);

  let writesPerStep = new Map<string, number>();

  it('an uncrashed change, counted: how many writes each step makes', async () => {
    const ids = await instances(2, 0);
    const clean = await run('crash-clean', ids);
    expect(clean.result).toMatchObject({ status: 'completed' });
    writesPerStep = clean.perStep;
    for (const id of ids) expect(clean.stopped.get(id)).toBe(1);
    // The steps that write more than once (checking the window and a reboot's settle write nothing here).
    for (const state of [
      'Lease the wave',
      'Apply the action',
      'Health gate',
      'Release the wave',
      'Complete the change',
    ])
      expect(writesPerStep.get(STEP_OF[state])).toBeGreaterThanOrEqual(2);
  });

  it('every step, crashed after each of its writes and retried: each instance stopped once, the change completed, nothing held', async () => {
    let k = 0;
    const tried: string[] = [];
    for (const state of steps) {
      const writes = writesPerStep.get(STEP_OF[state]) ?? 0;
      for (let crashAfter = 1; crashAfter <= writes; crashAfter++) {
        const id = `crash-${k++}`;
        const ids = await instances(2, 2 + (k % 4) * 2);
        const { result, stopped } = await run(id, ids, state, crashAfter);
        tried.push(`${state}#${crashAfter}`);
        expect({ at: `${state} after write ${crashAfter}`, result }).toMatchObject({
          result: { status: 'completed' },
        });
        for (const i of ids)
          expect(`${state} #${crashAfter}: ${i} stopped ${stopped.get(i) ?? 0}×`).toBe(
            `${state} #${crashAfter}: ${i} stopped 1×`,
          );
        expect(await h.leasesOf(id)).toEqual([]);
        expect((await h.changes().get(id))?.status).toBe('completed');
      }
    }
    expect(tried.length).toBeGreaterThanOrEqual(steps.length);
  });

  it('a wave sized down by a budget that shrank (a plan revision), crashed after each write of its lease and retried: each instance stopped once', async () => {
    // Another owner holds four web instances of the zone: the budget (5) has room for one.
    const others = await instances(4, 13);
    await h.holdAsAnother(others);
    try {
      // The clean run, counted: the second wave's lease (of 2, room for 1) revises the plan.
      const ids = await instances(3, 0);
      const clean = await run('shrunk-clean', ids);
      expect(clean.result).toMatchObject({ status: 'completed' });
      const revised = await h.changes().loadPlan('shrunk-clean');
      // The wave's revision postpones the instance it deferred to a final wave (a second revision).
      expect(revised.revision).toBe(2);
      expect(revised.revisions?.[0]).toMatchObject({ wave: 1, postponedCount: 1 });
      expect(revised.revisions?.[1].reason).toMatch(/^final waves: 0 launched after planning, 1 back/);
      const writes = 5; // revisePlan, the deferred record, its audit, acquire, its audit
      for (let crashAfter = 1; crashAfter <= writes; crashAfter++) {
        const id = `shrunk-${crashAfter}`;
        const mine = await instances(3, (crashAfter * 3) % 12);
        const { result, stopped } = await run(id, mine, 'Lease the wave', crashAfter, 2);
        expect({ at: `lease after write ${crashAfter}`, result }).toMatchObject({
          result: { status: 'completed' },
        });
        for (const i of mine)
          expect(`#${crashAfter}: ${i} stopped ${stopped.get(i) ?? 0}×`).toBe(
            `#${crashAfter}: ${i} stopped 1×`,
          );
        expect((await h.changes().loadPlan(id)).revision).toBe(2);
        expect(await h.leasesOf(id)).toEqual([]);
      }
    } finally {
      await h.letGo();
    }
  });
});
