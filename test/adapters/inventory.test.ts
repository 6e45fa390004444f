import {
  AttachInstancesCommand,
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  EnterStandbyCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateCommand,
  CreateSubnetCommand,
  CreateTagsCommand,
  CreateVpcCommand,
  DeleteTagsCommand,
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  DescribeSpotInstanceRequestsCommand,
  EC2Client,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  CreateTargetGroupCommand,
  DeregisterTargetsCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { AsgReplacer } from '../../functions/adapters/asg-replacer';
import { Ec2Actions } from '../../functions/adapters/ec2-actions';
import { Ec2FleetInventory } from '../../functions/adapters/ec2-inventory';
import { Elbv2Traffic } from '../../functions/adapters/elbv2-traffic';
import { DynamoTrafficExits } from '../../functions/adapters/fleet-store/traffic-exits';
import { MANAGED_TAG, SERVICE_TAG_KEY } from '../../functions/core/defaults';
import { syncInventory } from '../../functions/core/fleet/sync-inventory';
import { freshTable, managedTags, runInstances } from '../support/aws';

// Each test file uses its own region: moto keeps EC2 state per region, shared by the whole run.
const REGION = 'eu-west-1';
const ZONES = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'];

describe('inventory sync: EC2 (moto) → DynamoDB (moto)', () => {
  const ec2 = new EC2Client({ region: REGION });

  it('syncs hundreds of instances across zones and services, with pagination, terminations and tag changes', async () => {
    // Prepare: 300 managed instances in 3 zones and 3 services, in many reservations; 20 unmanaged.
    const stores = await freshTable();
    const ids: string[] = [];
    for (let k = 0; k < 30; k++) {
      const zone = ZONES[k % 3];
      ids.push(...(await runInstances(ec2, 10, zone, managedTags(['web', 'api', 'worker'][k % 3]))));
    }
    const unmanaged = await runInstances(ec2, 20, ZONES[0], { team: 'other' });
    await stores.fleet.putServices(
      { services: { web: { maxUnavailable: { kind: 'percent', value: 10 }, impact: {} } } },
      'test',
      0,
    );
    const inventory = new Ec2FleetInventory(ec2, { pageSize: 7 });

    // Act
    const first = await syncInventory({
      ec2: inventory,
      store: stores.fleet,
      leases: stores.leases,
      now: 1000,
      actor: 'test',
    });

    // Assess: every managed instance, none of the others, paged.
    expect(first).toMatchObject({ observed: 300, written: 300, terminated: 0, unchanged: 0 });
    expect(inventory.requests.get('DescribeInstances')).toBeGreaterThan(1);
    const table = await stores.fleet.listInstances();
    expect(table.map((i) => i.id).sort()).toEqual([...ids].sort());
    expect(table.some((i) => unmanaged.includes(i.id))).toBe(false);
    expect(new Set(table.map((i) => i.zone))).toEqual(new Set(ZONES));
    expect(table.filter((i) => i.service === 'web')).toHaveLength(100);
    expect((await stores.leases.ledger('web'))?.capacity).toBe(10); // 10% of 100
    expect((await stores.leases.ledger('api'))?.capacity).toBe(1); // undeclared: conservative default

    // A second sync with nothing changed writes nothing.
    const idle = await syncInventory({
      ec2: inventory,
      store: stores.fleet,
      leases: stores.leases,
      now: 2000,
      actor: 'test',
    });
    expect(idle).toMatchObject({ written: 0, unchanged: 300 });

    // Terminate 10, move 5 to another service, stop managing 3.
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids.slice(0, 10) }));
    await ec2.send(
      new CreateTagsCommand({
        Resources: ids.slice(10, 15),
        Tags: [{ Key: 'fleetops:service', Value: 'search' }],
      }),
    );
    await ec2.send(
      new DeleteTagsCommand({ Resources: ids.slice(15, 18), Tags: [{ Key: 'fleetops:managed' }] }),
    );
    const third = await syncInventory({
      ec2: inventory,
      store: stores.fleet,
      leases: stores.leases,
      now: 3000,
      actor: 'test',
    });
    expect(third).toMatchObject({ observed: 297, written: 18, terminated: 3, unchanged: 282 });
    const after = new Map((await stores.fleet.listInstances()).map((i) => [i.id, i]));
    for (const id of ids.slice(0, 10)) expect(after.get(id)?.state).toBe('terminated');
    for (const id of ids.slice(10, 15)) expect(after.get(id)?.service).toBe('search');
    for (const id of ids.slice(15, 18)) expect(after.get(id)?.state).toBe('terminated');
    // The terminated instances left their service's population.
    const webLeft = [...after.values()].filter((i) => i.service === 'web' && i.state !== 'terminated').length;
    expect((await stores.leases.ledger('web'))?.capacity).toBe(Math.floor(webLeft / 10));
    expect((await stores.fleet.auditOf('inventory')).map((r) => r.action)).toEqual([
      'inventory.synced',
      'inventory.synced',
      'inventory.synced',
    ]);
  });

  it('pages DescribeInstances 1,000 at a time by default', async () => {
    const inventory = new Ec2FleetInventory(ec2);
    await inventory.listManagedInstances();
    expect(inventory.requests.get('DescribeInstances')).toBe(1);
    expect(inventory.requests.get('DescribeInstanceStatus')).toBe(1);
  });
});

describe('inventory sync: health and scheduled events (narrow EC2 mock: moto reports neither)', () => {
  it('records findings for newly impaired instances and scheduled events, once each', async () => {
    const stores = await freshTable();
    // The mock is scoped to this one client instance; other tests talk to moto.
    const client = new EC2Client({ region: 'us-east-1' });
    const ec2Mock = mockClient(client);
    const instance = (id: string, zone: string) => ({
      InstanceId: id,
      Placement: { AvailabilityZone: zone },
      State: { Name: 'running' as const },
      Tags: [
        { Key: 'fleetops:managed', Value: 'true' },
        { Key: 'fleetops:service', Value: 'web' },
      ],
    });
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            instance('i-0aaaaaaaaaaaaaaa1', 'us-east-1a'),
            instance('i-0aaaaaaaaaaaaaaa2', 'us-east-1b'),
            instance('i-0aaaaaaaaaaaaaaa3', 'us-east-1c'),
          ],
        },
      ],
    });
    ec2Mock.on(DescribeInstanceStatusCommand).resolves({
      InstanceStatuses: [
        {
          InstanceId: 'i-0aaaaaaaaaaaaaaa1',
          SystemStatus: { Status: 'impaired' },
          InstanceStatus: { Status: 'ok' },
        },
        {
          InstanceId: 'i-0aaaaaaaaaaaaaaa2',
          SystemStatus: { Status: 'ok' },
          InstanceStatus: { Status: 'ok' },
          Events: [
            {
              InstanceEventId: 'instance-event-0d59937288b749b32',
              Code: 'instance-retirement',
              Description: 'The instance is running on degraded hardware',
              NotBefore: new Date('2026-12-01T10:00:00Z'),
            },
            {
              InstanceEventId: 'instance-event-old',
              Code: 'system-reboot',
              Description: '[Completed] Scheduled reboot',
              NotBefore: new Date('2026-10-01T10:00:00Z'),
            },
          ],
        },
        {
          InstanceId: 'i-0aaaaaaaaaaaaaaa3',
          SystemStatus: { Status: 'initializing' },
          InstanceStatus: { Status: 'initializing' },
        },
      ],
    });
    const inventory = new Ec2FleetInventory(client);
    const deps = { ec2: inventory, store: stores.fleet, leases: stores.leases, actor: 'test' };

    const first = await syncInventory({ ...deps, now: Date.parse('2026-11-27T10:00:00Z') });
    expect(first.findings.map((f) => [f.instanceId, f.kind, f.deadline])).toEqual([
      ['i-0aaaaaaaaaaaaaaa1', 'system-status-check-failed', undefined],
      ['i-0aaaaaaaaaaaaaaa2', 'scheduled-retirement', '2026-12-01T10:00:00.000Z'],
    ]);
    const health = new Map((await stores.fleet.listInstances()).map((i) => [i.id, i.health]));
    expect(Object.fromEntries(health)).toEqual({
      'i-0aaaaaaaaaaaaaaa1': 'impaired',
      'i-0aaaaaaaaaaaaaaa2': 'ok',
      'i-0aaaaaaaaaaaaaaa3': 'initializing',
    });
    // The impaired instance counts against web's budget in the ledger.
    expect((await stores.leases.ledger('web'))?.observed).toBe(1);

    const second = await syncInventory({ ...deps, now: Date.parse('2026-11-27T10:05:00Z') });
    expect(second.findings).toEqual([]);
    expect(await stores.fleet.openFindings()).toHaveLength(2);
  });
});

// Its own region for EC2, ELBv2 and Auto Scaling state (no other test file uses it).
const TRAFFIC_REGION = 'ap-northeast-3';

/**
 * The sweep over moto's EC2, ELBv2 and Auto Scaling through the real adapters: each instance's
 * group and lifecycle state and its health in the managed target groups, unavailable meaning
 * out of service, only changes written, an abandoned exit brought back. moto registers attached
 * members with their group's target groups (on the group's port), as AWS does.
 */
describe('inventory sync with target groups and an Auto Scaling group (moto EC2, ELBv2, Auto Scaling)', () => {
  const ec2 = new EC2Client({ region: TRAFFIC_REGION });
  const elbv2 = new ElasticLoadBalancingV2Client({ region: TRAFFIC_REGION });
  const asg = new AutoScalingClient({ region: TRAFFIC_REGION });

  it('records groups and target health, counts what is out of service, writes only changes, and restores an abandoned exit', async () => {
    // Prepare: a VPC; web (4, in web-group, which attaches web-tg) and api (3, no group, in api-tg, one stopped).
    const stores = await freshTable();
    const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.60.0.0/16' }))).Vpc!.VpcId!;
    const subnet = (
      await ec2.send(
        new CreateSubnetCommand({
          VpcId: vpc,
          CidrBlock: '10.60.1.0/24',
          AvailabilityZone: `${TRAFFIC_REGION}a`,
        }),
      )
    ).Subnet!.SubnetId!;
    const launch = async (count: number, service: string) =>
      (
        await ec2.send(
          new RunInstancesCommand({
            ImageId: 'ami-12c6146b',
            InstanceType: 't3.micro',
            MinCount: count,
            MaxCount: count,
            SubnetId: subnet,
            TagSpecifications: [
              {
                ResourceType: 'instance',
                Tags: Object.entries(managedTags(service)).map(([Key, Value]) => ({ Key, Value })),
              },
            ],
          }),
        )
      ).Instances!.map((i) => i.InstanceId!);
    const targetGroup = async (name: string, managed: boolean) =>
      (
        await elbv2.send(
          new CreateTargetGroupCommand({
            Name: name,
            Protocol: 'HTTP',
            Port: 80,
            VpcId: vpc,
            TargetType: 'instance',
            ...(managed ? { Tags: [{ Key: MANAGED_TAG.key, Value: MANAGED_TAG.value }] } : {}),
          }),
        )
      ).TargetGroups![0].TargetGroupArn!;
    const register = (arn: string, ids: string[]) =>
      elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: arn, Targets: ids.map((Id) => ({ Id })) }));
    const web = await launch(4, 'web');
    const api = await launch(3, 'api');
    const webTg = await targetGroup('web-tg', true);
    const apiTg = await targetGroup('api-tg', true);
    const otherTg = await targetGroup('other-tg', false);
    await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: 'web-template',
        LaunchTemplateData: { ImageId: 'ami-12c6146b', InstanceType: 't3.micro' },
      }),
    );
    await asg.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'web-group',
        LaunchTemplate: { LaunchTemplateName: 'web-template' },
        MinSize: 0,
        MaxSize: 8,
        DesiredCapacity: 0,
        VPCZoneIdentifier: subnet,
        TargetGroupARNs: [webTg],
        Tags: [
          {
            Key: SERVICE_TAG_KEY,
            Value: 'web',
            PropagateAtLaunch: true,
            ResourceId: 'web-group',
            ResourceType: 'auto-scaling-group',
          },
        ],
      }),
    );
    await asg.send(new AttachInstancesCommand({ AutoScalingGroupName: 'web-group', InstanceIds: web }));
    // web[3] is a member its group's target group no longer lists.
    await elbv2.send(
      new DeregisterTargetsCommand({ TargetGroupArn: webTg, Targets: [{ Id: web[3], Port: 80 }] }),
    );
    await register(otherTg, web);
    await register(apiTg, api);
    await ec2.send(new StopInstancesCommand({ InstanceIds: [api[2]] }));
    await stores.fleet.putServices(
      {
        services: {
          web: { maxUnavailable: { kind: 'count', value: 2 }, impact: {} },
          api: { maxUnavailable: { kind: 'count', value: 2 }, impact: {} },
        },
      },
      'test',
      0,
    );
    const inventory = new Ec2FleetInventory(ec2);
    const traffic = new Elbv2Traffic(elbv2);
    const autoscaling = new AsgReplacer(asg);
    const exits = new DynamoTrafficExits(stores.db, stores.table);
    const deps = {
      ec2: inventory,
      store: stores.fleet,
      leases: stores.leases,
      actor: 'test',
      traffic,
      autoscaling,
      exits,
      ec2Actions: new Ec2Actions(ec2),
    };
    const counts = () => ({
      ...Object.fromEntries(inventory.requests),
      ...Object.fromEntries(traffic.requests),
      ...Object.fromEntries(autoscaling.requests),
    });
    const delta = (before: Record<string, number>) =>
      Object.fromEntries(Object.entries(counts()).map(([k, v]) => [k, v - (before[k] ?? 0)]));

    // Act 1
    const first = await syncInventory({ ...deps, now: 1000 });

    // Assess: placement recorded; unmanaged target groups left out; out of service counted.
    expect(first).toMatchObject({ observed: 7, written: 7, trafficRestored: 0, trafficStuck: 0 });
    const table = new Map((await stores.fleet.listInstances()).map((i) => [i.id, i]));
    expect(table.get(web[0])).toMatchObject({
      asg: { name: 'web-group', lifecycle: 'InService' },
      targets: [{ targetGroupArn: webTg, port: 80, state: 'healthy' }],
      rootDevice: 'ebs',
    });
    // moto: deregistration delay 300 s; health checks every 30 s, healthy after 5.
    expect(table.get(web[3])?.targets).toEqual([
      {
        targetGroupArn: webTg,
        state: 'unused',
        reason: 'Target.NotRegistered',
        drainSeconds: 300,
        readySeconds: 150,
      },
    ]);
    const health = (id: string) => table.get(id)?.targets?.map((t) => [t.targetGroupArn, t.state, t.reason]);
    expect(health(api[0])).toEqual([[apiTg, 'healthy', undefined]]);
    expect(table.get(api[0])?.asg).toBeUndefined();
    expect(health(api[2])).toEqual([[apiTg, 'unused', 'Target.InvalidState']]);
    expect((await stores.leases.ledger('web'))?.observed).toBe(1); // web[3]: not registered where its group says
    expect((await stores.leases.ledger('api'))?.observed).toBe(1); // api[2]: stopped

    // Act 2: nothing changed: nothing written, with one request per operation (two per target group).
    const before = counts();
    const idle = await syncInventory({ ...deps, now: 2000 });
    expect(idle).toMatchObject({ written: 0, unchanged: 7 });
    expect(delta(before)).toEqual({
      DescribeInstances: 1,
      DescribeInstanceStatus: 1,
      DescribeTargetGroups: 1,
      DescribeTags: 1,
      DescribeTargetHealth: 2,
      DescribeTargetGroupAttributes: 2,
      DescribeAutoScalingGroups: 1,
    });

    // Act 3: web[0] enters Standby (moto leaves it registered and healthy: Standby alone counts).
    await asg.send(
      new EnterStandbyCommand({
        AutoScalingGroupName: 'web-group',
        InstanceIds: [web[0]],
        ShouldDecrementDesiredCapacity: true,
      }),
    );
    // moto also registers the group's InService members with its target groups again when the
    // group changes: web[3] is back in web-tg. Both changes are written, nothing else.
    const third = await syncInventory({ ...deps, now: 3000 });
    expect(third).toMatchObject({ written: 2, unchanged: 5 });
    const afterStandby = new Map((await stores.fleet.listInstances()).map((i) => [i.id, i]));
    expect(afterStandby.get(web[0])).toMatchObject({
      asg: { lifecycle: 'Standby' },
      targets: [{ targetGroupArn: webTg, state: 'healthy' }],
    });
    expect(afterStandby.get(web[3])?.targets).toMatchObject([{ targetGroupArn: webTg, state: 'healthy' }]);
    expect((await stores.leases.ledger('web'))?.observed).toBe(1); // web[0]: in Standby, though healthy

    // Act 4: a change that died took api[1] out of traffic (its exit kept, no lease left).
    await elbv2.send(new DeregisterTargetsCommand({ TargetGroupArn: apiTg, Targets: [{ Id: api[1] }] }));
    await exits.put([
      {
        instanceId: api[1],
        owner: 'chg-dead',
        deregistered: [{ targetGroupArn: apiTg }],
        targetGroups: [apiTg],
        phase: 'out',
        since: 0,
        drainSeconds: 300,
        readySeconds: 150,
      },
    ]);
    const fourth = await syncInventory({ ...deps, now: 4000 });
    expect(fourth).toMatchObject({ trafficRestored: 1, trafficStuck: 0, written: 1 });
    expect(await exits.all()).toEqual([]);
    // This sweep saw it out of traffic (its exit says where it belongs); registered again, it
    // serves at the next one.
    expect((await stores.leases.ledger('api'))?.observed).toBe(2);
    expect((await stores.fleet.auditOf(`instance:${api[1]}`)).map((r) => r.action)).toContain(
      'traffic.restored',
    );
    const fifth = await syncInventory({ ...deps, now: 5000 });
    expect(fifth).toMatchObject({ written: 1 });
    expect((await stores.fleet.listInstances()).find((i) => i.id === api[1])?.targets).toMatchObject([
      { targetGroupArn: apiTg, state: 'healthy' },
    ]);
  });

  it('records a Spot instance’s request type (asking only for Spot instances, once) and EC2’s automatic recovery setting', async () => {
    const client = new EC2Client({ region: 'us-east-1' });
    const mock = mockClient(client);
    const tags = [
      { Key: 'fleetops:managed', Value: 'true' },
      { Key: 'fleetops:service', Value: 'batch' },
    ];
    const base = {
      Placement: { AvailabilityZone: 'us-east-1a' },
      State: { Name: 'running' as const },
      Tags: tags,
    };
    mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            {
              ...base,
              InstanceId: 'i-0bbbbbbbbbbbbbbb1',
              RootDeviceType: 'ebs',
              MaintenanceOptions: { AutoRecovery: 'disabled' },
            },
            {
              ...base,
              MaintenanceOptions: { AutoRecovery: 'default' },
              InstanceId: 'i-0bbbbbbbbbbbbbbb2',
              RootDeviceType: 'ebs',
              InstanceLifecycle: 'spot',
              SpotInstanceRequestId: 'sir-persist',
            },
            {
              ...base,
              InstanceId: 'i-0bbbbbbbbbbbbbbb3',
              RootDeviceType: 'instance-store',
              InstanceLifecycle: 'spot',
              SpotInstanceRequestId: 'sir-once',
            },
            // Its request is gone (deleted four hours after it was canceled): the safe answer.
            {
              ...base,
              InstanceId: 'i-0bbbbbbbbbbbbbbb4',
              RootDeviceType: 'ebs',
              InstanceLifecycle: 'spot',
              SpotInstanceRequestId: 'sir-gone',
            },
          ],
        },
      ],
    });
    mock.on(DescribeInstanceStatusCommand).resolves({ InstanceStatuses: [] });
    mock.on(DescribeSpotInstanceRequestsCommand).resolves({
      SpotInstanceRequests: [
        { SpotInstanceRequestId: 'sir-persist', Type: 'persistent' },
        { SpotInstanceRequestId: 'sir-once', Type: 'one-time' },
      ],
    });
    const inventory = new Ec2FleetInventory(client);
    const observed = await inventory.listManagedInstances();
    expect(observed.map((o) => [o.instance.rootDevice, o.instance.spot ?? null])).toEqual([
      ['ebs', null],
      ['ebs', 'persistent'],
      ['instance-store', 'one-time'],
      ['ebs', 'one-time'],
    ]);
    // EC2's own recovery setting, as DescribeInstances reports it (absent when it says nothing).
    expect(observed.map((o) => o.instance.autoRecovery ?? null)).toEqual(['disabled', 'default', null, null]);
    const asked = mock.commandCalls(DescribeSpotInstanceRequestsCommand);
    expect(asked).toHaveLength(1);
    expect(asked[0].args[0].input.Filters?.[0].Values?.sort()).toEqual([
      'sir-gone',
      'sir-once',
      'sir-persist',
    ]);
    // Known types are remembered; the unknown one is asked again (it may be read later).
    await inventory.listManagedInstances();
    expect(
      mock.commandCalls(DescribeSpotInstanceRequestsCommand)[1].args[0].input.Filters?.[0].Values,
    ).toEqual(['sir-gone']);
  });
});
