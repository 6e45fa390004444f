/**
 * The in-memory lease store: leases, the disruption ledger and fenced action records (LeaseStore),
 * for the simulator.
 */
import type { LedgerObservation } from '../../functions/core/fleet/inventory';
import type { LeaseView } from '../../functions/core/fleet/sync-inventory';
import type {
  Lease,
  LeaseOutcome,
  LeaseRequest,
  LeaseStore,
  RecordedAction,
} from '../../functions/core/ports/index';
import {
  type BudgetRoom,
  CAP_REACHED,
  capConflict,
  checkReservation,
  type LedgerConflict,
  type LedgerState,
  NO_ROOM,
  RESERVATION_GRACE_MS,
  roomOf,
} from '../../functions/core/safety/ledger';
import { inventoryDown, type SimWorld, type Slot } from '../world/sim-world';
import { digest } from './common';

/**
 * Deliberate defects, to prove the invariant checks catch what they claim to catch:
 * - `ignore-budgets`: grants leases without looking at the ledger;
 * - `ignore-leases`: grants leases over other owners' live leases;
 * - `no-fencing`: records every action, never answering `duplicate` or `fenced`.
 */
export const LEASE_STORE_DEFECTS = ['ignore-budgets', 'ignore-leases', 'no-fencing', 'ignore-caps'] as const;
export type LeaseStoreDefect = (typeof LEASE_STORE_DEFECTS)[number];

interface LeaseRecord {
  owner: string | undefined;
  token: number;
  until: number;
  reserved: boolean;
}

interface Reservation {
  readonly key: string;
  readonly owner: string;
  readonly service: string;
  readonly members: readonly string[];
  until: number;
}

interface LedgerCount {
  /** The declared budget over the population as the last sweep saw it ({@link reconcileCapacities}). */
  capacity: number;
  /** Unavailable instances no live reservation covers. */
  observed: number;
  /** Members of live reservations. `used` = observed + reserved. */
  reserved: number;
}

interface Ledger extends LedgerCount {
  readonly zones: Map<string, LedgerCount>;
}

/**
 * Leases and the disruption ledger in memory, with the DynamoDB store's protocol (docs/store.md):
 * per service, overall and per zone, `used` = `observed` + members of live reservations and a
 * holder may reserve only while `used` stays within `capacity`; an instance already unavailable
 * moves from `observed` into the reservation instead of being counted twice; a reservation is
 * returned once its owner holds none of its instances; a lease has an owner, an expiry and a
 * fencing token that grows on every acquisition.
 *
 * One difference, on purpose: the simulated inventory is the account itself (an instant sweep),
 * so `observed` is always exact and an instance released as still unavailable keeps counting for
 * exactly as long as it is unavailable (the caller's `stillUnavailable` is what the next sync
 * would confirm).
 */
export class MemoryLeaseStore implements LeaseStore, LeaseView {
  private readonly leases = new Map<string, LeaseRecord>();
  /** Instances whose lease names the owner (live or expired, like the owner index). */
  private readonly byOwner = new Map<string, Set<string>>();
  private readonly reservations = new Map<string, Reservation>();
  private readonly reservationsByOwner = new Map<string, Set<string>>();
  /** Live reservations covering each instance. */
  private readonly covering = new Map<string, number>();
  private readonly ledgers = new Map<string, Ledger>();
  private readonly actions = new Map<string, RecordedAction[]>();
  private readonly recorded = new Set<string>();
  /** Per in-flight scope, its holders: owner → the instance its lease is on. */
  private readonly capHolders = new Map<string, Map<string, string>>();
  /** Per owner, the scopes of its caps in the order its request named them. */
  private readonly ownerCaps = new Map<string, string[]>();

  constructor(
    private readonly world: SimWorld,
    observations: readonly LedgerObservation[],
    private readonly defect?: LeaseStoreDefect,
  ) {
    for (const o of observations) {
      const zones = new Map<string, LedgerCount>();
      for (const [zone, z] of o.zones)
        zones.set(zone, { capacity: z.capacity, observed: z.observed, reserved: 0 });
      this.ledgers.set(o.service, { capacity: o.capacity, observed: o.observed, reserved: 0, zones });
    }
    world.listen({
      changed: (slot, was) => {
        const delta = Number(inventoryDown(slot.instance)) - Number(was.inventoryDown);
        if (delta !== 0 && !this.covering.get(slot.instance.id)) this.observe(slot, delta);
      },
      added: (slot) => {
        if (inventoryDown(slot.instance)) this.observe(slot, 1);
      },
    });
  }

  /** All or nothing: every lease and every budget, or nothing held (and the conflicts, in words). */
  async acquire(request: LeaseRequest): Promise<LeaseOutcome> {
    const ids = [...new Set(request.instanceIds)].sort();
    if (ids.length === 0) return { acquired: true, leases: [] };
    const until = request.now + request.ttlMs;
    const conflicts: Array<{ id: string; reason: string }> = [];
    const members: Slot[] = [];
    for (const id of ids) {
      const slot = this.world.slot(id);
      if (!slot) {
        conflicts.push({ id, reason: 'not in the fleet inventory' });
        continue;
      }
      if (slot.instance.state === 'terminated') {
        conflicts.push({ id, reason: 'terminated' });
        continue;
      }
      members.push(slot);
      const lease = this.leases.get(id);
      if (
        this.defect !== 'ignore-leases' &&
        lease?.owner !== undefined &&
        lease.owner !== request.owner &&
        // Held through `until` itself (it is taken over only after it), as the DynamoDB store's
        // conditional write says.
        lease.until >= request.now
      ) {
        conflicts.push({
          id,
          reason: `held by ${lease.owner} until ${new Date(lease.until).toISOString()}`,
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

    const holderKey = `${request.owner}#${digest(ids)}`;
    const byService = new Map<string, Slot[]>();
    for (const m of members) {
      if (request.nonDisruptiveServices.has(m.instance.service)) continue;
      const group = byService.get(m.instance.service);
      if (group) group.push(m);
      else byService.set(m.instance.service, [m]);
    }
    const fresh: Array<{ service: string; group: Slot[] }> = [];
    const extended: Reservation[] = [];
    for (const [service, group] of byService) {
      const existing = this.reservations.get(`${service}|${holderKey}`);
      if (existing) {
        // A retry of the same request: the budget is already counted; keep it alive.
        extended.push(existing);
        continue;
      }
      const problem = this.defect === 'ignore-budgets' ? undefined : this.noRoom(service, group);
      if (problem) conflicts.push(...problem);
      else fresh.push({ service, group });
    }
    if (conflicts.length > 0) return refused(NO_ROOM, conflicts);
    // In-flight caps: one slot per scope, unless this owner holds it already (a retry).
    const caps = request.caps ?? [];
    if (caps.length > 0 && ids.length !== 1)
      throw new Error('in-flight caps are taken for one instance at a time');
    for (const cap of caps) {
      if (this.defect === 'ignore-caps' || this.capHolders.get(cap.scope)?.has(request.owner)) continue;
      const n = this.countInFlight(cap.scope, request.now);
      if (n >= cap.max) conflicts.push(capConflict(cap.scope, n, cap.max));
    }
    if (conflicts.length > 0) return refused(CAP_REACHED, conflicts);
    for (const cap of caps) {
      const holders = this.capHolders.get(cap.scope) ?? new Map<string, string>();
      this.capHolders.set(cap.scope, holders);
      holders.set(request.owner, ids[0]);
    }
    if (caps.length > 0)
      this.ownerCaps.set(
        request.owner,
        caps.map((c) => c.scope),
      );

    for (const r of extended) r.until = until + RESERVATION_GRACE_MS;
    for (const { service, group } of fresh) this.reserve(service, group, request.owner, holderKey, until);
    const leases: Lease[] = [];
    for (const m of members) {
      const id = m.instance.id;
      const previous = this.leases.get(id);
      const lease: Lease = {
        instanceId: id,
        owner: request.owner,
        token: (previous?.token ?? 0) + 1,
        until,
        reserved: byService.has(m.instance.service),
        ...(caps.length > 0 ? { caps: caps.map((c) => c.scope) } : {}),
      };
      if (previous?.owner !== undefined) this.byOwner.get(previous.owner)?.delete(id);
      this.leases.set(id, {
        owner: lease.owner,
        token: lease.token,
        until,
        reserved: lease.reserved === true,
      });
      this.ownerSet(this.byOwner, request.owner).add(id);
      leases.push(lease);
    }
    return { acquired: true, leases };
  }

  async renew(leases: readonly Lease[], ttlMs: number, now: number): Promise<Lease[]> {
    const until = now + ttlMs;
    const renewed: Lease[] = [];
    for (const lease of leases) {
      const current = this.leases.get(lease.instanceId);
      if (current?.owner !== lease.owner || current.token !== lease.token || current.until < now) continue;
      current.until = until;
      renewed.push({ ...lease, until });
    }
    for (const owner of new Set(renewed.map((l) => l.owner))) {
      const ids = new Set(renewed.filter((l) => l.owner === owner).map((l) => l.instanceId));
      for (const key of this.reservationsByOwner.get(owner) ?? []) {
        const r = this.reservations.get(key)!;
        if (r.members.some((id) => ids.has(id))) r.until = until + RESERVATION_GRACE_MS;
      }
    }
    // As the DynamoDB store: a live reservation covering leases the owner tried to renew, of
    // whose instances it no longer holds a live lease (taken over, expired), is returned at once.
    for (const owner of new Set(leases.map((l) => l.owner))) {
      const ids = new Set(leases.filter((l) => l.owner === owner).map((l) => l.instanceId));
      for (const key of [...(this.reservationsByOwner.get(owner) ?? [])]) {
        const r = this.reservations.get(key)!;
        if (r.until < now || !r.members.some((id) => ids.has(id))) continue;
        const holds = r.members.some((id) => {
          const l = this.leases.get(id);
          return l?.owner === owner && l.until >= now;
        });
        if (!holds) this.returnReservation(r);
      }
    }
    return renewed;
  }

  async release(
    owner: string,
    leases: readonly Lease[],
    _stillUnavailable?: ReadonlySet<string>,
  ): Promise<void> {
    for (const lease of leases) {
      if (lease.owner !== owner) continue;
      const current = this.leases.get(lease.instanceId);
      if (current?.owner !== owner || current.token !== lease.token) continue;
      current.owner = undefined;
      this.byOwner.get(owner)?.delete(lease.instanceId);
    }
    for (const lease of leases) {
      if (lease.owner !== owner) continue;
      for (const scope of lease.caps ?? []) {
        const holders = this.capHolders.get(scope);
        if (holders?.get(owner) === lease.instanceId && this.leases.get(lease.instanceId)?.owner !== owner)
          holders.delete(owner);
      }
    }
    const keys = this.reservationsByOwner.get(owner);
    for (const key of [...(keys ?? [])]) {
      const r = this.reservations.get(key)!;
      if (!r.members.some((id) => this.leases.get(id)?.owner === owner)) this.returnReservation(r);
    }
  }

  async releaseAll(owner: string, stillUnavailable?: ReadonlySet<string>): Promise<number> {
    const held = [...(this.byOwner.get(owner) ?? [])].map((id) => {
      const l = this.leases.get(id)!;
      return {
        instanceId: id,
        owner,
        token: l.token,
        until: l.until,
        reserved: l.reserved,
        caps: this.capsOf(owner),
      };
    });
    await this.release(owner, held, stillUnavailable);
    // Its in-flight slots too, even those whose lease was lost meanwhile (as the DynamoDB store).
    for (const holders of this.capHolders.values()) holders.delete(owner);
    return held.length;
  }

  async recordAction(
    lease: Lease,
    changeId: string,
    result: Record<string, unknown>,
    now: number,
  ): Promise<'recorded' | 'duplicate' | 'fenced'> {
    const key = `${changeId}|${lease.instanceId}`;
    if (this.defect !== 'no-fencing') {
      const current = this.leases.get(lease.instanceId);
      if (current?.owner !== lease.owner || current.token !== lease.token || current.until < now)
        return 'fenced';
      if (this.recorded.has(key)) return 'duplicate';
    }
    this.recorded.add(key);
    const wave = typeof result.wave === 'number' ? result.wave : 0;
    this.ownerList(changeId).push({ instanceId: lease.instanceId, wave, at: now });
    return 'recorded';
  }

  async activeLeases(now: number): Promise<Lease[]> {
    const out: Lease[] = [];
    for (const [instanceId, l] of this.leases) {
      if (l.owner !== undefined && l.until > now)
        out.push({ instanceId, owner: l.owner, token: l.token, until: l.until, reserved: l.reserved });
    }
    return out;
  }

  async actionsOf(changeId: string): Promise<RecordedAction[]> {
    return [...(this.actions.get(changeId) ?? [])];
  }

  async heldBy(owner: string, instanceIds: readonly string[], now: number): Promise<Lease[]> {
    const out: Lease[] = [];
    for (const instanceId of new Set(instanceIds)) {
      const l = this.leases.get(instanceId);
      if (l?.owner === owner && l.until > now)
        out.push({
          instanceId,
          owner,
          token: l.token,
          until: l.until,
          reserved: l.reserved,
          ...(this.capsOf(owner).length > 0 ? { caps: this.capsOf(owner) } : {}),
        });
    }
    return out.sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));
  }

  async inFlight(scopes: readonly string[], now: number): Promise<Map<string, number>> {
    return new Map(scopes.map((s) => [s, this.countInFlight(s, now)]));
  }

  /**
   * Holders of a scope whose lease on their instance is live, or expired within the grace (as
   * the DynamoDB store, which frees a crashed holder's slot only when the sweep reclaims it).
   */
  private countInFlight(scope: string, now: number): number {
    let n = 0;
    for (const [owner, id] of this.capHolders.get(scope) ?? []) {
      const l = this.leases.get(id);
      if (l?.owner === owner && l.until + RESERVATION_GRACE_MS >= now) n++;
      else this.capHolders.get(scope)!.delete(owner);
    }
    return n;
  }

  private capsOf(owner: string): string[] {
    return (this.ownerCaps.get(owner) ?? []).filter((scope) => this.capHolders.get(scope)?.has(owner));
  }

  /** Returns the budget of holders whose reservations expired (the inventory sweep does this). */
  async reclaimExpired(now: number): Promise<number> {
    let n = 0;
    for (const r of [...this.reservations.values()]) {
      if (r.until < now) {
        this.returnReservation(r);
        n++;
      }
    }
    return n;
  }

  async room(services: readonly string[], zones: readonly string[]): Promise<Map<string, BudgetRoom>> {
    // A store that ignores budgets knows no limit either: it reports room for everything.
    if (this.defect === 'ignore-budgets') {
      const all = {
        overall: Number.MAX_SAFE_INTEGER,
        zones: new Map(zones.map((z) => [z, Number.MAX_SAFE_INTEGER])),
      };
      return new Map(services.map((s) => [s, all]));
    }
    return new Map(
      services.map((s) => {
        const l = this.ledgers.get(s);
        return [s, roomOf(l && ledgerState(l), zones)];
      }),
    );
  }

  /**
   * The sweep's part of reconciling ledgers when the population changed (instances launched or
   * terminated): each service's capacity, overall and per zone, from the observations; a zone new
   * to a service gets its ledger. `observed` stays as it is: here it is exact at every instant.
   */
  reconcileCapacities(observations: readonly LedgerObservation[]): void {
    for (const o of observations) {
      let ledger = this.ledgers.get(o.service);
      if (!ledger) {
        ledger = { capacity: o.capacity, observed: 0, reserved: 0, zones: new Map() };
        this.ledgers.set(o.service, ledger);
      }
      ledger.capacity = o.capacity;
      for (const [zone, z] of o.zones) {
        const count = ledger.zones.get(zone);
        if (count) count.capacity = z.capacity;
        else ledger.zones.set(zone, { capacity: z.capacity, observed: 0, reserved: 0 });
      }
    }
  }

  /** The ledger of a service as `used` / `capacity` (for reports and tests). */
  ledger(service: string): { used: number; capacity: number } | undefined {
    const l = this.ledgers.get(service);
    return l && { used: l.observed + l.reserved, capacity: l.capacity };
  }

  private noRoom(service: string, group: readonly Slot[]): readonly LedgerConflict[] | undefined {
    const ledger = this.ledgers.get(service);
    const check = checkReservation(
      service,
      ledger && ledgerState(ledger),
      group.map((m) => ({
        id: m.instance.id,
        zone: m.instance.zone,
        // Already unavailable and counted as observed: it moves into the reservation, costing nothing.
        down: inventoryDown(m.instance) && !this.covering.get(m.instance.id),
      })),
    );
    return check.room ? undefined : check.conflicts;
  }

  private reserve(service: string, group: readonly Slot[], owner: string, holderKey: string, until: number) {
    const key = `${service}|${holderKey}`;
    const r: Reservation = {
      key,
      owner,
      service,
      members: group.map((m) => m.instance.id),
      until: until + RESERVATION_GRACE_MS,
    };
    this.reservations.set(key, r);
    this.ownerSet(this.reservationsByOwner, owner).add(key);
    for (const m of group) {
      const id = m.instance.id;
      const covered = this.covering.get(id) ?? 0;
      if (covered === 0 && inventoryDown(m.instance)) this.observe(m, -1);
      this.covering.set(id, covered + 1);
      this.count(m, 'reserved', 1);
    }
  }

  private returnReservation(r: Reservation): void {
    this.reservations.delete(r.key);
    this.reservationsByOwner.get(r.owner)?.delete(r.key);
    for (const id of r.members) {
      const slot = this.world.slot(id)!;
      const covered = (this.covering.get(id) ?? 1) - 1;
      if (covered === 0) this.covering.delete(id);
      else this.covering.set(id, covered);
      this.count(slot, 'reserved', -1);
      if (covered === 0 && inventoryDown(slot.instance)) this.observe(slot, 1);
    }
  }

  private observe(slot: Slot, delta: number): void {
    this.count(slot, 'observed', delta);
  }

  private count(slot: Slot, field: 'observed' | 'reserved', delta: number): void {
    const ledger = this.ledgers.get(slot.instance.service);
    if (!ledger) return;
    ledger[field] += delta;
    const zone = ledger.zones.get(slot.instance.zone);
    if (zone) zone[field] += delta;
  }

  private ownerSet(index: Map<string, Set<string>>, owner: string): Set<string> {
    let set = index.get(owner);
    if (!set) {
      set = new Set();
      index.set(owner, set);
    }
    return set;
  }

  private ownerList(changeId: string): RecordedAction[] {
    let list = this.actions.get(changeId);
    if (!list) {
      list = [];
      this.actions.set(changeId, list);
    }
    return list;
  }
}

/** The ledger as the ledger arithmetic reads it: `used` = observed + reserved, overall and per zone. */
function ledgerState(ledger: Ledger): LedgerState {
  const counts = (c: LedgerCount) => ({
    capacity: c.capacity,
    used: c.observed + c.reserved,
    observed: c.observed,
  });
  return {
    ...counts(ledger),
    zone: (zone) => {
      const z = ledger.zones.get(zone);
      return z && counts(z);
    },
  };
}

function refused(reason: string, conflicts: Array<{ id: string; reason: string }>): LeaseOutcome {
  return { acquired: false, reason, conflicts };
}
