/**
 * What the lease store's modules share: transaction items and how a transaction failed, the
 * instances of a request, and small grouping helpers.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { itemKey } from '../dynamo-client';

/** DynamoDB allows 100 actions in one transaction. */
export const MAX_TRANSACTION_ITEMS = 100;

export type TransactItem = NonNullable<
  ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']
>[number];
export type Item = Record<string, unknown>;

export interface Member {
  readonly id: string;
  readonly service: string;
  readonly zone: string;
  /** The inventory sees it unavailable: the ledger already counts it as observed. */
  readonly down: boolean;
}

/** The instances a reservation covers (its `members`: instance id → zone). */
export const instanceIdsOf = (reservation: Item): string[] =>
  Object.keys((reservation.members ?? {}) as Record<string, string>);

export function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/** Chunks transaction items, never separating a ledger increment from its reservation. */
export function chunkKeepingPairs<T extends { pairWithNext?: boolean }>(
  items: readonly T[],
  size: number,
): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  for (let i = 0; i < items.length; i++) {
    const need = items[i].pairWithNext ? 2 : 1;
    if (current.length + need > size) {
      out.push(current);
      current = [];
    }
    current.push(items[i]);
    if (items[i].pairWithNext) current.push(items[++i]);
  }
  if (current.length > 0) out.push(current);
  return out;
}

export const keyOf = itemKey;

export function cancellationReasons(error: unknown): Array<string | undefined> | undefined {
  if (
    error instanceof TransactionCanceledException ||
    (error as { name?: string })?.name === 'TransactionCanceledException'
  ) {
    return ((error as TransactionCanceledException).CancellationReasons ?? []).map((r) => r.Code);
  }
  return undefined;
}

export function isRetryable(error: unknown): boolean {
  const name = (error as { name?: string })?.name ?? '';
  return /Throttl|ProvisionedThroughputExceeded|RequestLimitExceeded|TransactionConflict|InternalServerError/.test(
    name,
  );
}
