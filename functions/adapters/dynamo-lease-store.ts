import { createHash } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type Instance, isUnavailable } from '../core/fleet/fleet';
import type { LeaseView } from '../core/fleet/sync-inventory';
import type { Lease, LeaseOutcome, LeaseRequest, LeaseStore, RecordedAction } from '../core/ports/index';
import { checkReservation, type LedgerState, NO_ROOM } from '../core/safety/ledger';
import {
  batchGetAll,
  chunks,
  type DocumentClient,
  isConditionFailure,
  itemKey,
  listFleetItems,
  mapLimit,
  queryAll,
  sleep,
} from './dynamo-client';
import {
  indexKeys,
  keys,
  ledgerZoneAttribute,
  partitions,
  RESERVATIONS_COLLECTION,
  sortableTime,
} from './keys';

/** DynamoDB allows 100 actions in one transaction. */
const MAX_TRANSACTION_ITEMS = 100;
/** Expired leases stay this long before DynamoDB's TTL deletes them, so fencing tokens keep growing. */
const LEASE_GARBAGE_AFTER_MS = 7 * 24 * 3600 * 1000;
/**
 * A reservation outlives its leases by this much, so the reclaimer can never return a budget
 * while a lease it covers is still live (not even one renewed a moment before expiring).
 */
export const RESERVATION_GRACE_MS = 60_000;

type TransactItem = NonNullable<
  ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']
>[number];
type Item = Record<string, unknown>;

interface LedgerItem {
  capacity?: number;
  used?: number;
  [attribute: string]: unknown;
}

interface Member {
  readonly id: string;
  readonly service: string;
  readonly zone: string;
  /** The inventory sees it unavailable: the ledger already counts it as observed. */
  readonly down: boolean;
}

interface ReservationPlan {
  readonly service: string;
  readonly holderKey: string;
  readonly members: readonly Member[];
  readonly zones: ReadonlyMap<string, number>;
  readonly ledger: LedgerItem;
  /** A retried request whose reservation already exists: extend it, do not count it again. */
  readonly existing: boolean;
  /**
   * Members already counted as observed (unavailable before the holder came): they move from
   * `observed` into the reservation instead of being counted twice. Per zone, and the ids.
   */
  readonly transferred: ReadonlyMap<string, number>;
  readonly transferredIds: ReadonlySet<string>;
}

/** What a transaction item was about, to explain a failure and to undo what succeeded. */
interface ItemTag {
  readonly kind: 'lease' | 'ledger' | 'reservation' | 'reservation-extend';
  readonly id: string;
}

const zoneAttr = ledgerZoneAttribute;

/** A ledger item as the ledger arithmetic reads it (a missing item, or capacity: no ledger yet). */
function ledgerState(item: LedgerItem): LedgerState {
  const capacity = (value: unknown) => (typeof value === 'number' ? value : undefined);
  return {
    capacity: capacity(item.capacity),
    used: Number(item.used ?? 0),
    observed: Number(item.observed ?? 0),
    zone: (zone) => ({
      capacity: capacity(item[zoneAttr('capacity', zone)]),
      used: Number(item[zoneAttr('used', zone)] ?? 0),
      observed: Number(item[zoneAttr('observed', zone)] ?? 0),
    }),
  };
}

/**
 * Leases and the disruption ledger in the fleet-state table (the protocol is in docs/store.md).
 *
 * A lease (`INSTANCE#<id>` / `LEASE`) has an owner, an expiry and a fencing token that grows
 * on every acquisition. A reservation (`SERVICE#<svc>` / `RESERVATION#<owner>#<request>`)
 * holds part of a service's budget for named instances; the service's ledger
 * (`SERVICE#<svc>` / `LEDGER`) keeps `used` ≤ `capacity`, overall and per zone, with conditional
 * updates, so concurrent holders can never overspend it together.
 */
export class DynamoLeaseStore implements LeaseStore, LeaseView {
  constructor(
    private readonly db: DocumentClient,
    private readonly table: string,
  ) {}

  /**
   * Acquires every lease and reserves every budget of a request, or nothing.
   *
   * 1. Read the instances, their leases and the ledgers: report conflicts without writing.
   * 2. Write in transactions of ≤ 100 actions: per service, the ledger increment (conditioned
   *    on the capacity and use just read) and the reservation, then its instances' leases
   *    (conditioned on the fencing token just read).
   * 3. If a transaction fails, undo the ones before it. A crash in between leaves leases and
   *    reservations that expire and are reclaimed ({@link reclaimExpired}).
   */
  async acquire(request: LeaseRequest): Promise<LeaseOutcome> {
    const requested = [...new Set(request.instanceIds)].sort().map((id) => ({ id }));
    if (requested.length === 0) return { acquired: true, leases: [] };
    const until = request.now + request.ttlMs;

    // The inventory is the truth about an instance's service and zone (the budget it spends),
    // and about whether it exists at all.
    const current = await this.batchGet(requested.flatMap((i) => [keys.instance(i.id), keys.lease(i.id)]));
    const conflicts: Array<{ id: string; reason: string }> = [];
    const previousToken = new Map<string, number>();
    const members: Member[] = [];
    for (const instance of requested) {
      const meta = current.get(keyOf(keys.instance(instance.id)));
      if (!meta) {
        conflicts.push({ id: instance.id, reason: 'not in the fleet inventory' });
        continue;
      }
      if (meta.state === 'terminated') {
        conflicts.push({ id: instance.id, reason: 'terminated' });
        continue;
      }
      members.push({
        id: instance.id,
        service: String(meta.service),
        zone: String(meta.zone),
        down: isUnavailable({
          state: meta.state as Instance['state'],
          health: meta.health as Instance['health'],
        }),
      });
      const lease = current.get(keyOf(keys.lease(instance.id)));
      previousToken.set(instance.id, typeof lease?.fence === 'number' ? lease.fence : 0);
      // Held through its `until` instant (taken over only after it, as the write below requires).
      if (lease?.owner && lease.owner !== request.owner && Number(lease.leaseUntil) >= request.now) {
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
      .update(members.map((i) => i.id).join(','))
      .digest('hex')
      .slice(0, 16);
    const reservations = await this.planReservations(
      request,
      members,
      `${request.owner}#${requestKey}`,
      conflicts,
    );
    if (conflicts.length > 0) return refused(NO_ROOM, conflicts);

    // The transaction items, a service's budget before its leases.
    const tagged: Array<{ item: TransactItem; tag: ItemTag; pairWithNext?: boolean }> = [];
    const leases: Lease[] = [];
    const byService = groupBy(members, (i) => i.service);
    for (const service of [...byService.keys()].sort()) {
      const reservation = reservations.get(service);
      if (reservation?.existing) {
        tagged.push({
          item: this.reservationExtend(reservation, until, request.now),
          tag: { kind: 'reservation-extend', id: service },
        });
      } else if (reservation) {
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
        const previous = previousToken.get(instance.id)!;
        const lease: Lease = {
          instanceId: instance.id,
          owner: request.owner,
          token: previous + 1,
          until,
          reserved: reservation !== undefined,
        };
        tagged.push({
          item: this.leaseUpdate(instance, lease, previous, reservation?.holderKey, request.now),
          tag: { kind: 'lease', id: instance.id },
        });
        leases.push(lease);
      }
    }

    const done: Array<{ tag: ItemTag }> = [];
    for (const chunk of chunkKeepingPairs(tagged, MAX_TRANSACTION_ITEMS)) {
      try {
        await this.db.send(new TransactWriteCommand({ TransactItems: chunk.map((c) => c.item) }));
        done.push(...chunk);
      } catch (error) {
        const reasons = cancellationReasons(error);
        await this.undo(done, leases, reservations);
        if (!reasons) throw error;
        const failed = chunk.filter((_, i) => reasons[i] && reasons[i] !== 'None').map((c) => c.tag);
        return refused(
          'lost a race for a lease or a budget',
          (failed.length > 0 ? failed : chunk.map((c) => c.tag)).map((tag) => ({
            id: tag.id,
            reason:
              tag.kind === 'lease'
                ? `lease taken by another owner meanwhile (${reasonOf(reasons, chunk, tag)})`
                : `budget:${tag.id} changed meanwhile (${reasonOf(reasons, chunk, tag)})`,
          })),
        );
      }
    }
    return { acquired: true, leases };
  }

  /**
   * Extends leases the owner still holds. A lease covered by a reservation is renewed only
   * after its reservation was (reservation first, conditioned on not having expired), so no
   * live lease ever outlives its budget. Returns the leases renewed; the others are lost and
   * their holder must stop acting. Reservations none of whose leases could be renewed are
   * returned at once.
   */
  async renew(leases: readonly Lease[], ttlMs: number, now: number): Promise<Lease[]> {
    const until = now + ttlMs;
    const renewed: Lease[] = [];
    for (const [owner, owned] of groupBy(leases, (l) => l.owner)) {
      const ids = new Set(owned.map((l) => l.instanceId));
      const covering = (await this.reservationsOf(owner)).filter((r) =>
        instanceIdsOf(r).some((id) => ids.has(id)),
      );
      const lost = new Set<string>();
      const extended: Item[] = [];
      for (const reservation of covering) {
        const ok = await this.extendReservation(reservation, until, now);
        if (ok) extended.push(reservation);
        else for (const id of instanceIdsOf(reservation)) lost.add(id);
      }
      const results = await mapLimit(
        owned.filter((l) => !lost.has(l.instanceId)),
        16,
        (lease) => this.renewLease(lease, until, now),
      );
      const kept = results.filter((l): l is Lease => l !== undefined);
      renewed.push(...kept);
      // A reservation whose leases are all gone (taken over, expired) must not be kept alive; one
      // that still covers a live lease of this owner, renewed now or not passed in, must.
      const keptIds = new Set(kept.map((l) => l.instanceId));
      const doubtful = extended.filter((r) => !instanceIdsOf(r).some((id) => keptIds.has(id)));
      const current = doubtful.length
        ? await this.batchGet(doubtful.flatMap(instanceIdsOf).map((id) => keys.lease(id)))
        : new Map<string, Item>();
      const orphaned = doubtful.filter(
        (r) =>
          !instanceIdsOf(r).some((id) => {
            const lease = current.get(keyOf(keys.lease(id)));
            return lease?.owner === owner && Number(lease.leaseUntil) >= now;
          }),
      );
      await this.returnReservations(orphaned, { owner });
    }
    return renewed;
  }

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

  /**
   * Releases the owner's leases, then returns each of its reservations whose instances it no
   * longer holds. Instances in `stillUnavailable` (an action that did not bring them back) move
   * from the reservation to the ledger's observed count in the same transaction, so they keep
   * counting against the budget until inventory sync sees them again. Without it (the caller
   * cannot say how they are), instances that were already unavailable when leased keep counting.
   */
  async release(
    owner: string,
    leases: readonly Lease[],
    stillUnavailable?: ReadonlySet<string>,
  ): Promise<void> {
    await this.releaseLeases(leases.filter((l) => l.owner === owner));
    const reservations = await this.reservationsOf(owner);
    const ids = reservations.flatMap(instanceIdsOf);
    const stillHeld = new Set<string>();
    const current = await this.batchGet(ids.map((id) => keys.lease(id)));
    for (const id of ids) {
      if (current.get(keyOf(keys.lease(id)))?.owner === owner) stillHeld.add(id);
    }
    const free = reservations.filter((r) => !instanceIdsOf(r).some((id) => stillHeld.has(id)));
    await this.returnReservations(free, { owner, stillUnavailable });
  }

  /** Releases everything an owner holds (abort, cleanup after a crash). */
  async releaseAll(owner: string, stillUnavailable?: ReadonlySet<string>): Promise<number> {
    const byIndex = await this.queryAll({
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :owner AND begins_with(gsi1sk, :lease)',
      ExpressionAttributeValues: { ':owner': indexKeys.owner(owner), ':lease': indexKeys.ownerLeases },
    });
    // The index may lag: also take the instances the owner's reservations name, read consistently.
    const named = (await this.reservationsOf(owner)).flatMap(instanceIdsOf);
    const ids = [...new Set([...byIndex.map((i) => String(i.instanceId)), ...named])];
    const current = await this.batchGet(ids.map((id) => keys.lease(id)));
    const leases = ids
      .map((id) => current.get(keyOf(keys.lease(id))))
      .filter((item): item is Item => item?.owner === owner)
      .map(toLease);
    await this.release(owner, leases, stillUnavailable);
    return leases.length;
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

  /**
   * Returns the budget of holders that crashed: every reservation whose expiry has passed is
   * deleted and its counts taken off the ledger, in one transaction each (so twice is
   * harmless). Returns how many were returned.
   */
  async reclaimExpired(now: number): Promise<number> {
    const expired = await this.queryAll({
      IndexName: 'gsi2',
      KeyConditionExpression: 'gsi2pk = :collection AND gsi2sk < :now',
      ExpressionAttributeValues: { ':collection': RESERVATIONS_COLLECTION, ':now': sortableTime(now) },
    });
    return this.returnReservations(expired, { expiredBy: now });
  }

  /** The ledger of a service, for status and tests. */
  async ledger(service: string): Promise<LedgerItem | undefined> {
    return (await this.ledgers([service])).get(service);
  }

  /** The ledgers of several services in one read (BatchGetItem), by service. */
  async ledgers(services: readonly string[]): Promise<Map<string, LedgerItem>> {
    const items = await this.batchGet(services.map((s) => keys.ledger(s)));
    const result = new Map<string, LedgerItem>();
    for (const service of services) {
      const item = items.get(keyOf(keys.ledger(service)));
      if (item) result.set(service, item);
    }
    return result;
  }

  // ── internals ──────────────────────────────────────────────────────────────

  private async planReservations(
    request: LeaseRequest,
    members: readonly Member[],
    holderKey: string,
    conflicts: Array<{ id: string; reason: string }>,
  ): Promise<Map<string, ReservationPlan>> {
    const byService = groupBy(
      members.filter((i) => !request.nonDisruptiveServices.has(i.service)),
      (i) => i.service,
    );
    if (byService.size === 0) return new Map();
    const services = [...byService.keys()];
    const [ledgers, existing] = await Promise.all([
      this.batchGet(services.map((s) => keys.ledger(s))),
      this.batchGet(services.map((s) => keys.reservation(s, holderKey))),
    ]);
    const plans = new Map<string, ReservationPlan>();
    for (const [service, group] of byService) {
      const zones = new Map<string, number>();
      for (const m of group) zones.set(m.zone, (zones.get(m.zone) ?? 0) + 1);
      const ledger = ledgers.get(keyOf(keys.ledger(service))) ?? {};
      if (existing.has(keyOf(keys.reservation(service, holderKey)))) {
        // A retry of the same request: the budget is already counted; keep it alive.
        plans.set(service, {
          service,
          holderKey,
          members: group,
          zones,
          ledger,
          existing: true,
          transferred: new Map(),
          transferredIds: new Set(),
        });
        continue;
      }
      const check = checkReservation(service, ledgerState(ledger), group);
      if (!check.room) {
        conflicts.push(...check.conflicts);
        continue;
      }
      const { transferred, transferredIds } = check.counts;
      plans.set(service, {
        service,
        holderKey,
        members: group,
        zones,
        ledger,
        existing: false,
        transferred,
        transferredIds,
      });
    }
    return plans;
  }

  private ledgerIncrement(r: ReservationPlan): TransactItem {
    // Members already counted as observed move into the reservation: `used` grows only by the
    // others, and `observed` shrinks by them (conditional: the ledger must still count them).
    const moved = r.transferredIds.size;
    const added = r.members.length - moved;
    const names: Record<string, string> = { '#used': 'used', '#capacity': 'capacity' };
    const values: Record<string, unknown> = {
      ':n': added,
      ':zero': 0,
      ':capacity': r.ledger.capacity,
      ':limit': Number(r.ledger.capacity) - added,
    };
    const sets = ['#used = if_not_exists(#used, :zero) + :n'];
    const conditions = ['#capacity = :capacity', '(attribute_not_exists(#used) OR #used <= :limit)'];
    if (moved > 0) {
      names['#observed'] = 'observed';
      values[':moved'] = moved;
      sets.push('#observed = #observed - :moved');
      conditions.push('#observed >= :moved');
    }
    [...r.zones.entries()].forEach(([zone, total], i) => {
      const movedHere = r.transferred.get(zone) ?? 0;
      const n = total - movedHere;
      const capacity = Number(r.ledger[zoneAttr('capacity', zone)]);
      names[`#u${i}`] = zoneAttr('used', zone);
      names[`#c${i}`] = zoneAttr('capacity', zone);
      values[`:n${i}`] = n;
      values[`:c${i}`] = capacity;
      values[`:l${i}`] = capacity - n;
      sets.push(`#u${i} = if_not_exists(#u${i}, :zero) + :n${i}`);
      conditions.push(`#c${i} = :c${i}`, `(attribute_not_exists(#u${i}) OR #u${i} <= :l${i})`);
      if (movedHere > 0) {
        names[`#o${i}`] = zoneAttr('observed', zone);
        values[`:m${i}`] = movedHere;
        sets.push(`#o${i} = #o${i} - :m${i}`);
        conditions.push(`#o${i} >= :m${i}`);
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
    const reservedUntil = until + RESERVATION_GRACE_MS;
    return {
      Put: {
        TableName: this.table,
        Item: {
          ...key,
          type: 'reservation',
          service: r.service,
          owner: request.owner,
          total: r.members.length,
          zones: Object.fromEntries(r.zones),
          members: Object.fromEntries(r.members.map((m) => [m.id, m.zone])),
          transferred: [...r.transferredIds],
          until: reservedUntil,
          createdAt: request.now,
          // No TTL: only the reclaimer may delete a reservation, together with its ledger counts.
          ...indexKeys.reservation(request.owner, r.service, r.holderKey, reservedUntil),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    };
  }

  private reservationExtend(r: ReservationPlan, until: number, now: number): TransactItem {
    const key = keys.reservation(r.service, r.holderKey);
    return { Update: { TableName: this.table, Key: key, ...extendExpression(key, until, now) } };
  }

  private async extendReservation(reservation: Item, until: number, now: number): Promise<boolean> {
    const key = { pk: String(reservation.pk), sk: String(reservation.sk) };
    try {
      await this.db.send(
        new UpdateCommand({ TableName: this.table, Key: key, ...extendExpression(key, until, now) }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false; // reclaimed (or returned) meanwhile
      throw error;
    }
  }

  private leaseUpdate(
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
          'reservation = :reservation, gsi1pk = :gsi1pk, gsi1sk = :gsi1sk, gsi2pk = :gsi2pk, gsi2sk = :gsi2sk',
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
          ':gsi1pk': index.gsi1pk,
          ':gsi1sk': index.gsi1sk,
          ':gsi2pk': index.gsi2pk,
          ':gsi2sk': index.gsi2sk,
          ...(previous === 0 ? {} : { ':previous': previous }),
        },
      },
    };
  }

  private async renewLease(lease: Lease, until: number, now: number): Promise<Lease | undefined> {
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

  private async reservationsOf(owner: string): Promise<Item[]> {
    const found = await this.queryAll({
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :owner AND begins_with(gsi1sk, :reservation)',
      ExpressionAttributeValues: {
        ':owner': indexKeys.owner(owner),
        ':reservation': indexKeys.ownerReservations,
      },
    });
    // The index may lag: read the reservations themselves, consistently.
    const current = await this.batchGet(found.map((r) => ({ pk: String(r.pk), sk: String(r.sk) })));
    return [...current.values()];
  }

  /**
   * Deletes reservations and takes their counts off the ledgers, one transaction each. With
   * `expiredBy`, only those still expired at that time; with `stillUnavailable`, those
   * instances move to the ledger's observed count instead of leaving it. Returns how many were
   * returned; one already returned is skipped, and persistent failures are thrown.
   */
  private async returnReservations(
    reservations: readonly Item[],
    options: { owner?: string; expiredBy?: number; stillUnavailable?: ReadonlySet<string> } = {},
  ): Promise<number> {
    const stillUnavailable = options.stillUnavailable ?? new Set<string>();
    const returned = await mapLimit(reservations, 8, async (r): Promise<number> => {
      const members = Object.entries((r.members ?? {}) as Record<string, string>);
      const zones = new Map(Object.entries((r.zones ?? {}) as Record<string, number>));
      // Members that were unavailable when reserved count as still unavailable, unless the
      // caller says how each instance is now (a release after checking them).
      const transferred = new Set((r.transferred ?? []) as string[]);
      const down = members.filter(([id]) =>
        options.stillUnavailable ? stillUnavailable.has(id) : transferred.has(id),
      );
      const downByZone = new Map<string, number>();
      for (const [, zone] of down) downByZone.set(zone, (downByZone.get(zone) ?? 0) + 1);

      const names: Record<string, string> = { '#used': 'used', '#observed': 'observed' };
      const values: Record<string, unknown> = {
        ':free': Number(r.total) - down.length,
        ':down': down.length,
        ':zero': 0,
      };
      const sets = ['#used = #used - :free', '#observed = if_not_exists(#observed, :zero) + :down'];
      [...zones.entries()].forEach(([zone, n], i) => {
        const k = downByZone.get(zone) ?? 0;
        names[`#u${i}`] = zoneAttr('used', zone);
        names[`#o${i}`] = zoneAttr('observed', zone);
        values[`:f${i}`] = n - k;
        values[`:d${i}`] = k;
        sets.push(`#u${i} = #u${i} - :f${i}`, `#o${i} = if_not_exists(#o${i}, :zero) + :d${i}`);
      });
      const deleteNames: Record<string, string> = {};
      const deleteValues: Record<string, unknown> = {};
      let condition = 'attribute_exists(pk)';
      if (options.expiredBy !== undefined) {
        condition += ' AND #until < :now';
        deleteNames['#until'] = 'until';
        deleteValues[':now'] = options.expiredBy;
      }
      const transaction = new TransactWriteCommand({
        TransactItems: [
          {
            Delete: {
              TableName: this.table,
              Key: { pk: r.pk, sk: r.sk },
              ConditionExpression: condition,
              ...(options.expiredBy === undefined
                ? {}
                : { ExpressionAttributeNames: deleteNames, ExpressionAttributeValues: deleteValues }),
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
      });
      for (let attempt = 0; ; attempt++) {
        try {
          await this.db.send(transaction);
          return 1;
        } catch (error) {
          const reasons = cancellationReasons(error);
          // Already returned (or renewed since it was found expired): nothing to do.
          if (reasons?.[0] === 'ConditionalCheckFailed') return 0;
          // A conflict with another transaction on the hot ledger, or throttling: try again.
          if (!reasons && !isRetryable(error)) throw error;
          if (attempt >= 5) throw error;
          await sleep(Math.min(1000, 25 * 2 ** attempt));
        }
      }
    });
    return returned.reduce((a, b) => a + b, 0);
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

  private batchGet(keyList: ReadonlyArray<{ pk: string; sk: string }>): Promise<Map<string, Item>> {
    return batchGetAll(this.db, this.table, keyList);
  }

  private queryAll(input: Parameters<typeof queryAll>[2]): Promise<Item[]> {
    return queryAll(this.db, this.table, input);
  }
}

function extendExpression(key: { pk: string; sk: string }, until: number, now: number) {
  const reservedUntil = until + RESERVATION_GRACE_MS;
  return {
    UpdateExpression: 'SET #until = :until, gsi2sk = :sort',
    ConditionExpression: 'attribute_exists(pk) AND #until >= :now',
    ExpressionAttributeNames: { '#until': 'until' },
    ExpressionAttributeValues: {
      ':until': reservedUntil,
      ':now': now,
      ':sort': indexKeys.reservationExpiry(key, reservedUntil),
    },
  };
}

function toLease(item: Item): Lease {
  return {
    instanceId: String(item.instanceId),
    owner: String(item.owner),
    token: Number(item.fence),
    until: Number(item.leaseUntil),
    reserved: item.reserved === true,
  };
}

/** The instances a reservation covers (its `members`: instance id → zone). */
const instanceIdsOf = (reservation: Item): string[] =>
  Object.keys((reservation.members ?? {}) as Record<string, string>);

function refused(reason: string, conflicts: Array<{ id: string; reason: string }>): LeaseOutcome {
  return { acquired: false, reason, conflicts };
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

const keyOf = itemKey;

function reasonOf(
  reasons: ReadonlyArray<string | undefined>,
  chunk: ReadonlyArray<{ tag: ItemTag }>,
  tag: ItemTag,
): string {
  return reasons[chunk.findIndex((c) => c.tag === tag)] ?? 'cancelled';
}

function cancellationReasons(error: unknown): Array<string | undefined> | undefined {
  if (
    error instanceof TransactionCanceledException ||
    (error as { name?: string })?.name === 'TransactionCanceledException'
  ) {
    return ((error as TransactionCanceledException).CancellationReasons ?? []).map((r) => r.Code);
  }
  return undefined;
}

function isRetryable(error: unknown): boolean {
  const name = (error as { name?: string })?.name ?? '';
  return /Throttl|ProvisionedThroughputExceeded|RequestLimitExceeded|TransactionConflict|InternalServerError/.test(
    name,
  );
}
