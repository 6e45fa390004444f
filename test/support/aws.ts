import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { documentClient } from '../../functions/adapters/dynamo-client';
import { DynamoFleetStore } from '../../functions/adapters/dynamo-fleet-store';
import { DynamoLeaseStore } from '../../functions/adapters/dynamo-lease-store';
import { createFleetTable } from '../../functions/adapters/table-admin';

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
