import { readFileSync } from 'node:fs';
import { AutoScalingClient, CreateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateCommand, EC2Client } from '@aws-sdk/client-ec2';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { DynamoRemediationStore } from '../../functions/adapters/dynamo-remediation-store';
import type { AutoScalingGroupState } from '../../functions/core/ports/index';
import type { RemediationPorts } from '../../functions/core/remediation/remediate';
import { runTracked } from '../support/asl-paths';
import { freshTable, sweepInventory } from '../support/aws';
import { bindTasks, loadDefinition, noRetryWaits, noWaits } from '../support/local-sfn';
import { loadRemediationHandlers } from '../support/remediation-handlers';

// Each test file uses its own region: moto keeps EC2 and Auto Scaling state per region.
const REGION = 'us-east-2';
const definition = loadDefinition('state-machines/remediation.asl.json', {
  RemediationStepFunctionArn: 'arn:aws:lambda:us-east-2:123456789012:function:fleetops-remediation-step',
});
const MUTATING: Record<string, readonly string[]> = {
  cases: ['decide', 'setStatus', 'recordOutcome', 'claimPage'],
  leases: ['acquire', 'renew', 'release', 'recordAction'],
  fleet: ['audit', 'closeFinding'],
  ec2: ['reboot', 'stop', 'start', 'setTags'],
  autoscaling: ['terminateKeepingCapacity', 'terminateDecrementingCapacity', 'setDesiredCapacity'],
  notify: ['publish'],
};

/**
 * A rebalance recommendation's `replace` against moto's Auto Scaling, through the real ASL and
 * handler: launch before terminate where the group's MaxSize leaves room (moto launches on
 * SetDesiredCapacity, as AWS does), terminate first where it does not; each Auto Scaling call
 * once, whatever step crashes after whichever write.
 */
describe('remediation replace (a rebalance recommendation; moto Auto Scaling, the real ASL and handler)', () => {
  const saved = { ...process.env };
  const ec2 = new EC2Client({ region: REGION });
  const autoscaling = new AutoScalingClient({ region: REGION });
  let stores: Awaited<ReturnType<typeof freshTable>>;
  let triage: (event: SQSEvent, context: Context) => Promise<{ batchItemFailures: unknown[] }>;
  let stepWith: (ports: RemediationPorts, event: unknown) => Promise<unknown>;
  let ports: RemediationPorts;
  let base: RemediationPorts;

  /** Auto Scaling calls, each with the group as it stood just before the call. */
  const calls: Array<{ call: string; before?: AutoScalingGroupState }> = [];
  /** Every write, as `<state>#<invocation>|<port>.<method>`. */
  const writes: string[] = [];
  const pages: string[] = [];
  /** When set: any instance not in it reports its status checks initializing, whatever moto says. */
  let onlyThesePass: ReadonlySet<string> | undefined;
  let current = { state: '', invocation: 0, writes: 0 };
  const invocations = new Map<string, number>();
  let crash: { state: string; after: number; done: boolean } | undefined;
  let groups = 0;

  beforeAll(async () => {
    process.env.AWS_REGION = REGION;
    stores = await freshTable();
    await stores.fleet.putServices(
      { services: { cache: { maxUnavailable: { kind: 'count', value: 2 }, impact: {} } } },
      'test',
      0,
    );
    const handlers = await loadRemediationHandlers(REGION, stores.table, definition);
    triage = handlers.triage;
    stepWith = handlers.stepWith;
    base = handlers.ports;
    const wrote = (port: string, method: string) => {
      writes.push(`${current.state}#${current.invocation}|${port}.${method}`);
      current.writes++;
      if (crash && !crash.done && crash.state === current.state && current.invocation === 1) {
        if (current.writes === crash.after) {
          crash.done = true;
          throw new Error(`crashed after write ${crash.after} of ${current.state} (${port}.${method})`);
        }
      }
    };
    const counted = <T extends object>(port: string, target: T): T =>
      new Proxy(target, {
        get(obj, prop) {
          const value = Reflect.get(obj, prop, obj);
          if (typeof value !== 'function') return value;
          if (!MUTATING[port].includes(String(prop))) return value.bind(obj);
          return async (...args: unknown[]) => {
            const result = await value.apply(obj, args);
            wrote(port, String(prop));
            return result;
          };
        },
      });
    const groupOf = async (id: string) => {
      const name = (await base.autoscaling.groupsOf([id])).get(id);
      return name ? base.autoscaling.describeGroup(name) : undefined;
    };
    ports = {
      ...base,
      rng: () => 0.5,
      cases: counted('cases', base.cases),
      leases: counted('leases', base.leases),
      fleet: counted('fleet', base.fleet),
      ec2: counted('ec2', {
        ...base.ec2,
        // The adapter is a class: a spread drops its methods, so each one used is passed on by name.
        consoleOutputAt: (i) => base.ec2.consoleOutputAt(i),
        reboot: (ids) => base.ec2.reboot(ids),
        stop: (ids) => base.ec2.stop(ids),
        start: (ids) => base.ec2.start(ids),
        setTags: (ids, tags) => base.ec2.setTags(ids, tags),
        conditions: async (ids) => {
          const real = await base.ec2.conditions(ids);
          for (const [id, c] of real) {
            if (onlyThesePass && !onlyThesePass.has(id)) real.set(id, { ...c, health: 'initializing' });
          }
          return real;
        },
      }),
      autoscaling: counted('autoscaling', {
        ...base.autoscaling,
        groupsOf: (ids) => base.autoscaling.groupsOf(ids),
        describeGroup: (name) => base.autoscaling.describeGroup(name),
        health: (names) => base.autoscaling.health(names),
        setDesiredCapacity: async (name, desired) => {
          calls.push({
            call: `setDesiredCapacity ${name} ${desired}`,
            before: await base.autoscaling.describeGroup(name),
          });
          await base.autoscaling.setDesiredCapacity(name, desired);
        },
        terminateDecrementingCapacity: async (id) => {
          calls.push({ call: `terminateDecrementingCapacity ${id}`, before: await groupOf(id) });
          await base.autoscaling.terminateDecrementingCapacity(id);
        },
        terminateKeepingCapacity: async (id) => {
          calls.push({ call: `terminateKeepingCapacity ${id}`, before: await groupOf(id) });
          await base.autoscaling.terminateKeepingCapacity(id);
        },
      }),
      notify: counted('notify', {
        publish: async (subject: string, message: string) => {
          pages.push(`${subject}\n${message}`);
          await base.notify.publish(subject, message);
        },
      }),
    };
  });
  afterAll(() => {
    process.env = saved;
  });
  beforeEach(() => {
    calls.length = 0;
    writes.length = 0;
    pages.length = 0;
    onlyThesePass = undefined;
    crash = undefined;
  });

  /** A managed group of the `cache` service (its instances tagged at launch), synced into the inventory. */
  async function group(desired: number, max: number): Promise<{ name: string; members: string[] }> {
    const name = `cache-${++groups}`;
    await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: name,
        LaunchTemplateData: { ImageId: 'ami-12c6146b', InstanceType: 't3.micro' },
      }),
    );
    await autoscaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: name,
        MinSize: 0,
        MaxSize: max,
        DesiredCapacity: desired,
        LaunchTemplate: { LaunchTemplateName: name },
        AvailabilityZones: [`${REGION}a`],
        Tags: [
          { Key: 'fleetops:managed', Value: 'true', PropagateAtLaunch: true },
          { Key: 'fleetops:service', Value: 'cache', PropagateAtLaunch: true },
        ],
      }),
    );
    await sweepInventory(ec2, stores);
    return { name, members: ((await base.autoscaling.describeGroup(name))?.members ?? []).map((m) => m.id) };
  }
  const context = { functionName: 'triage', getRemainingTimeInMillis: () => 60_000 } as unknown as Context;
  let seq = 0;
  /** EC2's rebalance recommendation for an instance, through the real triage handler: the case's id. */
  async function rebalance(instanceId: string): Promise<string> {
    const body = readFileSync('test/fixtures/events/rebalance-recommendation.nth.json', 'utf8')
      .replaceAll('i-0b662ef9931388ba0', instanceId)
      .replaceAll('us-east-1', REGION)
      .replace('5d5555d5-dd55-5555-5555-5555dd55d55d', `rebalance-${++seq}`)
      .replace(
        '2020-10-26T14:14:14Z',
        new Date(Date.now() + seq * 1000).toISOString().replace(/\.\d+Z$/, 'Z'),
      );
    const record = { messageId: `m-${seq}`, body, attributes: {}, messageAttributes: {} } as unknown;
    expect((await triage({ Records: [record as SQSRecord] }, context)).batchItemFailures).toEqual([]);
    const found = (await cases().list(500)).filter((c) => c.finding.instanceId === instanceId);
    expect(found).toHaveLength(1);
    return found[0].id;
  }
  const cases = () => new DynamoRemediationStore(stores.db, stores.table);
  async function remediate(caseId: string) {
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
              current = { state, invocation, writes: 0 };
              return call(input);
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
  const held = async (caseId: string) =>
    (await stores.leases.activeLeases(Date.now())).filter((l) => l.owner === caseId);

  it('launches before it terminates: desired +1, a new member in service, then the instance terminated decrementing', async () => {
    const { name, members } = await group(3, 5);
    const [id] = members;
    const caseId = await rebalance(id);
    const entered = await remediate(caseId);
    expect(entered.at(-1)).toBe('Recovered');
    expect(calls.map((c) => c.call)).toEqual([
      `setDesiredCapacity ${name} 4`,
      `terminateDecrementingCapacity ${id}`,
    ]);
    // When the instance was terminated, the group already had a new member in service.
    const atTermination = calls[1].before!;
    const fresh = atTermination.members.filter((m) => !members.includes(m.id));
    expect(fresh).toEqual([{ id: expect.any(String), lifecycle: 'InService', healthy: true }]);
    expect(atTermination.members.filter((m) => m.lifecycle === 'InService')).toHaveLength(4);
    // The group is back to its size, without the instance.
    const after = (await base.autoscaling.describeGroup(name))!;
    expect(after.desired).toBe(3);
    expect(after.members.map((m) => m.id).sort()).toEqual([...members.slice(1), fresh[0].id].sort());
    const c = (await cases().get(caseId))!;
    expect(`${c.status}: ${c.reason}`).toBe('recovered: replace recovered the instance');
    expect(c.decisions.map((d) => d.reason)).toEqual([
      expect.stringMatching(/^rebalance-recommendation: replace now/),
      `replace, launch before terminate: ${name} desired capacity 3 → 4 (max 5); ${id} is terminated once a new member is in service`,
    ]);
    expect(await held(caseId)).toEqual([]);
    expect((await stores.fleet.openFindings()).some((f) => f.instanceId === id)).toBe(false);
  });

  it('at MaxSize it terminates first, keeping capacity within the budget, and says so', async () => {
    const { name, members } = await group(2, 2);
    const [id] = members;
    const caseId = await rebalance(id);
    const entered = await remediate(caseId);
    expect(entered.at(-1)).toBe('Recovered');
    expect(calls.map((c) => c.call)).toEqual([`terminateKeepingCapacity ${id}`]);
    const after = (await base.autoscaling.describeGroup(name))!;
    expect(after.desired).toBe(2);
    expect(after.members.map((m) => m.id)).not.toContain(id);
    const c = (await cases().get(caseId))!;
    expect(c.status).toBe('recovered');
    expect(c.decisions.at(-1)?.reason).toBe(
      `replace, terminate first: ${name} is at its maximum size (2), so ${id} is terminated keeping capacity and the group launches its replacement; it is down meanwhile, within the budget its lease reserved`,
    );
    expect(await held(caseId)).toEqual([]);
  });

  it('keeps the instance when no new member comes into service, and pages saying the group was left raised', async () => {
    const { name, members } = await group(2, 4);
    const [id] = members;
    const caseId = await rebalance(id);
    // Whatever the group launches never passes its status checks.
    onlyThesePass = new Set(members);
    const entered = await remediate(caseId);
    expect(entered.filter((s) => s === 'Check the action')).toHaveLength(40);
    expect(entered.slice(-3)).toEqual(['Decide', 'What was decided?', 'Paged a person']);
    expect(calls.map((c) => c.call)).toEqual([`setDesiredCapacity ${name} 3`]);
    expect((await base.autoscaling.describeGroup(name))?.desired).toBe(3);
    const c = (await cases().get(caseId))!;
    expect(c.status).toBe('paged');
    expect(pages).toEqual([
      expect.stringContaining(
        `last: replace did not recover the instance (no new member came into service, so ${id} was kept; ${name} was left at desired capacity 3 for a person to decide)`,
      ),
    ]);
    expect(await held(caseId)).toEqual([]);
  });

  describe('crashed after any write of its act or settle step and retried: one raise, one termination', () => {
    const runs = [
      {
        state: 'Act',
        writes: ['fleet.audit', 'cases.decide', 'leases.recordAction', 'autoscaling.setDesiredCapacity'],
      },
      {
        state: 'Check the action',
        writes: ['leases.renew', 'leases.recordAction', 'autoscaling.terminateDecrementingCapacity'],
      },
    ].flatMap((s) => [{ ...s, k: 0 }, ...s.writes.map((_w, i) => ({ ...s, k: i + 1 }))]);

    it.each(runs)('$state, crashed after write $k', async ({ state, writes: expected, k }) => {
      const { name, members } = await group(2, 3);
      const [id] = members;
      const caseId = await rebalance(id);
      if (k > 0) crash = { state, after: k, done: false };
      const entered = await remediate(caseId);
      expect(entered.at(-1)).toBe('Recovered');
      const firstRun = writes.filter((w) => w.startsWith(`${state}#1|`)).map((w) => w.split('|')[1]);
      if (k === 0) expect(firstRun).toEqual(expected);
      else expect(crash?.done).toBe(true);
      expect(calls.map((c) => c.call)).toEqual([
        `setDesiredCapacity ${name} 3`,
        `terminateDecrementingCapacity ${id}`,
      ]);
      const after = (await base.autoscaling.describeGroup(name))!;
      expect(after.desired).toBe(2);
      expect(after.members.map((m) => m.id)).not.toContain(id);
      const c = (await cases().get(caseId))!;
      expect(c.status).toBe('recovered');
      expect(c.decisions.filter((d) => d.replacement)).toHaveLength(1);
      expect(await held(caseId)).toEqual([]);
    });
  });
});
