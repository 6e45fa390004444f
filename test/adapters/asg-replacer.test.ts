import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
} from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateCommand, DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { AsgReplacer } from '../../functions/adapters/asg-replacer';

// Each test file uses its own region: moto keeps EC2 and Auto Scaling state per region.
const REGION = 'eu-west-2';

/** The Auto Scaling adapter against moto's Auto Scaling, which launches and terminates for real (in moto's EC2). */
describe('AsgReplacer (moto Auto Scaling)', () => {
  const autoscaling = new AutoScalingClient({ region: REGION });
  const ec2 = new EC2Client({ region: REGION });
  const asg = new AsgReplacer(autoscaling);
  let n = 0;

  /** A group of `desired` instances (max `max`), as a service's launch template would run it. */
  async function group(desired: number, max: number): Promise<string> {
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
        MinSize: 0,
        MaxSize: max,
        DesiredCapacity: desired,
        LaunchTemplate: { LaunchTemplateName: name },
        AvailabilityZones: [`${REGION}a`],
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
});
