/**
 * The remediation of one finding, step by step: each function is one Task state of
 * state-machines/remediation.asl.json (functions/steps/remediation.ts dispatches them). The
 * execution carries only the case id and counters (`RemediationState`); the case (finding,
 * decisions, steps tried) is in the table. One module per step:
 * - decide.ts: what to do now, recorded with its reason (the ladder, the breaker, freezes);
 * - act.ts: hold (lease and budget) and act (the step, once per case and step);
 * - traffic.ts: around reboot and stop-start, out of traffic and back (core/traffic/protocol.ts):
 *   take out, drained, bring back, back in service; restored when a case ends;
 * - replace.ts: `replace` through the instance's Auto Scaling group;
 * - verify.ts: settle (has the step finished?) and verify (did it recover the instance?);
 * - drain.ts, fail.ts: the two other ends of a case;
 * - case.ts: what every step shares (load, page, close findings, renew and release the lease).
 */

export type { CaseView } from '../ports/case-store';
export type { RemediationPorts } from '../ports/remediation';
export type { RemediationState } from '../ports/remediation-executions';
export { actRemediation, holdForRemediation } from './act';
export { HOLD_MS, LeaseLostError } from './case';
export type { CaseStatusWord } from './case-status';
export { decideRemediation } from './decide';
export { DRAINING_TAG, drainInstance } from './drain';
export { failRemediation, failureReason } from './fail';
export {
  backInServiceForRemediation,
  bringBackForRemediation,
  drainedForRemediation,
  MAX_TAKE_OUT_TRIES,
  stopStartGuard,
  takeOutForRemediation,
} from './traffic';
export { IMPAIRED_POLLS, MAX_PENDING_VERIFIES, remediationSettled, verifyRemediation } from './verify';
