import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateCommand,
  DescribeInstancesCommand,
  DescribeVpcsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  CreateTargetGroupCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { AsgReplacer, pacedAutoScalingClient } from '../../functions/adapters/asg-replacer';
import { TokenBucket } from '../../functions/core/shared/token-bucket';

// Each test file uses its own region: moto keeps EC2 and Auto Scaling state per region.
const REGION = 'eu-west-2';

/** The Auto Scaling adapter against moto's Auto Scaling, which launches and terminates for real (in moto's EC2). */
describe('AsgReplacer (moto Auto Scaling)', () => {
  const autoscaling = new AutoScalingClient({ region: REGION });
  const ec2 = new EC2Client({ region: REGION });
  const asg = new AsgReplacer(autoscaling);
  let n = 0;

  /** A group of `desired` instances (max `max`), as a service's launch template would run it. */
  async function group(
    desired: number,
    max: number,
    extra: { min?: number; targetGroupArns?: string[] } = {},
  ): Promise<string> {
    const name = `cache-${++n}`;
    await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: name,
        LaunchTemplateData: { ImageId: 'ami-12c6146b', InstanceType: 't3.micro' },
      }),
    );
    await autoscaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: name,
        MinSize: extra.min ?? 0,
        MaxSize: max,
        DesiredCapacity: desired,
        LaunchTemplate: { LaunchTemplateName: name },
        AvailabilityZones: [`${REGION}a`],
        ...(extra.targetGroupArns ? { TargetGroupARNs: extra.targetGroupArns } : {}),
      }),
    );
    return name;
  }
  const members = async (name: string) => ((await asg.describeGroup(name))?.members ?? []).map((m) => m.id);
  const stateOf = async (id: string) =>
    (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0]
      ?.State?.Name;

  it('describes a group: its sizes and each member in service and healthy; no group, undefined', async () => {
    const name = await group(2, 3);
    const described = await asg.describeGroup(name);
    expect(described).toMatchObject({ name, desired: 2, min: 0, max: 3 });
    expect(described?.members).toHaveLength(2);
    for (const m of described!.members) {
      expect(m).toEqual({ id: expect.stringMatching(/^i-/), lifecycle: 'InService', healthy: true });
    }
    expect(await asg.describeGroup('no-such-group')).toBeUndefined();
  });

  it('raising desired capacity launches a member (moto launches on SetDesiredCapacity)', async () => {
    const name = await group(2, 3);
    const before = await members(name);
    await asg.setDesiredCapacity(name, 3);
    const after = await asg.describeGroup(name);
    expect(after?.desired).toBe(3);
    const fresh = after!.members.filter((m) => !before.includes(m.id));
    expect(fresh).toEqual([{ id: expect.any(String), lifecycle: 'InService', healthy: true }]);
    expect(await stateOf(fresh[0].id)).toBe('running');
  });

  it('terminating decrementing lowers desired capacity and launches nothing in its place', async () => {
    const name = await group(3, 3);
    const [gone, ...rest] = await members(name);
    await asg.terminateDecrementingCapacity(gone);
    const after = await asg.describeGroup(name);
    expect(after?.desired).toBe(2);
    expect(after!.members.map((m) => m.id).sort()).toEqual([...rest].sort());
    expect(await stateOf(gone)).toMatch(/shutting-down|terminated/);
    expect((await asg.groupsOf([gone])).has(gone)).toBe(false);
  });

  it('terminating keeping capacity leaves desired capacity as it is; the group launches a replacement', async () => {
    const name = await group(2, 2);
    const [gone, kept] = await members(name);
    await asg.terminateKeepingCapacity(gone);
    const after = (
      await autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }))
    ).AutoScalingGroups![0];
    expect(after.DesiredCapacity).toBe(2);
    const now = (after.Instances ?? []).map((i) => i.InstanceId);
    expect(now).toHaveLength(2);
    expect(now).toContain(kept);
    expect(now).not.toContain(gone);
  });

  it('tells each instance its group and lifecycle state; instances in no group are absent', async () => {
    const name = await group(2, 3);
    const ids = await members(name);
    const lifecycles = await asg.lifecycleOf([...ids, 'i-0000000000000dead']);
    expect([...lifecycles.keys()].sort()).toEqual([...ids].sort());
    for (const id of ids)
      expect(lifecycles.get(id)).toEqual({ group: name, lifecycle: 'InService', healthy: true });
  });

  it('Standby decrements desired capacity and launches nothing; ExitStandby puts it back in service', async () => {
    const name = await group(3, 3, { min: 1 });
    const [away, other, ...rest] = await members(name);
    await asg.enterStandby(name, [away, other]);
    const during = await asg.describeGroup(name);
    expect(during?.desired).toBe(1);
    expect(during?.members).toHaveLength(3); // no replacement launched
    expect(
      during?.members
        .filter((m) => m.lifecycle === 'Standby')
        .map((m) => m.id)
        .sort(),
    ).toEqual([away, other].sort());
    expect((await asg.lifecycleOf([away])).get(away)?.lifecycle).toBe('Standby');
    await asg.exitStandby(name, [away, other]);
    const after = await asg.describeGroup(name);
    expect(after?.desired).toBe(3);
    expect(after?.members.map((m) => m.id).sort()).toEqual([away, other, ...rest].sort());
    expect((await asg.lifecycleOf([away, other])).get(away)?.lifecycle).toMatch(/InService|Pending/);
  });

  it('describes groups by name with their target groups; unknown names are absent', async () => {
    const elbv2 = new ElasticLoadBalancingV2Client({ region: REGION });
    const vpcs = await ec2.send(
      new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }),
    );
    const tg = await elbv2.send(
      new CreateTargetGroupCommand({
        Name: `asg-tg-${n + 1}`,
        Protocol: 'HTTP',
        Port: 80,
        TargetType: 'instance',
        VpcId: vpcs.Vpcs![0].VpcId,
      }),
    );
    const arn = tg.TargetGroups![0].TargetGroupArn!;
    const withTargets = await group(1, 2, { targetGroupArns: [arn] });
    const plain = await group(1, 1);
    const counted = new AsgReplacer(autoscaling);
    const groups = await counted.describeGroups([withTargets, plain, 'no-such-group']);
    expect(groups.map((g) => g.name).sort()).toEqual([withTargets, plain].sort());
    expect(groups.find((g) => g.name === withTargets)).toMatchObject({
      desired: 1,
      min: 0,
      max: 2,
      targetGroupArns: [arn],
      members: [{ id: expect.stringMatching(/^i-/), lifecycle: 'InService', healthy: true }],
    });
    expect(groups.find((g) => g.name === plain)?.targetGroupArns).toEqual([]);
    expect(counted.requests.get('DescribeAutoScalingGroups')).toBe(1);
  });

  it('paces every Auto Scaling request through one bucket', async () => {
    const bucket = new TokenBucket(1000, 1000);
    let taken = 0;
    const take = bucket.take.bind(bucket);
    bucket.take = () => {
      taken++;
      return take();
    };
    const paced = new AsgReplacer(pacedAutoScalingClient(bucket, new AutoScalingClient({ region: REGION })));
    const name = await group(1, 1);
    await paced.describeGroups([name]);
    await paced.lifecycleOf(await members(name));
    expect(taken).toBe(2);
  });
});
