/**
 * # The rollout
 *
 * A stored change, run wave by wave by state-machines/rollout.asl.json: each step below is one
 * Task state (functions/steps/rollout.ts dispatches to them), and a rollback is the same state
 * machine running the change `<id>-rollback`. One file per concern:
 * - start.ts: start (the plan checked again first), plan a rollback, record a start that failed;
 * - window.ts: freezes and time windows before a wave;
 * - lease.ts: the wave's leases and budgets, all or nothing;
 * - apply.ts: the action, at most once per instance, whatever crashes in between;
 * - settle.ts: has the action finished;
 * - gate.ts: the health gate and the canary judge;
 * - release.ts: the wave let go, the next one (or an approval, or a zone bake) ahead; final waves;
 * - live-waves.ts: each wave sized against the ledger when leased, and the plan's revisions;
 * - zone-check.ts: after a zone's bake, is it still healthy;
 * - approval.ts: a person approves or rejects;
 * - finish.ts: the change ends (completed, failed, rolled back, aborted);
 * - rollback.ts: the rollback's spec and plan; state.ts, wave-records.ts: what the steps share.
 * What an action does at each step is its module's (../actions/). The ports are in core/ports/.
 */

export type { ApprovalAnswers } from '../../ports/approval-answers';
export type { Notifier } from '../../ports/notifier';
export type { RolloutPorts } from '../../ports/rollout-ports';
export { settleLimitSeconds } from '../actions/index';
export { applyWave } from './apply';
export { decideApproval, requestApproval } from './approval';
export { abortRollout, finishRollout } from './finish';
export { gateWave } from './gate';
export { leaseWave } from './lease';
export { releaseWave } from './release';
export { actionSettled } from './settle';
export { beginRollback, PLAN_VIOLATION, recordNotStarted, startRollout } from './start';
export type { RolloutState } from './state';
export { checkWindow } from './window';
export { checkBakedZone } from './zone-check';
