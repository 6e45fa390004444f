/**
 * Drain: a Spot instance about to be interrupted is never repaired; it is tagged for the load
 * balancers and agents that watch the tag, and its case ends `drained`.
 */
import type { RemediationPorts } from '../ports/remediation';
import type { RemediationState } from '../ports/remediation-executions';
import { closeFindings, iso, load } from './case';

/** The tag a drained instance carries, for load balancers and agents that watch it. */
export const DRAINING_TAG = 'fleetops:draining';

/** Drains a Spot instance about to be interrupted: tagged for load balancers and agents, recorded. */
export async function drainInstance(
  ports: RemediationPorts,
  state: RemediationState,
): Promise<{ drained: true }> {
  const c = await load(ports, state.caseId);
  // Retried after the case was marked drained: only the finding may still be open.
  if (c.status !== 'drained') {
    await ports.ec2.setTags([c.finding.instanceId], {
      [DRAINING_TAG]: c.finding.deadline ?? iso(ports.now()),
    });
    await ports.cases.setStatus(c.id, 'drained', `tagged ${DRAINING_TAG}; ${c.finding.detail}`, ports.now());
  }
  await closeFindings(ports, c, 'drained', ports.now());
  return { drained: true };
}
