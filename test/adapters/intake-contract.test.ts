import { readFileSync } from 'node:fs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoRemediationStore } from '../../functions/adapters/dynamo-remediation-store';
import { keys } from '../../functions/adapters/keys';
import { type Finding, findingsFor } from '../../functions/core/events/findings';
import { parseEvent } from '../../functions/core/events/parse';
import type { Instance } from '../../functions/core/fleet/fleet';
import type { ServicesFile } from '../../functions/core/fleet/services';
import type { CaseStatusWord } from '../../functions/core/remediation/remediate';
import {
  type CaseSource,
  handOverFindings,
  openCase,
  type RemediationInput,
  type TriagePorts,
  triageFinding,
  UNSETTLED_GRACE_MS,
} from '../../functions/core/remediation/triage';
import { MemoryFleetStore, MemoryRemediationStore } from '../../sim/adapters';
import { VirtualClock } from '../../sim/kernel/virtual-clock';
import { SimWorld } from '../../sim/world/sim-world';
import { Crash, CrashPoints, WRITES } from '../handlers/crash-points';
import { freshTable } from '../support/aws';

/**
 * The intake contract: a finding → its case → the case's execution, crash-safe, and one case per
 * instance and underlying event whatever the source. The same scenarios run against the DynamoDB
 * stores (moto) and the simulation's in-memory ones, with one recording stand-in for Step
 * Functions (same name and same input: the same execution; another input: ExecutionAlreadyExists).
 */

/** The Health retirement of the AWS documentation (instance i-1234567890abcdef0, 27 Aug 2026 13:19:03). */
const healthRetirement = (): Finding => {
  const body = readFileSync('test/fixtures/events/health-instance-retirement.aws-docs.json', 'utf8');
  const [finding] = parseEvent(body).findings;
  return finding;
};

/** The sweep's observation of the same retirement: DescribeInstanceStatus, its own event id. */
const sweptRetirement = (
  notBefore = '2026-08-27T13:19:03.000Z',
  eventId = 'instance-event-0d59937288b749b32',
) => {
  const instance: Instance = {
    id: 'i-1234567890abcdef0',
    service: 'web',
    zone: 'us-east-1a',
    state: 'running',
    health: 'ok',
    tags: {},
    scheduledEvents: [
      {
        id: eventId,
        code: 'instance-retirement',
        notBefore,
        description: 'The instance is running on degraded hardware',
      },
    ],
  };
  const [finding] = findingsFor({ instance }, instance, '2026-08-01T00:00:00.000Z');
  return finding;
};

/** Later than anything recorded here: every unsettled finding. */
const ANY_TIME = Date.parse('2100-01-01T00:00:00Z');

const statusCheck = (instanceId: string, since: string, source = 'inventory-sync'): Finding => ({
  instanceId,
  kind: 'system-status-check-failed',
  key: `since-${since}`,
  detail: 'system status check impaired',
  source,
});

/** Step Functions' StartExecution as documented for a name that exists (90 days, one name). */
class RecordingExecutions {
  readonly inputs = new Map<string, string>();
  /** Starts of an existing name with a different input (Step Functions: ExecutionAlreadyExists). */
  readonly conflicts: string[] = [];
  async start(name: string, input: RemediationInput): Promise<{ started: boolean }> {
    const json = JSON.stringify(input);
    const had = this.inputs.get(name);
    if (had === undefined) this.inputs.set(name, json);
    else if (had !== json) {
      this.conflicts.push(name);
      return { started: false };
    }
    return { started: true };
  }
}

interface CaseRow {
  readonly id: string;
  readonly status: string;
  readonly sources: readonly CaseSource[];
  readonly startedAt?: number;
}

interface Harness {
  readonly fleet: TriagePorts['fleet'] & {
    putServices(file: ServicesFile, actor: string, now: number): Promise<void>;
    recordFindings(findings: readonly Finding[], now: number): Promise<Finding[]>;
    unsettledFindings(recordedBefore: number): Promise<Finding[]>;
  };
  readonly cases: TriagePorts['cases'] & {
    setStatus(id: string, status: CaseStatusWord, reason: string, now: number): Promise<void>;
  };
  casesOf(instanceId: string): Promise<CaseRow[]>;
}

type Make = () => Promise<Harness>;

const makeDynamo: Make = async () => {
  const stores = await freshTable();
  const cases = new DynamoRemediationStore(stores.db, stores.table);
  return {
    fleet: stores.fleet,
    cases,
    casesOf: async (id) => (await cases.list()).filter((c) => c.finding.instanceId === id),
  };
};

const makeMemory: Make = async () => {
  const world = new SimWorld(new VirtualClock(0), [], () => {});
  const fleet = new MemoryFleetStore(world, { services: {} });
  const cases = new MemoryRemediationStore();
  return {
    fleet,
    cases,
    casesOf: async (id) => [...cases.cases.values()].filter((c) => c.finding.instanceId === id),
  };
};

describe.each<[string, Make]>([
  ['dynamodb', makeDynamo],
  ['memory', makeMemory],
])('finding intake contract (%s)', (_name, make) => {
  let h: Harness;
  let executions: RecordingExecutions;
  let clock: number;
  /** The intake's ports; a crash plan wraps every write. Time moves on by a second per read. */
  const ports = (crash?: CrashPoints): TriagePorts & { fleet: Harness['fleet'] } => {
    const wrap = <T extends object>(name: keyof typeof WRITES, target: T): T =>
      crash ? crash.wrap(name, target, WRITES[name]) : target;
    return {
      fleet: wrap('fleet', h.fleet),
      cases: wrap('cases', h.cases),
      executions: wrap('executions', executions),
      now: () => (clock += 1000),
      actor: 'test',
    };
  };
  /** Exactly one case for the instance, one execution named after it, started with the case's stored input. */
  const expectOneCaseOneExecution = async (instanceId: string) => {
    const rows = await h.casesOf(instanceId);
    expect(rows).toHaveLength(1);
    expect([...executions.inputs.keys()]).toEqual([rows[0].id]);
    expect(executions.conflicts).toEqual([]);
    expect(rows[0].startedAt).toBeDefined();
    return rows[0];
  };

  beforeEach(async () => {
    h = await make();
    executions = new RecordingExecutions();
    clock = Date.parse('2026-08-01T00:00:00Z');
  });

  it('acts on a scheduled event at the account’s quiet time before its deadline (the services file’s defaults)', async () => {
    // 1 Aug 2026 is a Saturday; the account prefers Sundays 02:00–05:00 UTC, and the retirement
    // is on 27 Aug: the case waits for Sunday 2 Aug 02:00. Without a quiet window: at once.
    const finding = sweptRetirement();
    const started = await triageFinding(ports(), finding);
    expect(started).toMatchObject({ outcome: 'started' });
    const [first] = [...executions.inputs.values()].map((j) => JSON.parse(j) as { at: string });
    expect(Date.parse(first.at)).toBeLessThan(Date.parse('2026-08-01T00:01:00Z'));

    h = await make();
    executions = new RecordingExecutions();
    await h.fleet.putServices(
      {
        defaults: {
          maxUnavailable: { kind: 'count', value: 1 },
          impact: {},
          quietWindow: { days: ['sun'], start: '02:00', end: '05:00', timezone: 'UTC' },
        },
        services: {},
      },
      'test',
      clock,
    );
    await triageFinding(ports(), sweptRetirement());
    const [quiet] = [...executions.inputs.values()].map((j) => JSON.parse(j) as { at: string });
    expect(quiet.at).toBe('2026-08-02T02:00:00.000Z');
  });

  it('opens one case per finding and starts its execution once; a repeat is seen before', async () => {
    const finding = statusCheck('i-0aaaaaaaaaaaaaaa1', '2026-08-01T00:00:00.000Z');
    const first = await triageFinding(ports(), finding);
    expect(first).toMatchObject({ outcome: 'started' });
    expect(await triageFinding(ports(), finding)).toEqual({ outcome: 'seen-before' });
    const c = await expectOneCaseOneExecution(finding.instanceId);
    expect(c.id).toBe(first.caseId);
    expect(JSON.parse(executions.inputs.get(c.id)!)).toEqual({
      state: { caseId: c.id, attempts: 0, polls: 0 },
      at: first.outcome === 'seen-before' ? undefined : first.at,
    });
    expect(await h.fleet.unsettledFindings(ANY_TIME)).toEqual([]);
  });

  it.each([
    ['AWS Health first', [healthRetirement, sweptRetirement]],
    ['the sweep first', [sweptRetirement, healthRetirement]],
  ])(
    'takes the same scheduled retirement from AWS Health and from the sweep as one case (%s)',
    async (_order, makers) => {
      const [first, second] = makers.map((m) => m());
      expect(first.key).not.toBe(second.key); // nothing in the keys says they are one event
      expect(await triageFinding(ports(), first)).toMatchObject({ outcome: 'started' });
      const joined = await triageFinding(ports(), second);
      expect(joined).toMatchObject({ outcome: 'joined' });
      const c = await expectOneCaseOneExecution(first.instanceId);
      expect(joined.caseId).toBe(c.id);
      expect(c.sources.map((s) => s.key)).toEqual([first.key, second.key]);
      // Both are settled: the next sweep and a redelivery stop at once.
      expect(await h.fleet.unsettledFindings(ANY_TIME)).toEqual([]);
      expect(await triageFinding(ports(), second)).toEqual({ outcome: 'seen-before' });
    },
  );

  it('takes the two sources racing (concurrent intakes) as one case and one execution', async () => {
    for (let round = 0; round < 5; round++) {
      h = await make();
      executions = new RecordingExecutions();
      const outcomes = await Promise.all([
        triageFinding(ports(), healthRetirement()),
        triageFinding(ports(), sweptRetirement()),
      ]);
      // Both may start it, when both see the case before either recorded the start: the same
      // name with the same input is one execution.
      expect(outcomes.map((o) => o.outcome)).toContain('started');
      expect(outcomes.every((o) => o.outcome === 'started' || o.outcome === 'joined')).toBe(true);
      const c = await expectOneCaseOneExecution('i-1234567890abcdef0');
      expect(c.sources).toHaveLength(2);
    }
  });

  it('joins a second status-check finding to the active case, and opens a new case after it ended (a relapse)', async () => {
    const id = 'i-0aaaaaaaaaaaaaaa2';
    const alarm = statusCheck(id, '2026-08-01T00:00:00.000Z', 'status-check-alarm');
    const sweep = statusCheck(id, '2026-07-31T23:59:00.000Z');
    const opened = await triageFinding(ports(), alarm);
    expect(await triageFinding(ports(), sweep)).toMatchObject({ outcome: 'joined', caseId: opened.caseId });
    expect(await h.casesOf(id)).toHaveLength(1);

    await h.cases.setStatus(opened.caseId!, 'recovered', 'reboot recovered the instance', clock);
    const relapse = statusCheck(id, '2026-08-02T00:00:00.000Z');
    const second = await triageFinding(ports(), relapse);
    expect(second).toMatchObject({ outcome: 'started' });
    expect(second.caseId).not.toBe(opened.caseId);
    const rows = await h.casesOf(id);
    expect(rows.map((c) => c.status).sort()).toEqual(['open', 'recovered']);
    expect([...executions.inputs.keys()].sort()).toEqual(rows.map((c) => c.id).sort());
  });

  it('opens no second case for a late report of a scheduled event whose case has ended, but one for a new event', async () => {
    const opened = await triageFinding(ports(), healthRetirement());
    await h.cases.setStatus(opened.caseId!, 'recovered', 'stop-start recovered the instance', clock);
    // The sweep sees the same retirement once more before EC2 marks it completed.
    expect(await triageFinding(ports(), sweptRetirement())).toMatchObject({ outcome: 'joined' });
    expect(await h.casesOf('i-1234567890abcdef0')).toHaveLength(1);
    // A new retirement (a new date) after the first ended: a new case.
    const again = await triageFinding(
      ports(),
      sweptRetirement('2026-10-01T08:00:00.000Z', 'instance-event-0new'),
    );
    expect(again).toMatchObject({ outcome: 'started' });
    expect(await h.casesOf('i-1234567890abcdef0')).toHaveLength(2);
  });

  it('records a finding that needs no action on its case, with no execution, once', async () => {
    const stop: Finding = {
      instanceId: 'i-0aaaaaaaaaaaaaaa3',
      kind: 'unexpected-stop',
      key: 'stopped@2026-08-01T00:00:00.000Z',
      detail: 'the instance stopped',
      source: 'aws.ec2',
    };
    expect(await triageFinding(ports(), stop)).toMatchObject({ outcome: 'recorded' });
    expect(await triageFinding(ports(), stop)).toEqual({ outcome: 'seen-before' });
    const rows = await h.casesOf(stop.instanceId);
    expect(rows.map((c) => c.status)).toEqual(['recorded']);
    expect(executions.inputs.size).toBe(0);
  });

  describe('a crash between any two writes, retried, ends in one case and one execution', () => {
    /** How many writes a clean intake of these findings makes (each position gets a crash). */
    const writesOf = async (run: (p: TriagePorts & { fleet: Harness['fleet'] }) => Promise<unknown>) => {
      const saved = { h, executions, clock };
      h = await make();
      executions = new RecordingExecutions();
      const count = new CrashPoints();
      await run(ports(count));
      ({ h, executions, clock } = saved);
      return count.writes;
    };

    it('a new finding: crash after each write, then the event is delivered again', async () => {
      const finding = statusCheck('i-0aaaaaaaaaaaaaaa4', '2026-08-01T00:00:00.000Z');
      const writes = await writesOf((p) => triageFinding(p, finding));
      expect(writes).toEqual([
        'fleet.recordFinding',
        'cases.open',
        'executions.start',
        'cases.markStarted',
        'fleet.audit',
        'fleet.settleFinding',
      ]);
      for (let k = 1; k <= writes.length; k++) {
        h = await make();
        executions = new RecordingExecutions();
        const crash = new CrashPoints(k);
        await expect(triageFinding(ports(crash), finding)).rejects.toThrow(Crash);
        // The redelivery, long enough after for `now` (and a recomputed time to act) to differ.
        clock += 3_600_000;
        const retried = await triageFinding(ports(), finding);
        // Up to the start: the retry starts it (a repeat of the same input is the same execution);
        // after the start is recorded there is nothing to start; after the last write, nothing to do.
        expect(retried.outcome).toBe(
          ['started', 'started', 'started', 'already-started', 'already-started', 'seen-before'][k - 1],
        );
        await expectOneCaseOneExecution(finding.instanceId);
        expect(await h.fleet.unsettledFindings(ANY_TIME)).toEqual([]);
      }
    });

    it('a second source of an active case: crash after each write, then retried', async () => {
      const writes = await writesOf(async (p) => {
        await triageFinding(ports(), healthRetirement());
        await triageFinding(p, sweptRetirement());
      });
      expect(writes).toEqual(['fleet.recordFinding', 'cases.open', 'fleet.audit', 'fleet.settleFinding']);
      for (let k = 1; k <= writes.length; k++) {
        h = await make();
        executions = new RecordingExecutions();
        await triageFinding(ports(), healthRetirement());
        await expect(triageFinding(ports(new CrashPoints(k)), sweptRetirement())).rejects.toThrow(Crash);
        clock += 3_600_000;
        await triageFinding(ports(), sweptRetirement());
        const c = await expectOneCaseOneExecution('i-1234567890abcdef0');
        expect(c.sources).toHaveLength(2);
      }
    });

    it('the opener crashed before starting the execution: the other source starts it, once', async () => {
      for (const k of [1, 2]) {
        h = await make();
        executions = new RecordingExecutions();
        await expect(triageFinding(ports(new CrashPoints(k)), healthRetirement())).rejects.toThrow(Crash);
        expect(await triageFinding(ports(), sweptRetirement())).toMatchObject({ outcome: 'started' });
        await triageFinding(ports(), healthRetirement()); // its redelivery
        await expectOneCaseOneExecution('i-1234567890abcdef0');
      }
    });

    it("the sweep's hand-over: crash after each write, then the next sweep takes the finding up again", async () => {
      const finding = statusCheck('i-0aaaaaaaaaaaaaaa5', '2026-08-01T00:00:00.000Z');
      const sweep = async (p: TriagePorts & { fleet: Harness['fleet'] }, seen: Finding[]) => {
        const fresh = await p.fleet.recordFindings(seen, clock);
        return handOverFindings(p, fresh);
      };
      const writes = await writesOf((p) => sweep(p, [finding]));
      expect(writes).toEqual([
        'fleet.recordFindings',
        'cases.open',
        'executions.start',
        'cases.markStarted',
        'fleet.audit',
        'fleet.settleFinding',
      ]);
      for (let k = 1; k <= writes.length; k++) {
        h = await make();
        executions = new RecordingExecutions();
        const crash = new CrashPoints(k);
        // The hand-over reports a failed finding rather than throwing; the recording itself throws.
        const first = await sweep(ports(crash), [finding]).catch((e: unknown) => e);
        expect(crash.crashed).toBe(true);
        if (!(first instanceof Crash)) expect(first).toMatchObject({ failed: [{ finding }] });
        clock += 3_600_000;
        // The next sweep no longer observes it (EC2 gives no ImpairedSince: only the first sight
        // of an impairment is a finding): the unsettled index hands it over.
        const next = await sweep(ports(), []);
        expect(next.failed).toEqual([]);
        await expectOneCaseOneExecution(finding.instanceId);
        expect(await h.fleet.unsettledFindings(ANY_TIME)).toEqual([]);
      }
    });
  });

  it('hands over a finding an event recorded and never saw through, at the next sweep', async () => {
    await expect(triageFinding(ports(new CrashPoints(1)), healthRetirement())).rejects.toThrow(Crash);
    expect((await h.fleet.unsettledFindings(ANY_TIME)).map((f) => f.source)).toEqual([
      'aws.health:AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED',
    ]);
    // While it might still be in flight (a triage invocation that has not timed out yet), the
    // sweep leaves it alone; once it was left behind, the sweep takes it up.
    expect(await handOverFindings(ports(), [])).toEqual({ cases: [], failed: [] });
    clock += UNSETTLED_GRACE_MS;
    const handOver = await handOverFindings(ports(), []);
    expect(handOver.cases.map((c) => c.outcome.outcome)).toEqual(['started']);
    await expectOneCaseOneExecution('i-1234567890abcdef0');
    // openCase on a finding already settled changes nothing.
    expect(await openCase(ports(), healthRetirement())).toMatchObject({ outcome: 'already-started' });
    expect(executions.inputs.size).toBe(1);
  });
});

describe('the active-case pointer (dynamodb)', () => {
  it('left behind by a crash after its case ended, is taken over by the next case (racing relapses too)', async () => {
    // Prepare: the case's end is written, then the release of its pointer dies.
    const stores = await freshTable();
    const crashing = new Proxy(stores.db, {
      get: (t, prop) =>
        prop === 'send'
          ? (command: { constructor: { name: string } }) => {
              if (command.constructor.name === 'DeleteCommand') throw new Crash('crash before the release');
              return t.send(command as never);
            }
          : Reflect.get(t, prop, t),
    });
    const executions = new RecordingExecutions();
    let clock = Date.parse('2026-08-01T00:00:00Z');
    const ports = (db = stores.db) => ({
      fleet: stores.fleet,
      cases: new DynamoRemediationStore(db, stores.table),
      executions,
      now: () => (clock += 1000),
      actor: 'test',
    });
    const id = 'i-0aaaaaaaaaaaaaaa9';
    const opened = await triageFinding(ports(), statusCheck(id, '2026-08-01T00:00:00.000Z'));
    await expect(
      ports(crashing).cases.setStatus(opened.caseId!, 'recovered', 'reboot recovered the instance', clock),
    ).rejects.toThrow(Crash);
    const store = new DynamoRemediationStore(stores.db, stores.table);
    expect((await store.get(opened.caseId!))?.status).toBe('recovered');

    // Act: two relapses (the alarm and the sweep) at once.
    const relapses = await Promise.all([
      triageFinding(ports(), statusCheck(id, '2026-08-02T00:00:00.000Z', 'status-check-alarm')),
      triageFinding(ports(), statusCheck(id, '2026-08-02T00:01:00.000Z')),
    ]);

    // Assess: one new case, one new execution; the stale pointer names it now.
    const cases = (await store.list()).filter((c) => c.finding.instanceId === id);
    expect(cases.map((c) => c.status).sort()).toEqual(['open', 'recovered']);
    const relapse = cases.find((c) => c.status === 'open')!;
    expect(relapses.map((r) => r.caseId)).toEqual([relapse.id, relapse.id]);
    expect([...executions.inputs.keys()].sort()).toEqual(cases.map((c) => c.id).sort());
    expect(executions.conflicts).toEqual([]);
    // Its end releases the pointer: nothing left under the instance's key.
    await store.setStatus(relapse.id, 'recovered', 'reboot recovered the instance', clock);
    const { Item } = await stores.db.send(
      new GetCommand({ TableName: stores.table, Key: keys.activeCase(id, 'system-status-check-failed') }),
    );
    expect(Item).toBeUndefined();
  });
});
