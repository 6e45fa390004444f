/**
 * Inventory sync: EC2 into the fleet-state table (with each instance's Auto Scaling group and
 * target health when the traffic ports are given), findings for what changed, expired
 * reservations and abandoned traffic exits brought back, ledgers reconciled.
 */

import type { Finding } from '../events/findings';
import { findingsFor } from '../events/findings';
import type { AutoScalingPort } from '../ports/autoscaling';
import type { Ec2Port } from '../ports/ec2';
import type { Ec2Inventory } from '../ports/ec2-inventory';
import type { InventoryStore } from '../ports/inventory-store';
import type { LeaseView } from '../ports/lease-view';
import type { Notifier } from '../ports/notifier';
import type { TrafficExits, TrafficPort } from '../ports/traffic';
import { isHealthFinding, populationOf } from '../remediation/scope-health';
import { restoreAbandoned } from '../traffic/protocol';
import type { Instance } from './fleet';
import { diffInventory, ledgerObservations } from './inventory';
import { applyPlacement, groupNamesOf } from './placement';
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
  /** Instances an owner left out of traffic (its lease gone) that this sweep brought back. */
  readonly trafficRestored: number;
  /** Such instances that cannot be brought back yet (kept, retried next sweep, paged once). */
  readonly trafficStuck: number;
}

/**
 * What the sweep reads of traffic and Auto Scaling, and what it needs to bring abandoned exits
 * back (functions/app/ports.ts `inventoryPorts()` returns them under these names). Each is
 * optional: without `traffic` / `autoscaling` the instances carry no `targets` / `asg`; without
 * all of `traffic`, `autoscaling`, `exits` and `ec2Actions` no exit is restored.
 */
export interface SyncTrafficDeps {
  readonly traffic?: TrafficPort;
  readonly autoscaling?: AutoScalingPort;
  readonly exits?: TrafficExits;
  /** Starts an instance a stop-start left stopped when its owner let go (restore). */
  readonly ec2Actions?: Pick<Ec2Port, 'conditions' | 'start'>;
  /** Pages once per instance left stuck out of traffic. */
  readonly notify?: Notifier;
}

/**
 * Reconciles EC2 into the fleet-state table (the inventory-sync handler and
 * `fleetops inventory sync` both run this).
 *
 * 1. Read the managed instances from EC2, the instances the table holds and (with `traffic`)
 *    the managed target groups, at once; then (with `autoscaling`) the groups the instances'
 *    tags name; each instance gets its `asg` and `targets` (placement.ts; an instance a traffic
 *    exit says was deregistered is `Target.NotRegistered` where its target group no longer lists it).
 * 2. Write only what changed (target health included, compared canonically); mark instances EC2
 *    no longer reports as terminated.
 * 3. Record findings for newly impaired instances and scheduled events (once each).
 * 4. Return the budget of crashed holders, bring back into traffic what owners without a lease
 *    left out (restoreAbandoned), then set every service's ledger from the fleet (unavailable:
 *    out of service, fleet.ts `isUnavailable`).
 * 5. Audit what the sync did.
 */
export async function syncInventory(
  deps: {
    ec2: Ec2Inventory;
    store: InventoryStore;
    leases: LeaseView;
    now: number;
    actor: string;
  } & SyncTrafficDeps,
): Promise<SyncReport> {
  const { ec2, store, leases, now, actor } = deps;
  const [listed, known, managed, exits] = await Promise.all([
    ec2.listManagedInstances(),
    store.listInstances(),
    deps.traffic?.listManaged(),
    deps.traffic && deps.exits ? deps.exits.all() : undefined,
  ]);
  const names = deps.autoscaling ? groupNamesOf(listed.map((o) => o.instance)) : [];
  const groups = deps.autoscaling && names.length > 0 ? await deps.autoscaling.describeGroups(names) : [];
  const placed =
    deps.traffic || deps.autoscaling
      ? applyPlacement(
          listed.map((o) => o.instance),
          {
            ...(deps.autoscaling ? { groups } : {}),
            ...(managed ? { managed } : {}),
            ...(exits ? { exits } : {}),
          },
        )
      : undefined;
  const observed = placed ? listed.map((o, k) => ({ ...o, instance: placed[k] })) : listed;
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
  // The breaker's counts per scope, so a decision reads three items rather than the fleet.
  const flaggedIds = new Set(
    (await store.openFindings()).filter((f) => isHealthFinding(f.kind)).map((f) => f.instanceId),
  );
  await store.putPopulation(populationOf(current, flaggedIds));
  const { reclaimedReservations, ledgers, trafficRestored, trafficStuck } = await reconcileLedgers(
    { store, leases, now, restore: restoreDeps(deps) },
    current,
  );

  const report: SyncReport = {
    observed: observed.length,
    written,
    terminated: diff.vanished.length,
    unchanged: diff.unchanged,
    findings,
    ledgers,
    reclaimedReservations,
    trafficRestored,
    trafficStuck,
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

/** The traffic deps among a composition root's ports (those present: `notify` may not be). */
export function trafficDepsOf(ports: SyncTrafficDeps): SyncTrafficDeps {
  const { traffic, autoscaling, exits, ec2Actions, notify } = ports;
  return {
    ...(traffic ? { traffic } : {}),
    ...(autoscaling ? { autoscaling } : {}),
    ...(exits ? { exits } : {}),
    ...(ec2Actions ? { ec2Actions } : {}),
    ...(notify ? { notify } : {}),
  };
}

/** What restoreAbandoned needs, when the sweep was given all of it. */
interface RestoreDeps {
  readonly traffic: TrafficPort;
  readonly autoscaling: AutoScalingPort;
  readonly exits: TrafficExits;
  readonly ec2: Pick<Ec2Port, 'conditions' | 'start'>;
  readonly audit: InventoryStore;
  readonly notify?: Notifier;
  readonly actor: string;
}

function restoreDeps(
  deps: SyncTrafficDeps & { store: InventoryStore; actor: string },
): RestoreDeps | undefined {
  const { traffic, autoscaling, exits, ec2Actions, notify, store, actor } = deps;
  if (!traffic || !autoscaling || !exits || !ec2Actions) return undefined;
  return { traffic, autoscaling, exits, ec2: ec2Actions, audit: store, actor, ...(notify ? { notify } : {}) };
}

/**
 * Brings every service's ledger in line with the fleet: first returns the budget of holders
 * whose reservations expired, then (given `restore`) brings back into traffic the instances
 * whose owner no longer holds them (a dead owner's exits: its lease just expired or was
 * reclaimed), then sets capacity and observed unavailability per service.
 */
export async function reconcileLedgers(
  deps: {
    store: Pick<InventoryStore, 'getServices' | 'reconcileLedgers'>;
    leases: LeaseView;
    now: number;
    restore?: RestoreDeps;
  },
  instances: readonly Instance[],
): Promise<{
  reclaimedReservations: number;
  ledgers: number;
  trafficRestored: number;
  trafficStuck: number;
}> {
  const reclaimedReservations = await deps.leases.reclaimExpired(deps.now);
  const traffic = deps.restore
    ? await restoreAbandoned({ ...deps.restore, leases: deps.leases, now: () => deps.now })
    : { restored: 0, stuck: 0 };
  const active = await deps.leases.activeLeases(deps.now);
  // Only leases covered by a reservation are counted there; an unavailable instance under a
  // non-disruptive lease still counts as observed.
  const observations = ledgerObservations(
    instances,
    serviceCatalog(await deps.store.getServices()),
    new Set(active.filter((l) => l.reserved).map((l) => l.instanceId)),
  );
  const ledgers = await deps.store.reconcileLedgers(observations);
  return { reclaimedReservations, ledgers, trafficRestored: traffic.restored, trafficStuck: traffic.stuck };
}
