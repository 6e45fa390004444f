/**
 * The inventory's arithmetic: what changed between EC2 and the table, and what each service's
 * ledger should observe.
 */
import { resolveQuantity } from '../safety/quantity';
import type { Instance } from './fleet';
import { isUnavailable } from './fleet';
import type { ServiceCatalog } from './services';

export interface InventoryDiff {
  /**
   * New instances and instances whose state, health, service, zone, cell, tags, events, Auto
   * Scaling group or lifecycle, target groups or target health, root device or Spot type changed.
   */
  readonly changed: Instance[];
  /** Instances the table has as live that EC2 no longer reports: now terminated. */
  readonly vanished: Instance[];
  readonly unchanged: number;
}

/**
 * Compares what EC2 reports with what the table holds, so a sync writes only what changed.
 * EC2 forgets terminated instances about an hour after termination; an instance the table
 * still has as live but EC2 no longer reports is marked terminated.
 */
export function diffInventory(observed: readonly Instance[], known: readonly Instance[]): InventoryDiff {
  const knownById = new Map(known.map((i) => [i.id, i]));
  const seen = new Set<string>();
  const changed: Instance[] = [];
  let unchanged = 0;
  for (const instance of observed) {
    seen.add(instance.id);
    const before = knownById.get(instance.id);
    if (before && sameInstance(before, instance)) unchanged++;
    else changed.push(instance);
  }
  const vanished = known
    .filter((i) => !seen.has(i.id) && i.state !== 'terminated')
    .map((i) => ({
      ...i,
      state: 'terminated' as const,
      health: 'unknown' as const,
      scheduledEvents: undefined,
      asg: undefined,
      targets: undefined,
    }));
  return { changed, vanished, unchanged };
}

function sameInstance(a: Instance, b: Instance): boolean {
  return canonical(a) === canonical(b);
}

/**
 * One string per instance for what the table keeps of it, independent of the order EC2, ELB or
 * the table list things in (tags, events, target groups) and of absent versus empty fields, so a
 * sweep over an unchanged fleet writes nothing; a change of target health (or its reason, or its
 * group's draining and readiness bounds) is a change.
 */
export function canonical(i: Instance): string {
  const tags = Object.keys(i.tags)
    .sort()
    .map((k) => [k, i.tags[k]]);
  const events = [...(i.scheduledEvents ?? [])]
    .sort((x, y) => (x.id < y.id ? -1 : 1))
    .map((e) => [e.id, e.code, e.notBefore, e.notAfter ?? null, e.description]);
  const targets = [...(i.targets ?? [])]
    .map(
      (t) =>
        [
          t.targetGroupArn,
          t.port ?? null,
          t.state,
          t.reason ?? null,
          t.drainSeconds ?? null,
          t.readySeconds ?? null,
        ] as const,
    )
    .sort((x, y) => (x[0] !== y[0] ? (x[0] < y[0] ? -1 : 1) : (x[1] ?? -1) - (y[1] ?? -1)));
  return JSON.stringify([
    i.id,
    i.service,
    i.zone,
    i.cell ?? null,
    i.state,
    i.health,
    tags,
    events,
    i.asg ? [i.asg.name, i.asg.lifecycle] : null,
    targets,
    i.rootDevice ?? null,
    i.spot ?? null,
    i.launchedAt ?? null,
    i.instanceType ?? null,
    i.autoRecovery ?? null,
  ]);
}

/** A service's ledger as the fleet says it should be. */
export interface LedgerObservation {
  readonly service: string;
  /** Resolved `maxUnavailable`: how many instances may be unavailable at once. */
  readonly capacity: number;
  /** Unavailable instances that no lease covers (leased ones are counted by their reservation). */
  readonly observed: number;
  readonly zones: ReadonlyMap<string, { readonly capacity: number; readonly observed: number }>;
}

/**
 * The ledger figures of every service: capacity from its declared budget over its current
 * population, and the unavailable instances observed outside any lease, overall and per zone.
 */
export function ledgerObservations(
  instances: readonly Instance[],
  catalog: ServiceCatalog,
  leased: ReadonlySet<string>,
): LedgerObservation[] {
  const byService = new Map<string, Instance[]>();
  for (const i of instances) {
    if (i.state === 'terminated') continue;
    const list = byService.get(i.service);
    if (list) list.push(i);
    else byService.set(i.service, [i]);
  }
  return [...byService.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([service, members]) => {
      const { budget } = catalog.budgetOf(service);
      const capacity = resolveQuantity(budget.maxUnavailable, members.length);
      const zones = new Map<string, { capacity: number; observed: number }>();
      const zoneMembers = new Map<string, Instance[]>();
      for (const m of members) {
        const list = zoneMembers.get(m.zone);
        if (list) list.push(m);
        else zoneMembers.set(m.zone, [m]);
      }
      for (const [zone, list] of zoneMembers) {
        zones.set(zone, {
          capacity: budget.maxUnavailablePerZone
            ? resolveQuantity(budget.maxUnavailablePerZone, list.length)
            : capacity,
          observed: list.filter((m) => isUnavailable(m) && !leased.has(m.id)).length,
        });
      }
      return {
        service,
        capacity,
        observed: members.filter((m) => isUnavailable(m) && !leased.has(m.id)).length,
        zones,
      };
    });
}
