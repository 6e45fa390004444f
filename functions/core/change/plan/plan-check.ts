import type { Instance } from '../../fleet/fleet';
import type { ServiceCatalog } from '../../fleet/services';
import { headroom, resolveBudgets } from '../../safety/budget';
import type { ChangeSpec } from '../spec';
import type { Plan } from './planner';

/**
 * Checks a plan against the rules it must keep, independently of how the planner built it.
 * Returns one sentence per broken rule; an empty list means the plan is safe to run.
 * The rollout runs it again before the first wave, so a plan edited or corrupted in storage
 * never runs.
 */
export function planViolations(
  plan: Plan,
  input: {
    instances: readonly Instance[];
    catalog: ServiceCatalog;
    spec: ChangeSpec;
    held?: ReadonlyMap<string, string>;
  },
): string[] {
  const problems: string[] = [];
  const byId = new Map(input.instances.map((i) => [i.id, i]));
  const held = input.held ?? new Map<string, string>();
  const budgets = resolveBudgets(input.instances, input.catalog, input.spec.action.type, held);
  const seen = new Set<string>();
  const { strategy } = input.spec;

  plan.waves.forEach((wave, index) => {
    if (wave.index !== index) problems.push(`wave ${index}: index is ${wave.index}`);
    if (wave.size !== wave.instances.length)
      problems.push(`wave ${index}: size ${wave.size} ≠ ${wave.instances.length} instances`);
    if (wave.size === 0) problems.push(`wave ${index}: empty`);
    const zones = new Set<string>();
    const perService = new Map<string, number>();
    const perServiceZone = new Map<string, number>();
    for (const id of wave.instances) {
      const instance = byId.get(id);
      if (!instance) {
        problems.push(`wave ${index}: ${id} is not in the fleet`);
        continue;
      }
      if (seen.has(id)) problems.push(`wave ${index}: ${id} is changed twice`);
      if (held.has(id)) problems.push(`wave ${index}: ${id} is held by ${held.get(id)}`);
      seen.add(id);
      if (instance.state !== 'running' || instance.health === 'impaired') {
        problems.push(`wave ${index}: ${id} is unavailable (${instance.state}, ${instance.health})`);
      }
      zones.add(instance.zone);
      perService.set(instance.service, (perService.get(instance.service) ?? 0) + 1);
      const key = `${instance.service}@${instance.zone}`;
      perServiceZone.set(key, (perServiceZone.get(key) ?? 0) + 1);
    }
    if (zones.size > strategy.zoneConcurrency) {
      problems.push(
        `wave ${index}: spans ${zones.size} zones (${[...zones].sort().join(', ')}), zoneConcurrency is ${strategy.zoneConcurrency}`,
      );
    }
    if (index === 0 && zones.size > 1) problems.push('wave 0 (canary): spans more than one zone');
    for (const [service, n] of perService) {
      if (index === 0 && n > strategy.canary)
        problems.push(`wave 0 (canary): ${n} instances of ${service} > canary ${strategy.canary}`);
      if ((wave.services[service] ?? 0) !== n)
        problems.push(`wave ${index}: services.${service} says ${wave.services[service]}, has ${n}`);
      const budget = budgets.get(service)!;
      if (n > headroom(budget)) {
        problems.push(
          `wave ${index}: ${n} of ${service} unavailable at once exceeds its budget (${budget.maxUnavailable} with ${budget.unavailable} already down)`,
        );
      }
    }
    for (const [key, n] of perServiceZone) {
      const [service, zone] = key.split('@');
      const budget = budgets.get(service)!;
      if (n > headroom(budget, zone)) {
        problems.push(
          `wave ${index}: ${n} of ${service} unavailable at once in ${zone} exceeds its zone budget`,
        );
      }
    }
  });

  for (const s of plan.skipped) {
    if (seen.has(s.id)) problems.push(`${s.id} is both planned and skipped`);
    if (s.reason.trim() === '') problems.push(`${s.id} is skipped without a reason`);
    seen.add(s.id);
  }
  return problems;
}
