/**
 * Remediation's words: the decisions it may take, the ladder's steps, a recorded decision, a
 * `replace`'s plan and the outcome statistics the ladder learns from.
 */
import type { FindingKind } from '../events/findings';

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
  /** A step's in-flight caps (caps.ts), taken with the case's lease. */
  readonly caps?: ReadonlyArray<{ readonly scope: string; readonly max: number }>;
  /**
   * What the ladder chose the step from (context.ts), so its outcome is counted under it too; and
   * the step that recovered the instance in its last case, if the ladder was told (no key of its own).
   */
  readonly context?: {
    readonly family?: string;
    readonly hostAgeDays?: number;
    readonly helpedBefore?: LadderStep;
  };
  /** The failure is the instance's last problem come back (relapse.ts): the ladder continued. */
  readonly relapse?: RecordedRelapse;
  /** A `replace`'s plan, recorded by the act step before its first call (see `ReplacementPlan`). */
  readonly replacement?: ReplacementPlan;
}

/** A relapse as a decision records it (relapse.ts `relapseOf`): the case it relapsed from, the count, the steps inherited. */
export interface RecordedRelapse {
  readonly of: string;
  /** Relapses in a row, this one included. */
  readonly count: number;
  readonly inherited: readonly LadderStep[];
}

/**
 * How one `replace` goes, decided once from the group's sizes and recorded before anything is
 * called, so a retried step follows the same plan instead of reading a group it already changed:
 * - `launch-first`: desired capacity goes from `from` to `to` (= from + 1, within MaxSize), the
 *   instance is terminated (decrementing) once a member not in `before` is in service;
 * - `terminate-first`: the group is at MaxSize, so the instance is terminated keeping capacity and
 *   the group relaunches; the instance is down meanwhile, within the budget its lease reserved.
 */
export type ReplacementPlan =
  | {
      readonly mode: 'launch-first';
      readonly group: string;
      readonly from: number;
      readonly to: number;
      readonly max: number;
      /** The group's members when the plan was made: any other member in service is the new one. */
      readonly before: readonly string[];
    }
  | {
      readonly mode: 'terminate-first';
      readonly group: string;
      readonly desired: number;
      readonly max: number;
    };

/** Recorded outcomes of a repair step for a failure kind: recovered (and stayed healthy) or not. */
export interface OutcomeCount {
  readonly successes: number;
  readonly failures: number;
}

/** Outcome statistics keyed by `${kind}|${step}`. */
export type OutcomeStats = ReadonlyMap<string, OutcomeCount>;

export const statsKey = (kind: FindingKind, step: LadderStep) => `${kind}|${step}`;
