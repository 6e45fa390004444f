import type { FindingKind } from '../findings';

/** What remediation may decide for an instance (the `remediate --dry-run` JSON uses these words). */
export const DECISION_ACTIONS = [
  'reboot',
  'stop-start',
  'replace',
  'drain',
  'defer',
  'record-only',
  'page',
] as const;
export type DecisionAction = (typeof DECISION_ACTIONS)[number];

/** The repair steps of the escalation ladder, in the fixed ladder's order (then: page a person). */
export const LADDER = ['reboot', 'stop-start', 'replace'] as const;
export type LadderStep = (typeof LADDER)[number];

/** One decision, with its reason (every decision is recorded, doing nothing included). */
export interface Decision {
  readonly instanceId: string;
  readonly action: DecisionAction;
  /** When to act (ISO 8601): now, or a quiet time before the event's deadline. */
  readonly at: string;
  readonly reason: string;
}

/** Recorded outcomes of a repair step for a failure kind: recovered (and stayed healthy) or not. */
export interface OutcomeCount {
  readonly successes: number;
  readonly failures: number;
}

/** Outcome statistics keyed by `${kind}|${step}`. */
export type OutcomeStats = ReadonlyMap<string, OutcomeCount>;

export const statsKey = (kind: FindingKind, step: LadderStep) => `${kind}|${step}`;
