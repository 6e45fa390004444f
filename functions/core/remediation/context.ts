/**
 * What the ladder may know about a decision beyond the failure kind, and how outcome statistics
 * are kept per context: the instance type's family, how long the instance has run since its launch
 * (bucketed), and which step recovered this same instance in its last case.
 *
 * Statistics keys form a hierarchy, coarsest first:
 *   `${kind}|${step}`                                  (today's `statsKey`: every outcome counts here)
 *   `${kind}|family=${family}|${step}`                 (when the family is known)
 *   `${kind}|family=${family}|age=${bucket}|${step}`   (when the host age is known too)
 * (with no family but a known age, the second level is `${kind}|age=${bucket}|${step}`). An outcome
 * is recorded under every key of its context (`contextKeys`), so each level's count is the sum of
 * the finer ones below it and a store keeps plain counters (one atomic add per key).
 */
import type { FindingKind } from '../events/findings';
import { LADDER, type LadderStep, type OutcomeCount, type OutcomeStats, statsKey } from './types';

/** Host age buckets: a fresh host (burn-in), an established one, an old one. */
export const HOST_AGE_BUCKETS = ['<7d', '7-90d', '>90d'] as const;
export type HostAgeBucket = (typeof HOST_AGE_BUCKETS)[number];

/** What is known about the instance a decision is for; every field but `kind` is optional. */
export interface LadderContext {
  readonly kind: FindingKind;
  /** The instance type's family (`instanceFamily('m5.large')` → `'m5'`). */
  readonly family?: string;
  /** Days since the instance's launch (EC2 `LaunchTime`, which a stop-start also renews): `hostAgeDays`. */
  readonly hostAgeDays?: number;
  /** The step that recovered this same instance in its last remediation case, if one did. */
  readonly helpedBefore?: LadderStep;
}

/**
 * The family of an EC2 instance type: the part before the size (`m5.large` → `m5`,
 * `m7g.2xlarge` → `m7g`, `u-6tb1.metal` → `u-6tb1`); undefined for something that is not a type.
 */
export function instanceFamily(instanceType: string | undefined): string | undefined {
  if (!instanceType) return undefined;
  const match = /^([a-z][a-z0-9-]*)\.[a-z0-9-]+$/.exec(instanceType.trim().toLowerCase());
  return match ? match[1] : undefined;
}

/** Days between an instance's launch and `now` (never negative); undefined without a valid launch time. */
export function hostAgeDays(launchTime: string | number | Date | undefined, now: number): number | undefined {
  if (launchTime === undefined) return undefined;
  const launched = new Date(launchTime).getTime();
  if (!Number.isFinite(launched) || !Number.isFinite(now)) return undefined;
  return Math.max(0, (now - launched) / 86_400_000);
}

/** The bucket of a host age in days: < 7 days, 7 to 90 days, more than 90 days. */
export function hostAgeBucket(days: number): HostAgeBucket {
  if (!(days >= 0) || !Number.isFinite(days)) {
    throw new Error(`expected a host age in days ≥ 0, found ${days}`);
  }
  if (days < 7) return '<7d';
  return days <= 90 ? '7-90d' : '>90d';
}

const FAMILY = /^[a-z0-9-]+$/;

/** The context's levels below the kind, coarsest first: each one's key segment. */
function contextSegments(context: LadderContext): string[] {
  const segments: string[] = [];
  let prefix = '';
  if (context.family !== undefined) {
    if (!FAMILY.test(context.family)) {
      throw new Error(`expected an instance family of [a-z0-9-], found ${JSON.stringify(context.family)}`);
    }
    prefix = `family=${context.family}`;
    segments.push(prefix);
  }
  if (context.hostAgeDays !== undefined) {
    const age = `age=${hostAgeBucket(context.hostAgeDays)}`;
    segments.push(prefix ? `${prefix}|${age}` : age);
  }
  return segments;
}

/**
 * Every statistics key an outcome of `step` in `context` is recorded under, coarsest first: the
 * first is always today's `statsKey(kind, step)`, then the family's, then family and host age's.
 * (`helpedBefore` is per instance, not a population, so it has no key: see `nextStep`.)
 */
export function contextKeys(context: LadderContext, step: LadderStep): string[] {
  if (!LADDER.includes(step)) throw new Error(`expected a ladder step, found ${step}`);
  return [
    statsKey(context.kind, step),
    ...contextSegments(context).map((s) => `${context.kind}|${s}|${step}`),
  ];
}

/**
 * The statistics with one more outcome of `step` under every key of `context` (a new map; the
 * given one is unchanged). With a context of only `kind`, this is `recordOutcome`.
 */
export function recordContextOutcome(
  stats: OutcomeStats,
  context: LadderContext,
  step: LadderStep,
  recovered: boolean,
): OutcomeStats {
  const next = new Map(stats);
  for (const key of contextKeys(context, step)) {
    const { successes, failures } = stats.get(key) ?? NO_OUTCOMES;
    next.set(key, recovered ? { successes: successes + 1, failures } : { successes, failures: failures + 1 });
  }
  return next;
}

export const NO_OUTCOMES: OutcomeCount = { successes: 0, failures: 0 };

/** The recorded count under a key, checked: whole, non-negative numbers. */
export function outcomeCount(stats: OutcomeStats, key: string): OutcomeCount {
  const count = stats.get(key) ?? NO_OUTCOMES;
  const valid = (n: number) => Number.isInteger(n) && n >= 0;
  if (!valid(count.successes) || !valid(count.failures)) {
    throw new Error(
      `expected whole, non-negative outcome counts for ${key}, found ${count.successes} successes and ${count.failures} failures`,
    );
  }
  return count;
}

/** A step's Beta posterior for a context, with the levels it was pooled from. */
export interface PooledPosterior {
  readonly alpha: number;
  readonly beta: number;
  /** Real outcomes at the kind's level (`statsKey`): what the safe default counts. */
  readonly outcomes: number;
  /** Each level's key and recorded count, coarsest first. */
  readonly levels: ReadonlyArray<{ readonly key: string } & OutcomeCount>;
  /** Pseudo-successes added because the step recovered this instance before (0 if not). */
  readonly boost: number;
}

/**
 * A step's posterior for a context, pooled hierarchically (empirical-Bayes shrinkage):
 * 1. the kind's level is Beta(1 + successes, 1 + failures), as without context;
 * 2. each finer level (family, then family and host age) starts from the level above as its prior:
 *    the coarser posterior's mean, weighted as at most `priorStrength` pseudo-outcomes (fewer when
 *    the coarser level itself has less weight), and adds its own counts. A thin context thus starts
 *    from what the kind knows, and its own data takes over once it has more than `priorStrength`
 *    outcomes: the most specific level with enough data dominates, the coarser ones fill in;
 * 3. `helpedBefore === step` adds `helpedBeforeBoost` pseudo-successes: a bounded nudge, worth as
 *    much as that many recorded recoveries, which real data outweighs as it grows.
 */
export function pooledPosterior(
  stats: OutcomeStats,
  context: LadderContext,
  step: LadderStep,
  options: { readonly priorStrength: number; readonly helpedBeforeBoost: number },
): PooledPosterior {
  const levels = contextKeys(context, step).map((key) => ({ key, ...outcomeCount(stats, key) }));
  const [kindLevel, ...finer] = levels;
  let alpha = 1 + kindLevel.successes;
  let beta = 1 + kindLevel.failures;
  for (const level of finer) {
    const weight = Math.min(options.priorStrength, alpha + beta);
    const mean = alpha / (alpha + beta);
    alpha = weight * mean + level.successes;
    beta = weight * (1 - mean) + level.failures;
  }
  const boost = context.helpedBefore === step ? options.helpedBeforeBoost : 0;
  return {
    alpha: alpha + boost,
    beta,
    outcomes: kindLevel.successes + kindLevel.failures,
    levels,
    boost,
  };
}
