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
  /** A `replace`'s plan, recorded by the act step before its first call (see `ReplacementPlan`). */
  readonly replacement?: ReplacementPlan;
  /**
   * What the ladder knew of the instance when it chose this step (`ladderContext`), so Verify
   * counts the step's outcome under the very statistics the choice read.
   */
  readonly context?: LadderContext;
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

/**
 * Outcome statistics keyed by `${kind}|${step}` (`statsKey`), and by `${kind}|${qualifier}|${step}`
 * for the outcomes of failures seen in a context (`contextStatsKeys`).
 */
export type OutcomeStats = ReadonlyMap<string, OutcomeCount>;

export const statsKey = (kind: FindingKind, step: LadderStep) => `${kind}|${step}`;

/**
 * How long the instance has been running since EC2 last started it (DescribeInstances'
 * LaunchTime, which a stop-start moves: the time on its current host), in three buckets.
 */
export const AGE_BUCKETS = ['under-a-day', 'under-30-days', 'older'] as const;
export type AgeBucket = (typeof AGE_BUCKETS)[number];

/**
 * What the finding's instance tells the ladder beyond the finding's kind (`ladderContext` in
 * ladder.ts builds it). Every field is optional: an unknown one is left out of the statistics.
 */
export interface LadderContext {
  /** The instance type's family: `m5` of `m5.large`. */
  readonly family?: string;
  readonly age?: AgeBucket;
  /** The step that recovered this instance in its last case a step recovered. */
  readonly helpedBefore?: LadderStep;
}

/** A family as a statistics key may carry it: `m5`, `c6gn`, `u-6tb1` (no `|`, `&` or `=`). */
const FAMILY = /^[a-z0-9][a-z0-9-]*$/;

/**
 * The qualifiers of a context's statistics, most specific first, ending with '' (the kind alone).
 * They nest, each refining the next: age, then what helped before, then family, the coarser
 * features first so that the broad levels fill up fast and the fine ones (families are many)
 * refine them; e.g. `age=older&helped=reboot&family=m5`, `age=older&helped=reboot`, `age=older`,
 * ''. A feature the context does not have is left out of every level.
 */
export function contextQualifiers(context: LadderContext | undefined): string[] {
  const family = context?.family;
  if (family !== undefined && !FAMILY.test(family)) {
    throw new Error(`expected an instance type family such as "m5" (lower case), found "${family}"`);
  }
  const age = context?.age;
  if (age !== undefined && !AGE_BUCKETS.includes(age)) {
    throw new Error(`expected an age bucket (${AGE_BUCKETS.join(', ')}), found "${age}"`);
  }
  const helped = context?.helpedBefore;
  if (helped !== undefined && !LADDER.includes(helped)) {
    throw new Error(`expected a ladder step (${LADDER.join(', ')}) as helpedBefore, found "${helped}"`);
  }
  const features = [
    ...(age ? [`age=${age}`] : []),
    ...(helped ? [`helped=${helped}`] : []),
    ...(family ? [`family=${family}`] : []),
  ];
  return features.map((_, i) => features.slice(0, features.length - i).join('&')).concat('');
}

/** The key of a step's outcomes for a kind under one qualifier ('' is `statsKey`). */
export const qualifiedStatsKey = (kind: FindingKind, qualifier: string, step: LadderStep) =>
  qualifier === '' ? statsKey(kind, step) : `${kind}|${qualifier}|${step}`;

/**
 * Every key one outcome of `step` counts under (at most four), most specific first; the last is
 * `statsKey(kind, step)`, so without a context an outcome counts exactly as before.
 */
export function contextStatsKeys(kind: FindingKind, step: LadderStep, context?: LadderContext): string[] {
  return contextQualifiers(context).map((qualifier) => qualifiedStatsKey(kind, qualifier, step));
}

/** Every key `nextStep` reads for a kind and context: each step's `contextStatsKeys` (at most 12). */
export function ladderStatsKeys(kind: FindingKind, context?: LadderContext): string[] {
  return LADDER.flatMap((step) => contextStatsKeys(kind, step, context));
}
