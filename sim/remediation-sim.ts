import {
  ageBucket,
  ladderContext,
  nextStep,
  type PastCase,
  recordOutcome,
} from '../functions/core/remediation/ladder';
import {
  AGE_BUCKETS,
  type AgeBucket,
  LADDER,
  type LadderContext,
  type LadderStep,
  type OutcomeStats,
  statsKey,
} from '../functions/core/remediation/types';
import { MinHeap } from './kernel/min-heap';
import { seededRandom } from './kernel/random';

type StatusKind = 'system-status-check-failed' | 'instance-status-check-failed';
const STATUS_KINDS: readonly StatusKind[] = ['system-status-check-failed', 'instance-status-check-failed'];

/**
 * What is wrong underneath, which no finding says (AWS's own lists of what fails each status check):
 * - `software`: the guest hangs (exhausted memory, a hung kernel): any restart clears it;
 * - `hardware`: the host (power, network, failing parts): only leaving it helps — a stop-start
 *   moves the instance to another host, a reboot stays on this one;
 * - `root-volume`: what the instance boots is broken (a corrupted file system, an incompatible
 *   kernel, a bad startup configuration): every restart boots the same volume again; only a new
 *   instance from the launch template (replace) helps.
 */
export type Cause = 'software' | 'hardware' | 'root-volume';
export const CAUSES: readonly Cause[] = ['software', 'hardware', 'root-volume'];

export interface CauseModel {
  /**
   * Share of faults with this cause where a fault is drawn without its instance's context:
   * `fleetops simulate`'s world (sim/world/sim-world.ts draws hardware or software by these).
   * This simulation draws causes by context instead (`causeMix`).
   */
  readonly share: number;
  /** How often it shows as an instance status check failure (else as a system one). */
  readonly surfacesAsInstanceCheck: number;
  /** Probability that each step recovers the instance (independently per step, given the cause). */
  readonly recovers: Readonly<Record<LadderStep, number>>;
}

export interface RemediationSimParameters {
  readonly failures: number;
  /** Failures arrive as a Poisson process; cases overlap, so outcomes are learned with a lag. */
  readonly meanMinutesBetweenFailures: number;
  /**
   * The fleet's instance type families: each one's share of the instances failing for the first
   * time, and how prone its hosts are to hardware faults (a factor on `causeMix`'s hardware weight:
   * older generations more, newer less).
   */
  readonly families: Readonly<Record<string, { readonly share: number; readonly hardwareFactor: number }>>;
  /**
   * How long instances failing for the first time had been on their host (since EC2 last started
   * them): the share in each age bucket, and the range of days within it (uniform).
   */
  readonly firstFaultAge: Readonly<
    Record<AgeBucket, { readonly share: number; readonly days: readonly [number, number] }>
  >;
  /** Weights of the hidden cause by the instance's age bucket at the fault, before its family's factor. */
  readonly causeMix: Readonly<Record<AgeBucket, Readonly<Record<Cause, number>>>>;
  /** Share of failures that strike an instance that failed before (one still in the fleet, uniformly). */
  readonly relapseShare: number;
  /** Probability that a relapse has its instance's previous cause (else it is drawn as a first fault's is). */
  readonly sameCause: number;
  readonly causes: Readonly<Record<Cause, CauseModel>>;
  /** How long each step takes before verification can start. */
  readonly stepMinutes: Readonly<Record<LadderStep, number>>;
  /** The wait after each attempt before its outcome is known. */
  readonly verifyMinutes: number;
  /** A paged person takes this long and always recovers the instance. */
  readonly pageMinutes: number;
  readonly minSamples: number;
  readonly explorationRate: number;
}

/**
 * The simulated world. Three hidden causes, which the two finding kinds reveal only in part (a
 * system check is nearly always the host; an instance check is mostly a guest that a reboot
 * clears, but also a broken root volume, or a host fault that shows in the guest); the instance
 * tells more:
 * - time on its host: a fault within a day of a start is often what that start booted (a new
 *   kernel or configuration, a file system left corrupted by the failure before it); hosts fail
 *   more the longer an instance has sat on them; software hangs come at any age;
 * - family: older generations (m4, c4) see more hardware faults, newer ones (m6i, c6g) fewer;
 * - history: 30% of failures strike an instance that failed before, and 60% of those have the
 *   cause of its previous fault (the same workload, the same image, the same host pool).
 * Step durations and outcome probabilities per cause are those of the two-cause world before it:
 * a reboot clears 85% of software hangs and 5% of the rest; a stop-start clears 90% of hangs and
 * host faults; a replace clears 98–99% of everything.
 */
export const REMEDIATION_SIM_PARAMETERS: RemediationSimParameters = {
  failures: 2000,
  meanMinutesBetweenFailures: 20,
  families: {
    m4: { share: 0.1, hardwareFactor: 1.6 },
    c4: { share: 0.05, hardwareFactor: 1.6 },
    m5: { share: 0.25, hardwareFactor: 1 },
    c5: { share: 0.15, hardwareFactor: 1 },
    r5: { share: 0.1, hardwareFactor: 1 },
    m6i: { share: 0.2, hardwareFactor: 0.6 },
    c6g: { share: 0.15, hardwareFactor: 0.6 },
  },
  firstFaultAge: {
    'under-a-day': { share: 0.2, days: [0, 1] },
    'under-30-days': { share: 0.35, days: [1, 30] },
    older: { share: 0.45, days: [30, 730] },
  },
  causeMix: {
    'under-a-day': { software: 0.2, hardware: 0.15, 'root-volume': 0.65 },
    'under-30-days': { software: 0.6, hardware: 0.35, 'root-volume': 0.05 },
    older: { software: 0.45, hardware: 0.53, 'root-volume': 0.02 },
  },
  relapseShare: 0.3,
  sameCause: 0.6,
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
    'root-volume': {
      share: 0,
      surfacesAsInstanceCheck: 0.95,
      recovers: { reboot: 0.05, 'stop-start': 0.05, replace: 0.98 },
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
  /** The same for instance status check failures, by the instance's age bucket. */
  readonly firstChoiceByAge: Record<AgeBucket, Record<LadderStep, number>>;
}

export interface RemediationSimReport {
  readonly seed: number;
  readonly failures: number;
  /** How many failures of each kind, and of each hidden cause among them (as the fixed ladder met them). */
  readonly mix: Record<StatusKind, Record<Cause, number> & { failures: number }>;
  /** Failures of each age bucket, and relapses (an instance that failed before), as the fixed ladder met them. */
  readonly context: Record<AgeBucket, number> & { relapses: number };
  /** (a) always reboot → stop-start → replace → page. */
  readonly fixed: PolicyReport;
  /** (b) `nextStep` with the instance's context (family, age, history), by recoveries per minute. */
  readonly learned: PolicyReport & {
    /** Posterior mean success probability per kind and step at the end (the kind's statistics). */
    readonly posteriorMean: Record<StatusKind, Record<LadderStep, number>>;
  };
  /** (c) `nextStep` on the failure kind alone (the ladder before contexts). */
  readonly learnedKindOnly: PolicyReport;
  /** (d) `nextStep` with the context but equal step costs: ranks by the success draw alone. */
  readonly learnedIgnoringCost: PolicyReport;
  /** (e) Knows each fault's cause and takes the steps in the order that minimises its expected time. */
  readonly oracle: PolicyReport;
  /** learned mean ÷ fixed mean time to recover. */
  readonly ratio: number;
  /** learnedKindOnly mean ÷ fixed mean. */
  readonly ratioKindOnly: number;
  /** learnedIgnoringCost mean ÷ fixed mean. */
  readonly ratioIgnoringCost: number;
  /** learned mean ÷ oracle mean: how far from the best possible. */
  readonly ratioToOracle: number;
  /** oracle mean ÷ fixed mean: the most any policy could gain here. */
  readonly oracleToFixed: number;
}

/** The uniforms that decide one failure, drawn before any policy runs: every policy meets the same dice. */
interface FailureDraws {
  readonly arrival: number;
  readonly relapse: number;
  readonly pick: number;
  readonly sameCause: number;
  readonly family: number;
  readonly ageBucket: number;
  readonly age: number;
  readonly cause: number;
  readonly kind: number;
  /** One uniform per step: the step recovers the instance when its uniform is below its probability. */
  readonly steps: Readonly<Record<LadderStep, number>>;
}

/** An instance as the simulation follows it: what the sweep would tell, and the cause of its last fault. */
interface SimInstance {
  readonly id: string;
  readonly family: string;
  /** Minutes: when EC2 last started it (a stop-start moves it; a replace is a new instance). */
  startedAt: number;
  lastCause?: Cause;
  /** Its cases, oldest first (what the case store would return). */
  readonly history: PastCase[];
  inCase: boolean;
  /** Failed before and still in the fleet: a relapse may strike it. */
  inPool: boolean;
}

interface SimCase {
  readonly index: number;
  readonly arrival: number;
  readonly cause: Cause;
  readonly kind: StatusKind;
  readonly age: AgeBucket;
  /** It struck an instance that failed before. */
  readonly relapse: boolean;
  instance: SimInstance;
  readonly tried: LadderStep[];
  /** The context each step was chosen in, to record its outcome under (the learners' `Decision.context`). */
  readonly contexts: Array<LadderContext | undefined>;
}

interface PolicyInput {
  readonly c: SimCase;
  /** Minutes since the simulation started. */
  readonly now: number;
  readonly stats: OutcomeStats;
}
type Policy = (input: PolicyInput) => { step: LadderStep | 'page'; context?: LadderContext };

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

function drawFailures(p: RemediationSimParameters, seed: number): FailureDraws[] {
  const rng = seededRandom(seed);
  const draws: FailureDraws[] = [];
  let t = 0;
  for (let n = 0; n < p.failures; n++) {
    t += -Math.log(1 - rng()) * p.meanMinutesBetweenFailures;
    draws.push({
      arrival: t,
      relapse: rng(),
      pick: rng(),
      sameCause: rng(),
      family: rng(),
      ageBucket: rng(),
      age: rng(),
      cause: rng(),
      kind: rng(),
      steps: { reboot: rng(), 'stop-start': rng(), replace: rng() },
    });
  }
  return draws;
}

/** The entry of `weights` a uniform falls on, by cumulative weight (in the record's order). */
function pickWeighted<K extends string>(weights: Readonly<Record<K, number>>, u: number): K {
  const entries = Object.entries(weights) as Array<[K, number]>;
  const total = entries.reduce((sum, [, w]) => sum + w, 0);
  let at = u * total;
  for (const [key, w] of entries) {
    if (at < w) return key;
    at -= w;
  }
  return entries[entries.length - 1][0];
}

const MINUTES_PER_DAY = 24 * 60;
/** Simulated minute 0, as a wall-clock time (for the instances' launch times). */
const EPOCH = Date.parse('2026-01-01T00:00:00.000Z');
const toMs = (minutes: number) => EPOCH + minutes * 60_000;

const launchedAt = (instance: SimInstance) => new Date(toMs(instance.startedAt)).toISOString();
/** Its age bucket as the ladder reads it (the same bucketing as a real instance's). */
const ageAt = (instance: SimInstance, now: number): AgeBucket => ageBucket(launchedAt(instance), toMs(now))!;

function drawCause(p: RemediationSimParameters, family: string, age: AgeBucket, u: number): Cause {
  const mix = p.causeMix[age];
  return pickWeighted({ ...mix, hardware: mix.hardware * p.families[family].hardwareFactor }, u);
}

const zeroSteps = (): Record<LadderStep, number> => ({ reboot: 0, 'stop-start': 0, replace: 0 });
/** The value below which a share `q` of the sorted values fall (the median averages the middle two). */
function quantile(sorted: readonly number[], q: number): number {
  const at = q * (sorted.length - 1);
  const below = Math.floor(at);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (at - below);
}

/** The share of each first step among some cases. */
function shares(cases: readonly SimCase[]): Record<LadderStep, number> {
  const out = zeroSteps();
  for (const c of cases) if (c.tried.length > 0) out[c.tried[0]] += 1 / cases.length;
  return out;
}

/**
 * The order of the three steps (then a page) that minimises the expected time to recover from a
 * cause: the six orders tried, each step recovering independently with the cause's probability.
 */
export function oracleOrder(p: RemediationSimParameters, cause: Cause): LadderStep[] {
  const recovers = p.causes[cause].recovers;
  const expected = (order: readonly LadderStep[]) =>
    order.reduceRight(
      (after, step) => p.stepMinutes[step] + p.verifyMinutes + (1 - recovers[step]) * after,
      p.pageMinutes,
    );
  const orders: LadderStep[][] = [];
  for (const a of LADDER)
    for (const b of LADDER) for (const c of LADDER) if (a !== b && b !== c && a !== c) orders.push([a, b, c]);
  // Ties keep the first order found (ladder order first).
  return orders.reduce((best, order) => (expected(order) < expected(best) ? order : best));
}

/** One policy over the failures, as a discrete-event simulation; the statistics it learned. */
function run(
  p: RemediationSimParameters,
  draws: readonly FailureDraws[],
  policy: Policy,
  learns: boolean,
): { report: PolicyReport; stats: OutcomeStats; cases: SimCase[] } {
  type Event =
    | { type: 'arrive'; index: number }
    | { type: 'verified'; c: SimCase }
    | { type: 'resolved'; c: SimCase };
  const queue = new EventQueue<Event>();
  draws.forEach((d, index) => {
    queue.push(d.arrival, { type: 'arrive', index });
  });
  let stats: OutcomeStats = new Map();
  const pool: SimInstance[] = [];
  const cases: SimCase[] = new Array(draws.length);
  const recovery: number[] = new Array(draws.length);
  const actions = zeroSteps();
  let pages = 0;

  const open = (now: number, index: number): SimCase => {
    const d = draws[index];
    const eligible = pool.filter((i) => i.inPool && !i.inCase);
    let instance: SimInstance;
    let cause: Cause;
    const relapse = d.relapse < p.relapseShare && eligible.length > 0;
    if (relapse) {
      instance = eligible[Math.floor(d.pick * eligible.length)];
      cause =
        d.sameCause < p.sameCause && instance.lastCause
          ? instance.lastCause
          : drawCause(p, instance.family, ageAt(instance, now), d.cause);
    } else {
      const family = pickWeighted(
        Object.fromEntries(Object.entries(p.families).map(([f, m]) => [f, m.share])),
        d.family,
      );
      const bucket =
        p.firstFaultAge[
          pickWeighted(
            Object.fromEntries(AGE_BUCKETS.map((b) => [b, p.firstFaultAge[b].share])) as Record<
              AgeBucket,
              number
            >,
            d.ageBucket,
          )
        ];
      const days = bucket.days[0] + (bucket.days[1] - bucket.days[0]) * d.age;
      instance = {
        id: `i-${index}`,
        family,
        startedAt: now - days * MINUTES_PER_DAY,
        history: [],
        inCase: false,
        inPool: true,
      };
      pool.push(instance);
      cause = drawCause(p, family, ageAt(instance, now), d.cause);
    }
    instance.inCase = true;
    instance.lastCause = cause;
    const kind: StatusKind =
      d.kind < p.causes[cause].surfacesAsInstanceCheck
        ? 'instance-status-check-failed'
        : 'system-status-check-failed';
    const c: SimCase = {
      index,
      arrival: now,
      cause,
      kind,
      age: ageAt(instance, now),
      relapse,
      instance,
      tried: [],
      contexts: [],
    };
    cases[index] = c;
    return c;
  };

  const end = (c: SimCase, status: 'recovered' | 'paged') => {
    c.instance.history.push({ finding: { kind: c.kind }, status, tried: [...c.tried] });
    c.instance.inCase = false;
  };

  const decide = (now: number, c: SimCase) => {
    const { step, context } = policy({ c, now, stats });
    if (step === 'page') {
      pages++;
      recovery[c.index] = now + p.pageMinutes - c.arrival;
      queue.push(now + p.pageMinutes, { type: 'resolved', c });
      return;
    }
    if (c.tried.includes(step)) {
      throw new Error(`policy chose ${step} again for failure ${c.index} (tried ${c.tried.join(', ')})`);
    }
    c.tried.push(step);
    c.contexts.push(context);
    actions[step]++;
    const done = now + p.stepMinutes[step];
    if (step === 'stop-start') c.instance.startedAt = done;
    if (step === 'replace') {
      // A new instance from the launch template: same family, no history; the old one is gone.
      c.instance.inPool = false;
      c.instance.inCase = false;
      c.instance = {
        id: `${c.instance.id}+`,
        family: c.instance.family,
        startedAt: done,
        lastCause: c.cause,
        history: [],
        inCase: true,
        inPool: true,
      };
      pool.push(c.instance);
    }
    queue.push(done + p.verifyMinutes, { type: 'verified', c });
  };

  while (queue.size > 0) {
    const { time, value } = queue.pop();
    if (value.type === 'arrive') {
      decide(time, open(time, value.index));
      continue;
    }
    const c = value.c;
    if (value.type === 'resolved') {
      end(c, 'paged');
      continue;
    }
    const step = c.tried.at(-1)!;
    const recovered = draws[c.index].steps[step] < p.causes[c.cause].recovers[step];
    if (learns) stats = recordOutcome(stats, c.kind, step, recovered, c.contexts.at(-1));
    if (!recovered) {
      decide(time, c);
      continue;
    }
    recovery[c.index] = time - c.arrival;
    end(c, 'recovered');
    // A replacement that recovered is a healthy new instance: its first fault, if any, is a first fault.
    if (step === 'replace') c.instance.inPool = false;
  }

  const sorted = [...recovery].sort((a, b) => a - b);
  const late = cases.slice(Math.floor((cases.length * 3) / 4));
  const lateInstanceChecks = late.filter((c) => c.kind === 'instance-status-check-failed');
  return {
    report: {
      meanMinutes: recovery.reduce((a, b) => a + b, 0) / recovery.length,
      medianMinutes: quantile(sorted, 0.5),
      p90Minutes: quantile(sorted, 0.9),
      actions,
      pages,
      firstChoice: Object.fromEntries(
        STATUS_KINDS.map((kind) => [kind, shares(late.filter((c) => c.kind === kind))]),
      ) as Record<StatusKind, Record<LadderStep, number>>,
      firstChoiceByAge: Object.fromEntries(
        AGE_BUCKETS.map((age) => [age, shares(lateInstanceChecks.filter((c) => c.age === age))]),
      ) as Record<AgeBucket, Record<LadderStep, number>>,
    },
    stats,
    cases,
  };
}

/**
 * The fixed ladder, the learned ones and the oracle over the same stream of failures:
 * 1. draw the dice of every failure from the seed (arrival time; whether it is a relapse and of
 *    which instance; the family and age of a first fault's instance; its hidden cause; the kind it
 *    shows as; one uniform per step deciding whether that step recovers it): every policy meets
 *    the same dice, and the same world but for what its own steps changed (a stop-start restarts
 *    an instance's time on its host, a replace makes a new instance);
 * 2. run each policy as a discrete-event simulation: a failure arrives, the policy picks a step,
 *    the outcome is known after the step and its verification wait, then it recovers or escalates;
 *    a page costs `pageMinutes` and always recovers; learning policies update their outcome
 *    statistics when each outcome is known (so overlapping cases decide on what is known so far),
 *    the contextual one under every key of the context it chose in;
 * 3. report time to recover (minutes from the failure) per policy, learned/fixed and learned/oracle.
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
  const draws = drawFailures(p, options.seed);
  const totalMinutes = Object.fromEntries(
    LADDER.map((step) => [step, p.stepMinutes[step] + p.verifyMinutes]),
  ) as Record<LadderStep, number>;

  const fixed: Policy = ({ c }) => ({ step: LADDER.find((step) => !c.tried.includes(step)) ?? 'page' });
  const orders = new Map(CAUSES.map((cause) => [cause, oracleOrder(p, cause)]));
  const oracle: Policy = ({ c }) => ({
    step: orders.get(c.cause)!.find((step) => !c.tried.includes(step)) ?? 'page',
  });
  const learner = (stepMinutes: Record<LadderStep, number>, withContext: boolean): Policy => {
    // Each learner gets the same policy stream: differences come from the policy, not the dice.
    const rng = seededRandom((options.seed ^ 0x5bd1e995) >>> 0);
    return ({ c, now, stats }) => {
      const context = withContext
        ? ladderContext(
            { instanceType: `${c.instance.family}.large`, launchedAt: launchedAt(c.instance) },
            c.kind,
            c.instance.history,
            toMs(now),
          )
        : undefined;
      const { action } = nextStep({
        kind: c.kind,
        tried: c.tried,
        stats,
        rng,
        minSamples: p.minSamples,
        explorationRate: p.explorationRate,
        stepMinutes,
        ...(context ? { context } : {}),
      });
      return { step: action, ...(context ? { context } : {}) };
    };
  };
  const equalCosts = { reboot: 1, 'stop-start': 1, replace: 1 };

  const fixedRun = run(p, draws, fixed, false);
  const learnedRun = run(p, draws, learner(totalMinutes, true), true);
  const kindOnlyRun = run(p, draws, learner(totalMinutes, false), true);
  const ignoringCostRun = run(p, draws, learner(equalCosts, true), true);
  const oracleRun = run(p, draws, oracle, false);

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
  const met = fixedRun.cases;
  const mix = Object.fromEntries(
    STATUS_KINDS.map((kind) => {
      const ofKind = met.filter((c) => c.kind === kind);
      return [
        kind,
        {
          failures: ofKind.length,
          ...Object.fromEntries(
            CAUSES.map((cause) => [cause, ofKind.filter((c) => c.cause === cause).length]),
          ),
        },
      ];
    }),
  ) as RemediationSimReport['mix'];
  const context = {
    ...(Object.fromEntries(
      AGE_BUCKETS.map((age) => [age, met.filter((c) => c.age === age).length]),
    ) as Record<AgeBucket, number>),
    relapses: met.filter((c) => c.relapse).length,
  };
  const mean = (r: { report: PolicyReport }) => r.report.meanMinutes;

  return {
    seed: options.seed,
    failures: p.failures,
    mix,
    context,
    fixed: fixedRun.report,
    learned: { ...learnedRun.report, posteriorMean },
    learnedKindOnly: kindOnlyRun.report,
    learnedIgnoringCost: ignoringCostRun.report,
    oracle: oracleRun.report,
    ratio: mean(learnedRun) / mean(fixedRun),
    ratioKindOnly: mean(kindOnlyRun) / mean(fixedRun),
    ratioIgnoringCost: mean(ignoringCostRun) / mean(fixedRun),
    ratioToOracle: mean(learnedRun) / mean(oracleRun),
    oracleToFixed: mean(oracleRun) / mean(fixedRun),
  };
}
