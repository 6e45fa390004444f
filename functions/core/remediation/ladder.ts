/**
 * The learning escalation ladder for failures: which repair step to try next (reboot, stop-start,
 * replace, then a person), by Thompson sampling over each step's recorded outcomes.
 */
import type { FindingKind } from '../events/findings';
import { sampleBeta } from './beta';
import { type LadderContext, type PooledPosterior, pooledPosterior, recordContextOutcome } from './context';
import { LADDER, type LadderStep, type OutcomeStats } from './types';

export * from './context';

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
  /**
   * What is known about the instance (see `LadderContext`; its `kind`, if given, must be `kind`).
   * Absent, or with nothing but the kind: exactly the context-free ladder. With a family or host
   * age, each step's posterior is pooled from the statistics keys of `contextKeys` (record outcomes
   * with `recordContextOutcome`, or under every key of `contextKeys`); with `helpedBefore`, that step
   * gets `helpedBeforeBoost` pseudo-successes. The safe default and the exploration cap are unchanged:
   * they count the kind's real outcomes of a step, never pseudo-counts.
   */
  readonly context?: Omit<LadderContext, 'kind'> & { readonly kind?: FindingKind };
  /**
   * The most pseudo-outcomes a coarser level's posterior lends a finer one as its prior
   * (empirical-Bayes shrinkage: a context's own data dominates once it has more outcomes than this).
   * @default 10
   */
  readonly priorStrength?: number;
  /**
   * Pseudo-successes for the step that recovered this instance in its last case (`context.helpedBefore`):
   * bounded, so a few real failures outweigh it.
   * @default 2
   */
  readonly helpedBeforeBoost?: number;
}

export interface NextStep {
  readonly action: LadderStep | 'page';
  readonly reason: string;
  /** The success probability drawn for each candidate step (absent when nothing was left to draw for). */
  readonly sampled?: Record<string, number>;
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
 *
 * With a `context` (family, host age, the step that helped this instance before), step 2 draws from
 * each step's pooled posterior (`pooledPosterior`: the kind's Beta, shrunk towards each finer
 * level's own counts, plus the bounded `helpedBefore` boost) instead of the kind's alone. Step 3 is
 * the same rule on the same count: a step's real outcomes for the kind (every contextual outcome is
 * counted there too), so neither a context's prior nor the boost gets a thin step ahead of ladder
 * order, except by the capped exploration coin — at most `explorationRate` of the decisions where a
 * thin step wins its draw.
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
  const priorStrength = input.priorStrength ?? 10;
  const helpedBeforeBoost = input.helpedBeforeBoost ?? 2;
  if (!(priorStrength > 0 && Number.isFinite(priorStrength))) {
    throw new Error(`expected priorStrength > 0, found ${priorStrength}`);
  }
  if (!(helpedBeforeBoost >= 0 && Number.isFinite(helpedBeforeBoost))) {
    throw new Error(`expected helpedBeforeBoost ≥ 0, found ${helpedBeforeBoost}`);
  }
  if (input.context?.kind !== undefined && input.context.kind !== input.kind) {
    throw new Error(`expected the context's kind to be ${input.kind}, found ${input.context.kind}`);
  }
  if (input.context?.helpedBefore !== undefined && !LADDER.includes(input.context.helpedBefore)) {
    throw new Error(`expected context.helpedBefore to be a ladder step, found ${input.context.helpedBefore}`);
  }
  const context: LadderContext = { ...input.context, kind: input.kind };

  const candidates = LADDER.filter((step) => !input.tried.includes(step));
  if (candidates.length === 0) {
    return { action: 'page', reason: `ladder exhausted (tried ${input.tried.join(', ')}): page a person` };
  }

  const posteriors = new Map(
    candidates.map(
      (step) =>
        [step, pooledPosterior(input.stats, context, step, { priorStrength, helpedBeforeBoost })] as const,
    ),
  );
  const outcomes = (step: LadderStep) => posteriors.get(step)!.outcomes;
  const sampled: Record<string, number> = {};
  for (const step of candidates) {
    const { alpha, beta } = posteriors.get(step)!;
    sampled[step] = sampleBeta(alpha, beta, input.rng);
  }
  // What the context added, for the reason (nothing without one: the reasons stay as they were).
  const pooled = describeContext(posteriors);
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
      reason: `thompson: ${drew(best)} > ${drew(runnerUp)} (posterior from ${outcomes(best)} outcomes${pooled})`,
      sampled,
    };
  }
  if (best === fallback) {
    return {
      action: fallback,
      reason: `thin data: ladder order, ${fallback} (${thin(fallback)}${pooled})`,
      sampled,
    };
  }
  if (input.rng() < explorationRate) {
    return {
      action: best,
      reason: `exploring (rate ${explorationRate}): ${drew(best)} > ${drew(fallback)} with ${thin(best)}${pooled}`,
      sampled,
    };
  }
  return {
    action: fallback,
    reason: `thin data: ladder order, ${fallback} (${best} drew higher with ${thin(best)}${pooled})`,
    sampled,
  };
}

/**
 * The context's part of a reason: the finest level's key segment and its outcomes for each step,
 * and which step got the `helpedBefore` boost; empty when the decision had no context to pool.
 */
function describeContext(posteriors: ReadonlyMap<LadderStep, PooledPosterior>): string {
  const parts: string[] = [];
  const all = [...posteriors.entries()];
  const [, first] = all[0];
  if (first.levels.length > 1) {
    const finest = first.levels.at(-1)!.key;
    const segment = finest.slice(finest.indexOf('|') + 1, finest.lastIndexOf('|'));
    const counts = all.map(([step, p]) => {
      const c = p.levels.at(-1)!;
      return `${step} ${c.successes + c.failures}`;
    });
    parts.push(`; pooled with ${segment}: ${counts.join(', ')} outcomes`);
  }
  const boosted = all.find(([, p]) => p.boost > 0);
  if (boosted) parts.push(`; ${boosted[0]} helped this instance before (+${boosted[1].boost} successes)`);
  return parts.join('');
}

/** The statistics with one more outcome of `step` for `kind` (a new map; the given one is unchanged). */
export function recordOutcome(
  stats: OutcomeStats,
  kind: FindingKind,
  step: LadderStep,
  recovered: boolean,
): OutcomeStats {
  return recordContextOutcome(stats, { kind }, step, recovered);
}
