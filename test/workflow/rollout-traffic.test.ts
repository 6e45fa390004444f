import {
  AttachInstancesCommand,
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateCommand, CreateSubnetCommand, CreateVpcCommand } from '@aws-sdk/client-ec2';
import {
  CreateTargetGroupCommand,
  ElasticLoadBalancingV2Client,
  ModifyTargetGroupAttributesCommand,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { abortRollout } from '../../functions/core/change/rollout/rollout';
import { MANAGED_TAG } from '../../functions/core/defaults';
import { rolloutHarness } from '../support/rollout-harness';
import { trafficWorld } from '../support/traffic-world';

/**
 * Traffic- and Auto Scaling-aware actions (issue 14) through the real rollout ASL with the real
 * handlers against moto's EC2, ELBv2 and Auto Scaling, with a fault model only for what moto
 * does not do (test/support/traffic-world.ts: draining, initial health checks, Standby's
 * deregistration, a group replacing a stopped member, a reboot's console output).
 * web (51 instances) sits behind a target group; api (24) are members of an Auto Scaling group
 * that attaches its own target group.
 */
describe('rollout: out of traffic before the action, back only when serving', () => {
  const h = rolloutHarness('eu-central-2');
  const elb = new ElasticLoadBalancingV2Client({ region: h.region });
  const asg = new AutoScalingClient({ region: h.region });
  const tg = { web: '', api: '' };
  let apiIds: string[] = [];

  const serviceOf = async () => new Map((await h.stores.fleet.listInstances()).map((i) => [i.id, i.service]));
  const ids = async (service: string, zone: number) =>
    (await h.stores.fleet.listInstances())
      .filter((i) => i.service === service && i.zone === h.zones[zone] && i.state === 'running')
      .map((i) => i.id)
      .sort();
  const tags = [{ Key: MANAGED_TAG.key, Value: MANAGED_TAG.value }];

  beforeAll(async () => {
    const vpc = (await h.ec2.send(new CreateVpcCommand({ CidrBlock: '10.1.0.0/16' }))).Vpc!.VpcId!;
    const subnets: string[] = [];
    for (const [k, zone] of h.zones.entries())
      subnets.push(
        (
          await h.ec2.send(
            new CreateSubnetCommand({ VpcId: vpc, CidrBlock: `10.1.${k}.0/24`, AvailabilityZone: zone }),
          )
        ).Subnet!.SubnetId!,
      );
    for (const service of ['web', 'api'] as const) {
      const created = await elb.send(
        new CreateTargetGroupCommand({
          Name: `${service}-${h.stores.table.slice(-8)}`,
          Protocol: 'HTTP',
          Port: 80,
          VpcId: vpc,
          HealthCheckIntervalSeconds: 10,
          HealthyThresholdCount: 3,
          Tags: tags,
        }),
      );
      tg[service] = created.TargetGroups![0].TargetGroupArn!;
      await elb.send(
        new ModifyTargetGroupAttributesCommand({
          TargetGroupArn: tg[service],
          Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '30' }],
        }),
      );
    }
    const web = (await h.stores.fleet.listInstances()).filter((i) => i.service === 'web').map((i) => i.id);
    await elb.send(
      new RegisterTargetsCommand({ TargetGroupArn: tg.web, Targets: web.map((Id) => ({ Id })) }),
    );
    // api's instances join a group that attaches api's target group (registered again below, to be sure).
    await h.ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: 'api-template',
        LaunchTemplateData: { ImageId: 'ami-12c6146b', InstanceType: 't3.micro' },
      }),
    );
    await asg.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'api-group',
        LaunchTemplate: { LaunchTemplateName: 'api-template' },
        MinSize: 0,
        MaxSize: 30,
        DesiredCapacity: 0,
        VPCZoneIdentifier: subnets.join(','),
        TargetGroupARNs: [tg.api],
        Tags: [
          {
            ...tags[0],
            PropagateAtLaunch: true,
            ResourceId: 'api-group',
            ResourceType: 'auto-scaling-group',
          },
        ],
      }),
    );
    apiIds = (await h.stores.fleet.listInstances()).filter((i) => i.service === 'api').map((i) => i.id);
    for (let k = 0; k < apiIds.length; k += 20)
      await asg.send(
        new AttachInstancesCommand({
          AutoScalingGroupName: 'api-group',
          InstanceIds: apiIds.slice(k, k + 20),
        }),
      );
    await asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'api-group', MinSize: 20 }));
    await elb.send(
      new RegisterTargetsCommand({ TargetGroupArn: tg.api, Targets: apiIds.map((Id) => ({ Id })) }),
    );
    await h.sync();
  });

  const world = (extra: { skipStandby?: boolean } = {}) =>
    trafficWorld({
      region: h.region,
      targetGroups: [
        { arn: tg.web, service: 'web' },
        { arn: tg.api, service: 'api' },
      ],
      groups: [{ name: 'api-group', service: 'api' }],
      ...extra,
    });
  const run = (
    changeId: string,
    w: ReturnType<typeof world>,
    wrap?: NonNullable<Parameters<typeof h.runChange>[1]>['wrap'],
  ) => {
    const ports = w.wrap(h.ports, serviceOf);
    return h.runChange(changeId, {
      handler: (event) => h.stepWith(ports, event) as never,
      ...(wrap ? { wrap } : {}),
    });
  };
  const group = async () =>
    (await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['api-group'] })))
      .AutoScalingGroups![0];

  it('the inventory records each instance’s target group and group', async () => {
    const byId = new Map((await h.stores.fleet.listInstances()).map((i) => [i.id, i]));
    const web = [...byId.values()].find((i) => i.service === 'web')!;
    expect(web.targets?.map((t) => [t.targetGroupArn, t.state])).toEqual([[tg.web, 'healthy']]);
    expect(web.targets?.[0].drainSeconds).toBe(30);
    expect(web.targets?.[0].readySeconds).toBe(30);
    expect(byId.get(apiIds[0])?.asg).toEqual({ name: 'api-group', lifecycle: 'InService' });
  });

  it('a rolling reboot behind a target group: drained first, back and healthy before the next wave', async () => {
    const targets = (await ids('web', 0)).slice(0, 8);
    const { plan } = await h.plannedChange('reboot-web', {
      target: { instanceIds: targets },
      action: { type: 'reboot' },
    });
    expect(plan.trafficMinutes).toBeGreaterThan(0);
    const w = world();
    const result = await run('reboot-web', w).result;
    expect(result).toBeDefined();
    expect((await h.changes().get('reboot-web'))?.status).toBe('completed');
    expect(w.violations).toEqual([]);
    // web may lose 10% of 51: five at a time.
    expect(w.peakOut.get('web')).toBeGreaterThan(0);
    expect(w.peakOut.get('web')).toBeLessThanOrEqual(5);
    for (const id of targets) expect(w.actions.get(id)).toBe(1);
    // At the end every instance is registered and healthy, nothing is left out of traffic.
    const health = await w.health();
    for (const id of targets) expect(health.get(id)?.map((t) => t.state)).toEqual(['healthy']);
    expect([...(await h.ports.exits.of(targets)).values()]).toEqual([]);
  });

  it('a stop-start of group members goes through Standby: none replaced, desired capacity restored', async () => {
    const targets = (await ids('api', 0)).filter((id) => apiIds.includes(id)).slice(0, 3);
    await h.plannedChange('stop-api', { target: { instanceIds: targets }, action: { type: 'stop-start' } });
    const before = await group();
    const w = world();
    await run('stop-api', w).result;
    expect((await h.changes().get('stop-api'))?.status).toBe('completed');
    expect(w.violations).toEqual([]);
    expect(w.replaced).toEqual([]);
    // api may lose one per zone: one at a time here.
    expect(w.peakOut.get('api')).toBe(1);
    for (const id of targets) expect(w.actions.get(id)).toBe(1);
    const after = await group();
    expect(after.DesiredCapacity).toBe(before.DesiredCapacity);
    expect(after.Instances?.map((i) => i.InstanceId).sort()).toEqual(
      before.Instances?.map((i) => i.InstanceId).sort(),
    );
    expect(after.Instances?.every((i) => i.LifecycleState === 'InService')).toBe(true);
    const health = await w.health();
    for (const id of targets) expect(health.get(id)?.map((t) => t.state)).toEqual(['healthy']);
  });

  it('without deregistration (an injected defect) the watcher sees the action reach a serving instance', async () => {
    const targets = (await ids('web', 1)).slice(6, 7);
    await h.plannedChange('reboot-defect', { target: { instanceIds: targets }, action: { type: 'reboot' } });
    const w = world({ skipStandby: true });
    // Draining never ends when nothing was deregistered: the protocol waits out the group's
    // deregistration delay (30 s) and its grace, here on a clock two minutes ahead once applied.
    let skew = 0;
    const ports = { ...w.wrap(h.ports, serviceOf), now: () => Date.now() + skew };
    const execution = h.runChange('reboot-defect', {
      handler: (event) => h.stepWith(ports, event) as never,
      wrap: (state, call) => async (input) => {
        if (w.violations.length > 0) {
          execution.abort();
          throw new Error('the execution was stopped');
        }
        if (state === 'Check the action') skew = 120_000;
        return call(input);
      },
    });
    await execution.result.catch(() => undefined);
    expect(w.violations).toEqual([`reboot ${targets[0]} while serving in a target group`]);
    await abortRollout(
      { ...ports, changes: h.changes(), fleet: h.stores.fleet, leases: h.stores.leases },
      'reboot-defect',
      'test',
      'defect shown',
    );
  });

  it('an abort mid-wave brings every instance back into traffic', async () => {
    const targets = (await ids('web', 1)).slice(0, 6);
    await h.plannedChange('reboot-abort', { target: { instanceIds: targets }, action: { type: 'reboot' } });
    const w = world({});
    let stopped = false;
    let outAtAbort = 0;
    const ports = w.wrap(h.ports, serviceOf);
    const execution = h.runChange('reboot-abort', {
      handler: (event) => h.stepWith(ports, event) as never,
      wrap: (state, call) => async (input) => {
        if (stopped) throw new Error('the execution was stopped');
        if (
          state === 'Check the action' &&
          (await h.ports.exits.all()).some((e) => e.owner === 'reboot-abort')
        ) {
          stopped = true;
          outAtAbort = (await h.ports.exits.all()).filter((e) => e.owner === 'reboot-abort').length;
          await abortRollout(
            { ...ports, changes: h.changes(), fleet: h.stores.fleet, leases: h.stores.leases },
            'reboot-abort',
            'alice',
            'operator abort',
          );
          execution.abort();
          throw new Error('the execution was stopped');
        }
        return call(input);
      },
    });
    await expect(execution.result).rejects.toThrow(/abort|stopped/i);
    expect(outAtAbort).toBeGreaterThan(0);
    expect((await h.ports.exits.all()).filter((e) => e.owner === 'reboot-abort')).toEqual([]);
    // Registered again: healthy once their initial checks pass (the fault model's looks).
    await w.health();
    const back = await h.ports.traffic.targetHealth(new Map([[tg.web, targets]]));
    for (const id of targets) expect(back.get(id)?.map((t) => t.state)).toEqual(['healthy']);
    expect((await h.changes().get('reboot-abort'))?.status).toBe('aborted');
  });

  it('a crash between the reboot and its record, retried, reboots once and brings the instance back', async () => {
    const targets = (await ids('web', 2)).slice(0, 2);
    await h.plannedChange('reboot-crash', { target: { instanceIds: targets }, action: { type: 'reboot' } });
    const w = world();
    const ports = w.wrap(h.ports, serviceOf);
    let crashed = false;
    const crashing = {
      ...ports,
      ec2: {
        ...ports.ec2,
        reboot: async (list: readonly string[]) => {
          await ports.ec2.reboot(list);
          if (!crashed) {
            crashed = true;
            throw new Error('Lambda died after RebootInstances');
          }
        },
      },
    };
    await h.runChange('reboot-crash', { handler: (event) => h.stepWith(crashing, event) as never }).result;
    expect(crashed).toBe(true);
    expect((await h.changes().get('reboot-crash'))?.status).toBe('completed');
    for (const id of targets) expect(w.actions.get(id)).toBe(1);
    expect(w.violations).toEqual([]);
    expect([...(await h.ports.exits.of(targets)).values()]).toEqual([]);
  });

  it('a dead owner: the sweep brings back what it left out of traffic', async () => {
    const [id] = (await ids('web', 2)).slice(2, 3);
    // What a step that died after taking the instance out leaves: its exit, and a lease that lapses.
    const { takeOut } = await import('../../functions/core/traffic/protocol');
    const w = world();
    const ports = w.wrap(h.ports, serviceOf);
    const instance = (await h.stores.fleet.listInstances()).find((i) => i.id === id)!;
    await takeOut({ ...ports }, 'dead-owner', [instance]);
    expect((await h.ports.exits.of([id])).get(id)?.phase).toBe('out');
    const report = await h.sync();
    expect(report.trafficRestored).toBe(1);
    expect((await h.ports.exits.of([id])).size).toBe(0);
    const back = await h.ports.traffic.targetHealth(new Map([[tg.web, [id]]]));
    expect(back.get(id)?.map((t) => t.state)).toEqual(['healthy']);
  });
});
