import { createHash } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Lease, LeaseOutcome, LeaseRequest, LeaseStore } from '../core/ports';
import {
  chunks,
  type DocumentClient,
  isConditionFailure,
  listFleetItems,
  mapLimit,
  sleep,
} from './dynamo-client';
import { fleetShard, keys, RESERVATIONS_COLLECTION, sortableTime } from './keys';

/** DynamoDB allows 100 actions in one transaction. */
const MAX_TRANSACTION_ITEMS = 100;
/** Expired leases stay this long before DynamoDB's TTL deletes them, so fencing tokens keep growing. */
const LEASE_GARBAGE_AFTER_MS = 7 * 24 * 3600 * 1000;

type TransactItem = NonNullable<
  ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']
>[number];

interface LedgerItem {
  capacity?: number;
  used?: number;
  [attribute: string]: unknown;
}

interface ReservationPlan {
  readonly service: string;
  readonly holderKey: string;
  readonly total: number;
  readonly zones: ReadonlyMap<string, number>;
  readonly ledger: LedgerItem;
}

/** What a failed transaction chunk was about: a lease, a ledger, or a reservation. */
interface ItemTag {
  readonly kind: 'lease' | 'ledger' | 'reservation';
  readonly id: string;
}

const zoneAttr = (prefix: 'capacity' | 'used' | 'observed', zone: string) => `${prefix}@${zone}`;

/**
 * Leases and the disruption ledger in the fleet-state table.
 *
 * A lease (`INSTANCE#<id>` / `LEASE`) has an owner, an expiry and a fencing token that grows
 * on every acquisition. A reservation (`SERVICE#<svc>` / `RESERVATION#<owner>#<request>`)
 * holds part of a service's budget; the service's ledger (`SERVICE#<svc>` / `LEDGER`) keeps
 * `used` ≤ `capacity`, overall and per zone (`used@<zone>` ≤ `capacity@<zone>`), with
 * conditional updates, so concurrent holders can never overspend it together.
 */
export class DynamoLeaseStore implements LeaseStore {
  constructor(
    private readonly db: DocumentClient,
    private readonly table: string,
  ) {}

  /**
   * Acquires every lease and reserves every budget of a request, or nothing.
   *
   * 1. Read the current leases and ledgers: report conflicts without writing anything.
   * 2. Write in transactions of ≤ 100 actions: per service, the ledger increment (conditioned
   *    on the capacity and use just read) and the reservation, then its instances' leases
   *    (conditioned on the fencing token just read).
   * 3. If a transaction fails, undo the ones before it. A crash in between leaves leases and
   *    reservations that expire and are reclaimed ({@link reclaimExpired}).
   */
  async acquire(request: LeaseRequest): Promise<LeaseOutcome> {
    const instances = uniqueById(request.instances);
    if (instances.length === 0) return { acquired: true, leases: [] };
    const until = request.now + request.ttlMs;

    // The inventory is the truth about an instance's service and zone (the budget it spends),
    // and about whether it exists at all.
    const current = await this.batchGet(instances.flatMap((i) => [keys.instance(i.id), keys.lease(i.id)]));
    const conflicts: Array<{ id: string; reason: string }> = [];
    const previousToken = new Map<string, number>();
    const members: Array<{ id: string; service: string; zone: string }> = [];
    for (const instance of instances) {
      const meta = current.get(keyOf(keys.instance(instance.id)));
      if (!meta) {
        conflicts.push({ id: instance.id, reason: 'not in the fleet inventory' });
        continue;
      }
      if (meta.state === 'terminated') {
        conflicts.push({ id: instance.id, reason: 'terminated' });
        continue;
      }
      members.push({ id: instance.id, service: String(meta.service), zone: String(meta.zone) });
      const lease = current.get(keyOf(keys.lease(instance.id)));
      previousToken.set(instance.id, typeof lease?.fence === 'number' ? lease.fence : 0);
      if (lease?.owner && lease.owner !== request.owner && Number(lease.leaseUntil) > request.now) {
        conflicts.push({
          id: instance.id,
          reason: `held by ${lease.owner} until ${new Date(Number(lease.leaseUntil)).toISOString()}`,
        });
      }
    }
    if (conflicts.length > 0) {
      const unknown = conflicts.every((c) => !c.reason.startsWith('held by'));
      return refused(
        unknown ? 'instances are not in the fleet inventory' : 'instances are not available to lease',
        conflicts,
      );
    }

    const requestKey = createHash('sha256')
      .update(instances.map((i) => i.id).join(','))
      .digest('hex')
      .slice(0, 16);
    const reservations = await this.planReservations(
      request,
      members,
      `${request.owner}#${requestKey}`,
      conflicts,
    );
    if (conflicts.length > 0) return refused('a disruption budget has no room', conflicts);

    // Build the transaction items, a service's budget before its leases.
    const tagged: Array<{ item: TransactItem; tag: ItemTag; pairWithNext?: boolean }> = [];
    const leases: Lease[] = [];
    const byService = groupBy(members, (i) => i.service);
    for (const service of [...byService.keys()].sort()) {
      const reservation = reservations.get(service);
      if (reservation) {
        tagged.push({
          item: this.ledgerIncrement(reservation),
          tag: { kind: 'ledger', id: service },
          pairWithNext: true,
        });
        tagged.push({
          item: this.reservationPut(reservation, request, until),
          tag: { kind: 'reservation', id: service },
        });
      }
      for (const instance of byService.get(service)!) {
        const token = previousToken.get(instance.id)! + 1;
        tagged.push({
          item: this.leaseUpdate(
            instance,
            request.owner,
            token,
            previousToken.get(instance.id)!,
            until,
            request.now,
          ),
          tag: { kind: 'lease', id: instance.id },
        });
        leases.push({ instanceId: instance.id, owner: request.owner, token, until });
      }
    }

    const done: Array<Array<{ tag: ItemTag }>> = [];
    for (const chunk of chunkKeepingPairs(tagged, MAX_TRANSACTION_ITEMS)) {
      try {
        await this.db.send(new TransactWriteCommand({ TransactItems: chunk.map((c) => c.item) }));
        done.push(chunk);
      } catch (error) {
        const failed = failedItems(error, chunk);
        await this.undo(done.flat(), leases, reservations);
        if (!failed) throw error;
        return refused(
          'lost a race for a lease or a budget',
          failed.map((tag) => ({
            id: tag.id,
            reason:
              tag.kind === 'lease'
                ? 'lease taken by another owner meanwhile'
                : `budget:${tag.id} changed meanwhile (capacity or use)`,
          })),
        );
      }
    }
    return { acquired: true, leases };
  }

  /** Extends leases the owner still holds (fenced), and the owner's reservations with them. */
  async renew(leases: readonly Lease[], ttlMs: number, now: number): Promise<Lease[]> {
    const until = now + ttlMs;
    const renewed = await mapLimit(leases, 16, async (lease) => {
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
    });
    const owners = new Set(leases.map((l) => l.owner));
    for (const owner of owners) {
      for (const reservation of await this.reservationsOf(owner)) {
        await this.db
          .send(
            new UpdateCommand({
              TableName: this.table,
              Key: { pk: reservation.pk, sk: reservation.sk },
              UpdateExpression: 'SET #until = :until, gsi2sk = :sort',
              ConditionExpression: 'attribute_exists(pk)',
              ExpressionAttributeNames: { '#until': 'until' },
              ExpressionAttributeValues: {
                ':until': until,
                ':sort': `${sortableTime(until)}#${reservation.sk}`,
              },
            }),
          )
          .catch((error) => {
            if (!isConditionFailure(error)) throw error;
          });
      }
    }
    return renewed.filter((l): l is Lease => l !== undefined);
  }

  /**
   * Records that an action was applied to an instance, fenced by its lease: only the current
   * owner at the current token may write, and only once per instance per change (`duplicate`
   * tells a retried step that the action was already applied).
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
                ConditionExpression: '#owner = :owner AND fence = :token',
                ExpressionAttributeNames: { '#owner': 'owner' },
                ExpressionAttributeValues: { ':owner': lease.owner, ':token': lease.token },
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
                  gsi1pk: `CHANGE#${changeId}`,
                  gsi1sk: `INSTANCE#${lease.instanceId}`,
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
      if (!reasons) throw error;
      return reasons[0] === 'ConditionalCheckFailed' ? 'fenced' : 'duplicate';
    }
  }

  async release(owner: string, leases: readonly Lease[]): Promise<void> {
    await this.releaseLeases(leases.filter((l) => l.owner === owner));
    await this.returnReservations(await this.reservationsOf(owner));
  }

  /** Releases everything an owner holds (abort, cleanup after a crash). */
  async releaseAll(owner: string): Promise<number> {
    const held = await this.queryAll({
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :owner AND begins_with(gsi1sk, :lease)',
      ExpressionAttributeValues: { ':owner': `OWNER#${owner}`, ':lease': 'INSTANCE#' },
    });
    const leases = held.map((item) => ({
      instanceId: String(item.instanceId),
      owner,
      token: Number(item.fence),
      until: Number(item.leaseUntil),
    }));
    await this.release(owner, leases);
    return leases.length;
  }

  /** Every lease whose expiry has not passed (for fleet status and live plans). */
  async activeLeases(now: number): Promise<Lease[]> {
    const items = await listFleetItems(this.db, this.table, 'LEASE#');
    return items
      .filter((item) => item.owner && Number(item.leaseUntil) > now)
      .map((item) => ({
        instanceId: String(item.instanceId),
        owner: String(item.owner),
        token: Number(item.fence),
        until: Number(item.leaseUntil),
      }));
  }

  /**
   * Returns the budget of holders that crashed: every reservation whose expiry has passed is
   * deleted and its counts taken off the ledger, in one transaction each (so twice is harmless).
   */
  async reclaimExpired(now: number): Promise<number> {
    const expired = await this.queryAll({
      IndexName: 'gsi2',
      KeyConditionExpression: 'gsi2pk = :collection AND gsi2sk < :now',
      ExpressionAttributeValues: { ':collection': RESERVATIONS_COLLECTION, ':now': sortableTime(now) },
    });
    await this.returnReservations(expired, now);
    return expired.length;
  }

  /** The ledger of a service, for status and tests. */
  async ledger(service: string): Promise<LedgerItem | undefined> {
    const items = await this.batchGet([keys.ledger(service)]);
    return items.get(keyOf(keys.ledger(service)));
  }

  // ── internals ──────────────────────────────────────────────────────────────

  private async planReservations(
    request: LeaseRequest,
    instances: ReadonlyArray<Pick<LeaseRequest['instances'][number], 'id' | 'service' | 'zone'>>,
    holderKey: string,
    conflicts: Array<{ id: string; reason: string }>,
  ): Promise<Map<string, ReservationPlan>> {
    const disruptive = instances.filter((i) => !request.nonDisruptiveServices.has(i.service));
    const byService = groupBy(disruptive, (i) => i.service);
    if (byService.size === 0) return new Map();
    const ledgers = await this.batchGet([...byService.keys()].map((s) => keys.ledger(s)));
    const existing = await this.batchGet([...byService.keys()].map((s) => keys.reservation(s, holderKey)));
    const plans = new Map<string, ReservationPlan>();
    for (const [service, members] of byService) {
      if (existing.has(keyOf(keys.reservation(service, holderKey)))) continue; // a retry: already reserved
      const ledger = ledgers.get(keyOf(keys.ledger(service)));
      if (!ledger || typeof ledger.capacity !== 'number') {
        conflicts.push({
          id: service,
          reason: `budget:${service} has no ledger yet (run an inventory sync)`,
        });
        continue;
      }
      const zones = new Map<string, number>();
      for (const m of members) zones.set(m.zone, (zones.get(m.zone) ?? 0) + 1);
      const used = Number(ledger.used ?? 0);
      if (used + members.length > ledger.capacity) {
        conflicts.push({
          id: service,
          reason: `budget:${service} exhausted: ${used} of ${ledger.capacity} in use, ${members.length} requested`,
        });
        continue;
      }
      for (const [zone, n] of zones) {
        const capacity = ledger[zoneAttr('capacity', zone)];
        const zoneUsed = Number(ledger[zoneAttr('used', zone)] ?? 0);
        if (typeof capacity === 'number' && zoneUsed + n > capacity) {
          conflicts.push({
            id: `${service}@${zone}`,
            reason: `budget:${service}@${zone} exhausted: ${zoneUsed} of ${capacity} in use, ${n} requested`,
          });
        }
      }
      plans.set(service, { service, holderKey, total: members.length, zones, ledger });
    }
    return plans;
  }

  private ledgerIncrement(r: ReservationPlan): TransactItem {
    const names: Record<string, string> = { '#used': 'used', '#capacity': 'capacity' };
    const values: Record<string, unknown> = {
      ':n': r.total,
      ':zero': 0,
      ':capacity': r.ledger.capacity,
      ':limit': r.ledger.capacity! - r.total,
    };
    const sets = ['#used = if_not_exists(#used, :zero) + :n'];
    const conditions = ['#capacity = :capacity', '(attribute_not_exists(#used) OR #used <= :limit)'];
    [...r.zones.entries()].forEach(([zone, n], i) => {
      names[`#u${i}`] = zoneAttr('used', zone);
      values[`:n${i}`] = n;
      sets.push(`#u${i} = if_not_exists(#u${i}, :zero) + :n${i}`);
      const capacity = r.ledger[zoneAttr('capacity', zone)];
      if (typeof capacity === 'number') {
        names[`#c${i}`] = zoneAttr('capacity', zone);
        values[`:c${i}`] = capacity;
        values[`:l${i}`] = capacity - n;
        conditions.push(`#c${i} = :c${i}`, `(attribute_not_exists(#u${i}) OR #u${i} <= :l${i})`);
      }
    });
    return {
      Update: {
        TableName: this.table,
        Key: keys.ledger(r.service),
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: conditions.join(' AND '),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      },
    };
  }

  private reservationPut(r: ReservationPlan, request: LeaseRequest, until: number): TransactItem {
    const key = keys.reservation(r.service, r.holderKey);
    return {
      Put: {
        TableName: this.table,
        Item: {
          ...key,
          type: 'reservation',
          service: r.service,
          owner: request.owner,
          total: r.total,
          zones: Object.fromEntries(r.zones),
          until,
          createdAt: request.now,
          gsi1pk: `OWNER#${request.owner}`,
          gsi1sk: `RESERVATION#${r.service}#${r.holderKey}`,
          // No TTL: only the reclaimer may delete a reservation, together with its ledger counts.
          gsi2pk: RESERVATIONS_COLLECTION,
          gsi2sk: `${sortableTime(until)}#${key.pk}#${key.sk}`,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    };
  }

  private leaseUpdate(
    instance: Pick<LeaseRequest['instances'][number], 'id' | 'service' | 'zone'>,
    owner: string,
    token: number,
    previous: number,
    until: number,
    now: number,
  ): TransactItem {
    return {
      Update: {
        TableName: this.table,
        Key: keys.lease(instance.id),
        UpdateExpression:
          'SET #owner = :owner, fence = :token, leaseUntil = :until, expiresAt = :ttl, instanceId = :id, ' +
          '#service = :service, #zone = :zone, acquiredAt = :now, #type = :type, ' +
          'gsi1pk = :gsi1pk, gsi1sk = :gsi1sk, gsi2pk = :gsi2pk, gsi2sk = :gsi2sk',
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
          ':owner': owner,
          ':token': token,
          ':until': until,
          ':ttl': Math.ceil((until + LEASE_GARBAGE_AFTER_MS) / 1000),
          ':id': instance.id,
          ':service': instance.service,
          ':zone': instance.zone,
          ':now': now,
          ':type': 'lease',
          ':gsi1pk': `OWNER#${owner}`,
          ':gsi1sk': `INSTANCE#${instance.id}`,
          ':gsi2pk': fleetShard(instance.id),
          ':gsi2sk': `LEASE#${instance.id}`,
          ...(previous === 0 ? {} : { ':previous': previous }),
        },
      },
    };
  }

  /** Releases leases still held by their owner at their token; the token itself is kept. */
  private async releaseLeases(leases: readonly Lease[]): Promise<void> {
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
    for (const chunk of chunks(leases, MAX_TRANSACTION_ITEMS)) {
      let pending = chunk;
      // A lease taken over meanwhile fails its condition; release the others without it.
      for (let attempt = 0; pending.length > 0 && attempt < 3; attempt++) {
        try {
          await this.db.send(new TransactWriteCommand({ TransactItems: pending.map(item) }));
          pending = [];
        } catch (error) {
          const reasons = cancellationReasons(error);
          if (!reasons) throw error;
          pending = pending.filter((_, i) => reasons[i] !== 'ConditionalCheckFailed');
        }
      }
    }
  }

  private async reservationsOf(owner: string): Promise<Array<Record<string, unknown>>> {
    return this.queryAll({
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :owner AND begins_with(gsi1sk, :reservation)',
      ExpressionAttributeValues: { ':owner': `OWNER#${owner}`, ':reservation': 'RESERVATION#' },
    });
  }

  /** Deletes reservations and takes their counts off the ledgers, one transaction each. */
  private async returnReservations(reservations: ReadonlyArray<Record<string, unknown>>, expiredBy?: number) {
    await mapLimit(reservations, 8, async (r) => {
      const zones = Object.entries((r.zones ?? {}) as Record<string, number>);
      const names: Record<string, string> = { '#used': 'used' };
      const values: Record<string, unknown> = { ':n': Number(r.total) };
      const sets = ['#used = #used - :n'];
      zones.forEach(([zone, n], i) => {
        names[`#u${i}`] = zoneAttr('used', zone);
        values[`:n${i}`] = n;
        sets.push(`#u${i} = #u${i} - :n${i}`);
      });
      const condition =
        expiredBy === undefined ? 'attribute_exists(pk)' : 'attribute_exists(pk) AND #until < :now';
      try {
        await this.db.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Delete: {
                  TableName: this.table,
                  Key: { pk: r.pk, sk: r.sk },
                  ConditionExpression: condition,
                  ...(expiredBy === undefined
                    ? {}
                    : {
                        ExpressionAttributeNames: { '#until': 'until' },
                        ExpressionAttributeValues: { ':now': expiredBy },
                      }),
                },
              },
              {
                Update: {
                  TableName: this.table,
                  Key: keys.ledger(String(r.service)),
                  UpdateExpression: `SET ${sets.join(', ')}`,
                  ExpressionAttributeNames: names,
                  ExpressionAttributeValues: values,
                },
              },
            ],
          }),
        );
      } catch (error) {
        // Already returned (by a concurrent release or reclaim), or renewed meanwhile: nothing to do.
        if (!cancellationReasons(error)) throw error;
      }
    });
  }

  private async undo(
    done: ReadonlyArray<{ tag: ItemTag }>,
    leases: readonly Lease[],
    reservations: ReadonlyMap<string, ReservationPlan>,
  ): Promise<void> {
    const leased = new Set(done.filter((d) => d.tag.kind === 'lease').map((d) => d.tag.id));
    await this.releaseLeases(leases.filter((l) => leased.has(l.instanceId)));
    const reserved = done.filter((d) => d.tag.kind === 'reservation').map((d) => reservations.get(d.tag.id)!);
    const items = await this.batchGet(reserved.map((r) => keys.reservation(r.service, r.holderKey)));
    await this.returnReservations([...items.values()]);
  }

  private async batchGet(keyList: ReadonlyArray<{ pk: string; sk: string }>) {
    const found = new Map<string, Record<string, unknown>>();
    await mapLimit(chunks(keyList, 100), 4, async (chunk) => {
      let pending: Array<Record<string, unknown>> = chunk;
      for (let attempt = 0; pending.length > 0; attempt++) {
        const result = await this.db.send(
          new BatchGetCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } } }),
        );
        for (const item of result.Responses?.[this.table] ?? [])
          found.set(keyOf(item as { pk: string; sk: string }), item);
        pending = (result.UnprocessedKeys?.[this.table]?.Keys ?? []) as Array<Record<string, unknown>>;
        if (pending.length > 0) await sleep(Math.min(1000, 25 * 2 ** attempt));
      }
    });
    return found;
  }

  private async queryAll(input: Omit<ConstructorParameters<typeof QueryCommand>[0], 'TableName'>) {
    const items: Array<Record<string, unknown>> = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({ ...input, TableName: this.table, ExclusiveStartKey }),
      );
      items.push(...(page.Items ?? []));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return items;
  }
}

function refused(reason: string, conflicts: Array<{ id: string; reason: string }>): LeaseOutcome {
  return { acquired: false, reason, conflicts };
}

function uniqueById<T extends { id: string }>(items: readonly T[]): T[] {
  const seen = new Map<string, T>();
  for (const item of items) if (!seen.has(item.id)) seen.set(item.id, item);
  return [...seen.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
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
function chunkKeepingPairs<T extends { pairWithNext?: boolean }>(items: readonly T[], size: number): T[][] {
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

const keyOf = (item: { pk: unknown; sk: unknown }) => `${String(item.pk)}|${String(item.sk)}`;

function cancellationReasons(error: unknown): Array<string | undefined> | undefined {
  if (
    error instanceof TransactionCanceledException ||
    (error as { name?: string })?.name === 'TransactionCanceledException'
  ) {
    return ((error as TransactionCanceledException).CancellationReasons ?? []).map((r) => r.Code);
  }
  return undefined;
}

function failedItems(error: unknown, chunk: ReadonlyArray<{ tag: ItemTag }>): ItemTag[] | undefined {
  const reasons = cancellationReasons(error);
  if (!reasons) return undefined;
  const failed = chunk.filter((_, i) => reasons[i] && reasons[i] !== 'None').map((c) => c.tag);
  // Without per-item reasons, say the whole chunk conflicted.
  return failed.length > 0 ? failed : chunk.map((c) => c.tag);
}
