/**
 * How the fleet store's items are written and read back: instances (validated again on the way
 * out), freezes and declared budgets.
 */
import { type Instance, instanceSchema } from '../../core/fleet/fleet';
import { type DisruptionBudget, quietWindowSchema } from '../../core/fleet/services';
import type { Freeze } from '../../core/ports/index';
import type { Quantity } from '../../core/safety/quantity';

const INSTANCE_FIELDS = [
  'id',
  'service',
  'zone',
  'cell',
  'state',
  'health',
  'tags',
  'scheduledEvents',
  // Placement, root device and Spot type (the sweep's, issue 14): kept, so an unchanged fleet
  // compares equal and writes nothing.
  'asg',
  'targets',
  'rootDevice',
  'spot',
  // Launch time and type (the sweep's): the planner's estimate of scale-outs reads the first.
  'launchedAt',
  'instanceType',
  // EC2's own recovery: a system check failure waits for it only where it is on (remediation/timing.ts).
  'autoRecovery',
] as const;

export function pick(instance: Instance): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of INSTANCE_FIELDS) if (instance[field] !== undefined) out[field] = instance[field];
  return out;
}

export function toInstance(item: Record<string, unknown>): Instance {
  const raw: Record<string, unknown> = {};
  for (const field of INSTANCE_FIELDS) if (item[field] !== undefined) raw[field] = item[field];
  // Stored items were validated on the way in; parsing again keeps a corrupted item from spreading.
  return instanceSchema.parse(raw);
}

export function toFreeze(item: Record<string, unknown>): Freeze {
  return {
    id: String(item.id),
    scope: String(item.scope),
    start: String(item.start),
    end: String(item.end),
    reason: String(item.reason),
    createdBy: String(item.createdBy),
    ...(item.endedAt ? { endedAt: String(item.endedAt) } : {}),
  };
}

const quantityToItem = (q: Quantity) => ({ kind: q.kind, value: q.value });

export function budgetToItem(budget: DisruptionBudget): Record<string, unknown> {
  return {
    maxUnavailable: quantityToItem(budget.maxUnavailable),
    ...(budget.maxUnavailablePerZone
      ? { maxUnavailablePerZone: quantityToItem(budget.maxUnavailablePerZone) }
      : {}),
    impact: { ...budget.impact },
    ...(budget.quietWindow ? { quietWindow: { ...budget.quietWindow } } : {}),
  };
}

export function budgetFromItem(item: unknown): DisruptionBudget {
  const b = item as {
    maxUnavailable: Quantity;
    maxUnavailablePerZone?: Quantity;
    impact?: DisruptionBudget['impact'];
    quietWindow?: DisruptionBudget['quietWindow'];
  };
  return {
    maxUnavailable: { kind: b.maxUnavailable.kind, value: Number(b.maxUnavailable.value) } as Quantity,
    ...(b.maxUnavailablePerZone
      ? {
          maxUnavailablePerZone: {
            kind: b.maxUnavailablePerZone.kind,
            value: Number(b.maxUnavailablePerZone.value),
          } as Quantity,
        }
      : {}),
    impact: { ...(b.impact ?? {}) },
    ...(b.quietWindow ? { quietWindow: quietWindowSchema.parse(b.quietWindow) } : {}),
  };
}
