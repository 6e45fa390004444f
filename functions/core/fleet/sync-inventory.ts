/**
 * Inventory sync: EC2 into the fleet-state table, findings for what changed, ledgers reconciled.
 */
import type { Finding } from '../events/findings';
import { findingsFor } from '../events/findings';
import type { Ec2Inventory } from '../ports/ec2-inventory';
import type { InventoryStore } from '../ports/inventory-store';
import type { LeaseView } from '../ports/lease-view';
import type { Instance } from './fleet';
import { diffInventory, ledgerObservations } from './inventory';
import { serviceCatalog } from './services';

export type { Ec2Inventory, ObservedInstance } from '../ports/ec2-inventory';
export type { InventoryStore } from '../ports/inventory-store';
export type { LeaseView } from '../ports/lease-view';

export interface SyncReport {
  readonly observed: number;
  readonly written: number;
  readonly terminated: number;
  readonly unchanged: number;
  /** Findings recorded for the first time by this sync. */
  readonly findings: readonly Finding[];
  /** Ledgers that had to be written (the others already agreed with the fleet). */
  readonly ledgers: number;
  readonly reclaimedReservations: number;
}

/**
 * Reconciles EC2 into the fleet-state table (the inventory-sync handler and
 * `fleetops inventory sync` both run this).
 *
 * 1. Read the managed instances from EC2 and the instances the table holds.
 * 2. Write only what changed; mark instances EC2 no longer reports as terminated.
 * 3. Record findings for newly impaired instances and scheduled events (once each).
 * 4. Return the budget of crashed holders, then set every service's ledger from the fleet.
 * 5. Audit what the sync did.
 */
export async function syncInventory(deps: {
  ec2: Ec2Inventory;
  store: InventoryStore;
  leases: LeaseView;
  now: number;
  actor: string;
}): Promise<SyncReport> {
  const { ec2, store, leases, now, actor } = deps;
  const [observed, known] = await Promise.all([ec2.listManagedInstances(), store.listInstances()]);
  const diff = diffInventory(
    observed.map((o) => o.instance),
    known,
  );
  // Findings first: if the sync dies after them, the next one records the same (idempotent)
  // findings again; had it died after writing the instances, a transition could be lost.
  const knownById = new Map(known.map((i) => [i.id, i]));
  const seenAt = new Date(now).toISOString();
  const candidates = observed.flatMap((o) => findingsFor(o, knownById.get(o.instance.id), seenAt));
  const findings = await store.recordFindings(candidates, now);
  const written = await store.putInstances([...diff.changed, ...diff.vanished], now);

  const current = [...observed.map((o) => o.instance), ...diff.vanished];
  const { reclaimedReservations, ledgers } = await reconcileLedgers({ store, leases, now }, current);

  const report: SyncReport = {
    observed: observed.length,
    written,
    terminated: diff.vanished.length,
    unchanged: diff.unchanged,
    findings,
    ledgers,
    reclaimedReservations,
  };
  await store.audit([
    {
      subject: 'inventory',
      actor,
      action: 'inventory.synced',
      reason: `${report.observed} observed, ${diff.changed.length} changed, ${report.terminated} terminated, ${findings.length} new findings`,
      at: seenAt,
      details: { ...report, findings: findings.length },
    },
  ]);
  return report;
}

/**
 * Brings every service's ledger in line with the fleet: first returns the budget of holders
 * whose reservations expired, then sets capacity and observed unavailability per service.
 */
export async function reconcileLedgers(
  deps: { store: Pick<InventoryStore, 'getServices' | 'reconcileLedgers'>; leases: LeaseView; now: number },
  instances: readonly Instance[],
): Promise<{ reclaimedReservations: number; ledgers: number }> {
  const reclaimedReservations = await deps.leases.reclaimExpired(deps.now);
  const active = await deps.leases.activeLeases(deps.now);
  // Only leases covered by a reservation are counted there; an unavailable instance under a
  // non-disruptive lease still counts as observed.
  const observations = ledgerObservations(
    instances,
    serviceCatalog(await deps.store.getServices()),
    new Set(active.filter((l) => l.reserved).map((l) => l.instanceId)),
  );
  const ledgers = await deps.store.reconcileLedgers(observations);
  return { reclaimedReservations, ledgers };
}
