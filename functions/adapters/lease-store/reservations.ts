/**
 * Budget reservations and the disruption ledger's writes (docs/store.md): a reservation
 * (`SERVICE#<svc>` / `RESERVATION#<owner>#<request>`) holds part of a service's budget for named
 * instances; the service's ledger (`SERVICE#<svc>` / `LEDGER`) keeps `used` ≤ `capacity`,
 * overall and per zone, with conditional updates. Whether there is room is the core's ledger
 * arithmetic (core/safety/ledger.ts); this module reads and writes.
 */
import { TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { LeaseRequest } from '../../core/ports/index';
/** The grace a reservation keeps past its leases: the core's, one number for both lease stores. */
import {
  type BudgetRoom,
  checkReservation,
  type LedgerState,
  RESERVATION_GRACE_MS,
  roomOf,
} from '../../core/safety/ledger';
import {
  batchGetAll,
  type DocumentClient,
  isConditionFailure,
  mapLimit,
  queryAll,
  sleep,
} from '../dynamo-client';
import { indexKeys, keys, ledgerZoneAttribute, RESERVATIONS_COLLECTION, sortableTime } from '../keys';
import {
  cancellationReasons,
  groupBy,
  type Item,
  isRetryable,
  keyOf,
  type Member,
  type TransactItem,
} from './common';

export { RESERVATION_GRACE_MS };

export interface LedgerItem {
  capacity?: number;
  used?: number;
  [attribute: string]: unknown;
}

export interface ReservationPlan {
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

/** Reservations and ledgers in the fleet-state table. */
export class ReservationLedger {
  constructor(
    private readonly db: DocumentClient,
    private readonly table: string,
  ) {}

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

  /** Each service's room now, in these zones (one BatchGetItem of the ledgers). */
  async room(services: readonly string[], zones: readonly string[]): Promise<Map<string, BudgetRoom>> {
    const items = await this.ledgers(services);
    return new Map(
      services.map((s) => {
        const item = items.get(s);
        return [s, roomOf(item && ledgerState(item), zones)];
      }),
    );
  }

  async planReservations(
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
      const base = { service, holderKey, members: group, zones, ledger };
      if (existing.has(keyOf(keys.reservation(service, holderKey)))) {
        // A retry of the same request: the budget is already counted; keep it alive.
        plans.set(service, { ...base, existing: true, transferred: new Map(), transferredIds: new Set() });
        continue;
      }
      const check = checkReservation(service, ledgerState(ledger), group);
      if (!check.room) {
        conflicts.push(...check.conflicts);
        continue;
      }
      const { transferred, transferredIds } = check.counts;
      plans.set(service, { ...base, existing: false, transferred, transferredIds });
    }
    return plans;
  }

  ledgerIncrement(r: ReservationPlan): TransactItem {
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

  reservationPut(r: ReservationPlan, request: LeaseRequest, until: number): TransactItem {
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

  reservationExtend(r: ReservationPlan, until: number, now: number): TransactItem {
    const key = keys.reservation(r.service, r.holderKey);
    return { Update: { TableName: this.table, Key: key, ...extendExpression(key, until, now) } };
  }

  async extendReservation(reservation: Item, until: number, now: number): Promise<boolean> {
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

  async reservationsOf(owner: string): Promise<Item[]> {
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
  async returnReservations(
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
