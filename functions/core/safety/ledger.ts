/**
 * The disruption ledger's arithmetic: whether a holder may reserve budget for some instances of
 * one service, and what the reservation counts. Both lease stores (DynamoDB and in memory) ask
 * it, and keep only persistence (reads, conditional writes, fencing); the protocol is in
 * docs/store.md.
 *
 * Per service, overall and per zone, `used` = `observed` (unavailable instances no reservation
 * covers) + members of live reservations, and a reservation may only keep `used` ≤ `capacity`.
 * An instance already unavailable (counted as observed) moves from `observed` into the
 * reservation instead of being counted twice: it costs no new budget.
 */

/**
 * A reservation outlives its leases by this much, so the reclaimer can never return a budget
 * while a lease it covers is still live (not even one renewed a moment before expiring).
 */
export const RESERVATION_GRACE_MS = 60_000;

/** A ledger's counts, overall or of one zone; no `capacity`: the ledger does not know it yet. */
export interface LedgerCounts {
  readonly capacity?: number;
  readonly used: number;
  readonly observed: number;
}

/** A service's ledger: its overall counts, and each zone's (undefined: a zone it does not know). */
export interface LedgerState extends LedgerCounts {
  zone(name: string): LedgerCounts | undefined;
}

/** An instance to reserve budget for. */
export interface ReservationMember {
  readonly id: string;
  readonly zone: string;
  /** Unavailable, and so counted as observed as far as the store knows: it may move into the reservation. */
  readonly down: boolean;
}

export interface LedgerConflict {
  readonly id: string;
  readonly reason: string;
}

/** What a reservation counts, once the ledger has room for it. */
export interface ReservationCounts {
  /** Members per zone, in the order the members name them. */
  readonly zones: ReadonlyMap<string, number>;
  /** Members moved from `observed` into the reservation, per zone. */
  readonly transferred: ReadonlyMap<string, number>;
  readonly transferredIds: ReadonlySet<string>;
  /** What `used` grows by overall: the members not transferred. */
  readonly added: number;
}

export type ReservationCheck =
  | { readonly room: true; readonly counts: ReservationCounts }
  | { readonly room: false; readonly conflicts: readonly LedgerConflict[] };

/** The outcome's reason when a ledger refused (the conflicts say which and why). */
export const NO_ROOM = 'a disruption budget has no room';

/** The outcome's reason when an in-flight cap refused (the conflicts say which scope and how full). */
export const CAP_REACHED = 'an in-flight cap is reached';

/** A conflict's words for a full in-flight cap (its id: `in-flight:<scope>`). */
export const capConflict = (scope: string, n: number, max: number) => ({
  id: `in-flight:${scope}`,
  reason: `in-flight cap: ${scope} has ${n} of at most ${max} remediations in flight`,
});

const noLedger = (scope: string): LedgerConflict => ({
  id: scope,
  reason: `budget:${scope} has no ledger yet (run an inventory sync)`,
});

const exhausted = (scope: string, used: number, capacity: number, requested: number): LedgerConflict => ({
  id: scope,
  reason: `budget:${scope} exhausted: ${used} of ${capacity} in use, ${requested} requested`,
});

/**
 * Whether the service's ledger has room for a new reservation of these members (of that
 * service, each once), and what it counts:
 * 1. no ledger (no capacity): refused, fail closed;
 * 2. members `down` move from `observed` into the reservation, as long as the ledger still counts
 *    that many observed overall and in their zone (the others each cost one);
 * 3. overall: `used` + the others must stay within `capacity` (refused with that one conflict);
 * 4. per zone: a zone the ledger does not know has no budget (fail closed); a zone whose
 *    members cost anything must keep its `used` within its `capacity`.
 */
export function checkReservation(
  service: string,
  ledger: LedgerState | undefined,
  members: readonly ReservationMember[],
): ReservationCheck {
  if (ledger?.capacity === undefined) return { room: false, conflicts: [noLedger(service)] };
  const zones = new Map<string, number>();
  const transferred = new Map<string, number>();
  const transferredIds = new Set<string>();
  let observedLeft = ledger.observed;
  for (const m of members) {
    zones.set(m.zone, (zones.get(m.zone) ?? 0) + 1);
    const movedHere = transferred.get(m.zone) ?? 0;
    if (!m.down || observedLeft <= 0 || movedHere >= (ledger.zone(m.zone)?.observed ?? 0)) continue;
    transferred.set(m.zone, movedHere + 1);
    transferredIds.add(m.id);
    observedLeft--;
  }
  const added = members.length - transferredIds.size;
  if (ledger.used + added > ledger.capacity) {
    return { room: false, conflicts: [exhausted(service, ledger.used, ledger.capacity, added)] };
  }
  const conflicts: LedgerConflict[] = [];
  for (const [zone, total] of zones) {
    const scope = `${service}@${zone}`;
    const z = ledger.zone(zone);
    const n = total - (transferred.get(zone) ?? 0);
    if (z?.capacity === undefined) conflicts.push(noLedger(scope));
    else if (n > 0 && z.used + n > z.capacity) conflicts.push(exhausted(scope, z.used, z.capacity, n));
  }
  if (conflicts.length > 0) return { room: false, conflicts };
  return { room: true, counts: { zones, transferred, transferredIds, added } };
}

/**
 * What a new reservation may still add to a service's budget now, overall and in each of the
 * given zones (`capacity` − `used`, never below 0; no ledger, or a zone it does not know: 0, as
 * {@link checkReservation} fails closed). The live waves size themselves from it.
 */
export interface BudgetRoom {
  readonly overall: number;
  readonly zones: ReadonlyMap<string, number>;
}

export function roomOf(ledger: LedgerState | undefined, zones: readonly string[]): BudgetRoom {
  const left = (c: LedgerCounts | undefined) =>
    c?.capacity === undefined ? 0 : Math.max(0, c.capacity - c.used);
  return {
    overall: ledger ? left(ledger) : 0,
    zones: new Map(zones.map((z) => [z, ledger ? left(ledger.zone(z)) : 0])),
  };
}
