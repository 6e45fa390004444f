import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type DocumentClient, documentClient } from '../functions/adapters/dynamo-client';
import { DynamoFleetStore } from '../functions/adapters/dynamo-fleet-store';
import { DynamoLeaseStore } from '../functions/adapters/dynamo-lease-store';
import { SDK_RETRY } from '../functions/core/defaults';
import { InputError } from '../functions/core/input/files';

/** Commands that talk to a deployment (or a local endpoint via AWS_ENDPOINT_URL) share this. */
export interface Live {
  readonly table: string;
  readonly client: DynamoDBClient;
  readonly db: DocumentClient;
  readonly fleet: DynamoFleetStore;
  readonly leases: DynamoLeaseStore;
}

/** The table comes from `--table` or `FLEETOPS_TABLE`; without either, the command cannot run. */
export function connect(tableOption: string | undefined): Live {
  const table = tableOption ?? process.env.FLEETOPS_TABLE;
  if (!table) {
    throw new InputError('--table', [
      { path: '', expected: 'the fleet-state table (--table NAME or FLEETOPS_TABLE)', found: 'neither' },
    ]);
  }
  const client = new DynamoDBClient(SDK_RETRY);
  const db = documentClient(client);
  return {
    table,
    client,
    db,
    fleet: new DynamoFleetStore(db, table),
    leases: new DynamoLeaseStore(db, table),
  };
}

/** Who is acting, for the audit trail. */
export const operator = () => `cli:${process.env.USER ?? process.env.USERNAME ?? 'unknown'}`;
