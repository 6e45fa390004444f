/**
 * The learning escalation ladder for failures: which repair step to try next (reboot, stop-start,
 * replace, then a person), by Thompson sampling over each step's recorded outcomes.
 */
import type { FindingKind } from '../events/findings';
import { sampleBeta } from './beta';
import { LADDER, type LadderStep, type OutcomeCount, type OutcomeStats, statsKey } from './types';

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
   * Outcomes a step needs (for this kind) before Thompson sampling may put it ahead of ladder order.
   * @default 10
   */
  readonly minSamples?: number;
  /**
   * How often a step with fewer than `minSamples` outcomes may be tried ahead of ladder order when
   * its draw wins: the cap on exploration.
   * @default 0.1
   */
  readonly explorationRate?: number;
  /**
   * What each step costs, to rank draws by recoveries per minute.
   * @default STEP_MINUTES (equal values rank by the success draw alone)
   */
  readonly stepMinutes?: Readonly<Record<LadderStep, number>>;
}

export interface NextStep {
  readonly action: LadderStep | 'page';
  readonly reason: string;
  /** The success probability drawn for each candidate step (absent when nothing was left to draw for). */
  readonly sampled?: Record<string, number>;
}

const NO_OUTCOMES: OutcomeCount = { successes: 0, failures: 0 };

function countFor(stats: OutcomeStats, kind: FindingKind, step: LadderStep): OutcomeCount {
  const count = stats.get(statsKey(kind, step)) ?? NO_OUTCOMES;
  const valid = (n: number) => Number.isInteger(n) && n >= 0;
  if (!valid(count.successes) || !valid(count.failures)) {
    throw new Error(
      `expected whole, non-negative outcome counts for ${statsKey(kind, step)}, found ${count.successes} successes and ${count.failures} failures`,
    );
  }
  return count;
}

const fixed2 = (x: number) => x.toFixed(2);

/**
 * The next step of the escalation ladder for a remediation case.
 *
 * 1. Candidates are the ladder steps (reboot → stop-start → replace) not yet tried in this case;
 *    none left → page a person.
 * 2. Thompson sampling: for each candidate draw a success probability from its Beta(1 + successes,
 *    1 + failures) posterior for this failure kind, and rank the draws by recoveries per minute
 *    (draw ÷ `stepMinutes`). Trying independent steps in decreasing order of p ÷ cost minimises the
 *    expected time to recover, so this is Thompson sampling for time to recover, not for the success
 *    rate alone (which would always prefer the slow but sure replace).
 * 3. Safe default while data is thin: the winner is taken ahead of the first remaining step in
 *    ladder order only when it has at least `minSamples` outcomes; a thinner winner is explored with
 *    probability `explorationRate`, and otherwise ladder order stands.
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

  const candidates = LADDER.filter((step) => !input.tried.includes(step));
  if (candidates.length === 0) {
    return { action: 'page', reason: `ladder exhausted (tried ${input.tried.join(', ')}): page a person` };
  }

  const counts = new Map(candidates.map((step) => [step, countFor(input.stats, input.kind, step)] as const));
  const outcomes = (step: LadderStep) => counts.get(step)!.successes + counts.get(step)!.failures;
  const sampled: Record<string, number> = {};
  for (const step of candidates) {
    const { successes, failures } = counts.get(step)!;
    sampled[step] = sampleBeta(1 + successes, 1 + failures, input.rng);
  }
  const score = (step: LadderStep) => sampled[step] / minutes[step];
  // Ties keep ladder order: the earlier step wins.
  const ranked = [...candidates].sort((a, b) => score(b) - score(a) || LADDER.indexOf(a) - LADDER.indexOf(b));
  const [best, runnerUp] = ranked;
  const fallback = candidates[0];

  // Per-minute figures only mean something when the steps' costs differ.
  const weighted = new Set(LADDER.map((step) => minutes[step])).size > 1;
  const drew = (step: LadderStep) =>
    `${step} drew ${fixed2(sampled[step])}${weighted ? ` (${score(step).toFixed(3)}/min)` : ''}`;
  const thin = (step: LadderStep) => `${outcomes(step)} outcomes < ${minSamples}`;

  if (candidates.length === 1) {
    return { action: best, reason: `last step left: ${best}`, sampled };
  }
  if (outcomes(best) >= minSamples) {
    return {
      action: best,
      reason: `thompson: ${drew(best)} > ${drew(runnerUp)} (posterior from ${outcomes(best)} outcomes)`,
      sampled,
    };
  }
  if (best === fallback) {
    return { action: fallback, reason: `thin data: ladder order, ${fallback} (${thin(fallback)})`, sampled };
  }
  if (input.rng() < explorationRate) {
    return {
      action: best,
      reason: `exploring (rate ${explorationRate}): ${drew(best)} > ${drew(fallback)} with ${thin(best)}`,
      sampled,
    };
  }
  return {
    action: fallback,
    reason: `thin data: ladder order, ${fallback} (${best} drew higher with ${thin(best)})`,
    sampled,
  };
}

/** The statistics with one more outcome of `step` for `kind` (a new map; the given one is unchanged). */
export function recordOutcome(
  stats: OutcomeStats,
  kind: FindingKind,
  step: LadderStep,
  recovered: boolean,
): OutcomeStats {
  const key = statsKey(kind, step);
  const { successes, failures } = stats.get(key) ?? NO_OUTCOMES;
  const next = new Map(stats);
  next.set(key, recovered ? { successes: successes + 1, failures } : { successes, failures: failures + 1 });
  return next;
}
