/**
 * Undoing a change: the rollback change's spec (the spec's rollback action on the instances it
 * changed) and its plan (newest first, larger waves, budgets kept).
 */
import type { Instance } from '../../fleet/fleet';
import type { ServiceCatalog } from '../../fleet/services';
import { headroom, resolveBudgets } from '../../safety/budget';
import { actionModule } from '../actions/index';
import { compare, type Plan, summarizeBudgets, type Wave } from '../plan/planner';
import { type ChangeSpec, ROLLBACK_SUFFIX } from '../spec';

/** A rollback bakes at most this long per wave: it restores a known state, so it moves fast. */
const ROLLBACK_BAKE_MINUTES = 2;

export const rollbackIdOf = (changeId: string) => `${changeId}${ROLLBACK_SUFFIX}`;

/**
 * The change that undoes `spec` on the instances it changed: the spec's rollback action, the
 * same error threshold, no metrics judge (the baseline is gone), no approvals, no time windows,
 * and a failed gate pauses for a person (a rollback never rolls itself back).
 * Undefined when the spec declares no rollback action.
 */
export function rollbackSpec(spec: ChangeSpec, changed: readonly string[]): ChangeSpec | undefined {
  if (!spec.rollback || changed.length === 0) return undefined;
  return {
    id: rollbackIdOf(spec.id),
    description: `roll back ${spec.id}: ${spec.description}`,
    target: { instanceIds: [...changed].sort(compare) },
    action: spec.rollback.action,
    risk: 'low',
    strategy: {
      ...spec.strategy,
      zoneOrder: undefined,
      bakeMinutes: Math.min(spec.strategy.bakeMinutes, ROLLBACK_BAKE_MINUTES),
    },
    gates: {
      statusChecks: spec.gates.statusChecks,
      alarms: spec.gates.alarms,
      metrics: [],
      errorThreshold: spec.gates.errorThreshold,
      onFailure: 'pause',
    },
    approval: { afterCanary: false },
    windows: [],
  };
}

/** An instance the change acted on, and when (its wave and the time the action was recorded). */
export interface ChangedInstance {
  readonly instanceId: string;
  readonly wave: number;
  readonly at: number;
}

/**
 * Plans a fast rollback: the changed instances newest first (latest wave first, latest action
 * first within it), packed into waves of at most `waveFactor` × the rollout's largest wave.
 * Budgets still bind every wave (overall and per zone, with what is unavailable now), so an
 * instance that does not fit waits for a later wave while newer ones behind it may go ahead.
 * Terminated instances are skipped (nothing left to restore).
 */
export function planRollback(input: {
  readonly spec: ChangeSpec;
  readonly original: Plan;
  readonly changed: readonly ChangedInstance[];
  readonly instances: readonly Instance[];
  readonly catalog: ServiceCatalog;
  readonly waveFactor: number;
}): Plan {
  const { spec, original, instances, catalog } = input;
  const byId = new Map(instances.map((i) => [i.id, i]));
  const budgets = resolveBudgets(instances, catalog, spec.action.type);
  const largest = Math.max(1, ...original.waves.map((w) => w.size));
  const cap = Math.max(1, Math.ceil(largest * input.waveFactor));
  const skipped: { id: string; reason: string }[] = [];
  let pending: Instance[] = [];
  for (const c of [...input.changed].sort(
    (a, b) => b.wave - a.wave || b.at - a.at || compare(b.instanceId, a.instanceId),
  )) {
    const instance = byId.get(c.instanceId);
    if (!instance) skipped.push({ id: c.instanceId, reason: 'not in the fleet inventory' });
    else if (instance.state === 'terminated') skipped.push({ id: c.instanceId, reason: 'terminated' });
    else pending.push(instance);
  }
  const targeted = pending;
  const waves: Wave[] = [];
  while (pending.length > 0) {
    const perService = new Map<string, number>();
    const perZone = new Map<string, number>();
    const taken: Instance[] = [];
    const rest: Instance[] = [];
    let binding = 'remaining';
    for (const instance of pending) {
      const budget = budgets.get(instance.service)!;
      const zoneKey = `${instance.service}@${instance.zone}`;
      const service = perService.get(instance.service) ?? 0;
      const zone = perZone.get(zoneKey) ?? 0;
      // At least one instance per wave, so a rollback always progresses (the lease still
      // waits for budget when there is none).
      const fitsService = service < Math.max(1, headroom(budget)) || taken.length === 0;
      const fitsZone = zone < Math.max(1, headroom(budget, instance.zone)) || taken.length === 0;
      if (taken.length < cap && fitsService && fitsZone) {
        taken.push(instance);
        perService.set(instance.service, service + 1);
        perZone.set(zoneKey, zone + 1);
      } else {
        rest.push(instance);
        if (binding === 'remaining')
          binding =
            taken.length >= cap
              ? 'rollback-wave-size'
              : fitsService
                ? `budget:${instance.service}@${instance.zone}`
                : `budget:${instance.service}`;
      }
    }
    const zones = [...new Set(taken.map((i) => i.zone))].sort(compare);
    waves.push({
      index: waves.length,
      kind: 'rollout',
      zone: zones.join('+'),
      zones,
      size: taken.length,
      limit: cap,
      bindingConstraint: binding,
      services: Object.fromEntries([...perService].sort((a, b) => compare(a[0], b[0]))),
      instances: taken.map((i) => i.id),
      approvalAfter: null,
    });
    pending = rest;
  }
  const planned = waves.reduce((n, w) => n + w.size, 0);
  return {
    changeId: spec.id,
    description: spec.description,
    action: spec.action.type,
    risk: spec.risk,
    zoneOrder: [...new Set(waves.flatMap((w) => w.zones))],
    summary: {
      targeted: input.changed.length,
      planned,
      skipped: skipped.length,
      waves: waves.length,
      approvals: 0,
      blastRadiusBeforeApproval: null,
    },
    predictedMinutes:
      Math.round(waves.length * (actionModule(spec.action).minutes + spec.strategy.bakeMinutes) * 10) / 10,
    waves,
    skipped: skipped.sort((a, b) => compare(a.id, b.id)),
    budgets: summarizeBudgets(budgets, targeted, waves),
    warnings: [],
  };
}
