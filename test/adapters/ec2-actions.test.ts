import {
  DescribeSpotInstanceRequestsCommand,
  EC2Client,
  RequestSpotInstancesCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { Ec2Actions } from '../../functions/adapters/ec2-actions';

// Each test file uses its own region: moto keeps EC2 state per region.
const REGION = 'ap-southeast-3';
const UNKNOWN = 'i-0000000000000dead';

/** The EC2 actions adapter's reads against moto's EC2: conditions (root device, Spot type) and console output. */
describe('Ec2Actions (moto EC2)', () => {
  const ec2 = new EC2Client({ region: REGION });

  const onDemand = async () =>
    (
      await ec2.send(
        new RunInstancesCommand({
          ImageId: 'ami-12c6146b',
          InstanceType: 't3.micro',
          MinCount: 1,
          MaxCount: 1,
        }),
      )
    ).Instances![0].InstanceId!;
  const spot = async (Type: 'one-time' | 'persistent') => {
    const r = await ec2.send(
      new RequestSpotInstancesCommand({
        Type,
        InstanceCount: 1,
        LaunchSpecification: { ImageId: 'ami-12c6146b', InstanceType: 't3.micro' },
      }),
    );
    const id = r.SpotInstanceRequests![0].SpotInstanceRequestId!;
    const described = await ec2.send(
      new DescribeSpotInstanceRequestsCommand({ SpotInstanceRequestIds: [id] }),
    );
    return described.SpotInstanceRequests![0].InstanceId!;
  };

  it('tells state, checks, root device and Spot request type; unknown and long-gone ids are absent', async () => {
    const plain = await onDemand();
    const persistent = await spot('persistent');
    const oneTime = await spot('one-time');
    const actions = new Ec2Actions(ec2);
    const conditions = await actions.conditions([plain, persistent, oneTime, UNKNOWN]);
    expect([...conditions.keys()].sort()).toEqual([plain, persistent, oneTime].sort());
    expect(conditions.get(plain)).toEqual({
      state: 'running',
      health: expect.any(String),
      rootDevice: 'ebs',
    });
    expect(conditions.get(persistent)).toMatchObject({ rootDevice: 'ebs', spot: 'persistent' });
    expect(conditions.get(oneTime)).toMatchObject({ rootDevice: 'ebs', spot: 'one-time' });
  });

  it('reads the fixed facts once per instance, and asks for Spot requests only when there are Spot instances', async () => {
    const a = await onDemand();
    const b = await onDemand();
    const counted = new EC2Client({ region: REGION });
    const requests = new Map<string, number>();
    counted.middlewareStack.add(
      (next, context) => (args) => {
        requests.set(context.commandName ?? '', (requests.get(context.commandName ?? '') ?? 0) + 1);
        return next(args);
      },
      { step: 'initialize', name: 'testCounter' },
    );
    const actions = new Ec2Actions(counted);
    await actions.conditions([a, b]);
    await actions.conditions([a, b]);
    expect(Object.fromEntries(requests)).toEqual({
      DescribeInstanceStatusCommand: 2,
      DescribeInstancesCommand: 1,
    });
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [b] }));
    expect((await actions.conditions([a, b])).get(b)?.state).toMatch(/shutting-down|terminated/);
  });

  it('tells when the console output was last posted; an unknown instance is absent', async () => {
    const a = await onDemand();
    const before = Date.now() - 60_000;
    const posted = await new Ec2Actions(ec2).consoleOutputAt([a, UNKNOWN]);
    expect([...posted.keys()]).toEqual([a]);
    expect(posted.get(a)).toBeGreaterThan(before);
  });
});
