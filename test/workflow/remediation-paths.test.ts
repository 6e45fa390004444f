import { readFileSync } from 'node:fs';
import { EC2Client } from '@aws-sdk/client-ec2';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { DynamoRemediationStore } from '../../functions/adapters/dynamo-remediation-store';
import {
  HOLD_MS,
  MAX_PENDING_VERIFIES,
  type RemediationPorts,
} from '../../functions/core/remediation/remediate';
import { runTracked } from '../support/asl-paths';
import { freshTable, managedTags, runInstances, sweepInventory } from '../support/aws';
import { bindTasks, loadDefinition, noRetryWaits, noWaits } from '../support/local-sfn';
import { loadRemediationHandlers } from '../support/remediation-handlers';

// Each test file uses its own region: moto keeps EC2 state per region, shared by the whole run.
const REGION = 'eu-west-3';
const ZONES = ['eu-west-3a', 'eu-west-3b', 'eu-west-3c'];
const definition = loadDefinition('state-machines/remediation.asl.json', {
  RemediationStepFunctionArn: 'arn:aws:lambda:eu-west-3:123456789012:function:fleetops-remediation-step',
});
type States = Record<
  string,
  { Type: string; Retry?: Array<{ ErrorEquals: string[]; MaxAttempts?: number }> }
>;
const states = definition.States as States;

/** The writes each port makes (what a crash can fall between); every other call only reads. */
const MUTATING: Record<string, readonly string[]> = {
  cases: ['decide', 'setStatus', 'recordOutcome', 'claimPage', 'rememberRemediation', 'reviseOutcome'],
  leases: ['acquire', 'renew', 'release', 'recordAction'],
  fleet: ['audit', 'closeFinding'],
  ec2: ['reboot', 'stop', 'start', 'setTags'],
  autoscaling: ['terminateKeepingCapacity', 'terminateDecrementingCapacity', 'setDesiredCapacity'],
  notify: ['publish'],
};
/** The writes that act on the instance itself (EC2 and Auto Scaling calls). */
const ACTIONS = new Set(['ec2.reboot', 'ec2.stop', 'ec2.start', 'ec2.setTags']);

/**
 * Every path of the remediation state machine, each taken by a test: the real ASL run by
 * aws-local-stepfunctions, the real step handler bound to its Task states, DynamoDB, EC2 and SNS
 * in moto. What moto cannot do is stood in for by a narrow fault model on the EC2 port (impaired
 * checks cleared by a reboot or a stop-start, checks still initializing, an instance stuck
 * pending), by failures injected where a Task is invoked (Lambda service errors, a step that
 * throws), by a crash after the k-th write of a step, and by a clock moved forward.
 */
describe('remediation: every path ends in a recorded state (the real ASL and handler, moto)', () => {
  const saved = { ...process.env };
  const ec2 = new EC2Client({ region: REGION });
  let stores: Awaited<ReturnType<typeof freshTable>>;
  let triage: (event: SQSEvent, context: Context) => Promise<{ batchItemFailures: unknown[] }>;
  let stepWith: (ports: RemediationPorts, event: unknown) => Promise<unknown>;
  let ports: RemediationPorts;
  const pool: string[] = [];

  // The fault model (per instance) and what the tests observe.
  const faults = new Map<string, 'hardware' | 'software'>();
  /** Status checks reported `initializing` for this many more reads of a healthy instance. */
  const initializing = new Map<string, number>();
  /** An instance EC2 reports in this state whatever it is (e.g. stuck `pending`). */
  const stuck = new Map<string, string>();
  /** When the console output of an instance's last restart was posted (epoch ms, the test's clock). */
  const booted = new Map<string, number>();
  /** Every write, as `<port>.<method> <instance or case>`, in order. */
  const writes: string[] = [];
  const pages: string[] = [];
  /** The clock every step reads: moved forward by tests that need time to pass. */
  let offset = 0;
  /** The Task state being invoked, and how many writes it made so far in this invocation. */
  let current = { state: '', invocation: 0, writes: 0 };
  const invocations = new Map<string, number>();
  /** A crash after the k-th write of the first invocation of a state (its retry then runs clean). */
  let crash: { state: string; after: number; done: boolean } | undefined;

  const next = () => {
    const id = pool.shift();
    if (!id) throw new Error('the test ran out of instances');
    return id;
  };

  beforeAll(async () => {
    process.env.AWS_REGION = REGION;
    stores = await freshTable();
    for (const zone of ZONES) pool.push(...(await runInstances(ec2, 24, zone, managedTags('paths'))));
    // Budgets wide enough that no test waits for one, unless it holds them itself.
    await stores.fleet.putServices(
      { services: { paths: { maxUnavailable: { kind: 'count', value: 60 }, impact: {} } } },
      'test',
      0,
    );
    await sweepInventory(ec2, stores);
    const handlers = await loadRemediationHandlers(REGION, stores.table, definition);
    triage = handlers.triage;
    stepWith = handlers.stepWith;
    const base = handlers.ports;
    let draws = 0;
    const wrote = (port: string, method: string, subject: string) => {
      writes.push(`${port}.${method} ${subject}`);
      current.writes++;
      if (crash && !crash.done && crash.state === current.state && current.invocation === 1) {
        if (current.writes === crash.after) {
          crash.done = true;
          throw new Error(`crashed after write ${crash.after} of ${current.state} (${port}.${method})`);
        }
      }
    };
    /** The port with each write counted (and crashed after, when the test says so). */
    const counted = <T extends object>(port: string, target: T, subjectOf: (args: unknown[]) => string): T =>
      new Proxy(target, {
        get(obj, prop) {
          const value = Reflect.get(obj, prop, obj);
          if (typeof value !== 'function') return value;
          if (!MUTATING[port].includes(String(prop))) return value.bind(obj);
          return async (...args: unknown[]) => {
            const result = await value.apply(obj, args);
            wrote(port, String(prop), subjectOf(args));
            return result;
          };
        },
      });
    const first = (args: unknown[]) => {
      const [a] = args;
      if (typeof a === 'string') return a;
      if (Array.isArray(a)) return String((a[0] as { instanceId?: string })?.instanceId ?? a[0]);
      return String((a as { owner?: string; instanceId?: string })?.instanceId ?? '');
    };
    const faultyEc2: RemediationPorts['ec2'] = {
      setTags: (ids, tags) => base.ec2.setTags(ids, tags),
      start: (ids) => base.ec2.start(ids),
      // moto posts no console output of its own (it answers with the time asked): the output of
      // the last reboot, stop or start this fault model saw, a second after it, else none since launch.
      consoleOutputAt: async (ids) => new Map(ids.map((id) => [id, booted.get(id) ?? 0])),
      reboot: async (ids) => {
        for (const id of ids) booted.set(id, Date.now() + offset + 1000);
        for (const id of ids) if (faults.get(id) === 'software') faults.delete(id);
        await base.ec2.reboot(ids);
      },
      stop: async (ids) => {
        for (const id of ids) faults.delete(id);
        await base.ec2.stop(ids);
      },
      conditions: async (ids) => {
        const real = await base.ec2.conditions(ids);
        for (const id of ids) {
          const c = real.get(id);
          if (!c) continue;
          const state = stuck.get(id) ?? c.state;
          if (faults.has(id)) real.set(id, { state, health: 'impaired' });
          else if (state === 'running' && (initializing.get(id) ?? 0) > 0) {
            initializing.set(id, initializing.get(id)! - 1);
            real.set(id, { state, health: 'initializing' });
          } else real.set(id, { ...c, state });
        }
        return real;
      },
    };
    ports = {
      ...base,
      // In-flight caps as wide as the budgets: no test waits for a slot (cases some tests leave
      // failed keep their slot as long as their lease lives, as they keep the lease).
      breaker: { ...base.breaker, inFlight: { account: 60, zone: 60, service: 60 } },
      // Thompson draws from a fixed sequence: the test is deterministic.
      rng: () => ((draws++ * 0.618033988749895) % 1) + 1e-9,
      now: () => Date.now() + offset,
      cases: counted('cases', base.cases, first),
      leases: counted('leases', base.leases, first),
      fleet: counted('fleet', base.fleet, (args) => {
        const [a] = args;
        return Array.isArray(a) ? String((a[0] as { action?: string })?.action) : first(args);
      }),
      ec2: counted('ec2', faultyEc2, first),
      autoscaling: counted('autoscaling', base.autoscaling, first),
      notify: counted(
        'notify',
        {
          publish: async (subject: string, message: string) => {
            pages.push(subject);
            await base.notify.publish(subject, message);
          },
        },
        (args) => String(args[0]),
      ),
    };
  });
  afterAll(() => {
    process.env = saved;
  });
  beforeEach(() => {
    writes.length = 0;
    pages.length = 0;
    offset = 0;
    crash = undefined;
  });
  afterEach(async () => {
    // What a test leaves open must not trip the breaker for the next one (a scope with over 20%
    // recent findings is an outage): close its findings; a case left acting is not in flight.
    for (const f of await stores.fleet.openFindings())
      await stores.fleet.closeFinding(f, 'test over', Date.now());
    for (const c of await cases().inFlight())
      await cases().setStatus(c.id, 'failed', 'test over', Date.now());
  });

  const context = { functionName: 'triage', getRemainingTimeInMillis: () => 60_000 } as unknown as Context;
  let seq = 0;
  function alarmEvent(instanceId: string, check: 'System' | 'Instance'): string {
    return readFileSync('test/fixtures/events/alarm-status-system.json', 'utf8')
      .replaceAll('i-0c0ffee0c0ffee001', instanceId)
      .replace('StatusCheckFailed_System', `StatusCheckFailed_${check}`)
      .replace('2026-04-14T09:31:12.405+0000', new Date().toISOString().replace('Z', '+0000'))
      .replace('e2b3c4d5-6f70-4a81-9b2c-3d4e5f6a7b8c', `event-${++seq}`);
  }
  /** AWS Health's degraded-hardware issue for an instance: stop-start now (a fixed step, no ladder). */
  function degradedHardware(instanceId: string): string {
    return readFileSync('test/fixtures/events/health-degraded-hardware.issue.json', 'utf8')
      .replaceAll('i-0123456789abcdef0', instanceId)
      .replaceAll('us-west-2', REGION)
      .replace('ISSUE_3d9f', `ISSUE_${++seq}`)
      .replace('2026-02-10T11:05:00Z', new Date().toISOString());
  }
  /** EC2's two-minute Spot interruption warning, as EventBridge delivers it. */
  function spotWarning(instanceId: string): string {
    return JSON.stringify({
      version: '0',
      id: `spot-${++seq}`,
      'detail-type': 'EC2 Spot Instance Interruption Warning',
      source: 'aws.ec2',
      account: '123456789012',
      time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      region: REGION,
      resources: [`arn:aws:ec2:${ZONES[0]}:instance/${instanceId}`],
      detail: { 'instance-id': instanceId, 'instance-action': 'terminate' },
    });
  }
  async function deliver(body: string) {
    const record = { messageId: `m-${++seq}`, body, attributes: {}, messageAttributes: {} } as unknown;
    expect((await triage({ Records: [record as SQSRecord] }, context)).batchItemFailures).toEqual([]);
  }
  const cases = () => new DynamoRemediationStore(stores.db, stores.table);
  async function caseFor(body: string, instanceId: string) {
    await deliver(body);
    const found = (await cases().list(500)).filter((c) => c.finding.instanceId === instanceId);
    expect(found).toHaveLength(1);
    return found[0].id;
  }

  /**
   * Runs a case's execution through the real ASL. `around` may wrap each Task invocation (to
   * inject a failure, or act before it); the states entered are returned, the last one last.
   */
  async function remediate(
    caseId: string,
    around: (state: string, call: () => Promise<unknown>) => Promise<unknown> = (_s, call) => call(),
  ) {
    invocations.clear();
    const execution = runTracked(
      definition,
      'remediation.asl.json',
      { state: { caseId, attempts: 0, polls: 0 }, at: new Date().toISOString() },
      {
        overrides: {
          taskResourceLocalHandlers: bindTasks(
            definition,
            (event) => stepWith(ports, event),
            (state, call) => async (input) => {
              const invocation = (invocations.get(state) ?? 0) + 1;
              invocations.set(state, invocation);
              return around(state, () => {
                current = { state, invocation, writes: 0 };
                return call(input);
              });
            },
          ),
          waitTimeOverrides: noWaits(definition),
          retryIntervalOverrides: noRetryWaits(definition),
        },
      },
    );
    const entered: string[] = [];
    for await (const e of execution.eventLogs) if (e.type === 'StateEntered') entered.push(e.state.name);
    await execution.result.catch(() => undefined);
    return entered;
  }
  /** Fails the first `times` invocations of a state with an error of this name, before the step runs. */
  const failing =
    (at: string, times: number, name: string) =>
    async (state: string, call: () => Promise<unknown>): Promise<unknown> => {
      if (state === at && (invocations.get(state) ?? 0) <= times) {
        const error = new Error(`injected ${name} at ${state}`);
        error.name = name;
        throw error;
      }
      return call();
    };
  const held = async (caseId: string) =>
    (await stores.leases.activeLeases(Date.now() + offset)).filter((l) => l.owner === caseId);
  const stats = async (key: string) => {
    const x = (await cases().stats()).get(key) ?? { successes: 0, failures: 0 };
    return x;
  };
  const count = (what: string, id: string) => writes.filter((w) => w === `${what} ${id}`).length;

  describe('a step that fails for good ends the case failed, its lease released, a person paged', () => {
    const retriers = (state: string) => states[state].Retry ?? [];
    /** The Task states of a repair, in order, and the ones a drain takes. */
    const repair = ['Decide', 'Lease the instance', 'Act', 'Check the action', 'Verify'];
    const table = [...repair, 'Drain the instance'].flatMap((state) =>
      retriers(state).map((r, index) => ({
        state,
        // A Lambda service error matches the first retrier; any other error the TaskFailed one.
        error: r.ErrorEquals.includes('States.TaskFailed') ? 'Error' : r.ErrorEquals[0],
        times: (r.MaxAttempts ?? 3) + 1,
        retrier: index + 1,
      })),
    );
    /** Their retriers are used up by test/workflow/remediation-traffic.test.ts (an instance in traffic). */
    const traffic = ['Take out of traffic', 'Check draining', 'Bring back into traffic', 'Check service'];
    it('covers every retrier of every Task state but the failure step and the traffic steps', () => {
      const tasks = Object.entries(states).filter(([, s]) => s.Type === 'Task');
      expect(new Set(table.map((t) => t.state))).toEqual(
        new Set(tasks.map(([n]) => n).filter((n) => n !== 'Record the failure' && !traffic.includes(n))),
      );
      expect(table).toHaveLength(12);
    });

    it.each(table)(
      '$state: $times × $error (retrier $retrier used up) → caught, recorded as failed',
      async ({ state, error, times }) => {
        const id = next();
        const drain = state === 'Drain the instance';
        if (!drain) faults.set(id, 'software');
        const caseId = await caseFor(drain ? spotWarning(id) : alarmEvent(id, 'Instance'), id);
        const entered = await remediate(caseId, failing(state, times, error));
        expect(entered.filter((s) => s === state)).toHaveLength(1);
        expect(entered.slice(-2)).toEqual(['Record the failure', 'Remediation failed']);
        const c = (await cases().get(caseId))!;
        expect(c.status).toBe('failed');
        expect(c.reason).toBe(`a step failed (${error}: injected ${error} at ${state})`);
        expect(await held(caseId)).toEqual([]);
        expect(pages).toEqual([expect.stringContaining(`on ${id} needs a person`)]);
        faults.delete(id);
      },
    );

    it.each([
      ['Lambda.ServiceException', 7],
      ['Error', 4],
    ])(
      'the failure step itself failing for good (%s × %i) ends in "Failure not recorded", nothing else',
      async (error, times) => {
        const id = next();
        faults.set(id, 'software');
        const caseId = await caseFor(alarmEvent(id, 'Instance'), id);
        const entered = await remediate(caseId, async (state, call) => {
          if (state === 'Verify') return failing('Verify', 4, 'Error')(state, call);
          return failing('Record the failure', times, error)(state, call);
        });
        expect(entered.slice(-2)).toEqual(['Record the failure', 'Failure not recorded']);
        // Nothing could record it: the case still reads as acting (the failed-executions alarm
        // is what tells a person), and the lease expires on its own.
        expect((await cases().get(caseId))?.status).toBe('acting');
        expect(pages).toEqual([]);
        faults.delete(id);
      },
    );
  });

  it('a Spot interruption is drained: tagged, recorded, its finding closed', async () => {
    const id = next();
    const caseId = await caseFor(spotWarning(id), id);
    const entered = await remediate(caseId);
    expect(entered).toEqual([
      'Wait until it is time',
      'Decide',
      'What was decided?',
      'Drain the instance',
      'Drained',
    ]);
    expect((await cases().get(caseId))?.status).toBe('drained');
    expect(writes.filter((w) => w.startsWith('ec2.'))).toEqual([`ec2.setTags ${id}`]);
    expect((await stores.fleet.openFindings()).some((f) => f.instanceId === id)).toBe(false);
  });

  describe('status checks that have not run yet are not healthy', () => {
    it('Verify waits while the checks initialize, then judges: the reboot recovered it, learned once', async () => {
      const id = next();
      faults.set(id, 'software');
      const before = await stats('instance-status-check-failed|reboot');
      const caseId = await caseFor(alarmEvent(id, 'Instance'), id);
      // Once the reboot settled, EC2 reports the checks initializing again for three reads.
      const entered = await remediate(caseId, async (state, call) => {
        if (state === 'Bring back into traffic') initializing.set(id, 3);
        return call();
      });
      expect(entered.filter((s) => s === 'Verify')).toHaveLength(4);
      expect(entered.filter((s) => s === 'Wait for the checks')).toHaveLength(3);
      expect(entered.at(-1)).toBe('Recovered');
      const c = (await cases().get(caseId))!;
      expect(`${c.status}: ${c.reason}`).toBe('recovered: reboot recovered the instance');
      const after = await stats('instance-status-check-failed|reboot');
      expect(after).toEqual({ successes: before.successes + 1, failures: before.failures });
      expect(await held(caseId)).toEqual([]);
    });

    it(`after ${MAX_PENDING_VERIFIES} verifications still initializing, the step did not recover it: escalate`, async () => {
      const id = next();
      faults.set(id, 'software');
      const caseId = await caseFor(alarmEvent(id, 'Instance'), id);
      const entered = await remediate(caseId, async (state, call) => {
        if (state === 'Act' && invocations.get('Act') === 1) initializing.set(id, 1_000);
        // Once escalated, the checks pass again (the stop-start then recovers it).
        if (state === 'Decide' && invocations.get('Decide') === 2) initializing.delete(id);
        return call();
      });
      expect(entered.filter((s) => s === 'Wait for the checks')).toHaveLength(MAX_PENDING_VERIFIES - 1);
      expect(entered).toContain('Escalate');
      expect(entered.at(-1)).toBe('Recovered');
      const c = (await cases().get(caseId))!;
      expect(c.tried).toEqual(['reboot', 'stop-start']);
      expect(c.reason).toBe('stop-start recovered the instance');
      const released = (await stores.fleet.auditOf(`owner:${caseId}`, 50)).filter(
        (a) => a.action === 'hold.released',
      );
      expect(released.map((a) => a.reason)).toContainEqual(
        expect.stringMatching(
          `^reboot did not recover the instance \\(its status checks were still initializing after ${MAX_PENDING_VERIFIES} verifications\\)`,
        ),
      );
    });

    it('Decide does not take initializing checks for "recovered on its own": it repairs', async () => {
      const id = next();
      // The alarm fired; by the time Decide looks, the checks are re-running, not passed.
      const caseId = await caseFor(alarmEvent(id, 'Instance'), id);
      initializing.set(id, 1);
      const entered = await remediate(caseId);
      expect(entered).toContain('Act');
      expect((await cases().get(caseId))?.decisions[0].action).toBe('reboot');
    });
  });

  it('an action that never finishes is verified after 40 polls as it is, and escalated', async () => {
    const id = next();
    faults.set(id, 'software');
    const caseId = await caseFor(alarmEvent(id, 'Instance'), id);
    const entered = await remediate(caseId, async (state, call) => {
      // The reboot leaves the instance stuck pending; it comes back only after it was verified.
      if (state === 'Act' && invocations.get('Act') === 1) stuck.set(id, 'pending');
      if (state === 'Decide' && invocations.get('Decide') === 2) stuck.delete(id);
      return call();
    });
    expect(entered.filter((s) => s === 'Check the action').length).toBeGreaterThanOrEqual(40);
    expect(entered).toContain('Escalate');
    expect(entered.at(-1)).toBe('Recovered');
    expect((await cases().get(caseId))?.tried).toEqual(['reboot', 'stop-start']);
  });

  it('keeps its lease while its steps outlast the first lease: renewed by each settle and verify', async () => {
    const id = next();
    faults.set(id, 'software');
    const caseId = await caseFor(alarmEvent(id, 'Instance'), id);
    const used = (await stores.leases.ledger('paths'))?.used ?? 0;
    const intruder: boolean[] = [];
    const entered = await remediate(caseId, async (state, call) => {
      // Each step runs 20 minutes after the one before: Verify comes 80 minutes after the lease.
      if (['Act', 'Check the action', 'Verify'].includes(state)) offset += 20 * 60_000;
      if (state === 'Bring back into traffic') initializing.set(id, 3);
      if (state === 'Verify') {
        const attempt = await stores.leases.acquire({
          owner: 'intruder',
          instanceIds: [id],
          nonDisruptiveServices: new Set(),
          ttlMs: 60_000,
          now: Date.now() + offset,
        });
        intruder.push(attempt.acquired);
        if (attempt.acquired) await stores.leases.releaseAll('intruder');
      }
      return call();
    });
    expect(offset).toBeGreaterThan(HOLD_MS);
    expect(intruder.length).toBeGreaterThan(1);
    expect(intruder.every((x) => x === false)).toBe(true);
    expect(entered.at(-1)).toBe('Recovered');
    // Released by the verify step with its budget: nothing is left held or reserved.
    expect(await held(caseId)).toEqual([]);
    expect(writes.filter((w) => w.startsWith('leases.renew'))).not.toHaveLength(0);
    expect((await stores.leases.ledger('paths'))?.used ?? 0).toBe(used);
  });

  it('a case that lost its lease stops acting: failed, paged, the instance left as it is', async () => {
    const id = next();
    const caseId = await caseFor(degradedHardware(id), id);
    const entered = await remediate(caseId, async (state, call) => {
      // The stop went out; then the case is stalled past its lease, which a change takes over.
      if (state === 'Check the action' && invocations.get(state) === 1) {
        offset += HOLD_MS + 60_000;
        const taken = await stores.leases.acquire({
          owner: 'other-change',
          instanceIds: [id],
          nonDisruptiveServices: new Set(),
          ttlMs: 3_600_000,
          now: Date.now() + offset,
        });
        expect(taken.acquired).toBe(true);
      }
      return call();
    });
    expect(entered.slice(-2)).toEqual(['Record the failure', 'Remediation failed']);
    const c = (await cases().get(caseId))!;
    expect(c.status).toBe('failed');
    expect(c.reason).toMatch(/^a step failed \(LeaseLost: case .* no longer holds the lease/);
    // It never started the instance it no longer held.
    expect(writes.filter((w) => w.startsWith('ec2.'))).toEqual([`ec2.stop ${id}`]);
    expect(pages).toEqual([expect.stringContaining(`on ${id} needs a person`)]);
    await stores.leases.releaseAll('other-change');
  });

  /**
   * Crash tests: a step that writes more than once is crashed after each of its writes (the last
   * included, before it returns), once; Step Functions retries it (the TaskFailed retrier) and the
   * case must end as it would have, with each action taken once, each outcome counted once, the
   * lease released and one page. Four windows cannot be closed without a transaction the ports do
   * not offer, and are asserted as they are: a crash right after the reboot (before it is marked
   * sent) reboots again; right after the drain's tag (before the case is marked drained) tags
   * again, the same tag; right after the verdict (before the statistics) loses that one sample;
   * right after the page (before the case is marked failed) pages again. None loses a repair or a
   * page.
   */
  describe('a step crashed after any of its writes and retried ends exactly as without the crash', () => {
    interface Scenario {
      readonly name: string;
      readonly state: string;
      /** The step's writes in order (checked on a run without a crash). */
      readonly writes: readonly string[];
      readonly open: (id: string) => Promise<string>;
      readonly end: string;
      /** Actions on the instance expected, and their count; `twiceAfter`: the crash point that repeats one. */
      readonly actions: Readonly<Record<string, number>>;
      readonly twiceAfter?: { readonly k: number; readonly action: string };
      readonly outcome?: { readonly key: string; readonly lostAfter?: number };
      readonly pagesAfter?: { readonly k: number };
      readonly inject?: (state: string, call: () => Promise<unknown>) => Promise<unknown>;
      /** What else must hold whatever the crash point (checked after the run). */
      readonly holds?: (id: string) => Promise<void>;
    }
    const software = async (id: string) => {
      faults.set(id, 'software');
      return caseFor(alarmEvent(id, 'Instance'), id);
    };
    const scenarios: Scenario[] = [
      {
        name: 'Decide (a ladder step)',
        state: 'Decide',
        writes: ['fleet.audit', 'cases.decide'],
        open: software,
        end: 'Recovered',
        actions: { 'ec2.reboot': 1 },
      },
      {
        // A relapse of a reboot's "recovery": the ladder goes on to a stop-start, and the reboot's
        // counted success becomes a failure, once whatever the crash point.
        name: 'Decide (a relapse)',
        state: 'Decide',
        writes: ['cases.reviseOutcome', 'fleet.audit', 'cases.decide'],
        open: async (id) => {
          const key = 'instance-status-check-failed|reboot';
          await cases().recordOutcome('instance-status-check-failed', 'reboot', true, [key]);
          const now = Date.now();
          await cases().rememberRemediation({
            instanceId: id,
            caseId: `earlier-${id}`,
            openedAt: now - 3_600_000,
            endedAt: now - 600_000,
            kind: 'instance-status-check-failed',
            status: 'recovered',
            tried: ['reboot'],
            recoveredBy: 'reboot',
            relapses: 0,
          });
          relapseBefore.set(id, await stats(key));
          return software(id);
        },
        end: 'Recovered',
        actions: { 'ec2.stop': 1, 'ec2.start': 1 },
        holds: async (id) => {
          const before = relapseBefore.get(id)!;
          expect(await stats('instance-status-check-failed|reboot')).toEqual({
            successes: before.successes - 1,
            failures: before.failures + 1,
          });
          expect(await cases().lastRemediation(id)).toMatchObject({
            tried: ['reboot', 'stop-start'],
            recoveredBy: 'stop-start',
            relapses: 1,
          });
        },
      },
      {
        name: 'Decide (recovered on its own)',
        state: 'Decide',
        writes: ['fleet.closeFinding', 'fleet.audit', 'cases.rememberRemediation', 'cases.decide'],
        open: (id) => caseFor(alarmEvent(id, 'Instance'), id),
        end: 'Nothing to do',
        actions: {},
      },
      {
        name: 'Lease the instance',
        state: 'Lease the instance',
        writes: ['leases.acquire', 'fleet.audit'],
        open: software,
        end: 'Recovered',
        actions: { 'ec2.reboot': 1 },
      },
      {
        name: 'Act (reboot)',
        state: 'Act',
        writes: ['leases.recordAction', 'ec2.reboot', 'leases.recordAction'],
        open: software,
        end: 'Recovered',
        actions: { 'ec2.reboot': 1 },
        twiceAfter: { k: 2, action: 'ec2.reboot' },
      },
      {
        name: 'Act (stop-start)',
        state: 'Act',
        writes: ['leases.recordAction', 'ec2.stop'],
        open: (id) => caseFor(degradedHardware(id), id),
        end: 'Recovered',
        actions: { 'ec2.stop': 1, 'ec2.start': 1 },
      },
      {
        name: 'Check the action (stop-start)',
        state: 'Check the action',
        writes: ['leases.renew', 'leases.recordAction', 'ec2.start'],
        open: (id) => caseFor(degradedHardware(id), id),
        end: 'Recovered',
        actions: { 'ec2.stop': 1, 'ec2.start': 1 },
      },
      {
        name: 'Verify',
        state: 'Verify',
        writes: [
          'cases.rememberRemediation',
          'cases.setStatus',
          'cases.recordOutcome',
          'leases.release',
          'fleet.audit',
          'fleet.closeFinding',
        ],
        open: software,
        end: 'Recovered',
        actions: { 'ec2.reboot': 1 },
        outcome: { key: 'instance-status-check-failed|reboot', lostAfter: 2 },
      },
      {
        name: 'Record the failure',
        state: 'Record the failure',
        writes: [
          'leases.release',
          'fleet.audit',
          'cases.rememberRemediation',
          'notify.publish',
          'cases.setStatus',
        ],
        open: software,
        end: 'Remediation failed',
        actions: { 'ec2.reboot': 1 },
        pagesAfter: { k: 4 },
        inject: failing('Verify', 4, 'Error'),
      },
      {
        name: 'Drain the instance',
        state: 'Drain the instance',
        writes: ['fleet.audit', 'ec2.setTags', 'cases.setStatus', 'fleet.closeFinding'],
        open: (id) => caseFor(spotWarning(id), id),
        end: 'Drained',
        actions: { 'ec2.setTags': 1 },
        twiceAfter: { k: 2, action: 'ec2.setTags' },
      },
    ];
    /** A relapse scenario's statistics before its run. */
    const relapseBefore = new Map<string, { successes: number; failures: number }>();
    const runs = scenarios.flatMap((s) => [{ ...s, k: 0 }, ...s.writes.map((_w, i) => ({ ...s, k: i + 1 }))]);

    it.each(runs)('$name, crashed after write $k of its first run', async (s) => {
      const id = next();
      const caseId = await s.open(id);
      const before = s.outcome ? await stats(s.outcome.key) : undefined;
      if (s.k > 0) crash = { state: s.state, after: s.k, done: false };
      let stepWrites: string[] = [];
      const entered = await remediate(caseId, async (state, call) => {
        const from = writes.length;
        try {
          return await (s.inject ?? ((_s, c) => c()))(state, call);
        } finally {
          if (state === s.state && invocations.get(state) === 1 && stepWrites.length === 0)
            stepWrites = writes.slice(from).map((w) => w.split(' ')[0]);
        }
      });
      if (s.k === 0) expect(stepWrites).toEqual(s.writes);
      else expect(crash?.done).toBe(true);
      expect(entered.at(-1)).toBe(s.end);
      // Each action on the instance once (one documented window repeats a reboot).
      const expected = { ...s.actions };
      if (s.twiceAfter?.k === s.k) expected[s.twiceAfter.action] += 1;
      const taken = Object.fromEntries(
        [...ACTIONS].map((a) => [a, count(a, id)] as const).filter(([, n]) => n > 0),
      );
      expect(taken).toEqual(expected);
      // One decision per round; the case's lease released.
      const c = (await cases().get(caseId))!;
      expect(c.decisions).toHaveLength(1);
      expect(await held(caseId)).toEqual([]);
      if (s.outcome && before) {
        const after = await stats(s.outcome.key);
        const counted = after.successes + after.failures - before.successes - before.failures;
        expect(counted).toBe(s.outcome.lostAfter === s.k ? 0 : 1);
      }
      const expectedPages = s.end === 'Remediation failed' ? (s.pagesAfter?.k === s.k ? 2 : 1) : 0;
      await s.holds?.(id);
      expect(pages).toHaveLength(expectedPages);
      faults.delete(id);
    });
  });
});
