import type { ApprovalAnswers } from '../../ports/approval-answers';
import type { RolloutPorts } from '../../ports/rollout-ports';
import { at, type RolloutState } from './state';

/**
 * A person in the loop: the rollout asks (after the canary, at the risk containment point, after
 * a failed or unjudged gate that pauses) and waits on a task token; `fleetops change approve`
 * or `reject` answers it, exactly once.
 */

/**
 * Keeps the approval's task token with the change (the execution waits on it), records the
 * request and publishes it to the topic with the command to run. After a failed or unjudged
 * gate the request carries the gate's reasons; after the last wave, approving ends the change.
 */
export async function requestApproval(
  ports: RolloutPorts,
  state: RolloutState,
  token: string,
  point: string,
): Promise<{ waiting: true }> {
  const judged = state.wave - 1;
  const last = state.wave >= state.waves;
  const gate =
    point === 'gate-failed' || point === 'gate-inconclusive'
      ? (await ports.changes.waveRecords(state.changeId, judged)).find((r) => r.part === 'result')?.body
      : undefined;
  const why =
    point === 'canary'
      ? 'the canary passed'
      : point === 'risk-containment'
        ? 'risk containment reached'
        : point === 'gate-inconclusive'
          ? `wave ${judged} could not be judged, even after longer bakes`
          : point === 'zone-failed'
            ? `the zone of wave ${judged} is not healthy after its bake and the spec says pause`
            : `wave ${judged} failed its health gate and the spec says pause`;
  const next = last
    ? 'approving accepts it and ends the change'
    : `approving goes on with wave ${state.wave}`;
  const reason = `approval needed ${last ? 'after the last wave' : `before wave ${state.wave}`}: ${why}; ${next}`;
  await ports.changes.awaitApproval(state.changeId, token, state.wave, reason, ports.now());
  await ports.fleet.audit([
    {
      subject: `change:${state.changeId}`,
      actor: ports.actor,
      action: 'approval.requested',
      reason,
      at: at(ports),
    },
  ]);
  await ports.notify.publish(
    `FleetOps: ${state.changeId} waits for approval`,
    [
      reason,
      ...(gate ? [`gate: ${String(gate.reason)}`] : []),
      '',
      `approve: fleetops change approve ${state.changeId} --reason "…"`,
      `reject:  fleetops change reject ${state.changeId} --reason "…"`,
      `status:  fleetops change status ${state.changeId}`,
    ].join('\n'),
  );
  return { waiting: true };
}

/**
 * A person approves or rejects a waiting change, exactly once whatever crashes in between:
 * 1. claim the pending approval for this decision (the token stays kept; a retried command
 *    with the same decision claims it again, another decision is refused meanwhile);
 * 2. answer the task token (SendTaskSuccess / SendTaskFailure); a token Step Functions already
 *    closed (the first attempt's answer got through) counts as answered;
 * 3. drop the token and record the decision with its reason.
 * `undefined` when the change is not waiting for an approval.
 */
export async function decideApproval(
  ports: Pick<RolloutPorts, 'changes' | 'fleet' | 'now'> & { answers: ApprovalAnswers },
  changeId: string,
  decision: 'approve' | 'reject',
  actor: string,
  reason: string,
): Promise<{ token: string; wave: number; answer: 'sent' | 'closed' } | undefined> {
  const claimed = await ports.changes.claimApproval(changeId, decision, reason, ports.now());
  if (!claimed) return undefined;
  const answer =
    decision === 'approve'
      ? await ports.answers.succeed(claimed.token, { approvedBy: actor, reason })
      : await ports.answers.fail(claimed.token, 'Rejected', reason);
  await ports.changes.settleApproval(changeId, claimed.token, decision, ports.now());
  await ports.fleet.audit([
    {
      subject: `change:${changeId}`,
      actor,
      action: decision === 'approve' ? 'approval.granted' : 'approval.rejected',
      reason: `before wave ${claimed.wave}: ${reason}`,
      at: new Date(ports.now()).toISOString(),
    },
  ]);
  return { ...claimed, answer };
}
