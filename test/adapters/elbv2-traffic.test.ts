import {
  CreateSubnetCommand,
  CreateVpcCommand,
  EC2Client,
  RunInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  CreateTargetGroupCommand,
  ElasticLoadBalancingV2Client,
  ModifyTargetGroupAttributesCommand,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { Elbv2Traffic, pacedElbv2Client } from '../../functions/adapters/elbv2-traffic';
import { MANAGED_TAG } from '../../functions/core/defaults';
import { TokenBucket } from '../../functions/core/shared/token-bucket';

// Each test file uses its own region: moto keeps EC2 and ELB state per region.
const REGION = 'af-south-1';

/**
 * The ELBv2 traffic adapter against moto's ELBv2 (which reports a registered running instance
 * `healthy`, a stopped one `unused`, and deregisters at once, without draining).
 */
describe('Elbv2Traffic (moto ELBv2)', () => {
  const ec2 = new EC2Client({ region: REGION });
  const raw = new ElasticLoadBalancingV2Client({ region: REGION });
  let vpcId: string;
  let subnetId: string;
  let n = 0;

  beforeAll(async () => {
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.40.0.0/16' }));
    vpcId = vpc.Vpc!.VpcId!;
    const subnet = await ec2.send(
      new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.40.1.0/24', AvailabilityZone: `${REGION}a` }),
    );
    subnetId = subnet.Subnet!.SubnetId!;
  });

  async function instances(count: number): Promise<string[]> {
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-12c6146b',
        InstanceType: 't3.micro',
        MinCount: count,
        MaxCount: count,
        SubnetId: subnetId,
      }),
    );
    return (run.Instances ?? []).map((i) => i.InstanceId!);
  }

  /** A target group of instance targets, tagged managed or not, with these instances registered. */
  async function group(managed: boolean, ids: readonly string[], port?: number): Promise<string> {
    const created = await raw.send(
      new CreateTargetGroupCommand({
        Name: `web-${++n}-${Date.now() % 100000}`,
        Protocol: 'HTTP',
        Port: 80,
        VpcId: vpcId,
        TargetType: 'instance',
        HealthCheckIntervalSeconds: 10,
        HealthyThresholdCount: 3,
        ...(managed ? { Tags: [{ Key: MANAGED_TAG.key, Value: MANAGED_TAG.value }] } : {}),
      }),
    );
    const arn = created.TargetGroups![0].TargetGroupArn!;
    if (ids.length > 0)
      await raw.send(
        new RegisterTargetsCommand({
          TargetGroupArn: arn,
          Targets: ids.map((Id) => ({ Id, ...(port !== undefined ? { Port: port } : {}) })),
        }),
      );
    return arn;
  }

  it('lists only the managed groups, with their settings and every registered instance’s health', async () => {
    const [a, b, c] = await instances(3);
    const managed1 = await group(true, [a, b]);
    const managed2 = await group(true, [c]);
    const unmanaged = await group(false, [a, c]);
    await raw.send(
      new ModifyTargetGroupAttributesCommand({
        TargetGroupArn: managed2,
        Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '45' }],
      }),
    );
    const traffic = new Elbv2Traffic(raw);
    const { groups, targets } = await traffic.listManaged();
    const mine = groups.filter((g) => [managed1, managed2, unmanaged].includes(g.targetGroupArn));
    expect(mine.map((g) => g.targetGroupArn).sort()).toEqual([managed1, managed2].sort());
    expect(mine.find((g) => g.targetGroupArn === managed1)).toEqual({
      targetGroupArn: managed1,
      deregistrationDelaySeconds: 300,
      healthCheckIntervalSeconds: 10,
      healthyThresholdCount: 3,
    });
    expect(mine.find((g) => g.targetGroupArn === managed2)?.deregistrationDelaySeconds).toBe(45);
    expect(targets.get(a)).toEqual([{ targetGroupArn: managed1, port: 80, state: 'healthy' }]);
    expect(targets.get(c)).toEqual([{ targetGroupArn: managed2, port: 80, state: 'healthy' }]);
    expect(targets.get(b)?.map((t) => t.targetGroupArn)).toEqual([managed1]);
  });

  it('reports a named instance not registered in a group as unused / Target.NotRegistered, a stopped one unused', async () => {
    const [a, b, stopped] = await instances(3);
    const arn = await group(true, [a, stopped]);
    await ec2.send(new StopInstancesCommand({ InstanceIds: [stopped] }));
    const traffic = new Elbv2Traffic(raw);
    const health = await traffic.targetHealth(new Map([[arn, [a, b, stopped]]]));
    expect(health.get(a)).toEqual([{ targetGroupArn: arn, port: 80, state: 'healthy' }]);
    expect(health.get(b)).toEqual([{ targetGroupArn: arn, state: 'unused', reason: 'Target.NotRegistered' }]);
    expect(health.get(stopped)).toEqual([expect.objectContaining({ targetGroupArn: arn, state: 'unused' })]);
    expect(traffic.requests.get('DescribeTargetHealth')).toBe(1);
  });

  it('deregisters (unused, not registered) and registers again (healthy), per group and port', async () => {
    const [a, b] = await instances(2);
    const web = await group(true, [a, b]);
    const alt = await group(true, [a], 8080);
    const traffic = new Elbv2Traffic(raw);
    await traffic.deregister([
      { instanceId: a, targetGroupArn: web },
      { instanceId: b, targetGroupArn: web },
      { instanceId: a, targetGroupArn: alt, port: 8080 },
    ]);
    expect(traffic.requests.get('DeregisterTargets')).toBe(2); // one per group, however many targets
    const out = await traffic.targetHealth(
      new Map([
        [web, [a, b]],
        [alt, [a]],
      ]),
    );
    for (const id of [a, b])
      for (const t of out.get(id) ?? [])
        expect(t).toMatchObject({ state: 'unused', reason: 'Target.NotRegistered' });
    expect(out.get(a)).toHaveLength(2);
    expect(out.get(b)).toHaveLength(1);

    await traffic.register([
      { instanceId: a, targetGroupArn: web },
      { instanceId: a, targetGroupArn: alt, port: 8080 },
    ]);
    const back = await traffic.targetHealth(
      new Map([
        [web, [a, b]],
        [alt, [a]],
      ]),
    );
    expect(back.get(a)?.sort((x, y) => (x.targetGroupArn < y.targetGroupArn ? -1 : 1))).toEqual(
      [
        { targetGroupArn: web, port: 80, state: 'healthy' },
        { targetGroupArn: alt, port: 8080, state: 'healthy' },
      ].sort((x, y) => (x.targetGroupArn < y.targetGroupArn ? -1 : 1)),
    );
    expect(back.get(b)).toEqual([{ targetGroupArn: web, state: 'unused', reason: 'Target.NotRegistered' }]);
  });

  it('reads settings of groups by ARN; a group that does not exist is absent', async () => {
    const arn = await group(false, []);
    const gone = arn.replace(/\/[0-9a-f]+$/, '/0000000000000000');
    const traffic = new Elbv2Traffic(raw);
    const settings = await traffic.settings([arn, gone]);
    expect([...settings.keys()]).toEqual([arn]);
    expect(settings.get(arn)).toEqual({
      targetGroupArn: arn,
      deregistrationDelaySeconds: 300,
      healthCheckIntervalSeconds: 10,
      healthyThresholdCount: 3,
    });
  });

  it('the sweep costs one page of groups, one tag request per 20 groups, two requests per managed group', async () => {
    // A region of its own state: count what this sweep asks for N managed groups among others.
    const before = await new Elbv2Traffic(raw).listManaged();
    const existing = before.groups.length;
    const [a] = await instances(1);
    const managed = 23;
    for (let k = 0; k < managed; k++) await group(true, [a]);
    for (let k = 0; k < 3; k++) await group(false, [a]);
    const traffic = new Elbv2Traffic(raw);
    const { groups } = await traffic.listManaged();
    const total = existing + managed;
    expect(groups).toHaveLength(total);
    const all = n; // every group this file created, managed or not
    expect(Object.fromEntries(traffic.requests)).toEqual({
      DescribeTargetGroups: 1,
      DescribeTags: Math.ceil(all / 20),
      DescribeTargetHealth: total,
      DescribeTargetGroupAttributes: total,
    });
  });

  it('paces every request through the client’s buckets: Describe* and registration apart', async () => {
    const [a] = await instances(1);
    const arn = await group(true, [a]);
    const describe = new TokenBucket(1000, 1000);
    const registration = new TokenBucket(1000, 1000);
    const taken = { describe: 0, registration: 0 };
    const spy = (bucket: TokenBucket, key: keyof typeof taken) => {
      const take = bucket.take.bind(bucket);
      bucket.take = () => {
        taken[key]++;
        return take();
      };
    };
    spy(describe, 'describe');
    spy(registration, 'registration');
    const traffic = new Elbv2Traffic(
      pacedElbv2Client({ describe, registration }, new ElasticLoadBalancingV2Client({ region: REGION })),
    );
    await traffic.deregister([{ instanceId: a, targetGroupArn: arn }]);
    await traffic.register([{ instanceId: a, targetGroupArn: arn }]);
    await traffic.settings([arn]);
    expect(taken).toEqual({ describe: 2, registration: 2 });
  });
});
