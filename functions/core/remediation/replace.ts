/**
 * `replace` through the instance's Auto Scaling group: planned once and recorded (launch before
 * terminate where MaxSize leaves room, else terminate first), started, terminated once per case,
 * and judged from the group's members and their status checks.
 */
import { checksPending, isInService } from '../fleet/fleet';
import type { CaseView } from '../ports/case-store';
import type { AutoScalingGroupState, Lease } from '../ports/index';
import type { RemediationPorts } from '../ports/remediation';
import { actionKey, iso, LeaseLostError } from './case';
import type { ReplacementPlan } from './types';

/** The replace plan this case recorded (a case tries replace at most once). */
export const planOf = (c: CaseView): ReplacementPlan | undefined =>
  [...c.decisions].reverse().find((d) => d.replacement)?.replacement;

/** The replace's first call: the group raised to the plan's target, or the instance terminated keeping capacity. */
export async function startReplacement(ports: RemediationPorts, c: CaseView, lease: Lease): Promise<boolean> {
  const id = c.finding.instanceId;
  const plan = planOf(c) ?? (await planReplacement(ports, c));
  if (plan.mode === 'terminate-first') return terminateOnce(ports, c, lease, plan.group, 'keep');
  const recorded = await ports.leases.recordAction(
    lease,
    actionKey(c, 'replace:scale-out'),
    { action: 'replace', case: c.id, group: plan.group, desired: plan.to },
    ports.now(),
  );
  if (recorded === 'fenced') return false;
  // Absolute, not +1: a retry after the raise finds the group at its target and leaves it.
  const group = await ports.autoscaling.describeGroup(plan.group);
  if (!group) throw new Error(`cannot replace ${id}: its Auto Scaling group ${plan.group} is gone`);
  if (group.desired >= plan.to) return false;
  await ports.autoscaling.setDesiredCapacity(plan.group, plan.to);
  return true;
}

/**
 * Reads the group once and records how the replace goes, with its reason: launch before
 * terminate where MaxSize leaves room for one more, else terminate first within the budget.
 */
async function planReplacement(ports: RemediationPorts, c: CaseView): Promise<ReplacementPlan> {
  const id = c.finding.instanceId;
  const name = (await ports.autoscaling.groupsOf([id])).get(id);
  if (!name) throw new Error(`cannot replace ${id}: not in an Auto Scaling group`);
  const group = await ports.autoscaling.describeGroup(name);
  if (!group) throw new Error(`cannot replace ${id}: its Auto Scaling group ${name} is gone`);
  const plan: ReplacementPlan =
    group.desired + 1 <= group.max
      ? {
          mode: 'launch-first',
          group: name,
          from: group.desired,
          to: group.desired + 1,
          max: group.max,
          before: group.members.map((m) => m.id),
        }
      : { mode: 'terminate-first', group: name, desired: group.desired, max: group.max };
  const reason =
    plan.mode === 'launch-first'
      ? `replace, launch before terminate: ${name} desired capacity ${plan.from} → ${plan.to} (max ${plan.max}); ${id} is terminated once a new member is in service`
      : `replace, terminate first: ${name} is at its maximum size (${plan.max}), so ${id} is terminated keeping capacity and the group launches its replacement; it is down meanwhile, within the budget its lease reserved`;
  const now = ports.now();
  await ports.fleet.audit([
    {
      subject: `instance:${id}`,
      actor: ports.actor,
      action: 'remediation.replace-plan',
      reason,
      at: iso(now),
    },
  ]);
  await ports.cases.decide(
    c.id,
    { instanceId: id, action: 'replace', at: iso(now), reason, replacement: plan },
    { status: 'acting' },
    now,
  );
  return plan;
}

/** Still serving in the group: in service (or in Standby), not pending or terminating. */
export const serving = (group: AutoScalingGroupState | undefined, id: string) =>
  group?.members.some((m) => m.id === id && (m.lifecycle === 'InService' || m.lifecycle === 'Standby')) ??
  false;

/** Terminates the instance once per case: recorded first; a retry terminates only an instance still serving. */
export async function terminateOnce(
  ports: RemediationPorts,
  c: CaseView,
  lease: Lease,
  group: string,
  capacity: 'keep' | 'decrement',
): Promise<boolean> {
  const id = c.finding.instanceId;
  const recorded = await ports.leases.recordAction(
    lease,
    actionKey(c, 'replace:terminate'),
    { action: 'replace', case: c.id, group, capacity },
    ports.now(),
  );
  if (recorded === 'fenced') throw new LeaseLostError(c.id, id);
  if (recorded === 'duplicate' && !serving(await ports.autoscaling.describeGroup(group), id)) return false;
  if (capacity === 'keep') await ports.autoscaling.terminateKeepingCapacity(id);
  else await ports.autoscaling.terminateDecrementingCapacity(id);
  return true;
}

/**
 * Where a replace stands: `recovered` once the instance has left its group (terminating or gone)
 * and the group has as many members in service, healthy in Auto Scaling and with both EC2 status
 * checks `ok`, as it desires; `pending` while some of those are only missing passed checks;
 * `not-recovered` otherwise (e.g. the instance still serves: no new member came into service).
 */
export async function replacementOutcome(
  ports: RemediationPorts,
  c: CaseView,
): Promise<{ seen: 'recovered' | 'pending' | 'not-recovered'; why: string }> {
  const id = c.finding.instanceId;
  const plan = planOf(c);
  if (!plan) {
    // A case that replaced before plans were recorded: the instance left its group, which refills.
    const left = !(await ports.autoscaling.groupsOf([id])).has(id);
    return { seen: left ? 'recovered' : 'not-recovered', why: '' };
  }
  const group = await ports.autoscaling.describeGroup(plan.group);
  if (!group) return { seen: 'not-recovered', why: ` (its Auto Scaling group ${plan.group} is gone)` };
  if (serving(group, id)) {
    const raised =
      plan.mode === 'launch-first' && group.desired >= plan.to
        ? `; ${plan.group} was left at desired capacity ${group.desired} for a person to decide`
        : '';
    return { seen: 'not-recovered', why: ` (no new member came into service, so ${id} was kept${raised})` };
  }
  const { ok, pending } = await inService(ports, group, (m) => m !== id);
  if (ok.length >= group.desired) return { seen: 'recovered', why: '' };
  if (ok.length + pending.length >= group.desired) return { seen: 'pending', why: '' };
  return {
    seen: 'not-recovered',
    why: ` (${plan.group} has ${ok.length} of ${group.desired} members in service with passed checks)`,
  };
}

/** Members in service and healthy in the group, split by their EC2 status checks: `ok`, or still initializing. */
export async function inService(
  ports: RemediationPorts,
  group: AutoScalingGroupState,
  include: (id: string) => boolean,
): Promise<{ ok: string[]; pending: string[] }> {
  const ids = group.members
    .filter((m) => include(m.id) && m.lifecycle === 'InService' && m.healthy)
    .map((m) => m.id);
  const conditions = ids.length > 0 ? await ports.ec2.conditions(ids) : new Map();
  return {
    ok: ids.filter((m) => isInService(conditions.get(m))),
    pending: ids.filter((m) => checksPending(conditions.get(m))),
  };
}
