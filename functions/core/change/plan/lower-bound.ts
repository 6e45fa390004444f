import type { Instance } from '../../fleet/fleet';
import type { ServiceCatalog } from '../../fleet/services';
import { headroom, resolveBudgets, zoneHeadroom } from '../../safety/budget';
import { resolveQuantity } from '../../safety/quantity';
import type { ChangeSpec } from '../spec';

/**
 * A lower bound on the number of waves any plan that keeps the rules needs, computed from
 * the constraints alone (not from the planner's choices), for `zoneConcurrency: 1`:
 *
 * - zones are changed one at a time, so the waves add up over zones; in each zone a service
 *   needs at least ⌈instances / per-wave headroom⌉ waves, and the zone needs at least
 *   ⌈instances / maxWaveSize⌉;
 * - the waves' sizes cannot grow faster than the growth rule from the largest canary, so the
 *   sum of the fastest possible ramp must reach the number of instances.
 *
 * The bound is the larger of the two. Only changeable instances count (running, not
 * impaired, with budget left), which is what the planner must place.
 */
export function waveLowerBound(
  instances: readonly Instance[],
  catalog: ServiceCatalog,
  spec: ChangeSpec,
  held: ReadonlyMap<string, string> = new Map(),
): number {
  const budgets = resolveBudgets(instances, catalog, spec.action.type, held);
  const { services, tags, instanceIds } = spec.target;
  const perServiceZone = new Map<string, Map<string, number>>(); // zone → service → count
  let total = 0;
  for (const i of instances) {
    if (i.state !== 'running' || i.health === 'impaired' || held.has(i.id)) continue;
    if (services && !services.includes(i.service)) continue;
    if (instanceIds && !instanceIds.includes(i.id)) continue;
    if (tags && Object.entries(tags).some(([k, v]) => i.tags[k] !== v)) continue;
    if (headroom(budgets.get(i.service)!, i.zone) <= 0) continue;
    let zone = perServiceZone.get(i.zone);
    if (!zone) {
      zone = new Map();
      perServiceZone.set(i.zone, zone);
    }
    zone.set(i.service, (zone.get(i.service) ?? 0) + 1);
    total++;
  }
  if (total === 0) return 0;
  const { strategy } = spec;
  const maxWave = strategy.maxWaveSize ? Math.max(1, resolveQuantity(strategy.maxWaveSize, total)) : Infinity;

  let byZones = 0;
  let canaryMax = 0;
  for (const [zone, counts] of perServiceZone) {
    let zoneTotal = 0;
    let need = 0;
    let canaryHere = 0;
    for (const [service, n] of counts) {
      const budget = budgets.get(service)!;
      const cap = Math.min(headroom(budget), zoneHeadroom(budget, zone));
      need = Math.max(need, Number.isFinite(cap) ? Math.ceil(n / cap) : 1);
      zoneTotal += n;
      canaryHere += Math.min(n, strategy.canary, cap);
    }
    need = Math.max(need, Number.isFinite(maxWave) ? Math.ceil(zoneTotal / maxWave) : 1);
    byZones += need;
    canaryMax = Math.max(canaryMax, Math.min(canaryHere, maxWave));
  }

  // The fastest ramp: the canary at its largest, then each wave the growth limit of the last.
  let ramp = 1;
  let placed = canaryMax;
  let largest = canaryMax;
  while (placed < total) {
    const next =
      strategy.growth.mode === 'exponential'
        ? Math.ceil(largest * strategy.growth.factor)
        : largest + Math.max(1, Math.ceil(canaryMax * strategy.growth.factor));
    largest = Math.min(next, maxWave);
    placed += largest;
    ramp++;
  }
  return Math.max(byZones, ramp);
}
