import { readFileSync } from 'node:fs';
import {
  AttachInstancesCommand,
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  EnterStandbyCommand,
  ExitStandbyCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  CreateTargetGroupCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyTargetGroupAttributesCommand,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { DynamoRemediationStore } from '../../functions/adapters/dynamo-remediation-store';
import { inventoryPorts } from '../../functions/app/ports';
import { MANAGED_TAG, SERVICE_TAG_KEY } from '../../functions/core/defaults';
import { syncInventory } from '../../functions/core/fleet/sync-inventory';
import type { TargetHealth, TargetRef } from '../../functions/core/ports/traffic';
import type { RemediationPorts } from '../../functions/core/remediation/remediate';
import { runTracked } from '../support/asl-paths';
import { freshTable, managedTags, runInstances } from '../support/aws';
import { bindTasks, loadDefinition, noRetryWaits, noWaits } from '../support/local-sfn';
import { loadRemediationHandlers } from '../support/remediation-handlers';

// Each test file uses its own region: moto keeps EC2, ELB and Auto Scaling state per region.
const REGION = 'me-central-1';
const ZONES = ['me-central-1a', 'me-central-1b', 'me-central-1c'];
const definition = loadDefinition('state-machines/remediation.asl.json', {
  RemediationStepFunctionArn: `arn:aws:lambda:${REGION}:123456789012:function:fleetops-remediation-step`,
});
type States = Record<
  string,
  { Type: string; Retry?: Array<{ ErrorEquals: string[]; MaxAttempts?: number }> }
>;
const states = definition.States as States;

/** The writes a crash can fall between (every other call only reads). */
const MUTATING: Record<string, readonly string[]> = {
  cases: ['decide', 'setStatus', 'recordOutcome', 'claimPage'],
  leases: ['acquire', 'renew', 'release', 'recordAction'],
  fleet: ['audit', 'closeFinding'],
  exits: ['put', 'remove'],
  traffic: ['deregister', 'register'],
  autoscaling: ['enterStandby', 'exitStandby', 'setDesiredCapacity'],
  ec2: ['reboot', 'stop', 'start', 'setTags'],
};

/**
 * The ladder's disruptive steps through the traffic protocol (issue 14), through the real
 * remediation ASL with the real step handler against moto's EC2, ELBv2, Auto Scaling and
 * DynamoDB (ports composed by functions/app/ports.ts). A fault model stands in only for what
 * moto does not do: a deregistered target drains for a few looks, a registered one is `initial`
 * for a few looks; EnterStandby deregisters the member from its group's target groups and
 * ExitStandby registers it again; a stopped InService member is replaced by its group; a reboot
 * posts console output after it; a failing status check clears on the step that repairs it.
 * web instances sit behind a target group; api instances are members of an Auto Scaling group
 * that attaches its own.
 */
describe('remediation: out of traffic before a reboot or stop-start, back only when serving', () => {
  const saved = { ...process.env };
  const ec2 = new EC2Client({ region: REGION });
  const elb = new ElasticLoadBalancingV2Client({ region: REGION });
  const asg = new AutoScalingClient({ region: REGION });
  let stores: Awaited<ReturnType<typeof freshTable>>;
  let triage: (event: SQSEvent, context: Context) => Promise<{ batchItemFailures: unknown[] }>;
  let stepWith: (ports: RemediationPorts, event: unknown) => Promise<unknown>;
  let ports: RemediationPorts;
  const tg = { web: '', api: '', tight: '' };
  const pool = { web: [] as string[], api: [] as string[], tight: [] as string[], spot: [] as string[] };

  // The fault model.
  const faults = new Map<string, 'software' | 'hardware'>();
  const instanceStore = new Set<string>();
  const draining = new Map<string, number>();
  const initial = new Map<string, number>();
  const restartedAt = new Map<string, number>();
  /** Options of the test that runs. */
  let model = { drainLooks: 2, initialLooks: 2, standbyBroken: false, neverHealthy: false };
  let offset = 0;
  // What the tests observe.
  /** Each reboot or stop: the instance's live target health and lifecycle at that moment. */
  const atAction: Array<{ call: string; id: string; health: string[]; lifecycle?: string }> = [];
  const deregisterCalls: Array<ReadonlyArray<TargetRef & { instanceId: string }>> = [];
  const standbyCalls: string[] = [];
  const replaced: string[] = [];
  const writes: string[] = [];
  const pages: string[] = [];
  let current = { state: '', invocation: 0, writes: 0 };
  const invocations = new Map<string, number>();
  let crash: { state: string; after: number; done: boolean } | undefined;

  const key = (arn: string, id: string) => `${arn}|${id}`;
  const take = (name: keyof typeof pool) => {
    const id = pool[name].shift();
    if (!id) throw new Error(`the test ran out of ${name} instances`);
    return id;
  };
  const liveHealth = async (id: string) => {
    const out: string[] = [];
    for (const arn of [tg.web, tg.api, tg.tight]) {
      const got = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn }));
      for (const d of got.TargetHealthDescriptions ?? [])
        if (d.Target?.Id === id)
          out.push(`${arn === tg.web ? 'web' : arn === tg.api ? 'api' : 'tight'}:${d.TargetHealth?.State}`);
    }
    return out;
  };
  const groupOf = async (name: string) =>
    (await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] })))
      .AutoScalingGroups![0];
  const lifecycleOf = async (id: string) => {
    for (const name of ['api-group', 'tight-group']) {
      const m = (await groupOf(name)).Instances?.find((i) => i.InstanceId === id);
      if (m) return m.LifecycleState;
    }
    return undefined;
  };

  async function createTargetGroup(name: string, vpc: string): Promise<string> {
    const created = await elb.send(
      new CreateTargetGroupCommand({
        Name: `${name}-${stores.table.slice(-8)}`,
        Protocol: 'HTTP',
        Port: 80,
        VpcId: vpc,
        HealthCheckIntervalSeconds: 10,
        HealthyThresholdCount: 3,
        Tags: [{ Key: MANAGED_TAG.key, Value: MANAGED_TAG.value }],
      }),
    );
    const arn = created.TargetGroups![0].TargetGroupArn!;
    await elb.send(
      new ModifyTargetGroupAttributesCommand({
        TargetGroupArn: arn,
        Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '30' }],
      }),
    );
    return arn;
  }
  async function createGroup(name: string, target: string, ids: string[], subnets: string[], min: number) {
    await asg.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: name,
        LaunchTemplate: { LaunchTemplateName: 'traffic-template' },
        MinSize: 0,
        MaxSize: 40,
        DesiredCapacity: 0,
        VPCZoneIdentifier: subnets.join(','),
        TargetGroupARNs: [target],
      }),
    );
    for (let k = 0; k < ids.length; k += 20)
      await asg.send(
        new AttachInstancesCommand({ AutoScalingGroupName: name, InstanceIds: ids.slice(k, k + 20) }),
      );
    await asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: name, MinSize: min }));
    await elb.send(
      new RegisterTargetsCommand({ TargetGroupArn: target, Targets: ids.map((Id) => ({ Id })) }),
    );
  }

  beforeAll(async () => {
    process.env.AWS_REGION = REGION;
    stores = await freshTable();
    await stores.fleet.putServices(
      {
        services: {
          web: { maxUnavailable: { kind: 'count', value: 10 }, impact: {} },
          api: { maxUnavailable: { kind: 'count', value: 10 }, impact: {} },
        },
      },
      'test',
      0,
    );
    const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.2.0.0/16' }))).Vpc!.VpcId!;
    const subnets: string[] = [];
    for (const [k, zone] of ZONES.entries())
      subnets.push(
        (
          await ec2.send(
            new CreateSubnetCommand({ VpcId: vpc, CidrBlock: `10.2.${k}.0/24`, AvailabilityZone: zone }),
          )
        ).Subnet!.SubnetId!,
      );
    tg.web = await createTargetGroup('web', vpc);
    tg.api = await createTargetGroup('api', vpc);
    tg.tight = await createTargetGroup('tight', vpc);
    pool.web = await runInstances(ec2, 28, ZONES[0], managedTags('web'));
    await elb.send(
      new RegisterTargetsCommand({ TargetGroupArn: tg.web, Targets: pool.web.map((Id) => ({ Id })) }),
    );
    await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: 'traffic-template',
        LaunchTemplateData: { ImageId: 'ami-12c6146b', InstanceType: 't3.micro' },
      }),
    );
    pool.api = await runInstances(ec2, 28, ZONES[1], managedTags('api'));
    await createGroup('api-group', tg.api, pool.api, subnets, 2);
    pool.tight = await runInstances(ec2, 2, ZONES[2], managedTags('api'));
    await createGroup('tight-group', tg.tight, pool.tight, subnets, 1);
    const handlers = await loadRemediationHandlers(REGION, stores.table, definition);
    triage = handlers.triage;
    stepWith = handlers.stepWith;
    const base = handlers.ports;
    const sweep = inventoryPorts(
      { table: stores.table, managedTag: MANAGED_TAG, serviceTagKey: SERVICE_TAG_KEY },
      { db: stores.db, ec2 },
    );
    await syncInventory({
      ec2: sweep.inventory,
      store: stores.fleet,
      leases: stores.leases,
      traffic: sweep.traffic,
      autoscaling: sweep.autoscaling,
      exits: sweep.exits,
      now: Date.now(),
      actor: 'test',
    });

    const wrote = (port: string, method: string) => {
      writes.push(`${port}.${method}`);
      current.writes++;
      if (
        crash &&
        !crash.done &&
        crash.state === current.state &&
        current.invocation === 1 &&
        current.writes === crash.after
      ) {
        crash.done = true;
        throw new Error(`crashed after write ${crash.after} of ${current.state} (${port}.${method})`);
      }
    };
    /** Each write counted (and crashed after, when the test says so); the adapters are classes, so methods are bound. */
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
    /**
     * DeregisterTargets as AWS answers it: a target that is not registered "returns successfully"
     * (API reference, DeregisterTargets); moto refuses it with InvalidTarget, so only registered
     * ones are passed on (a retried take-out deregisters again).
     */
    const deregisterRegistered = async (targets: ReadonlyArray<TargetRef & { instanceId: string }>) => {
      const ask = new Map<string, string[]>();
      for (const t of targets)
        ask.set(t.targetGroupArn, [...(ask.get(t.targetGroupArn) ?? []), t.instanceId]);
      const live = await base.traffic.targetHealth(ask);
      const registered = targets.filter((t) =>
        (live.get(t.instanceId) ?? []).some(
          (h) => h.targetGroupArn === t.targetGroupArn && h.reason !== 'Target.NotRegistered',
        ),
      );
      if (registered.length > 0) await base.traffic.deregister(registered);
    };
    const attachedTo = async (group: string) => (await groupOf(group)).TargetGroupARNs ?? [];
    const traffic: RemediationPorts['traffic'] = {
      settings: (arns) => base.traffic.settings(arns),
      listManaged: () => base.traffic.listManaged(),
      targetHealth: async (registrations) => {
        const real = await base.traffic.targetHealth(registrations);
        const out = new Map<string, TargetHealth[]>();
        for (const [arn, ids] of registrations)
          for (const id of ids) {
            const k = key(arn, id);
            let h: TargetHealth = (real.get(id) ?? []).find((t) => t.targetGroupArn === arn) ?? {
              targetGroupArn: arn,
              state: 'unused',
              reason: 'Target.NotRegistered',
            };
            if ((draining.get(k) ?? 0) > 0) {
              draining.set(k, draining.get(k)! - 1);
              h = { targetGroupArn: arn, state: 'draining', reason: 'Target.DeregistrationInProgress' };
            } else if (h.state === 'healthy' && (model.neverHealthy || (initial.get(k) ?? 0) > 0)) {
              initial.set(k, (initial.get(k) ?? 1) - 1);
              h = { ...h, state: 'initial', reason: 'Elb.InitialHealthChecking' };
            }
            out.set(id, [...(out.get(id) ?? []), h]);
          }
        return out;
      },
      deregister: async (targets) => {
        deregisterCalls.push(targets);
        await deregisterRegistered(targets);
        for (const t of targets) draining.set(key(t.targetGroupArn, t.instanceId), model.drainLooks);
      },
      register: async (targets) => {
        await base.traffic.register(targets);
        for (const t of targets) {
          draining.delete(key(t.targetGroupArn, t.instanceId));
          initial.set(key(t.targetGroupArn, t.instanceId), model.initialLooks);
        }
      },
    };
    const autoscaling: RemediationPorts['autoscaling'] = {
      groupsOf: (ids) => base.autoscaling.groupsOf(ids),
      terminateKeepingCapacity: (id) => base.autoscaling.terminateKeepingCapacity(id),
      terminateDecrementingCapacity: (id) => base.autoscaling.terminateDecrementingCapacity(id),
      setDesiredCapacity: (group, desired) => base.autoscaling.setDesiredCapacity(group, desired),
      describeGroup: (name) => base.autoscaling.describeGroup(name),
      describeGroups: (names) => base.autoscaling.describeGroups(names),
      lifecycleOf: (ids) => base.autoscaling.lifecycleOf(ids),
      health: (groups) => base.autoscaling.health(groups),
      enterStandby: async (group, ids) => {
        standbyCalls.push(...ids);
        if (model.standbyBroken) return;
        await base.autoscaling.enterStandby(group, ids);
        // AWS deregisters a member entering Standby from its group's target groups (moto does not).
        const refs = (await attachedTo(group)).flatMap((arn) =>
          ids.map((instanceId) => ({ targetGroupArn: arn, instanceId })),
        );
        await deregisterRegistered(refs);
        for (const t of refs) draining.set(key(t.targetGroupArn, t.instanceId), model.drainLooks);
      },
      exitStandby: async (group, ids) => {
        await base.autoscaling.exitStandby(group, ids);
        const refs = (await attachedTo(group)).flatMap((arn) =>
          ids.map((instanceId) => ({ targetGroupArn: arn, instanceId })),
        );
        await base.traffic.register(refs);
        for (const t of refs) initial.set(key(t.targetGroupArn, t.instanceId), model.initialLooks);
      },
    };
    const observe = async (call: string, ids: readonly string[]) => {
      for (const id of ids)
        atAction.push({ call, id, health: await liveHealth(id), lifecycle: await lifecycleOf(id) });
    };
    const faulty: RemediationPorts['ec2'] = {
      setTags: (ids, tags) => base.ec2.setTags(ids, tags),
      start: (ids) => base.ec2.start(ids),
      reboot: async (ids) => {
        await observe('reboot', ids);
        await base.ec2.reboot(ids);
        // moto's reboot does nothing: the console output of the restart is posted after it.
        for (const id of ids) restartedAt.set(id, Date.now() + offset + 1000);
        for (const id of ids) if (faults.get(id) === 'software') faults.delete(id);
      },
      stop: async (ids) => {
        await observe('stop', ids);
        await base.ec2.stop(ids);
        for (const id of ids) {
          faults.delete(id);
          // A stopped InService member fails its group's EC2 health check at once: replaced (moto does not).
          if (atAction.at(-1)?.lifecycle === 'InService') {
            replaced.push(id);
            await base.autoscaling.terminateKeepingCapacity(id);
          }
        }
      },
      consoleOutputAt: async (ids) => new Map(ids.map((id) => [id, restartedAt.get(id) ?? 0])),
      conditions: async (ids) => {
        const real = await base.ec2.conditions(ids);
        for (const id of ids) {
          const c = real.get(id);
          if (!c) continue;
          real.set(id, {
            ...c,
            ...(faults.has(id) ? { health: 'impaired' } : {}),
            ...(instanceStore.has(id) ? { rootDevice: 'instance-store' as const } : {}),
          });
        }
        return real;
      },
    };
    ports = {
      ...base,
      rng: () => 0.5,
      now: () => Date.now() + offset,
      cases: counted('cases', base.cases),
      leases: counted('leases', base.leases),
      fleet: counted('fleet', base.fleet),
      exits: counted('exits', base.exits),
      traffic: counted('traffic', traffic),
      autoscaling: counted('autoscaling', autoscaling),
      ec2: counted('ec2', faulty),
      notify: {
        publish: async (subject: string, message: string) => {
          pages.push(`${subject}\n${message}`);
          await base.notify.publish(subject, message);
        },
      },
    };
  });
  afterAll(() => {
    process.env = saved;
  });
  beforeEach(() => {
    model = { drainLooks: 2, initialLooks: 2, standbyBroken: false, neverHealthy: false };
    offset = 0;
    crash = undefined;
    for (const list of [atAction, deregisterCalls, standbyCalls, replaced, writes, pages]) list.length = 0;
  });
  afterEach(async () => tidy());
  /** What a case leaves open must not trip the breaker for the next one. */
  async function tidy() {
    for (const f of await stores.fleet.openFindings())
      await stores.fleet.closeFinding(f, 'test over', Date.now());
    for (const c of await cases().inFlight())
      await cases().setStatus(c.id, 'failed', 'test over', Date.now());
  }

  const context = { functionName: 'triage', getRemainingTimeInMillis: () => 60_000 } as unknown as Context;
  let seq = 0;
  function alarmEvent(instanceId: string): string {
    return readFileSync('test/fixtures/events/alarm-status-system.json', 'utf8')
      .replaceAll('i-0c0ffee0c0ffee001', instanceId)
      .replace('StatusCheckFailed_System', 'StatusCheckFailed_Instance')
      .replace('2026-04-14T09:31:12.405+0000', new Date().toISOString().replace('Z', '+0000'))
      .replace('e2b3c4d5-6f70-4a81-9b2c-3d4e5f6a7b8c', `event-${++seq}`);
  }
  /** AWS Health's degraded-hardware issue: stop-start now (a fixed step, no ladder). */
  function degradedHardware(instanceId: string): string {
    return readFileSync('test/fixtures/events/health-degraded-hardware.issue.json', 'utf8')
      .replaceAll('i-0123456789abcdef0', instanceId)
      .replaceAll('us-west-2', REGION)
      .replace('ISSUE_3d9f', `ISSUE_${++seq}`)
      .replace('2026-02-10T11:05:00Z', new Date().toISOString());
  }
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
  const cases = () => new DynamoRemediationStore(stores.db, stores.table);
  async function caseFor(body: string, instanceId: string) {
    const record = { messageId: `m-${++seq}`, body, attributes: {}, messageAttributes: {} } as unknown;
    expect((await triage({ Records: [record as SQSRecord] }, context)).batchItemFailures).toEqual([]);
    const found = (await cases().list(500)).filter((c) => c.finding.instanceId === instanceId);
    expect(found).toHaveLength(1);
    return found[0].id;
  }
  /** A failing status check that a reboot clears: the ladder reboots. */
  const rebootCase = (id: string) => {
    faults.set(id, 'software');
    return caseFor(alarmEvent(id), id);
  };
  const stopStartCase = (id: string) => {
    faults.set(id, 'hardware');
    return caseFor(degradedHardware(id), id);
  };

  /** Runs a case's execution through the real ASL; `around` may wrap each Task invocation. */
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
  /** Back in traffic: registered and healthy in its target group (moto's view), InService in its group, no exit left. */
  async function expectServing(id: string, where: 'web' | 'api' | 'tight') {
    expect(await liveHealth(id)).toEqual([`${where}:healthy`]);
    if (where !== 'web') expect(await lifecycleOf(id)).toBe('InService');
    expect((await exitsOf(id)).size).toBe(0);
  }
  const count = (call: string) => writes.filter((w) => w === call).length;
  const exitsOf = (id: string) => ports.exits.of([id]);

  it('a reboot behind a target group: deregistered and drained before the reboot, healthy again before verifying', async () => {
    const id = take('web');
    const caseId = await rebootCase(id);
    const entered = await remediate(caseId);
    expect(entered).toEqual(
      expect.arrayContaining([
        'Take out of traffic',
        'Check draining',
        'Act',
        'Bring back into traffic',
        'Check service',
      ]),
    );
    expect(entered.indexOf('Act')).toBeGreaterThan(entered.lastIndexOf('Check draining'));
    expect(entered.at(-1)).toBe('Recovered');
    // At the moment of RebootInstances: not registered in its target group, nothing draining.
    expect(atAction).toEqual([{ call: 'reboot', id, health: [], lifecycle: undefined }]);
    expect(entered.filter((s) => s === 'Check draining').length).toBeGreaterThan(1);
    expect(count('ec2.reboot')).toBe(1);
    expect(deregisterCalls.map((call) => call.map((t) => `${t.targetGroupArn}|${t.instanceId}`))).toEqual([
      [`${tg.web}|${id}`],
    ]);
    await expectServing(id, 'web');
    const c = (await cases().get(caseId))!;
    expect(`${c.status}: ${c.reason}`).toBe('recovered: reboot recovered the instance');
    expect(await held(caseId)).toEqual([]);
  });

  it('a stop-start of an Auto Scaling group member goes through Standby and back: capacity restored, none replaced', async () => {
    const id = take('api');
    const before = await groupOf('api-group');
    const caseId = await stopStartCase(id);
    const entered = await remediate(caseId);
    expect(entered.at(-1)).toBe('Recovered');
    expect(atAction).toEqual([{ call: 'stop', id, health: [], lifecycle: 'Standby' }]);
    expect(standbyCalls).toEqual([id]);
    expect(replaced).toEqual([]);
    expect([count('ec2.stop'), count('ec2.start')]).toEqual([1, 1]);
    const after = await groupOf('api-group');
    expect(after.DesiredCapacity).toBe(before.DesiredCapacity);
    expect(after.Instances?.map((i) => i.InstanceId).sort()).toEqual(
      before.Instances?.map((i) => i.InstanceId).sort(),
    );
    await expectServing(id, 'api');
    expect((await cases().get(caseId))?.reason).toBe('stop-start recovered the instance');
  });

  describe('a crash after any write of a protocol step, retried, ends with one action and the instance back', () => {
    it.each([
      ['Take out of traffic', 'stop-start'],
      ['Act', 'stop-start'],
      ['Check the action', 'stop-start'],
      ['Bring back into traffic', 'stop-start'],
      ['Take out of traffic', 'reboot'],
      ['Bring back into traffic', 'reboot'],
    ])('%s (%s)', async (state, step) => {
      const open = (id: string) => (step === 'reboot' ? rebootCase(id) : stopStartCase(id));
      const where = step === 'reboot' ? 'web' : 'api';
      // The step's writes, from a run without a crash.
      let stepWrites = 0;
      const first = take(where);
      await remediate(await open(first), async (s, call) => {
        const from = writes.length;
        try {
          return await call();
        } finally {
          if (s === state && invocations.get(s) === 1) stepWrites = writes.length - from;
        }
      });
      await expectServing(first, where);
      expect(stepWrites).toBeGreaterThan(0);
      for (let k = 1; k <= stepWrites; k++) {
        await tidy();
        writes.length = 0;
        atAction.length = 0;
        const id = take(where);
        const size = (await groupOf('api-group')).DesiredCapacity;
        crash = { state, after: k, done: false };
        const entered = await remediate(await open(id));
        expect([k, crash.done, entered.at(-1)]).toEqual([k, true, 'Recovered']);
        expect([k, count(step === 'reboot' ? 'ec2.reboot' : 'ec2.stop')]).toEqual([k, 1]);
        if (step === 'stop-start') expect([k, count('ec2.start')]).toEqual([k, 1]);
        // Never while serving: out of its target group, and in Standby for a group member.
        expect(atAction).toEqual([
          {
            call: step === 'reboot' ? 'reboot' : 'stop',
            id,
            health: [],
            lifecycle: step === 'reboot' ? undefined : 'Standby',
          },
        ]);
        await expectServing(id, where);
        expect((await groupOf('api-group')).DesiredCapacity).toBe(size);
      }
      expect(replaced).toEqual([]);
    });
  });

  describe('guards: never a stop-start that would harm the instance, never one another party holds', () => {
    it('an instance-store-backed instance: the ladder skips stop-start with the reason; the case ends with it back in traffic', async () => {
      const id = take('web');
      instanceStore.add(id);
      faults.set(id, 'hardware');
      const caseId = await caseFor(alarmEvent(id), id);
      const entered = await remediate(caseId);
      expect(entered.at(-1)).toBe('Paged a person');
      const c = (await cases().get(caseId))!;
      expect(c.tried).toEqual(['reboot']);
      expect(c.decisions.at(-1)?.reason).toMatch(
        /stop-start skipped: its root device is instance store \(its data is lost on stop\).*replace left out: .* is in no Auto Scaling group/,
      );
      expect(count('ec2.stop')).toBe(0);
      // The reboot did not help, so it stayed out of traffic (checks impaired); the page ended the case and brought it back.
      expect(await liveHealth(id)).toEqual(['web:healthy']);
      expect((await exitsOf(id)).size).toBe(0);
      faults.delete(id);
    });

    it('a one-time Spot instance: a fixed stop-start is not taken, with the reason', async () => {
      const id = take('web');
      instanceStore.delete(id);
      const real = ports.ec2.conditions;
      // moto launches no Spot instances through RunInstances' market options here: its lifecycle is modelled.
      ports = {
        ...ports,
        ec2: {
          ...ports.ec2,
          conditions: async (ids) =>
            new Map(
              [...(await real(ids))].map(([i, c]) => [i, i === id ? { ...c, spot: 'one-time' as const } : c]),
            ),
        },
      };
      try {
        const caseId = await caseFor(degradedHardware(id), id);
        const entered = await remediate(caseId);
        expect(entered.at(-1)).toBe('Paged a person');
        expect((await cases().get(caseId))?.reason).toMatch(
          /stop-start skipped: it is a one-time Spot instance \(it cannot be stopped\)/,
        );
        expect(count('ec2.stop')).toBe(0);
      } finally {
        ports = { ...ports, ec2: { ...ports.ec2, conditions: real } };
      }
    });

    it('a member another party holds in Standby is not touched: not now, a person paged, nothing counted', async () => {
      const id = take('api');
      await asg.send(
        new EnterStandbyCommand({
          AutoScalingGroupName: 'api-group',
          InstanceIds: [id],
          ShouldDecrementDesiredCapacity: true,
        }),
      );
      const caseId = await rebootCase(id);
      const entered = await remediate(caseId);
      expect(entered.slice(-3)).toEqual(['Take out of traffic', 'Taken out?', 'Paged a person']);
      const c = (await cases().get(caseId))!;
      expect(`${c.status}: ${c.reason}`).toMatch(
        /^paged: not now: reboot needs .* out of traffic, but in Standby in api-group, held by another party; a person decides$/,
      );
      expect(count('ec2.reboot')).toBe(0);
      expect(await held(caseId)).toEqual([]);
      expect(pages).toEqual([expect.stringContaining('not now')]);
      expect(await lifecycleOf(id)).toBe('Standby');
      await asg.send(new ExitStandbyCommand({ AutoScalingGroupName: 'api-group', InstanceIds: [id] }));
      faults.delete(id);
    });

    it('a group that lends no more to Standby now: waits until another member is back, then goes on', async () => {
      const [a, b] = pool.tight;
      await asg.send(
        new EnterStandbyCommand({
          AutoScalingGroupName: 'tight-group',
          InstanceIds: [b],
          ShouldDecrementDesiredCapacity: true,
        }),
      );
      const caseId = await rebootCase(a);
      const entered = await remediate(caseId, async (state, call) => {
        if (state === 'Take out of traffic' && invocations.get(state) === 3)
          await asg.send(new ExitStandbyCommand({ AutoScalingGroupName: 'tight-group', InstanceIds: [b] }));
        return call();
      });
      expect(entered.filter((s) => s === 'Wait to take out')).toHaveLength(2);
      expect(entered.at(-1)).toBe('Recovered');
      expect(atAction).toEqual([{ call: 'reboot', id: a, health: [], lifecycle: 'Standby' }]);
      await expectServing(a, 'tight');
    });
  });

  it('a Spot interruption: deregistered from every target group at once, no Standby, recorded, never repaired', async () => {
    const id = take('api');
    // Also registered directly in the web target group (besides the one its group attaches).
    await elb.send(new RegisterTargetsCommand({ TargetGroupArn: tg.web, Targets: [{ Id: id, Port: 80 }] }));
    await syncInventoryNow();
    const caseId = await caseFor(spotWarning(id), id);
    const entered = await remediate(caseId);
    expect(entered.slice(-2)).toEqual(['Drain the instance', 'Drained']);
    expect(deregisterCalls).toHaveLength(1);
    expect(new Set(deregisterCalls[0].map((t) => `${t.targetGroupArn}|${t.instanceId}`))).toEqual(
      new Set([`${tg.web}|${id}`, `${tg.api}|${id}`]),
    );
    expect(await liveHealth(id)).toEqual([]);
    expect(standbyCalls).toEqual([]);
    expect(await lifecycleOf(id)).toBe('InService');
    expect([count('ec2.reboot'), count('ec2.stop')]).toEqual([0, 0]);
    const c = (await cases().get(caseId))!;
    expect(`${c.status}: ${c.reason}`).toMatch(
      /^drained: deregistered from (web|api)-[\w-]+, (web|api)-[\w-]+; tagged fleetops:draining/,
    );
    const audit = await stores.fleet.auditOf(`instance:${id}`, 20);
    expect(audit.map((a) => a.action)).toContain('remediation.drained');
  });

  async function syncInventoryNow() {
    const sweep = inventoryPorts(
      { table: stores.table, managedTag: MANAGED_TAG, serviceTagKey: SERVICE_TAG_KEY },
      { db: stores.db, ec2 },
    );
    await syncInventory({
      ec2: sweep.inventory,
      store: stores.fleet,
      leases: stores.leases,
      traffic: sweep.traffic,
      autoscaling: sweep.autoscaling,
      exits: sweep.exits,
      now: Date.now(),
      actor: 'test',
    });
  }

  describe('bounded waits', () => {
    it('a Standby that never comes: draining never ends, the case fails and the instance is brought back', async () => {
      const id = take('api');
      model.standbyBroken = true;
      const caseId = await rebootCase(id);
      const entered = await remediate(caseId);
      expect(entered.slice(-3)).toEqual(['Draining never ended', 'Record the failure', 'Remediation failed']);
      expect(count('ec2.reboot')).toBe(0);
      const c = (await cases().get(caseId))!;
      expect(c.reason).toMatch(/DrainingNeverEnded/);
      await expectServing(id, 'api');
      faults.delete(id);
    });

    it('an instance that never turns healthy again is verified after 60 polls', async () => {
      const id = take('web');
      model.neverHealthy = true;
      const caseId = await rebootCase(id);
      const entered = await remediate(caseId);
      expect(entered.filter((s) => s === 'Check service')).toHaveLength(60);
      expect(entered.at(-1)).toBe('Recovered');
    });

    it('one not serving within its healthy threshold × interval is put back as it is, and verified', async () => {
      const id = take('web');
      model.neverHealthy = true;
      const caseId = await rebootCase(id);
      const entered = await remediate(caseId, async (state, call) => {
        if (state === 'Check service' && invocations.get(state) === 3) offset += 5 * 60_000;
        return call();
      });
      expect(entered.filter((s) => s === 'Check service')).toHaveLength(3);
      expect(entered.at(-1)).toBe('Recovered');
      const audit = (await stores.fleet.auditOf(`instance:${id}`, 50)).map((a) => `${a.action}: ${a.reason}`);
      expect(audit).toContainEqual(
        expect.stringContaining(
          'traffic.late: reboot: back in traffic but not serving in time (initial in web-',
        ),
      );
      expect((await exitsOf(id)).size).toBe(0);
    });
  });

  describe('a protocol step that fails for good ends the case failed, the instance back in traffic', () => {
    const table = [
      'Take out of traffic',
      'Check draining',
      'Bring back into traffic',
      'Check service',
    ].flatMap((state) =>
      (states[state].Retry ?? []).map((r, index) => ({
        state,
        error: r.ErrorEquals.includes('States.TaskFailed') ? 'Error' : r.ErrorEquals[0],
        times: (r.MaxAttempts ?? 3) + 1,
        retrier: index + 1,
      })),
    );
    it('covers every retrier of the traffic steps', () => {
      expect(table).toHaveLength(8);
    });
    it.each(table)(
      '$state: $times × $error (retrier $retrier used up) → caught, recorded, restored',
      async ({ state, error, times }) => {
        const id = take('web');
        const caseId = await rebootCase(id);
        const entered = await remediate(caseId, failing(state, times, error));
        expect(entered.slice(-2)).toEqual(['Record the failure', 'Remediation failed']);
        const c = (await cases().get(caseId))!;
        expect(c.reason).toBe(`a step failed (${error}: injected ${error} at ${state})`);
        expect(await held(caseId)).toEqual([]);
        expect(await liveHealth(id)).toEqual(['web:healthy']);
        expect((await exitsOf(id)).size).toBe(0);
        faults.delete(id);
      },
    );
  });
});
