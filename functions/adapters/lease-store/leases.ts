/**
 * Lease items and fenced action records (docs/store.md): a lease (`INSTANCE#<id>` / `LEASE`) has
 * an owner, an expiry and a fencing token that grows on every acquisition; an action record
 * (`INSTANCE#<id>` / `ACTION#<change>`) is written only by the lease's current holder, once.
 */
import { TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Lease, RecordedAction } from '../../core/ports/index';
import {
  batchGetAll,
  chunks,
  type DocumentClient,
  isConditionFailure,
  listFleetItems,
  mapLimit,
  queryAll,
  sleep,
} from '../dynamo-client';
import { indexKeys, keys, partitions } from '../keys';
import {
  cancellationReasons,
  type Item,
  MAX_TRANSACTION_ITEMS,
  type Member,
  type TransactItem,
} from './common';

/** Expired leases stay this long before DynamoDB's TTL deletes them, so fencing tokens keep growing. */
const LEASE_GARBAGE_AFTER_MS = 7 * 24 * 3600 * 1000;

/** Leases and action records in the fleet-state table. */
export class LeaseRecords {
  constructor(
    private readonly db: DocumentClient,
    private readonly table: string,
  ) {}

  /**
   * Records that an action was applied to an instance, fenced by its lease: only the current
   * owner at the current token, before the lease expires, may write, and only once per
   * instance per change (`duplicate` tells a retried step that the action was already applied).
   */
  async recordAction(
    lease: Lease,
    changeId: string,
    result: Record<string, unknown>,
    now: number,
  ): Promise<'recorded' | 'duplicate' | 'fenced'> {
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: this.table,
                Key: keys.lease(lease.instanceId),
                ConditionExpression: '#owner = :owner AND fence = :token AND leaseUntil >= :now',
                ExpressionAttributeNames: { '#owner': 'owner' },
                ExpressionAttributeValues: { ':owner': lease.owner, ':token': lease.token, ':now': now },
              },
            },
            {
              Put: {
                TableName: this.table,
                Item: {
                  ...keys.action(lease.instanceId, changeId),
                  type: 'action',
                  instanceId: lease.instanceId,
                  changeId,
                  owner: lease.owner,
                  token: lease.token,
                  result,
                  at: now,
                  ...indexKeys.action(changeId, lease.instanceId),
                },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      );
      return 'recorded';
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (reasons?.[0] === 'ConditionalCheckFailed') return 'fenced';
      if (reasons?.[1] === 'ConditionalCheckFailed') return 'duplicate';
      // Anything else (a conflict with our own heartbeat, throttling) says nothing either way.
      throw error;
    }
  }

  /** The live leases an owner holds on these instances (read consistently). */
  async heldBy(owner: string, instanceIds: readonly string[], now: number): Promise<Lease[]> {
    const current = await this.batchGet(instanceIds.map((id) => keys.lease(id)));
    return [...current.values()]
      .filter((item) => item.owner === owner && Number(item.leaseUntil) > now)
      .map(toLease)
      .sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));
  }

  /** Every action recorded for a change (the change's index entries: one Query, paged). */
  async actionsOf(changeId: string): Promise<RecordedAction[]> {
    const items = await this.queryAll({
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :change',
      ExpressionAttributeValues: { ':change': partitions.change(changeId) },
    });
    return items.map((item) => ({
      instanceId: String(item.instanceId),
      wave: Number((item.result as { wave?: number } | undefined)?.wave ?? 0),
      at: Number(item.at),
    }));
  }

  /** Every lease whose expiry has not passed (for fleet status, live plans and the ledger). */
  async activeLeases(now: number): Promise<Lease[]> {
    const items = await listFleetItems(this.db, this.table, indexKeys.shardLeases);
    return items.filter((item) => item.owner && Number(item.leaseUntil) > now).map(toLease);
  }

  leaseUpdate(
    instance: Member,
    lease: Lease,
    previous: number,
    reservation: string | undefined,
    now: number,
  ): TransactItem {
    const index = indexKeys.lease(lease.owner, instance.id);
    return {
      Update: {
        TableName: this.table,
        Key: keys.lease(instance.id),
        UpdateExpression:
          'SET #owner = :owner, fence = :token, leaseUntil = :until, expiresAt = :ttl, instanceId = :id, ' +
          '#service = :service, #zone = :zone, acquiredAt = :now, #type = :type, reserved = :reserved, ' +
          'reservation = :reservation, caps = :caps, gsi1pk = :gsi1pk, gsi1sk = :gsi1sk, gsi2pk = :gsi2pk, gsi2sk = :gsi2sk',
        ConditionExpression:
          (previous === 0 ? 'attribute_not_exists(fence)' : 'fence = :previous') +
          ' AND (attribute_not_exists(#owner) OR leaseUntil < :now OR #owner = :owner)',
        ExpressionAttributeNames: {
          '#owner': 'owner',
          '#type': 'type',
          '#service': 'service',
          '#zone': 'zone',
        },
        ExpressionAttributeValues: {
          ':owner': lease.owner,
          ':token': lease.token,
          ':until': lease.until,
          ':ttl': Math.ceil((lease.until + LEASE_GARBAGE_AFTER_MS) / 1000),
          ':id': instance.id,
          ':service': instance.service,
          ':zone': instance.zone,
          ':now': now,
          ':type': 'lease',
          ':reserved': reservation !== undefined,
          ':reservation': reservation ?? '',
          ':caps': [...(lease.caps ?? [])],
          ':gsi1pk': index.gsi1pk,
          ':gsi1sk': index.gsi1sk,
          ':gsi2pk': index.gsi2pk,
          ':gsi2sk': index.gsi2sk,
          ...(previous === 0 ? {} : { ':previous': previous }),
        },
      },
    };
  }

  async renewLease(lease: Lease, until: number, now: number): Promise<Lease | undefined> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.lease(lease.instanceId),
          UpdateExpression: 'SET leaseUntil = :until, expiresAt = :ttl',
          ConditionExpression: '#owner = :owner AND fence = :token AND leaseUntil >= :now',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: {
            ':until': until,
            ':ttl': Math.ceil((until + LEASE_GARBAGE_AFTER_MS) / 1000),
            ':owner': lease.owner,
            ':token': lease.token,
            ':now': now,
          },
        }),
      );
      return { ...lease, until };
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /**
   * Releases leases still held by their owner at their token; the token itself is kept. A lease
   * taken over meanwhile is left alone; any other failure that persists is thrown, so no caller
   * believes a lease released that is not.
   */
  async releaseLeases(leases: readonly Lease[]): Promise<void> {
    const item = (lease: Lease): TransactItem => ({
      Update: {
        TableName: this.table,
        Key: keys.lease(lease.instanceId),
        UpdateExpression: 'REMOVE #owner, leaseUntil, gsi1pk, gsi1sk SET releasedAt = :now',
        ConditionExpression: '#owner = :owner AND fence = :token',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: { ':owner': lease.owner, ':token': lease.token, ':now': Date.now() },
      },
    });
    await mapLimit(chunks(leases, MAX_TRANSACTION_ITEMS), 4, async (chunk) => {
      let pending = chunk;
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= 5) throw new Error(`could not release ${pending.length} leases after 5 attempts`);
        if (attempt > 0) await sleep(Math.min(1000, 25 * 2 ** attempt));
        try {
          await this.db.send(new TransactWriteCommand({ TransactItems: pending.map(item) }));
          pending = [];
        } catch (error) {
          const reasons = cancellationReasons(error);
          if (!reasons) throw error;
          pending = pending.filter((_, i) => reasons[i] !== 'ConditionalCheckFailed');
        }
      }
    });
  }

  private batchGet(keyList: ReadonlyArray<{ pk: string; sk: string }>): Promise<Map<string, Item>> {
    return batchGetAll(this.db, this.table, keyList);
  }

  private queryAll(input: Parameters<typeof queryAll>[2]): Promise<Item[]> {
    return queryAll(this.db, this.table, input);
  }
}

export function toLease(item: Item): Lease {
  return {
    instanceId: String(item.instanceId),
    owner: String(item.owner),
    token: Number(item.fence),
    until: Number(item.leaseUntil),
    reserved: item.reserved === true,
    ...(Array.isArray(item.caps) && item.caps.length > 0 ? { caps: item.caps.map(String) } : {}),
  };
}
