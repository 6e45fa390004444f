/** The DynamoDB lease store: leases, budget reservations and fenced action records (LeaseStore). */
import { createHash } from 'node:crypto';
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { type Instance, isUnavailable } from '../core/fleet/fleet';
import type { LeaseView } from '../core/fleet/sync-inventory';
import type { Lease, LeaseOutcome, LeaseRequest, LeaseStore, RecordedAction } from '../core/ports/index';
import { type BudgetRoom, CAP_REACHED, NO_ROOM } from '../core/safety/ledger';
import { batchGetAll, type DocumentClient, mapLimit, queryAll } from './dynamo-client';
import { indexKeys, keys } from './keys';
import {
  cancellationReasons,
  chunkKeepingPairs,
  groupBy,
  type Item,
  instanceIdsOf,
  keyOf,
  MAX_TRANSACTION_ITEMS,
  type Member,
  type TransactItem,
} from './lease-store/common';
import { InFlightSlots } from './lease-store/in-flight';
import { LeaseRecords, toLease } from './lease-store/leases';
import { type LedgerItem, ReservationLedger, type ReservationPlan } from './lease-store/reservations';

export { RESERVATION_GRACE_MS } from './lease-store/reservations';

/** What a transaction item was about, to explain a failure and to undo what succeeded. */
interface ItemTag {
  readonly kind: 'lease' | 'ledger' | 'reservation' | 'reservation-extend' | 'in-flight';
  readonly id: string;
}

/**
 * Leases and the disruption ledger in the fleet-state table (the protocol is in docs/store.md).
 * This class is the protocol (acquire all or nothing, renew, release, undo); the lease items and
 * action records are in lease-store/leases.ts, the reservations and ledger writes in
 * lease-store/reservations.ts.
 *
 * A lease (`INSTANCE#<id>` / `LEASE`) has an owner, an expiry and a fencing token that grows
 * on every acquisition. A reservation (`SERVICE#<svc>` / `RESERVATION#<owner>#<request>`)
 * holds part of a service's budget for named instances; the service's ledger
 * (`SERVICE#<svc>` / `LEDGER`) keeps `used` ≤ `capacity`, overall and per zone, with conditional
 * updates, so concurrent holders can never overspend it together.
 */
export class DynamoLeaseStore implements LeaseStore, LeaseView {
  private readonly records: LeaseRecords;
  private readonly budget: ReservationLedger;
  private readonly slots: InFlightSlots;

  constructor(
    private readonly db: DocumentClient,
    private readonly table: string,
  ) {
    this.records = new LeaseRecords(db, table);
    this.budget = new ReservationLedger(db, table);
    this.slots = new InFlightSlots(db, table);
  }

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
        // Out of service as the sweep saw it: traffic and the Auto Scaling group included.
        down: isUnavailable({
          state: meta.state as Instance['state'],
          health: meta.health as Instance['health'],
          ...(meta.asg ? { asg: meta.asg as Instance['asg'] } : {}),
          ...(meta.targets ? { targets: meta.targets as Instance['targets'] } : {}),
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
    const reservations = await this.budget.planReservations(
      request,
      members,
      `${request.owner}#${requestKey}`,
      conflicts,
    );
    if (conflicts.length > 0) return refused(NO_ROOM, conflicts);

    // In-flight caps: a slot per scope, in the lease's own transaction (one instance, so one).
    const caps = request.caps ?? [];
    if (caps.length > 0 && members.length !== 1)
      throw new Error('in-flight caps are taken for one instance at a time');
    const slots =
      caps.length > 0 ? await this.slots.plan(request.owner, members[0].id, caps, request.now) : undefined;
    if (slots && slots.conflicts.length > 0) return refused(CAP_REACHED, slots.conflicts);

    // The transaction items, a service's budget before its leases.
    const tagged: Array<{ item: TransactItem; tag: ItemTag; pairWithNext?: boolean }> = [];
    for (const s of slots?.items ?? [])
      tagged.push({ item: s.item, tag: { kind: 'in-flight', id: s.scope }, pairWithNext: true });
    const leases: Lease[] = [];
    const byService = groupBy(members, (i) => i.service);
    for (const service of [...byService.keys()].sort()) {
      const reservation = reservations.get(service);
      if (reservation?.existing) {
        tagged.push({
          item: this.budget.reservationExtend(reservation, until, request.now),
          tag: { kind: 'reservation-extend', id: service },
        });
      } else if (reservation) {
        tagged.push({
          item: this.budget.ledgerIncrement(reservation),
          tag: { kind: 'ledger', id: service },
          pairWithNext: true,
        });
        tagged.push({
          item: this.budget.reservationPut(reservation, request, until),
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
          ...(caps.length > 0 ? { caps: caps.map((c) => c.scope) } : {}),
        };
        tagged.push({
          item: this.records.leaseUpdate(instance, lease, previous, reservation?.holderKey, request.now),
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
                : tag.kind === 'in-flight'
                  ? `in-flight cap: ${tag.id} filled meanwhile (${reasonOf(reasons, chunk, tag)})`
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
      const covering = (await this.budget.reservationsOf(owner)).filter((r) =>
        instanceIdsOf(r).some((id) => ids.has(id)),
      );
      const lost = new Set<string>();
      const extended: Item[] = [];
      for (const reservation of covering) {
        const ok = await this.budget.extendReservation(reservation, until, now);
        if (ok) extended.push(reservation);
        else for (const id of instanceIdsOf(reservation)) lost.add(id);
      }
      const results = await mapLimit(
        owned.filter((l) => !lost.has(l.instanceId)),
        16,
        (lease) => this.records.renewLease(lease, until, now),
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
      await this.budget.returnReservations(orphaned, { owner });
    }
    return renewed;
  }

  /**
   * Records that an action was applied to an instance, fenced by its lease: only the current
   * owner at the current token, before the lease expires, may write, and only once per
   * instance per change (`duplicate` tells a retried step that the action was already applied).
   */
  recordAction(
    lease: Lease,
    changeId: string,
    result: Record<string, unknown>,
    now: number,
  ): Promise<'recorded' | 'duplicate' | 'fenced'> {
    return this.records.recordAction(lease, changeId, result, now);
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
    const mine = leases.filter((l) => l.owner === owner);
    await this.records.releaseLeases(mine);
    for (const l of mine)
      if (l.caps && l.caps.length > 0) await this.slots.release(owner, l.instanceId, l.caps);
    const reservations = await this.budget.reservationsOf(owner);
    const ids = reservations.flatMap(instanceIdsOf);
    const stillHeld = new Set<string>();
    const current = await this.batchGet(ids.map((id) => keys.lease(id)));
    for (const id of ids) {
      if (current.get(keyOf(keys.lease(id)))?.owner === owner) stillHeld.add(id);
    }
    const free = reservations.filter((r) => !instanceIdsOf(r).some((id) => stillHeld.has(id)));
    await this.budget.returnReservations(free, { owner, stillUnavailable });
  }

  /** Releases everything an owner holds (abort, cleanup after a crash). */
  async releaseAll(owner: string, stillUnavailable?: ReadonlySet<string>): Promise<number> {
    const byIndex = await this.queryAll({
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :owner AND begins_with(gsi1sk, :lease)',
      ExpressionAttributeValues: { ':owner': indexKeys.owner(owner), ':lease': indexKeys.ownerLeases },
    });
    // The index may lag: also take the instances the owner's reservations name, read consistently.
    const named = (await this.budget.reservationsOf(owner)).flatMap(instanceIdsOf);
    const ids = [...new Set([...byIndex.map((i) => String(i.instanceId)), ...named])];
    const current = await this.batchGet(ids.map((id) => keys.lease(id)));
    const leases = ids
      .map((id) => current.get(keyOf(keys.lease(id))))
      .filter((item): item is Item => item?.owner === owner)
      .map(toLease);
    await this.release(owner, leases, stillUnavailable);
    // Its in-flight slots too, even those whose lease was lost meanwhile (expired, taken over).
    await this.slots.releaseOwner(owner);
    return leases.length;
  }

  /** The live leases an owner holds on these instances (read consistently). */
  heldBy(owner: string, instanceIds: readonly string[], now: number): Promise<Lease[]> {
    return this.records.heldBy(owner, instanceIds, now);
  }

  /** Every action recorded for a change (the change's index entries: one Query, paged). */
  actionsOf(changeId: string): Promise<RecordedAction[]> {
    return this.records.actionsOf(changeId);
  }

  /** Every lease whose expiry has not passed (for fleet status, live plans and the ledger). */
  activeLeases(now: number): Promise<Lease[]> {
    return this.records.activeLeases(now);
  }

  /**
   * Returns the budget of holders that crashed: every reservation whose expiry has passed is
   * deleted and its counts taken off the ledger, in one transaction each (so twice is
   * harmless). Returns how many were returned.
   */
  async reclaimExpired(now: number): Promise<number> {
    const reservations = await this.budget.reclaimExpired(now);
    await this.slots.reclaim(now);
    return reservations;
  }

  /** Each scope's holders in flight, as counted (a crashed holder's slot counts until reclaimed). */
  inFlight(scopes: readonly string[], _now: number): Promise<Map<string, number>> {
    return this.slots.counts(scopes);
  }

  /** The ledger of a service, for status and tests. */
  ledger(service: string): Promise<LedgerItem | undefined> {
    return this.budget.ledger(service);
  }

  room(services: readonly string[], zones: readonly string[]): Promise<Map<string, BudgetRoom>> {
    return this.budget.room(services, zones);
  }

  /** The ledgers of several services in one read (BatchGetItem), by service. */
  ledgers(services: readonly string[]): Promise<Map<string, LedgerItem>> {
    return this.budget.ledgers(services);
  }

  // ── internals ──────────────────────────────────────────────────────────────

  private async undo(
    done: ReadonlyArray<{ tag: ItemTag }>,
    leases: readonly Lease[],
    reservations: ReadonlyMap<string, ReservationPlan>,
  ): Promise<void> {
    const leased = new Set(done.filter((d) => d.tag.kind === 'lease').map((d) => d.tag.id));
    await this.records.releaseLeases(leases.filter((l) => leased.has(l.instanceId)));
    const reserved = done.filter((d) => d.tag.kind === 'reservation').map((d) => reservations.get(d.tag.id)!);
    const items = await this.batchGet(reserved.map((r) => keys.reservation(r.service, r.holderKey)));
    await this.budget.returnReservations([...items.values()]);
  }

  private batchGet(keyList: ReadonlyArray<{ pk: string; sk: string }>): Promise<Map<string, Item>> {
    return batchGetAll(this.db, this.table, keyList);
  }

  private queryAll(input: Parameters<typeof queryAll>[2]): Promise<Item[]> {
    return queryAll(this.db, this.table, input);
  }
}

function refused(reason: string, conflicts: Array<{ id: string; reason: string }>): LeaseOutcome {
  return { acquired: false, reason, conflicts };
}

function reasonOf(
  reasons: ReadonlyArray<string | undefined>,
  chunk: ReadonlyArray<{ tag: ItemTag }>,
  tag: ItemTag,
): string {
  return reasons[chunk.findIndex((c) => c.tag === tag)] ?? 'cancelled';
}
