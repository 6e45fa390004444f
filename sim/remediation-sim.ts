import {
  HOST_AGE_BUCKETS,
  type HostAgeBucket,
  hostAgeBucket,
  type LadderContext,
  nextStep,
  recordContextOutcome,
  recordOutcome,
} from '../functions/core/remediation/ladder';
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
        /**
         * Share of failures with this hidden cause for an instance of a family with hardware odds 1
         * on a host whose age has odds 1 (the hardware share is then scaled in odds by `fleet`; the
         * software share is the rest, so only the hardware figure is read).
         */
        readonly share: number;
        /** How often it shows as an instance status check failure (else as a system one). */
        readonly surfacesAsInstanceCheck: number;
        /** Probability that each step recovers the instance (independently per step, given the cause). */
        readonly recovers: Readonly<Record<LadderStep, number>>;
      }
    >
  >;
  /**
   * Who fails: the instances' type families and host ages, and how they move the hidden cause. A
   * fault's hardware share is `causes.hardware.share` multiplied, in odds, by its family's and its
   * host age bucket's `hardwareOdds` (p ÷ (1 − p) × family × age, back to a probability).
   */
  readonly fleet: {
    /**
     * Share of first failures on each family, and its hardware odds: older generations (Xen-era
     * m4, c4) sit on older hosts and fail on hardware more often than Nitro m5/c5, the newest
     * (m6i, m7g) least.
     */
    readonly families: Readonly<Record<string, { readonly share: number; readonly hardwareOdds: number }>>;
    /** How long before the simulation a first-failing instance was launched: exponential, this mean. */
    readonly meanLaunchedDaysAgo: number;
    /**
     * Hardware odds by days since the instance's launch (a stop-start renews the launch, on a new
     * host): a bathtub — a fresh host's burn-in faults, fewer once established, wear after 90 days.
     */
    readonly hostAgeHardwareOdds: Readonly<Record<HostAgeBucket, number>>;
  };
  /**
   * Instances fail again: a share of the failures hit an instance that failed at least `minGapMinutes`
   * before (any such instance, equally likely). Whether it is the same fault depends on what the
   * policy did last time: on the same hardware (recovered by a reboot) the cause is the same as
   * before with probability `keepsCause` (else drawn afresh); moved to new hardware (stop-start) or
   * fixed by a person (page), it is drawn afresh; a replaced instance is a new one (a new launch,
   * no history).
   */
  readonly relapse: {
    readonly share: number;
    readonly minGapMinutes: number;
    readonly keepsCause: number;
  };
  /** How long each step takes before verification can start. */
  readonly stepMinutes: Readonly<Record<LadderStep, number>>;
  /** The wait after each attempt before its outcome is known. */
  readonly verifyMinutes: number;
  /** A paged person takes this long and always recovers the instance. */
  readonly pageMinutes: number;
  readonly minSamples: number;
  readonly explorationRate: number;
  /** The contextual learner's `priorStrength` and `helpedBeforeBoost` (see `nextStep`). */
  readonly priorStrength: number;
  readonly helpedBeforeBoost: number;
}

/**
 * The simulated world: two hidden causes that the two finding kinds reveal only imperfectly, and
 * that an instance's family, host age and history make more or less likely.
 */
export const REMEDIATION_SIM_PARAMETERS: RemediationSimParameters = {
  failures: 2000,
  meanMinutesBetweenFailures: 20,
  causes: {
    hardware: {
      share: 0.4,
      // A failing host often takes the guest down first (memory, disk, network errors crash or hang
      // its kernel), so half of the hardware faults show as the guest's check: the kind alone leaves
      // the instance checks mixed, and the family and host age tell them apart.
      surfacesAsInstanceCheck: 0.5,
      recovers: { reboot: 0.05, 'stop-start': 0.9, replace: 0.99 },
    },
    software: {
      share: 0.6,
      surfacesAsInstanceCheck: 0.98,
      recovers: { reboot: 0.85, 'stop-start': 0.9, replace: 0.99 },
    },
  },
  fleet: {
    families: {
      m4: { share: 0.15, hardwareOdds: 3 },
      c4: { share: 0.1, hardwareOdds: 3 },
      m5: { share: 0.3, hardwareOdds: 1 },
      c5: { share: 0.15, hardwareOdds: 1 },
      m6i: { share: 0.15, hardwareOdds: 0.4 },
      m7g: { share: 0.15, hardwareOdds: 0.3 },
    },
    meanLaunchedDaysAgo: 120,
    hostAgeHardwareOdds: { '<7d': 2, '7-90d': 0.7, '>90d': 2 },
  },
  relapse: { share: 0.25, minGapMinutes: 24 * 60, keepsCause: 0.8 },
  stepMinutes: { reboot: 3, 'stop-start': 8, replace: 15 },
  verifyMinutes: 5,
  pageMinutes: 60,
  minSamples: 10,
  explorationRate: 0.1,
  priorStrength: 10,
  helpedBeforeBoost: 2,
};

export interface PolicyReport {
  readonly meanMinutes: number;
  readonly medianMinutes: number;
  readonly p90Minutes: number;
  /** Mean over the last quarter of the failures (where learning ends up). */
  readonly lateMeanMinutes: number;
  /** Steps taken, over all failures. */
  readonly actions: Record<LadderStep, number>;
  readonly pages: number;
  /** Share of each first step per kind over the last quarter of the failures (where learning ends up). */
  readonly firstChoice: Record<StatusKind, Record<LadderStep, number>>;
  /**
   * How many failures of each kind this policy met, and how many were hardware underneath (relapses
   * depend on what the policy did before, so the mix differs a little between policies).
   */
  readonly mix: Record<StatusKind, { failures: number; hardware: number }>;
  /** Failures that hit an instance that had failed before. */
  readonly relapses: number;
}

export interface RemediationSimReport {
  readonly seed: number;
  readonly failures: number;
  /** The fixed ladder's mix (see `PolicyReport.mix`). */
  readonly mix: Record<StatusKind, { failures: number; hardware: number }>;
  /** (a) always reboot → stop-start → replace → page. */
  readonly fixed: PolicyReport;
  /**
   * (o) knows each fault's cause: tries the steps (and a page, a sure step) in decreasing order of
   * recovers[cause][step] ÷ (step + verification minutes), the order that minimises the expected time
   * to recover for independent steps: a lower bound no policy beats on average.
   */
  readonly oracle: PolicyReport;
  /** (b) `nextStep` learning online per failure kind, ranking draws by recoveries per minute (today's). */
  readonly learned: PolicyReport & {
    /** Posterior mean success probability per kind and step at the end. */
    readonly posteriorMean: Record<StatusKind, Record<LadderStep, number>>;
  };
  /** (b') `nextStep` with each failure's context (family, host age, what helped this instance before). */
  readonly learnedContextual: PolicyReport;
  /** (c) `nextStep` with equal step costs: ranks by the success draw alone. */
  readonly learnedIgnoringCost: PolicyReport;
  /** learnedContextual mean ÷ fixed mean time to recover. */
  readonly ratio: number;
  /** learned (context-free) mean ÷ fixed mean. */
  readonly ratioContextFree: number;
  /** learnedIgnoringCost mean ÷ fixed mean. */
  readonly ratioIgnoringCost: number;
  /** oracle mean ÷ fixed mean: the best any policy could do against the fixed ladder. */
  readonly oracleRatio: number;
  /** learnedContextual mean ÷ oracle mean (≥ 1 on average). */
  readonly learnedOracleRatio: number;
  /** learned (context-free) mean ÷ oracle mean. */
  readonly contextFreeOracleRatio: number;
}

/**
 * One failure's dice, drawn before any policy runs so every policy meets the same world. What they
 * mean for a policy (cause, kind, context) is decided in `faultOf`, the one place faults are drawn.
 */
interface Failure {
  readonly arrival: number;
  /** The instance (a slot in the fleet) it hits: a new one or, for a relapse, one that failed before. */
  readonly instance: number;
  readonly relapse: boolean;
  /** Uniforms: the cause is hardware when `cause` is below the hardware share. */
  readonly cause: number;
  /** For a relapse on the same hardware: the old cause stays when this is below `keepsCause`. */
  readonly keep: number;
  /** The kind: an instance check failure when below the cause's `surfacesAsInstanceCheck`. */
  readonly kind: number;
  /** One uniform per step: the step recovers when its uniform is below its probability. */
  readonly draws: Readonly<Record<LadderStep, number>>;
}

/** An instance (a slot) first seen failing: its family and when it was launched (minutes, < 0 before the start). */
interface Instance {
  readonly family: string;
  readonly launchedAt: number;
}

/** What a policy's history left on an instance. */
interface InstanceState {
  family: string;
  launchedAt: number;
  /** The cause of its last fault, and what recovered it (undefined: not yet failed, or a new instance). */
  last?: { cause: Cause; fix: LadderStep | 'page' };
}

/** A fault as a policy meets it: the kind and context it sees, and the cause only the oracle knows. */
interface Fault {
  readonly cause: Cause;
  readonly kind: StatusKind;
  readonly context: LadderContext;
}

type Policy = (fault: Fault, tried: readonly LadderStep[], stats: OutcomeStats) => LadderStep | 'page';
type Recorder = (stats: OutcomeStats, fault: Fault, step: LadderStep, recovered: boolean) => OutcomeStats;

const MINUTES_PER_DAY = 24 * 60;

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

/** The family a uniform picks, by the families' shares (normalised). */
function familyOf(p: RemediationSimParameters, u: number): string {
  const families = Object.entries(p.fleet.families);
  const total = families.reduce((sum, [, f]) => sum + f.share, 0);
  let acc = 0;
  for (const [name, f] of families) {
    acc += f.share / total;
    if (u < acc) return name;
  }
  return families.at(-1)![0];
}

/** The dice of every failure and the instances they hit (policy-independent: arrivals decide relapses). */
function generateFailures(
  p: RemediationSimParameters,
  seed: number,
): { failures: Failure[]; instances: Instance[] } {
  const rng = seededRandom(seed);
  const failures: Failure[] = [];
  const instances: Instance[] = [];
  /** Each instance's last failure's arrival (a relapse needs it `relapse.minGapMinutes` ago). */
  const lastFailure: number[] = [];
  let t = 0;
  for (let n = 0; n < p.failures; n++) {
    t += -Math.log(1 - rng()) * p.meanMinutesBetweenFailures;
    const relapseDraw = rng();
    const pick = rng();
    const familyDraw = rng();
    const launchDraw = rng();
    const eligible = lastFailure.flatMap((at, i) => (at <= t - p.relapse.minGapMinutes ? [i] : []));
    const relapse = relapseDraw < p.relapse.share && eligible.length > 0;
    let instance: number;
    if (relapse) {
      instance = eligible[Math.floor(pick * eligible.length)];
    } else {
      instance = instances.length;
      const launchedDaysAgo = -Math.log(1 - launchDraw) * p.fleet.meanLaunchedDaysAgo;
      instances.push({ family: familyOf(p, familyDraw), launchedAt: -launchedDaysAgo * MINUTES_PER_DAY });
    }
    lastFailure[instance] = t;
    failures.push({
      arrival: t,
      instance,
      relapse,
      cause: rng(),
      keep: rng(),
      kind: rng(),
      draws: { reboot: rng(), 'stop-start': rng(), replace: rng() },
    });
  }
  return { failures, instances };
}

/** The hardware share for a family and host age: the base share scaled in odds. */
export function hardwareShare(p: RemediationSimParameters, family: string, ageDays: number): number {
  const base = p.causes.hardware.share;
  const familyOdds = p.fleet.families[family]?.hardwareOdds ?? 1;
  const odds = (base / (1 - base)) * familyOdds * p.fleet.hostAgeHardwareOdds[hostAgeBucket(ageDays)];
  return odds / (1 + odds);
}

/**
 * The fault a failure is for a policy, given what that policy's history left on the instance — the
 * one place faults are drawn:
 * - cause: on the same hardware as a previous fault (recovered by a reboot), the previous cause with
 *   probability `relapse.keepsCause`; otherwise hardware with the share for the instance's family
 *   and host age (`hardwareShare`), software else;
 * - kind: an instance status check failure with the cause's `surfacesAsInstanceCheck`, else a system one;
 * - context: the family, the days since the (last) launch, and the step that recovered it last time.
 */
function faultOf(p: RemediationSimParameters, f: Failure, state: InstanceState): Fault {
  const ageDays = Math.max(0, (f.arrival - state.launchedAt) / MINUTES_PER_DAY);
  const sameHardware = state.last?.fix === 'reboot';
  const cause: Cause =
    sameHardware && f.keep < p.relapse.keepsCause
      ? state.last!.cause
      : f.cause < hardwareShare(p, state.family, ageDays)
        ? 'hardware'
        : 'software';
  const kind: StatusKind =
    f.kind < p.causes[cause].surfacesAsInstanceCheck
      ? 'instance-status-check-failed'
      : 'system-status-check-failed';
  const fix = state.last?.fix;
  const helpedBefore = fix === undefined || fix === 'page' ? undefined : fix;
  return { cause, kind, context: { kind, family: state.family, hostAgeDays: ageDays, helpedBefore } };
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
  world: { readonly failures: readonly Failure[]; readonly instances: readonly Instance[] },
  policy: Policy,
  record: Recorder,
): { report: PolicyReport; stats: OutcomeStats } {
  const { failures } = world;
  type Event = { type: 'arrive' | 'verified'; index: number };
  const queue = new EventQueue<Event>();
  failures.forEach((f, index) => {
    queue.push(f.arrival, { type: 'arrive', index });
  });
  let stats: OutcomeStats = new Map();
  const states: InstanceState[] = world.instances.map((i) => ({
    family: i.family,
    launchedAt: i.launchedAt,
  }));
  /** The instance's open case, if any: a relapse must not find one (`relapse.minGapMinutes`). */
  const open = new Set<number>();
  const faults: Fault[] = new Array(failures.length);
  const tried: LadderStep[][] = failures.map(() => []);
  const recovery: number[] = new Array(failures.length);
  const first: Array<LadderStep | 'page'> = new Array(failures.length);
  const actions = zeroSteps();
  let pages = 0;

  const recovered = (now: number, index: number, fix: LadderStep | 'page') => {
    const f = failures[index];
    const state = states[f.instance];
    recovery[index] = now - f.arrival;
    open.delete(f.instance);
    state.last = { cause: faults[index].cause, fix };
    // A stop-start starts the instance anew on another host (EC2 renews its launch time); a replace
    // is a new instance (no history); a person's fix is one the ladder did not make.
    if (fix === 'stop-start') state.launchedAt = now;
    if (fix === 'replace') {
      state.launchedAt = now;
      state.last = undefined;
    }
  };

  const decide = (now: number, index: number) => {
    const step = policy(faults[index], tried[index], stats);
    first[index] ??= step;
    if (step === 'page') {
      pages++;
      recovered(now + p.pageMinutes, index, 'page');
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
    const f = failures[value.index];
    if (value.type === 'arrive') {
      if (open.has(f.instance)) {
        throw new Error(`failure ${value.index} hit instance ${f.instance} while its last case was open`);
      }
      open.add(f.instance);
      faults[value.index] = faultOf(p, f, states[f.instance]);
      decide(time, value.index);
      continue;
    }
    const fault = faults[value.index];
    const step = tried[value.index].at(-1)!;
    const ok = f.draws[step] < p.causes[fault.cause].recovers[step];
    stats = record(stats, fault, step, ok);
    if (ok) recovered(time, value.index, step);
    else decide(time, value.index);
  }

  const sorted = [...recovery].sort((a, b) => a - b);
  const lateFrom = Math.floor((failures.length * 3) / 4);
  const firstChoice = Object.fromEntries(
    STATUS_KINDS.map((kind) => {
      const late = faults.map((f, i) => ({ f, i })).filter(({ f, i }) => i >= lateFrom && f.kind === kind);
      const shares = zeroSteps();
      for (const { i } of late) {
        const step = first[i];
        if (step !== 'page') shares[step] += 1 / late.length;
      }
      return [kind, shares];
    }),
  ) as Record<StatusKind, Record<LadderStep, number>>;
  const mix = Object.fromEntries(
    STATUS_KINDS.map((kind) => {
      const ofKind = faults.filter((f) => f.kind === kind);
      return [
        kind,
        { failures: ofKind.length, hardware: ofKind.filter((f) => f.cause === 'hardware').length },
      ];
    }),
  ) as Record<StatusKind, { failures: number; hardware: number }>;
  return {
    report: {
      meanMinutes: recovery.reduce((a, b) => a + b, 0) / recovery.length,
      medianMinutes: quantile(sorted, 0.5),
      p90Minutes: quantile(sorted, 0.9),
      lateMeanMinutes: recovery.slice(lateFrom).reduce((a, b) => a + b, 0) / (recovery.length - lateFrom),
      actions,
      pages,
      firstChoice,
      mix,
      relapses: failures.filter((f) => f.relapse).length,
    },
    stats,
  };
}

/**
 * The fixed ladder, an oracle and the learned ladders over the same stream of failures:
 * 1. draw the failures' dice from the seed (arrival times, the instance each hits — a new one, or
 *    for a relapse one that failed before — and uniforms for its cause, kind and each step's
 *    outcome): every policy meets the same world;
 * 2. run each policy as a discrete-event simulation: a failure arrives and becomes a fault for this
 *    policy (`faultOf`: its cause may depend on what the policy did to the instance before), the
 *    policy picks a step, the outcome is known after the step and its verification wait, then it
 *    recovers or escalates; a page costs `pageMinutes` and always recovers; learning policies update
 *    their outcome statistics when each outcome is known (so overlapping cases decide on what is
 *    known so far); the contextual learner records under every `contextKeys` key;
 * 3. report time to recover (minutes from the failure) per policy, and the ratios.
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
  if (!(p.relapse.minGapMinutes >= 0)) {
    throw new Error(`expected relapse.minGapMinutes ≥ 0, found ${p.relapse.minGapMinutes}`);
  }
  for (const bucket of HOST_AGE_BUCKETS) {
    if (!(p.fleet.hostAgeHardwareOdds[bucket] > 0)) {
      throw new Error(`expected fleet.hostAgeHardwareOdds['${bucket}'] > 0`);
    }
  }
  const world = generateFailures(p, options.seed);
  const totalMinutes = Object.fromEntries(
    LADDER.map((step) => [step, p.stepMinutes[step] + p.verifyMinutes]),
  ) as Record<LadderStep, number>;

  const fixed: Policy = (_fault, tried) => LADDER.find((step) => !tried.includes(step)) ?? 'page';
  // The oracle's order per cause: each step and a page (a sure step), by recoveries per minute.
  const oracleOrder = Object.fromEntries(
    (['hardware', 'software'] as const).map((cause) => {
      const options = [
        ...LADDER.map((step) => ({ step, rate: p.causes[cause].recovers[step] / totalMinutes[step] })),
        { step: 'page' as const, rate: 1 / p.pageMinutes },
      ];
      const order = options.sort((a, b) => b.rate - a.rate).map((o) => o.step);
      return [cause, order.slice(0, order.indexOf('page') + 1)];
    }),
  ) as Record<Cause, Array<LadderStep | 'page'>>;
  const oracle: Policy = (fault, tried) =>
    oracleOrder[fault.cause].find((step) => step === 'page' || !tried.includes(step)) ?? 'page';
  const learner = (stepMinutes: Record<LadderStep, number>, contextual: boolean): Policy => {
    // Each learner gets the same policy stream: differences come from the policy, not the dice.
    const rng = seededRandom((options.seed ^ 0x5bd1e995) >>> 0);
    return (fault, tried, stats) =>
      nextStep({
        kind: fault.kind,
        tried,
        stats,
        rng,
        minSamples: p.minSamples,
        explorationRate: p.explorationRate,
        stepMinutes,
        ...(contextual
          ? { context: fault.context, priorStrength: p.priorStrength, helpedBeforeBoost: p.helpedBeforeBoost }
          : {}),
      }).action;
  };
  const byKind: Recorder = (stats, fault, step, ok) => recordOutcome(stats, fault.kind, step, ok);
  const byContext: Recorder = (stats, fault, step, ok) =>
    recordContextOutcome(stats, fault.context, step, ok);

  const fixedRun = run(p, world, fixed, byKind);
  const oracleRun = run(p, world, oracle, byKind);
  const learnedRun = run(p, world, learner(totalMinutes, false), byKind);
  const contextualRun = run(p, world, learner(totalMinutes, true), byContext);
  const ignoringCostRun = run(p, world, learner({ reboot: 1, 'stop-start': 1, replace: 1 }, false), byKind);

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
  const mean = (r: { report: PolicyReport }) => r.report.meanMinutes;

  return {
    seed: options.seed,
    failures: p.failures,
    mix: fixedRun.report.mix,
    fixed: fixedRun.report,
    oracle: oracleRun.report,
    learned: { ...learnedRun.report, posteriorMean },
    learnedContextual: contextualRun.report,
    learnedIgnoringCost: ignoringCostRun.report,
    ratio: mean(contextualRun) / mean(fixedRun),
    ratioContextFree: mean(learnedRun) / mean(fixedRun),
    ratioIgnoringCost: mean(ignoringCostRun) / mean(fixedRun),
    oracleRatio: mean(oracleRun) / mean(fixedRun),
    learnedOracleRatio: mean(contextualRun) / mean(oracleRun),
    contextFreeOracleRatio: mean(learnedRun) / mean(oracleRun),
  };
}
