import {
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  EC2Client,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { Ec2FleetInventory } from '../../functions/adapters/ec2-inventory';
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
