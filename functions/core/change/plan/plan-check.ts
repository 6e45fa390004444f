import type { Instance } from '../../fleet/fleet';
import type { ServiceCatalog } from '../../fleet/services';
import { headroom, type ResolvedBudget, resolveBudgets } from '../../safety/budget';
import type { ChangeSpec } from '../spec';
import type { Plan, Wave } from './planner';

/**
 * Checks a plan against the rules it must keep, independently of how the planner built it.
 * Each function returns one sentence per broken rule; an empty list means the plan is safe.
 * - {@link planViolations}: against the fleet the plan was made for (the planner's tests, the
 *   local runtime's report);
 * - {@link recheckPlan}: against the fleet as it is when the rollout starts; the rollout runs it
 *   before the first wave and refuses a plan that breaks a rule, so a plan that no longer fits
 *   its spec or the services' budgets (edited, or the budgets tightened since) never runs.
 */
export interface PlanCheckInput {
  readonly instances: readonly Instance[];
  readonly catalog: ServiceCatalog;
  readonly spec: ChangeSpec;
  readonly held?: ReadonlyMap<string, string>;
}

/**
 * Every rule, against the fleet the plan was made for: each planned instance exists, is
 * available and not held; no wave spends more budget than was left.
 */
export function planViolations(plan: Plan, input: PlanCheckInput): string[] {
  const held = input.held ?? new Map<string, string>();
  const budgets = resolveBudgets(input.instances, input.catalog, input.spec.action.type, held);
  return check(plan, input, {
    missing: (index, id) => [`wave ${index}: ${id} is not in the fleet`],
    instance: (index, instance) => [
      ...(held.has(instance.id) ? [`wave ${index}: ${instance.id} is held by ${held.get(instance.id)}`] : []),
      ...(instance.state !== 'running' || instance.health === 'impaired'
        ? [`wave ${index}: ${instance.id} is unavailable (${instance.state}, ${instance.health})`]
        : []),
    ],
    room: (service, zone) => headroom(budgets.get(service)!, zone),
    overBudget: (index, service, n) => {
      const budget = budgets.get(service)!;
      return `wave ${index}: ${n} of ${service} unavailable at once exceeds its budget (${budget.maxUnavailable} with ${budget.unavailable} already down)`;
    },
    servicesExact: true,
  });
}

/**
 * The rules that hold whatever the fleet did since planning, against the fleet as it is at the
 * rollout's start. Not violations, because the rollout handles them wave by wave:
 * - a planned instance gone from the inventory or terminated (the lease skips it), stopped or
 *   impaired (the action and the gate judge it);
 * - budget spent by others now (already unavailable, or held: the lease waits for it).
 * Violations: a plan that is not the spec's (id, action), waves out of order, empty or miscounted,
 * an instance planned twice or both planned and skipped, a wave over `zoneConcurrency` zones, a
 * canary over one zone or over `canary` per service, and a wave making more of a service
 * unavailable at once than its budget allows even with nothing else down (the lease could never
 * grant it).
 */
export function recheckPlan(plan: Plan, input: PlanCheckInput): string[] {
  const problems: string[] = [];
  if (plan.changeId !== input.spec.id)
    problems.push(`the plan is for ${plan.changeId}, not ${input.spec.id}`);
  if (plan.action !== input.spec.action.type)
    problems.push(`the plan applies ${plan.action}, the spec ${input.spec.action.type}`);
  const budgets = resolveBudgets(input.instances, input.catalog, input.spec.action.type);
  const present = input.instances.filter((i) => i.state !== 'terminated');
  return [
    ...problems,
    ...check(
      plan,
      { ...input, instances: present },
      {
        missing: () => [],
        instance: () => [],
        room: (service, zone) => declaredRoom(budgets.get(service)!, zone),
        overBudget: (index, service, n) =>
          `wave ${index}: ${n} of ${service} unavailable at once exceeds its budget (${budgets.get(service)!.maxUnavailable}), even with nothing else down`,
        servicesExact: false,
      },
    ),
  ];
}

/** The most instances of the service (in the zone) a wave may make unavailable when none is down. */
function declaredRoom(budget: ResolvedBudget, zone?: string): number {
  if (!budget.disruptive) return Number.POSITIVE_INFINITY;
  const z = zone === undefined ? undefined : budget.zones.get(zone);
  return z ? Math.min(budget.maxUnavailable, z.maxUnavailable) : budget.maxUnavailable;
}

interface Rules {
  /** A planned instance the inventory does not have. */
  missing(index: number, id: string): string[];
  /** A planned instance's own state. */
  instance(index: number, instance: Instance): string[];
  /** How many of the service (in the zone, or overall) a wave may make unavailable. */
  room(service: string, zone?: string): number;
  overBudget(index: number, service: string, n: number): string;
  /** `services` counts must match the instances exactly (false: missing instances may account for the difference). */
  servicesExact: boolean;
}

function check(plan: Plan, input: PlanCheckInput, rules: Rules): string[] {
  const problems: string[] = [];
  const byId = new Map(input.instances.map((i) => [i.id, i]));
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
    let missing = 0;
    for (const id of wave.instances) {
      const instance = byId.get(id);
      if (seen.has(id)) problems.push(`wave ${index}: ${id} is changed twice`);
      seen.add(id);
      if (!instance) {
        missing++;
        problems.push(...rules.missing(index, id));
        continue;
      }
      problems.push(...rules.instance(index, instance));
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
    if (!rules.servicesExact) problems.push(...servicesCounted(wave, index, perService, missing));
    for (const [service, n] of perService) {
      if (index === 0 && n > strategy.canary)
        problems.push(`wave 0 (canary): ${n} instances of ${service} > canary ${strategy.canary}`);
      if (rules.servicesExact && (wave.services[service] ?? 0) !== n)
        problems.push(`wave ${index}: services.${service} says ${wave.services[service]}, has ${n}`);
      if (n > rules.room(service)) problems.push(rules.overBudget(index, service, n));
    }
    for (const [key, n] of perServiceZone) {
      const [service, zone] = key.split('@');
      if (n > rules.room(service, zone)) {
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

/**
 * The wave's `services` counts against its instances when some are gone from the inventory:
 * they add up to the wave's size, and no service has more instances than it says.
 */
function servicesCounted(
  wave: Wave,
  index: number,
  perService: ReadonlyMap<string, number>,
  missing: number,
): string[] {
  const problems: string[] = [];
  const said = Object.values(wave.services).reduce((a, b) => a + b, 0);
  if (said !== wave.instances.length)
    problems.push(`wave ${index}: services add up to ${said}, the wave has ${wave.instances.length}`);
  for (const [service, n] of perService) {
    const says = wave.services[service] ?? 0;
    if (n > says || (missing === 0 && n !== says))
      problems.push(`wave ${index}: services.${service} says ${wave.services[service]}, has ${n}`);
  }
  return problems;
}
