/**
 * Disruption budgets resolved against the fleet: how many of each service (and zone) may be down
 * at once, and the headroom a change or a remediation has.
 */
import type { ActionType } from '../change/spec';
import { type Instance, isUnavailable } from '../fleet/fleet';
import { type DisruptionBudget, isDisruptive, type ServiceCatalog } from '../fleet/services';
import { formatQuantity, resolveQuantity } from './quantity';

const NO_LEASES: ReadonlyMap<string, string> = new Map();

/** A service's budget resolved against the fleet as it is now. */
export interface ResolvedBudget {
  readonly service: string;
  readonly declared: boolean;
  /** Whether the change's action spends this service's budget. */
  readonly disruptive: boolean;
  /** Non-terminated instances of the service: the population percentages refer to. */
  readonly population: number;
  readonly maxUnavailable: number;
  readonly unavailable: number;
  readonly zones: ReadonlyMap<string, ResolvedZoneBudget>;
  readonly source: DisruptionBudget;
}

export interface ResolvedZoneBudget {
  readonly population: number;
  readonly maxUnavailable: number;
  readonly unavailable: number;
}

/**
 * Resolves every service's budget over the whole fleet (not only the targeted instances):
 * percentages refer to all non-terminated instances of the service, and instances that are
 * already unavailable (stopped, pending, impaired…) or held by another change or remediation
 * count against the budget.
 */
export function resolveBudgets(
  instances: readonly Instance[],
  catalog: ServiceCatalog,
  action: ActionType,
  held: ReadonlyMap<string, string> = NO_LEASES,
): Map<string, ResolvedBudget> {
  const tallies = new Map<
    string,
    { population: number; unavailable: number; zones: Map<string, [number, number]> }
  >();
  for (const instance of instances) {
    if (instance.state === 'terminated') continue;
    let tally = tallies.get(instance.service);
    if (!tally) {
      tally = { population: 0, unavailable: 0, zones: new Map() };
      tallies.set(instance.service, tally);
    }
    const down = isUnavailable(instance) || held.has(instance.id) ? 1 : 0;
    tally.population += 1;
    tally.unavailable += down;
    const zone = tally.zones.get(instance.zone);
    if (zone) {
      zone[0] += 1;
      zone[1] += down;
    } else {
      tally.zones.set(instance.zone, [1, down]);
    }
  }

  const budgets = new Map<string, ResolvedBudget>();
  for (const [service, tally] of tallies) {
    const { budget, declared } = catalog.budgetOf(service);
    const maxUnavailable = resolveQuantity(budget.maxUnavailable, tally.population);
    const zones = new Map<string, ResolvedZoneBudget>();
    for (const [zone, [population, unavailable]] of tally.zones) {
      const perZone = budget.maxUnavailablePerZone
        ? resolveQuantity(budget.maxUnavailablePerZone, population)
        : maxUnavailable;
      zones.set(zone, { population, maxUnavailable: perZone, unavailable });
    }
    budgets.set(service, {
      service,
      declared,
      disruptive: isDisruptive(budget, action),
      population: tally.population,
      maxUnavailable,
      unavailable: tally.unavailable,
      zones,
      source: budget,
    });
  }
  return budgets;
}

/**
 * How many more instances of the service may become unavailable at once: overall, and in
 * one zone. Infinity for a service that declared the action non-disruptive.
 */
export function headroom(budget: ResolvedBudget, zone?: string): number {
  if (!budget.disruptive) return Number.POSITIVE_INFINITY;
  const overall = budget.maxUnavailable - budget.unavailable;
  if (zone === undefined) return overall;
  const z = budget.zones.get(zone);
  return z ? Math.min(overall, z.maxUnavailable - z.unavailable) : overall;
}

/** Why a service (or one of its zones) has no budget left, in words an operator reads. */
export function exhaustedReason(budget: ResolvedBudget, zone: string): string {
  const overall = budget.maxUnavailable - budget.unavailable;
  const declared = `${formatQuantity(budget.source.maxUnavailable)} of ${budget.population}`;
  if (overall <= 0) {
    return (
      `budget:${budget.service} exhausted: maxUnavailable ${budget.maxUnavailable} (${declared}), ` +
      `${budget.unavailable} already unavailable`
    );
  }
  const z = budget.zones.get(zone)!;
  const perZone = budget.source.maxUnavailablePerZone;
  const declaredZone = perZone ? `${formatQuantity(perZone)} of ${z.population}` : 'overall budget';
  return (
    `budget:${budget.service}@${zone} exhausted: maxUnavailablePerZone ${z.maxUnavailable} (${declaredZone}), ` +
    `${z.unavailable} already unavailable in ${zone}`
  );
}

/** Headroom of the service's per-zone budget alone (Infinity when not disruptive). */
export function zoneHeadroom(budget: ResolvedBudget, zone: string): number {
  if (!budget.disruptive) return Number.POSITIVE_INFINITY;
  const z = budget.zones.get(zone);
  return z ? z.maxUnavailable - z.unavailable : budget.maxUnavailable - budget.unavailable;
}
