import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { documentClient } from '../../functions/adapters/dynamo-client';
import { DynamoFleetStore } from '../../functions/adapters/dynamo-fleet-store';
import { DynamoLeaseStore } from '../../functions/adapters/dynamo-lease-store';
import { Ec2FleetInventory } from '../../functions/adapters/ec2-inventory';
import { createFleetTable } from '../../functions/adapters/table-admin';
import { MANAGED_TAG, SERVICE_TAG_KEY } from '../../functions/core/defaults';
import { syncInventory } from '../../functions/core/fleet/sync-inventory';

/** A fresh fleet-state table in the test run's moto server, and the stores over it. */
export async function freshTable(prefix = 'fleetops-test') {
  if (!process.env.AWS_ENDPOINT_URL?.startsWith('http://127.0.0.1')) {
    throw new Error(
      'tests must run against the local moto server (AWS_ENDPOINT_URL is not a loopback endpoint)',
    );
  }
  const client = new DynamoDBClient({ maxAttempts: 3 });
  const table = `${prefix}-${randomUUID().slice(0, 8)}`;
  await createFleetTable(client, table);
  const db = documentClient(client);
  return {
    client,
    db,
    table,
    fleet: new DynamoFleetStore(db, table),
    leases: new DynamoLeaseStore(db, table),
  };
}

/** Launches `count` instances in a zone of the emulator's EC2, with the given tags; returns their ids. */
export async function runInstances(
  ec2: EC2Client,
  count: number,
  zone: string,
  tags: Record<string, string>,
): Promise<string[]> {
  const result = await ec2.send(
    new RunInstancesCommand({
      ImageId: 'ami-12c6146b',
      InstanceType: 't3.micro',
      MinCount: count,
      MaxCount: count,
      Placement: { AvailabilityZone: zone },
      TagSpecifications: [
        { ResourceType: 'instance', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
      ],
    }),
  );
  return (result.Instances ?? []).map((i) => i.InstanceId!);
}

/** The tags of an instance FleetOps manages, for a service. */
export const managedTags = (service: string) => ({
  [MANAGED_TAG.key]: MANAGED_TAG.value,
  [SERVICE_TAG_KEY]: service,
});

/** The inventory sweep of moto's EC2 into these stores (no traffic), as its scheduled Lambda runs it. */
export function sweepInventory(
  ec2: EC2Client,
  stores: Pick<Awaited<ReturnType<typeof freshTable>>, 'fleet' | 'leases'>,
  now = Date.now(),
) {
  return syncInventory({
    ec2: new Ec2FleetInventory(ec2),
    store: stores.fleet,
    leases: stores.leases,
    now,
    actor: 'test',
  });
}
