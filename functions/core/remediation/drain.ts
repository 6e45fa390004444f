/**
 * Drain: a Spot instance about to be interrupted is never repaired. It is deregistered from every
 * target group it serves in at once (new requests stop; in-flight ones drain within the two-minute
 * warning), tagged for the agents that watch the tag, recorded, and its case ends `drained`. A
 * group member does not enter Standby: it is going away, and its group replaces it.
 */
import type { RemediationPorts } from '../ports/remediation';
import type { RemediationState } from '../ports/remediation-executions';
import type { TargetRef } from '../ports/traffic';
import { shortArn } from '../traffic/protocol';
import { closeFindings, iso, load } from './case';

/** The tag a drained instance carries, for load balancers and agents that watch it. */
export const DRAINING_TAG = 'fleetops:draining';

/**
 * Every target group the instance serves in: its registrations in the inventory record, and for a
 * member of an Auto Scaling group the target groups its group attaches (the group registered it).
 */
async function registrationsOf(ports: RemediationPorts, id: string): Promise<TargetRef[]> {
  const record = (await ports.fleet.listInstances()).find((i) => i.id === id);
  const refs = new Map<string, TargetRef>();
  for (const t of record?.targets ?? [])
    if (!(t.state === 'unused' && t.reason === 'Target.NotRegistered'))
      refs.set(t.targetGroupArn, {
        targetGroupArn: t.targetGroupArn,
        ...(t.port !== undefined ? { port: t.port } : {}),
      });
  const group = record?.asg?.name ?? (await ports.autoscaling.lifecycleOf([id])).get(id)?.group;
  if (group !== undefined)
    for (const g of await ports.autoscaling.describeGroups([group]))
      for (const arn of g.targetGroupArns ?? []) if (!refs.has(arn)) refs.set(arn, { targetGroupArn: arn });
  return [...refs.values()];
}

/**
 * Drains a Spot instance about to be interrupted, each step safe to repeat:
 * 1. one DeregisterTargets per target group it serves in, all sent at once (the warning gives
 *    two minutes; ELB stops new requests at once and lets in-flight ones finish);
 * 2. audited, then tagged `fleetops:draining`;
 * 3. the case `drained` with what was done, its finding closed.
 */
export async function drainInstance(
  ports: RemediationPorts,
  state: RemediationState,
): Promise<{ drained: true }> {
  const c = await load(ports, state.caseId);
  const id = c.finding.instanceId;
  // Retried after the case was marked drained: only the finding may still be open.
  if (c.status !== 'drained') {
    const targets = await registrationsOf(ports, id);
    if (targets.length > 0) await ports.traffic.deregister(targets.map((t) => ({ ...t, instanceId: id })));
    const out =
      targets.length > 0
        ? `deregistered from ${targets.map((t) => shortArn(t.targetGroupArn)).join(', ')}`
        : 'in no target group';
    const reason = `${out}; tagged ${DRAINING_TAG}; ${c.finding.detail}`;
    // Audited before the tag: a retry after a crash may audit twice, and tags twice only after the tag.
    await ports.fleet.audit([
      {
        subject: `instance:${id}`,
        actor: ports.actor,
        action: 'remediation.drained',
        reason,
        at: iso(ports.now()),
      },
    ]);
    await ports.ec2.setTags([id], { [DRAINING_TAG]: c.finding.deadline ?? iso(ports.now()) });
    await ports.cases.setStatus(c.id, 'drained', reason, ports.now());
  }
  await closeFindings(ports, c, 'drained', ports.now());
  return { drained: true };
}
