import { nextStep, recordOutcome } from '../functions/core/remediation/ladder';
import { LADDER, type LadderStep, type OutcomeStats, statsKey } from '../functions/core/remediation/types';
import { MinHeap } from './kernel/min-heap';
import { seededRandom } from './kernel/random';

type StatusKind = 'system-status-check-failed' | 'instance-status-check-failed';
const STATUS_KINDS: readonly StatusKind[] = ['system-status-check-failed', 'instance-status-check-failed'];
type Cause = 'hardware' | 'software';

export interface RemediationSimParameters {
  readonly failures: number;
  /** Failures arrive as a Poisson process; cases overlap, so outcomes are learned with a lag. */
  readonly meanMinutesBetweenFailures: number;
  readonly causes: Readonly<
    Record<
      Cause,
      {
        /** Share of failures with this hidden cause. */
        readonly share: number;
        /** How often it shows as an instance status check failure (else as a system one). */
        readonly surfacesAsInstanceCheck: number;
        /** Probability that each step recovers the instance (independently per step, given the cause). */
        readonly recovers: Readonly<Record<LadderStep, number>>;
      }
    >
  >;
  /** How long each step takes before verification can start. */
  readonly stepMinutes: Readonly<Record<LadderStep, number>>;
  /** The wait after each attempt before its outcome is known. */
  readonly verifyMinutes: number;
  /** A paged person takes this long and always recovers the instance. */
  readonly pageMinutes: number;
  readonly minSamples: number;
  readonly explorationRate: number;
}

/** The simulated world: two hidden causes that the two finding kinds reveal only imperfectly. */
export const REMEDIATION_SIM_PARAMETERS: RemediationSimParameters = {
  failures: 2000,
  meanMinutesBetweenFailures: 20,
  causes: {
    hardware: {
      share: 0.4,
      surfacesAsInstanceCheck: 0.2,
      recovers: { reboot: 0.05, 'stop-start': 0.9, replace: 0.99 },
    },
    software: {
      share: 0.6,
      surfacesAsInstanceCheck: 0.98,
      recovers: { reboot: 0.85, 'stop-start': 0.9, replace: 0.99 },
    },
  },
  stepMinutes: { reboot: 3, 'stop-start': 8, replace: 15 },
  verifyMinutes: 5,
  pageMinutes: 60,
  minSamples: 10,
  explorationRate: 0.1,
};

export interface PolicyReport {
  readonly meanMinutes: number;
  readonly medianMinutes: number;
  readonly p90Minutes: number;
  /** Steps taken, over all failures. */
  readonly actions: Record<LadderStep, number>;
  readonly pages: number;
  /** Share of each first step per kind over the last quarter of the failures (where learning ends up). */
  readonly firstChoice: Record<StatusKind, Record<LadderStep, number>>;
}

export interface RemediationSimReport {
  readonly seed: number;
  readonly failures: number;
  /** How many failures of each kind, and how many of them were hardware underneath. */
  readonly mix: Record<StatusKind, { failures: number; hardware: number }>;
  /** (a) always reboot → stop-start → replace → page. */
  readonly fixed: PolicyReport;
  /** (b) `nextStep` learning online, ranking draws by recoveries per minute (the default). */
  readonly learned: PolicyReport & {
    /** Posterior mean success probability per kind and step at the end. */
    readonly posteriorMean: Record<StatusKind, Record<LadderStep, number>>;
  };
  /** (c) `nextStep` with equal step costs: ranks by the success draw alone. */
  readonly learnedIgnoringCost: PolicyReport;
  /** learned mean ÷ fixed mean time to recover. */
  readonly ratio: number;
  /** learnedIgnoringCost mean ÷ fixed mean. */
  readonly ratioIgnoringCost: number;
}

interface Failure {
  readonly arrival: number;
  readonly cause: Cause;
  readonly kind: StatusKind;
  /** One uniform per step: the step recovers when its uniform is below its probability. */
  readonly draws: Readonly<Record<LadderStep, number>>;
}

type Policy = (kind: StatusKind, tried: readonly LadderStep[], stats: OutcomeStats) => LadderStep | 'page';

/** Events by time, then by insertion (so equal times replay in a fixed order). */
class EventQueue<T> {
  private readonly heap = new MinHeap<{ time: number; seq: number; value: T }>(
    (x, y) => x.time < y.time || (x.time === y.time && x.seq < y.seq),
  );
  private seq = 0;
  get size() {
    return this.heap.size;
  }
  push(time: number, value: T) {
    this.heap.push({ time, seq: this.seq++, value });
  }
  pop(): { time: number; value: T } {
    const top = this.heap.pop();
    if (!top) throw new Error('pop from an empty event queue');
    return top;
  }
}

function generateFailures(p: RemediationSimParameters, seed: number): Failure[] {
  const rng = seededRandom(seed);
  const failures: Failure[] = [];
  let t = 0;
  for (let n = 0; n < p.failures; n++) {
    t += -Math.log(1 - rng()) * p.meanMinutesBetweenFailures;
    const cause: Cause = rng() < p.causes.hardware.share ? 'hardware' : 'software';
    const kind: StatusKind =
      rng() < p.causes[cause].surfacesAsInstanceCheck
        ? 'instance-status-check-failed'
        : 'system-status-check-failed';
    failures.push({ arrival: t, cause, kind, draws: { reboot: rng(), 'stop-start': rng(), replace: rng() } });
  }
  return failures;
}

const zeroSteps = (): Record<LadderStep, number> => ({ reboot: 0, 'stop-start': 0, replace: 0 });
/** The value below which a share `q` of the sorted values fall (the median averages the middle two). */
function quantile(sorted: readonly number[], q: number): number {
  const at = q * (sorted.length - 1);
  const below = Math.floor(at);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (at - below);
}

/** One policy over the failures, as a discrete-event simulation; the statistics it learned, if any. */
function run(
  p: RemediationSimParameters,
  failures: readonly Failure[],
  policy: Policy,
): { report: PolicyReport; stats: OutcomeStats } {
  type Event = { type: 'arrive' | 'verified'; index: number };
  const queue = new EventQueue<Event>();
  failures.forEach((f, index) => {
    queue.push(f.arrival, { type: 'arrive', index });
  });
  let stats: OutcomeStats = new Map();
  const tried: LadderStep[][] = failures.map(() => []);
  const recovery: number[] = new Array(failures.length);
  const first: Array<LadderStep | 'page'> = new Array(failures.length);
  const actions = zeroSteps();
  let pages = 0;

  const decide = (now: number, index: number) => {
    const f = failures[index];
    const step = policy(f.kind, tried[index], stats);
    first[index] ??= step;
    if (step === 'page') {
      pages++;
      recovery[index] = now + p.pageMinutes - f.arrival;
      return;
    }
    if (tried[index].includes(step)) {
      throw new Error(`policy chose ${step} again for failure ${index} (tried ${tried[index].join(', ')})`);
    }
    tried[index].push(step);
    actions[step]++;
    queue.push(now + p.stepMinutes[step] + p.verifyMinutes, { type: 'verified', index });
  };

  while (queue.size > 0) {
    const { time, value } = queue.pop();
    if (value.type === 'arrive') {
      decide(time, value.index);
      continue;
    }
    const f = failures[value.index];
    const step = tried[value.index].at(-1)!;
    const recovered = f.draws[step] < p.causes[f.cause].recovers[step];
    stats = recordOutcome(stats, f.kind, step, recovered);
    if (recovered) recovery[value.index] = time - f.arrival;
    else decide(time, value.index);
  }

  const sorted = [...recovery].sort((a, b) => a - b);
  const lateFrom = Math.floor((failures.length * 3) / 4);
  const firstChoice = Object.fromEntries(
    STATUS_KINDS.map((kind) => {
      const late = failures.map((f, i) => ({ f, i })).filter(({ f, i }) => i >= lateFrom && f.kind === kind);
      const shares = zeroSteps();
      for (const { i } of late) {
        const step = first[i];
        if (step !== 'page') shares[step] += 1 / late.length;
      }
      return [kind, shares];
    }),
  ) as Record<StatusKind, Record<LadderStep, number>>;
  return {
    report: {
      meanMinutes: recovery.reduce((a, b) => a + b, 0) / recovery.length,
      medianMinutes: quantile(sorted, 0.5),
      p90Minutes: quantile(sorted, 0.9),
      actions,
      pages,
      firstChoice,
    },
    stats,
  };
}

/**
 * The fixed ladder against the learned one over the same stream of failures:
 * 1. draw the failures from the seed (arrival times, hidden cause, the kind it shows as, and one
 *    uniform per step deciding whether that step recovers it): every policy meets the same world;
 * 2. run each policy as a discrete-event simulation: a failure arrives, the policy picks a step,
 *    the outcome is known after the step and its verification wait, then it recovers or escalates;
 *    a page costs `pageMinutes` and always recovers; learning policies update their outcome
 *    statistics when each outcome is known (so overlapping cases decide on what is known so far);
 * 3. report time to recover (minutes from the failure) per policy and the learned/fixed ratio.
 * Deterministic by seed: the world and the policies' draws come from separate seeded streams.
 */
export function simulateRemediation(options: {
  readonly seed: number;
  readonly failures?: number;
  readonly parameters?: RemediationSimParameters;
}): RemediationSimReport {
  const base = options.parameters ?? REMEDIATION_SIM_PARAMETERS;
  const p: RemediationSimParameters = { ...base, failures: options.failures ?? base.failures };
  if (!(Number.isInteger(p.failures) && p.failures > 0)) {
    throw new Error(`expected a whole number of failures > 0, found ${p.failures}`);
  }
  const failures = generateFailures(p, options.seed);
  const totalMinutes = Object.fromEntries(
    LADDER.map((step) => [step, p.stepMinutes[step] + p.verifyMinutes]),
  ) as Record<LadderStep, number>;

  const fixed: Policy = (_kind, tried) => LADDER.find((step) => !tried.includes(step)) ?? 'page';
  const learner = (stepMinutes: Record<LadderStep, number>): Policy => {
    // Each learner gets the same policy stream: differences come from the policy, not the dice.
    const rng = seededRandom((options.seed ^ 0x5bd1e995) >>> 0);
    return (kind, tried, stats) =>
      nextStep({
        kind,
        tried,
        stats,
        rng,
        minSamples: p.minSamples,
        explorationRate: p.explorationRate,
        stepMinutes,
      }).action;
  };

  const fixedRun = run(p, failures, fixed);
  const learnedRun = run(p, failures, learner(totalMinutes));
  const ignoringCostRun = run(p, failures, learner({ reboot: 1, 'stop-start': 1, replace: 1 }));

  const posteriorMean = Object.fromEntries(
    STATUS_KINDS.map((kind) => [
      kind,
      Object.fromEntries(
        LADDER.map((step) => {
          const c = learnedRun.stats.get(statsKey(kind, step)) ?? { successes: 0, failures: 0 };
          return [step, (1 + c.successes) / (2 + c.successes + c.failures)];
        }),
      ),
    ]),
  ) as Record<StatusKind, Record<LadderStep, number>>;
  const mix = Object.fromEntries(
    STATUS_KINDS.map((kind) => {
      const ofKind = failures.filter((f) => f.kind === kind);
      return [
        kind,
        { failures: ofKind.length, hardware: ofKind.filter((f) => f.cause === 'hardware').length },
      ];
    }),
  ) as Record<StatusKind, { failures: number; hardware: number }>;

  return {
    seed: options.seed,
    failures: p.failures,
    mix,
    fixed: fixedRun.report,
    learned: { ...learnedRun.report, posteriorMean },
    learnedIgnoringCost: ignoringCostRun.report,
    ratio: learnedRun.report.meanMinutes / fixedRun.report.meanMinutes,
    ratioIgnoringCost: ignoringCostRun.report.meanMinutes / fixedRun.report.meanMinutes,
  };
}
