/**
 * The fleet-state table: one DynamoDB table (single-table design), shared by the CDK
 * definition (lib/fleet-table.ts) and `fleetops store init` so that both create the same
 * keys and indexes. Items and access patterns are documented in docs/store.md.
 */
export const TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk' } as const;

export interface IndexDesign {
  readonly indexName: string;
  readonly partitionKey: string;
  readonly sortKey: string;
}

export const INDEXES: readonly IndexDesign[] = [
  // By service (instances by service and zone) and by owner (leases held by a change).
  { indexName: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
  // Collections read whole: fleet shards, services, reservations by expiry, open findings, audit by day.
  { indexName: 'gsi2', partitionKey: 'gsi2pk', sortKey: 'gsi2sk' },
];

/** The attribute DynamoDB's TTL reads (epoch seconds). */
export const TTL_ATTRIBUTE = 'expiresAt';

/**
 * Instances are spread over this many fleet shards (`FLEET#00`…): a full inventory read is
 * this many parallel Queries on gsi2 instead of a Scan, and no shard is a hot partition.
 */
export const FLEET_SHARDS = 16;
