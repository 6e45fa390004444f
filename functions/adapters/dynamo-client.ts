/** The DynamoDB document client and the paged, batched, retried reads and writes every store uses. */

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { SDK_RETRY } from '../core/defaults';
import { fleetShards } from './keys';

/**
 * The document client every DynamoDB adapter uses: adaptive retries (client-side rate
 * limiting under throttling), no undefined attributes. `AWS_ENDPOINT_URL` points it at a local
 * emulator without special code.
 */
export function documentClient(client = new DynamoDBClient(SDK_RETRY)) {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
}

export type DocumentClient = ReturnType<typeof documentClient>;

/** Counts the requests a client sends, by command: the benchmarks and tests read it. */
export function countRequests(client: DocumentClient): Map<string, number> {
  const counts = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => (args) => {
      const name = context.commandName ?? 'unknown';
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'fleetopsRequestCounter' },
  );
  return counts;
}

/** Splits a list into chunks of at most `size`. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Runs `work` over items with at most `limit` in flight. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  });
  await Promise.all(workers);
  return results;
}

/** Reads every item of a kind across the fleet shards (parallel Queries on gsi2, never a Scan). */
export async function listFleetItems(
  db: DocumentClient,
  table: string,
  sortPrefix: 'INSTANCE#' | 'LEASE#',
): Promise<Array<Record<string, unknown>>> {
  const shards = fleetShards();
  const pages = await mapLimit(shards, 8, async (shard) => {
    const items: Array<Record<string, unknown>> = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await db.send(
        new QueryCommand({
          TableName: table,
          IndexName: 'gsi2',
          KeyConditionExpression: 'gsi2pk = :shard AND begins_with(gsi2sk, :prefix)',
          ExpressionAttributeValues: { ':shard': shard, ':prefix': sortPrefix },
          ExclusiveStartKey,
        }),
      );
      items.push(...(page.Items ?? []));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return items;
  });
  return pages.flat();
}

/** BatchWriteItem in requests of 25, retrying unprocessed items with backoff. */
export async function batchWriteAll(
  db: DocumentClient,
  table: string,
  requests: ReadonlyArray<Record<string, unknown>>,
): Promise<void> {
  await mapLimit(chunks(requests, 25), 4, async (batch) => {
    let pending = batch;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await sleep(Math.min(1000, 25 * 2 ** attempt));
      const result = await db.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
      pending = (result.UnprocessedItems?.[table] ?? []) as typeof batch;
    }
  });
}

export function isConditionFailure(error: unknown): boolean {
  return (error as { name?: string })?.name === 'ConditionalCheckFailedException';
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Item = Record<string, unknown>;
type QueryInput = Omit<ConstructorParameters<typeof QueryCommand>[0], 'TableName'>;

/** Every page of a Query. */
export async function queryAll(db: DocumentClient, table: string, input: QueryInput): Promise<Item[]> {
  const items: Item[] = [];
  let ExclusiveStartKey: Item | undefined;
  do {
    const page = await db.send(new QueryCommand({ ...input, TableName: table, ExclusiveStartKey }));
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

/**
 * Strongly consistent BatchGetItem in requests of 100 keys, retrying unprocessed keys with
 * backoff. Returns the items found, by `pk|sk`.
 */
export async function batchGetAll(
  db: DocumentClient,
  table: string,
  keyList: ReadonlyArray<{ pk: string; sk: string }>,
): Promise<Map<string, Item>> {
  const found = new Map<string, Item>();
  await mapLimit(chunks(keyList, 100), 4, async (chunk) => {
    let pending: Item[] = chunk;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await sleep(Math.min(1000, 25 * 2 ** attempt));
      const result = await db.send(
        new BatchGetCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: true } } }),
      );
      for (const item of result.Responses?.[table] ?? []) found.set(itemKey(item), item);
      pending = (result.UnprocessedKeys?.[table]?.Keys ?? []) as Item[];
    }
  });
  return found;
}

/** The `pk|sk` string that identifies an item in the maps above. */
export const itemKey = (item: { pk?: unknown; sk?: unknown }) => `${String(item.pk)}|${String(item.sk)}`;
