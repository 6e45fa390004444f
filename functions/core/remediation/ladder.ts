/**
 * The learning escalation ladder for failures: which repair step to try next (reboot, stop-start,
 * replace, then a person), by Thompson sampling over each step's recorded outcomes, for the
 * failure's kind and, where enough was recorded, for failures like it (the instance's family, its
 * time on its host, what recovered it before).
 */
import type { FindingKind } from '../events/findings';
import { sampleBeta } from './beta';
import {
  AGE_BUCKETS,
  type AgeBucket,
  contextQualifiers,
  LADDER,
  type LadderContext,
  type LadderStep,
  type OutcomeCount,
  type OutcomeStats,
  qualifiedStatsKey,
} from './types';

/**
 * Minutes a step costs until its outcome is known: the action itself plus the verification wait
 * (reboot 3, stop-start 8, replace 15, each + 5 to verify). The ladder ranks steps by recoveries
 * per minute, so these are relative weights: only their ratios matter.
 */
export const STEP_MINUTES: Readonly<Record<LadderStep, number>> = {
  reboot: 3 + 5,
  'stop-start': 8 + 5,
  replace: 15 + 5,
};

export interface NextStepInput {
  readonly kind: FindingKind;
  /** Steps already tried in this remediation case (never offered again). */
  readonly tried: readonly LadderStep[];
  readonly stats: OutcomeStats;
  /** Uniforms in [0, 1): the only source of randomness, so a seeded one makes choices reproducible. */
  readonly rng: () => number;
  /**
   * Outcomes a step needs for this kind before Thompson sampling may put it ahead of the safe
   * default; also the weight (in outcomes) of a context level's parent on it, so a context's own
   * figures outweigh its parent's once it has more than this many.
   * @default 10
   */
  readonly minSamples?: number;
  /**
   * How often a step with fewer than `minSamples` outcomes may be tried ahead of the safe default
   * when its draw wins: the cap on exploration.
   * @default 0.1
   */
  readonly explorationRate?: number;
  /**
   * What each step costs, to rank draws by recoveries per minute.
   * @default STEP_MINUTES (equal values rank by the success draw alone)
   */
  readonly stepMinutes?: Readonly<Record<LadderStep, number>>;
  /**
   * What the instance tells (`ladderContext`): each step's draw comes from the statistics of
   * failures like this one (its age, what recovered it before, its family), smoothed toward the
   * kind's; a step that recovered the instance before is the safe default instead of ladder order.
   * @default none: the kind's statistics alone, ladder order as the safe default
   */
  readonly context?: LadderContext;
}

export interface NextStep {
  readonly action: LadderStep | 'page';
  readonly reason: string;
  /** The success probability drawn for each candidate step (absent when nothing was left to draw for). */
  readonly sampled?: Record<string, number>;
}

const NO_OUTCOMES: OutcomeCount = { successes: 0, failures: 0 };

function countAt(stats: OutcomeStats, key: string): OutcomeCount {
  const count = stats.get(key) ?? NO_OUTCOMES;
  const valid = (n: number) => Number.isInteger(n) && n >= 0;
  if (!valid(count.successes) || !valid(count.failures)) {
    throw new Error(
      `expected whole, non-negative outcome counts for ${key}, found ${count.successes} successes and ${count.failures} failures`,
    );
  }
  return count;
}

/** A step's Beta posterior for a kind and context, and what it stands on. */
interface Posterior {
  readonly a: number;
  readonly b: number;
  /** The kind's outcomes of the step (every outcome counts there, whatever its context). */
  readonly outcomes: number;
  /** The most specific level with outcomes of its own ('' is the kind alone), and how many. */
  readonly qualifier: string;
  readonly own: number;
}

/**
 * Hierarchical smoothing down the context's levels, from the kind to the most specific (age,
 * then what helped before, then family: each level refines the one before): the kind's posterior
 * is Beta(1 + successes, 1 + failures); each level below starts from its parent's mean with the
 * weight of `minSamples` outcomes and adds its own outcomes. A context thus counts from its first
 * outcome and outweighs its parent once it has more than `minSamples`; one with none has its
 * parent's mean, held as loosely as `minSamples` outcomes (how far it differs from its parent is
 * not known yet, so Thompson sampling tries other steps there a little more). (A hard switch to the most specific level with `minSamples` outcomes ignores what the
 * first outcomes of a context say: it learned more slowly in the simulation.)
 */
function posteriorFor(
  stats: OutcomeStats,
  kind: FindingKind,
  step: LadderStep,
  qualifiers: readonly string[],
  minSamples: number,
): Posterior {
  const weight = Math.max(1, minSamples);
  const root = countAt(stats, qualifiedStatsKey(kind, '', step));
  let a = 1 + root.successes;
  let b = 1 + root.failures;
  let qualifier = '';
  let own = root.successes + root.failures;
  // The qualifiers run most specific first and end with the kind alone: walk them the other way.
  for (const q of [...qualifiers].reverse().slice(1)) {
    const count = countAt(stats, qualifiedStatsKey(kind, q, step));
    const mean = a / (a + b);
    a = weight * mean + count.successes;
    b = weight * (1 - mean) + count.failures;
    if (count.successes + count.failures > 0) {
      qualifier = q;
      own = count.successes + count.failures;
    }
  }
  return { a, b, outcomes: root.successes + root.failures, qualifier, own };
}

const fixed2 = (x: number) => x.toFixed(2);

/**
 * The next step of the escalation ladder for a remediation case.
 *
 * 1. Candidates are the ladder steps (reboot → stop-start → replace) not yet tried in this case;
 *    none left → page a person.
 * 2. Each candidate's posterior: Beta(1 + successes, 1 + failures) over the failure kind's
 *    outcomes; with a context, smoothed down to the failures like this one (`posteriorFor`).
 * 3. Thompson sampling: for each candidate draw a success probability from its posterior, and
 *    rank the draws by recoveries per minute (draw ÷ `stepMinutes`).
 *    Trying independent steps in decreasing order of p ÷ cost minimises the expected time to
 *    recover, so this is Thompson sampling for time to recover, not for the success rate alone
 *    (which would always prefer the slow but sure replace).
 * 4. Safe default while data is thin: the winner is taken ahead of the default only when it has
 *    at least `minSamples` outcomes for this kind; a thinner winner is explored with probability
 *    `explorationRate`, and otherwise the default stands. The default is the step that recovered
 *    this instance before (`context.helpedBefore`, when not tried yet), else ladder order. (Once
 *    the kind has data, what helped before speaks through its own statistics, like the rest of
 *    the context: putting it first whenever those were thin cost time in the simulation.)
 */
export function nextStep(input: NextStepInput): NextStep {
  const minSamples = input.minSamples ?? 10;
  const explorationRate = input.explorationRate ?? 0.1;
  const minutes = input.stepMinutes ?? STEP_MINUTES;
  if (!(Number.isInteger(minSamples) && minSamples >= 0)) {
    throw new Error(`expected minSamples to be a whole number ≥ 0, found ${minSamples}`);
  }
  if (!(explorationRate >= 0 && explorationRate <= 1)) {
    throw new Error(`expected explorationRate in [0, 1], found ${explorationRate}`);
  }
  for (const step of LADDER) {
    if (!(minutes[step] > 0 && Number.isFinite(minutes[step]))) {
      throw new Error(`expected stepMinutes.${step} > 0, found ${minutes[step]}`);
    }
  }
  const qualifiers = contextQualifiers(input.context);

  const candidates = LADDER.filter((step) => !input.tried.includes(step));
  if (candidates.length === 0) {
    return { action: 'page', reason: `ladder exhausted (tried ${input.tried.join(', ')}): page a person` };
  }

  const posteriors = new Map(
    candidates.map(
      (step) => [step, posteriorFor(input.stats, input.kind, step, qualifiers, minSamples)] as const,
    ),
  );
  const outcomes = (step: LadderStep) => posteriors.get(step)!.outcomes;
  /** Where a step's figures come from, when not the kind alone. */
  const within = (step: LadderStep) => {
    const { qualifier, own } = posteriors.get(step)!;
    return qualifier === '' ? '' : `, ${own} with ${qualifier}`;
  };
  const sampled: Record<string, number> = {};
  for (const step of candidates) {
    const { a, b } = posteriors.get(step)!;
    sampled[step] = sampleBeta(a, b, input.rng);
  }
  const score = (step: LadderStep) => sampled[step] / minutes[step];
  // Ties keep ladder order: the earlier step wins.
  const ranked = [...candidates].sort((a, b) => score(b) - score(a) || LADDER.indexOf(a) - LADDER.indexOf(b));
  const [best, runnerUp] = ranked;
  const helped = input.context?.helpedBefore;
  const fromHistory = helped !== undefined && candidates.includes(helped);
  const fallback = fromHistory ? helped : candidates[0];

  // Per-minute figures only mean something when the steps' costs differ.
  const weighted = new Set(LADDER.map((step) => minutes[step])).size > 1;
  const drew = (step: LadderStep) =>
    `${step} drew ${fixed2(sampled[step])}${weighted ? ` (${score(step).toFixed(3)}/min)` : ''}`;
  const thin = (step: LadderStep) => `${outcomes(step)} outcomes < ${minSamples}${within(step)}`;
  const byDefault = (why: string) =>
    fromHistory
      ? `instance history: ${fallback} recovered this instance before (${why})`
      : `thin data: ladder order, ${fallback} (${why})`;

  if (candidates.length === 1) {
    return { action: best, reason: `last step left: ${best}`, sampled };
  }
  if (outcomes(best) >= minSamples) {
    return {
      action: best,
      reason: `thompson: ${drew(best)} > ${drew(runnerUp)} (posterior from ${outcomes(best)} outcomes${within(best)})`,
      sampled,
    };
  }
  if (best === fallback) {
    return { action: fallback, reason: byDefault(thin(fallback)), sampled };
  }
  if (input.rng() < explorationRate) {
    return {
      action: best,
      reason: `exploring (rate ${explorationRate}): ${drew(best)} > ${drew(fallback)} with ${thin(best)}`,
      sampled,
    };
  }
  return { action: fallback, reason: byDefault(`${best} drew higher with ${thin(best)}`), sampled };
}

const DAY_MS = 24 * 60 * 60_000;

/** The age bucket of an instance EC2 last started at `launchedAt` (ISO 8601); undefined when unknown. */
export function ageBucket(launchedAt: string | undefined, now: number): AgeBucket | undefined {
  if (launchedAt === undefined) return undefined;
  const at = Date.parse(launchedAt);
  if (Number.isNaN(at)) return undefined;
  const age = now - at;
  // A launch time ahead of the clock (skew) is a fresh start.
  return age < DAY_MS ? AGE_BUCKETS[0] : age < 30 * DAY_MS ? AGE_BUCKETS[1] : AGE_BUCKETS[2];
}

/** The family of an instance type (`m5` of `m5.large`); undefined when it does not read as one. */
export function instanceFamily(instanceType: string | undefined): string | undefined {
  const match = /^([a-z0-9][a-z0-9-]*)\.[a-z0-9-]+$/.exec(instanceType?.toLowerCase() ?? '');
  return match?.[1];
}

/** The finding kinds the ladder decides (timing.ts rule 1): a host fault shows as either. */
const LADDER_KINDS: ReadonlySet<FindingKind> = new Set<FindingKind>([
  'system-status-check-failed',
  'instance-status-check-failed',
]);

/** An earlier case of the instance, as the case store has it (`CaseView` is one). */
export interface PastCase {
  readonly finding: { readonly kind: FindingKind };
  readonly status: string;
  readonly tried: readonly LadderStep[];
}

/**
 * What the instance tells the ladder about a failure of `kind`, for `nextStep` (and for recording
 * the chosen step's outcome under the same statistics, `contextStatsKeys`):
 * 1. family: from the instance type (`m5` of `m5.large`);
 * 2. age: time since EC2 last started it (`launchedAt`), bucketed (under a day, under 30 days,
 *    older);
 * 3. helpedBefore: the step that recovered the most recent of its earlier cases of the same
 *    kind, else of the other status check (a host fault shows as either), from `history`, oldest
 *    first. A case that recovered on its own, or by a person, tells nothing.
 * A field that is unknown is left out, and the ladder reads the less specific statistics.
 */
export function ladderContext(
  instance: { readonly instanceType?: string; readonly launchedAt?: string },
  kind: FindingKind,
  history: readonly PastCase[],
  now: number,
): LadderContext {
  const family = instanceFamily(instance.instanceType);
  const age = ageBucket(instance.launchedAt, now);
  const recoveredBy = (of: (k: FindingKind) => boolean) =>
    history
      .findLast((c) => of(c.finding.kind) && c.status === 'recovered' && c.tried.length > 0)
      ?.tried.at(-1);
  const helpedBefore =
    recoveredBy((k) => k === kind) ?? recoveredBy((k) => LADDER_KINDS.has(k) && LADDER_KINDS.has(kind));
  return {
    ...(family ? { family } : {}),
    ...(age ? { age } : {}),
    ...(helpedBefore ? { helpedBefore } : {}),
  };
}

/**
 * The statistics with one more outcome of `step` for `kind` (a new map; the given one is
 * unchanged), counted under every key of the context (`contextStatsKeys`; the kind's alone
 * without one).
 */
export function recordOutcome(
  stats: OutcomeStats,
  kind: FindingKind,
  step: LadderStep,
  recovered: boolean,
  context?: LadderContext,
): OutcomeStats {
  const next = new Map(stats);
  for (const qualifier of contextQualifiers(context)) {
    const key = qualifiedStatsKey(kind, qualifier, step);
    const { successes, failures } = next.get(key) ?? NO_OUTCOMES;
    next.set(key, recovered ? { successes: successes + 1, failures } : { successes, failures: failures + 1 });
  }
  return next;
}
