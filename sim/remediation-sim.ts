/**
 * Remediation policies compared in a small simulated world of EC2 status-check failures: the fixed
 * ladder FleetOps had (reboot → stop-start → replace → page, every case fresh), the deployed
 * learning ladder exactly as Decide and Verify run it (`nextStep` with the instance's context,
 * `relapseOf`, `revisedOutcome`, `lastRemediationOf`, outcomes counted under `contextKeys`), its
 * ablations, and an oracle that knows each fault's cause.
 *
 * What is measured: **time to recover per root fault**. A root fault is one problem: a degraded
 * host, or something wrong in the guest. It shows as one or more *failure episodes* (status-check
 * failures, each one remediation case): a reboot on a degraded host brings the guest back, the
 * checks pass and the case ends recovered, but the host fails the guest again hours later — another
 * episode of the same fault — until a step moves the instance off that host (stop-start, replace)
 * or a person fixes it. A fault's time to recover is the sum, over its episodes until it is fixed
 * for good, of the minutes the instance was out of service in each: from the episode's failure to
 * its verified recovery (or to the paged person's fix). The hours between episodes, when the
 * instance serves again, do not count. Per-episode figures (each case on its own, what FleetOps
 * measured before) are reported too, but the headline is per fault: a policy that "recovers" a case
 * quickly and gets the same fault back is not fast.
 *
 * Every parameter of the world is in `REMEDIATION_SIM_PARAMETERS`, each with where its value comes
 * from: a public fact where there is one, otherwise a plain assumption, named as such.
 */
import type { FindingKind } from '../functions/core/events/findings';
import {
  contextKeys,
  HOST_AGE_BUCKETS,
  type HostAgeBucket,
  hostAgeBucket,
  hostAgeDays,
} from '../functions/core/remediation/context';
import { nextStep } from '../functions/core/remediation/ladder';
import {
  type LastRemediation,
  lastRemediationOf,
  type Relapse,
  type RelapseSettings,
  relapseOf,
  revisedOutcome,
} from '../functions/core/remediation/relapse';
import {
  LADDER,
  type LadderStep,
  type OutcomeCount,
  type RecordedRelapse,
  statsKey,
} from '../functions/core/remediation/types';
import { MinHeap } from './kernel/min-heap';
import { seededRandom } from './kernel/random';

type StatusKind = 'system-status-check-failed' | 'instance-status-check-failed';
const STATUS_KINDS: readonly StatusKind[] = ['system-status-check-failed', 'instance-status-check-failed'];
type Cause = 'hardware' | 'software';
const CAUSES: readonly Cause[] = ['hardware', 'software'];

/** One hidden cause: how often it happens, how it shows, and what each step does to it. */
export interface CauseParameters {
  /**
   * Share of root faults with this cause for an instance of a family with hardware odds 1 on a host
   * whose age has odds 1 (the hardware share is then scaled in odds by `fleet`; the software share
   * is the rest, so only the hardware figure is read).
   */
  readonly share: number;
  /** How often an episode of it shows as an instance status check failure (else as a system one). */
  readonly surfacesAsInstanceCheck: number;
  /**
   * Probability that each step fixes the fault for good, drawn independently for each attempt.
   * (sim/world/sim-world.ts, the fleet simulator, reads these too, as "the step recovers it".)
   */
  readonly recovers: Readonly<Record<LadderStep, number>>;
  /**
   * Probability that a reboot that did not fix the fault brings the guest back anyway: the status
   * checks pass and Verify counts a recovery, but the fault stays (the instance is on the same host)
   * and fails the instance again after `persistence.meanHoursToRelapse`. Taken from the same uniform
   * as `recovers.reboot` (fixed below `recovers.reboot`, restored below the sum), so the sum is ≤ 1.
   */
  readonly rebootRestores: number;
}

/** Overrides of `nextStep`'s options for the learners; absent (the default): the deployed defaults. */
export interface LadderOverrides {
  readonly minSamples?: number;
  readonly explorationRate?: number;
  readonly priorStrength?: number;
  readonly helpedBeforeBoost?: number;
}

export interface RemediationSimParameters {
  /** Root faults to simulate (each shows as one or more failure episodes). */
  readonly faults: number;
  /** Root faults arrive as a Poisson process; cases overlap, so outcomes are learned with a lag. */
  readonly meanMinutesBetweenFaults: number;
  readonly causes: Readonly<Record<Cause, CauseParameters>>;
  /** How an unfixed fault comes back after a reboot restored the guest. */
  readonly persistence: {
    /** Hours from the restoring reboot's verification to the next episode: exponential, this mean. */
    readonly meanHoursToRelapse: number;
    /**
     * Episodes after which a person notices the instance on their own and fixes it (a page's cost,
     * counted as a page): a guard so that a policy that never leaves the host cannot loop forever in
     * a world where reboots always restore. With the default world it almost never triggers.
     */
    readonly maxEpisodes: number;
  };
  /**
   * Who fails: the instances' type families and host ages, and how they move the hidden cause. A
   * fault's hardware share is `causes.hardware.share` multiplied, in odds, by its family's and its
   * host age bucket's `hardwareOdds` (p ÷ (1 − p) × family × age, back to a probability).
   */
  readonly fleet: {
    /** Share of instances of each family, and its hardware odds. */
    readonly families: Readonly<Record<string, { readonly share: number; readonly hardwareOdds: number }>>;
    /** How long before the simulation a first-failing instance was launched: exponential, this mean. */
    readonly meanLaunchedDaysAgo: number;
    /** Hardware odds by days since the instance's launch (a stop-start renews the launch, on a new host). */
    readonly hostAgeHardwareOdds: Readonly<Record<HostAgeBucket, number>>;
  };
  /**
   * Unrelated new faults on instances that failed before: a share of the root faults hit an instance
   * whose last root fault arrived at least `minGapMinutes` before (any such instance, equally likely;
   * one still carrying an unfixed fault for a policy is not hit: that fault goes to a new instance).
   * On the same host and guest (the last fault was fixed by a reboot), the cause is the last one with
   * probability `keepsCause`, else drawn afresh; moved to a new host (stop-start) or fixed by a
   * person, it is drawn afresh; a replaced instance is a new one (a new launch, no history).
   */
  readonly repeat: {
    readonly share: number;
    readonly minGapMinutes: number;
    readonly keepsCause: number;
  };
  /** How long each step takes before verification can start. */
  readonly stepMinutes: Readonly<Record<LadderStep, number>>;
  /** The wait after each attempt before its outcome is known. */
  readonly verifyMinutes: number;
  /** A paged person takes this long and fixes the fault for good. */
  readonly pageMinutes: number;
  /** The learners' `nextStep` options (absent: the deployed defaults, as Decide passes none). */
  readonly ladder?: LadderOverrides;
  /** The relapse window and flap limit (absent: the deployed defaults, 24 h and 3). */
  readonly relapse?: RelapseSettings;
}

/**
 * The simulated world. Where a value is a guess it says so: no public source gives these rates for
 * EC2, and they were chosen for plausibility before any result was looked at, not to reach a ratio.
 */
export const REMEDIATION_SIM_PARAMETERS: RemediationSimParameters = {
  faults: 2000,
  // 2,000 faults over about four weeks. Only the learning lag depends on it (outcomes are known
  // minutes after a decision); a guess.
  meanMinutesBetweenFaults: 20,
  causes: {
    hardware: {
      // Assumption: 40% of status-check faults come from the host at base odds (no public split).
      share: 0.4,
      // A failing host often takes the guest down first (memory, disk, network errors crash or hang
      // its kernel), so half of the hardware faults show as the guest's check (a guess): the kind
      // alone leaves the instance checks mixed, and the family and host age tell them apart.
      surfacesAsInstanceCheck: 0.5,
      recovers: {
        // A reboot keeps the instance on the same host (AWS: a reboot is an operating-system reboot;
        // the instance keeps its instance-store data): it fixes a host fault for good only when the
        // fault was transient and cleared anyway (5%, a guess).
        reboot: 0.05,
        // A stop-start moves an EBS-backed instance to a new host (AWS's advice for a failed system
        // status check); it fails when the stop hangs on the sick host or capacity is short (10%, a guess).
        'stop-start': 0.9,
        // A new instance from the group's launch template, on other hardware (1% failure, a guess).
        replace: 0.99,
      },
      // A guess (no public figure): half the time the guest comes back after a reboot on the sick
      // host and passes its checks until the host fails it again. That hardware faults persist is
      // public: memory errors are dominated by hard errors, and a DIMM with a correctable error has
      // another in the same month in more than 85% of cases (Schroeder, Pinheiro and Weber, "DRAM
      // errors in the wild", SIGMETRICS 2009).
      rebootRestores: 0.5,
    },
    software: {
      share: 0.6,
      // The system check watches AWS's side (network, power, host); a problem in the guest fails the
      // instance check (AWS's list: exhausted memory, corrupted file system, kernel, network
      // configuration). 2% shows as a system check: noise, a guess.
      surfacesAsInstanceCheck: 0.98,
      // A restart clears most guest problems (hangs, exhausted memory, a wedged driver) for good: 85%,
      // a guess; a stop-start is a restart too (90%), a replace a fresh root volume (99%). Attempts
      // are drawn independently: an assumption that flatters a stop-start after a failed reboot (both
      // restart the same root volume), for every policy alike.
      recovers: { reboot: 0.85, 'stop-start': 0.9, replace: 0.99 },
      // Assumption: a software fault does not come back once a restart cleared it (a leak that
      // returns is a new fault, if it is one at all).
      rebootRestores: 0,
    },
  },
  persistence: {
    // A guess: a sick host fails the guest again within hours (exponential, mean 4 h), so 99.75% of
    // the relapses fall within the deployed 24 h relapse window (e^-6 beyond it).
    meanHoursToRelapse: 4,
    // A guard (see its doc): after 20 episodes a person notices; P ≈ 0.5^19 per hardware fault here.
    maxEpisodes: 20,
  },
  fleet: {
    // Guesses: older generations (Xen-era m4, c4) sit on older hosts and fail on hardware more often
    // than Nitro m5/c5, the newest (m6i, m7g) least.
    families: {
      m4: { share: 0.15, hardwareOdds: 3 },
      c4: { share: 0.1, hardwareOdds: 3 },
      m5: { share: 0.3, hardwareOdds: 1 },
      c5: { share: 0.15, hardwareOdds: 1 },
      m6i: { share: 0.15, hardwareOdds: 0.4 },
      m7g: { share: 0.15, hardwareOdds: 0.3 },
    },
    // A guess: instances have run four months on average when they first fail.
    meanLaunchedDaysAgo: 120,
    // A bathtub, the textbook shape of hardware failure rates over age (burn-in, then wear); the
    // odds themselves are guesses. The age is EC2's LaunchTime, which a stop-start renews.
    hostAgeHardwareOdds: { '<7d': 2, '7-90d': 0.7, '>90d': 2 },
  },
  // Guesses: a quarter of the faults hit an instance that failed before (at least 3 days before,
  // so well outside the relapse window: an unrelated new fault), and the same workload on the same
  // host keeps its kind of problem 80% of the time.
  repeat: { share: 0.25, minGapMinutes: 3 * 24 * 60, keepsCause: 0.8 },
  // Guesses, the ladder's own weights (ladder.ts STEP_MINUTES: reboot 3, stop-start 8, replace 15,
  // each + 5 to verify); a person takes an hour.
  stepMinutes: { reboot: 3, 'stop-start': 8, replace: 15 },
  verifyMinutes: 5,
  pageMinutes: 60,
};

export interface PolicyReport {
  /** Mean time to recover per root fault (minutes out of service over all its episodes). */
  readonly meanMinutes: number;
  readonly medianMinutes: number;
  readonly p90Minutes: number;
  /** Mean per fault over the last quarter of the faults (where learning ends up). */
  readonly lateMeanMinutes: number;
  /** Failure episodes (remediation cases) in all: the faults plus their relapses. */
  readonly episodes: number;
  /** Episodes that were an unfixed fault come back (episodes − faults). */
  readonly relapses: number;
  /** Mean minutes out of service per episode (each case on its own). */
  readonly meanEpisodeMinutes: number;
  /** Steps taken, over all episodes. */
  readonly actions: Record<LadderStep, number>;
  /** Pages, all reasons (ladder exhausted, flapping, a person noticing after `maxEpisodes`). */
  readonly pages: number;
  /** Pages because a relapse reached the flap limit (the deployed relapse memory only). */
  readonly flapPages: number;
  /** Faults a person fixed after `persistence.maxEpisodes` episodes (counted in `pages` too). */
  readonly cappedFaults: number;
  /** Share of each first step per kind, over the first episodes of the last quarter of the faults. */
  readonly firstChoice: Record<StatusKind, Record<LadderStep | 'page', number>>;
  /** Share of each first step over the relapse episodes (all of them), and how many there were. */
  readonly relapseFirstChoice: Record<LadderStep | 'page', number> & { readonly episodes: number };
  /**
   * Episodes of each kind, and how many were hardware underneath (what a policy does changes which
   * instances fail later and how often a fault comes back, so the mix differs between policies).
   */
  readonly mix: Record<StatusKind, { episodes: number; hardware: number }>;
  /** Root faults with a hardware cause. */
  readonly hardwareFaults: number;
  /** Root faults that hit an instance that had failed before (an unrelated new fault). */
  readonly repeatFaults: number;
  /** Repeat faults whose instance still carried an unfixed fault, sent to a new instance instead. */
  readonly redirectedRepeats: number;
  /** Every case, when asked for (`trace`): what it met and did. */
  readonly cases?: readonly CaseTrace[];
}

/** One remediation case (an episode), for tests and for reading what a policy did. */
export interface CaseTrace {
  readonly fault: number;
  /** 0: the fault's first episode; n: its n-th relapse. */
  readonly episode: number;
  readonly cause: Cause;
  /** Absent for an episode a person took over (`capped`): no case was opened. */
  readonly kind?: StatusKind;
  /** Steps the case inherited from the last one (the deployed relapse memory), never tried again. */
  readonly inherited: readonly LadderStep[];
  /** Steps this case took, in order. */
  readonly steps: readonly LadderStep[];
  /** fixed for good, restored (the fault stays and comes back), paged, or capped (a person noticed). */
  readonly end: 'fixed' | 'restored' | 'paged' | 'capped';
  readonly minutes: number;
}

export interface LearnerReport extends PolicyReport {
  /** Posterior mean success probability per kind and step at the end (the kind's own counts). */
  readonly posteriorMean: Record<StatusKind, Record<LadderStep, number>>;
}

export interface RemediationSimReport {
  readonly seed: number;
  readonly faults: number;
  /** The fixed ladder's mix (see `PolicyReport.mix`). */
  readonly mix: Record<StatusKind, { episodes: number; hardware: number }>;
  /** Reboot → stop-start → replace → page, every case fresh (FleetOps before the learning ladder). */
  readonly fixed: PolicyReport;
  /**
   * The deployed ladder (the headline): `nextStep` with the instance's family, host age and the
   * step that helped it before (outside the window); a relapse within the window inherits the last
   * case's steps, pages at the flap limit, and turns the counted success of the step that
   * "recovered" the last case into a failure (once); outcomes counted under `contextKeys`.
   */
  readonly learned: LearnerReport;
  /** Ablation: family and host age, no relapse memory (the deployed ladder before relapse.ts). */
  readonly learnedNoRelapse: LearnerReport;
  /** Ablation: relapse memory (with its `helpedBefore` hint), statistics per kind only. */
  readonly learnedNoContext: LearnerReport;
  /** Ablation: per kind only, no relapse memory: the first learning ladder (context-free). */
  readonly contextFree: LearnerReport;
  /** The deployed ladder with equal step costs: ranks by the success draw alone. */
  readonly learnedIgnoringCost: LearnerReport;
  /**
   * Knows each fault's cause and takes, in every episode, the order of steps (and a page) with the
   * least expected time to recover per fault for that cause, relapses included (`oracleOrder`).
   */
  readonly oracle: PolicyReport;
  /** The oracle's order per cause. */
  readonly oracleOrder: Record<Cause, ReadonlyArray<LadderStep | 'page'>>;
  /** learned ÷ fixed mean time to recover per fault (the headline; = `learnedFixedRatio`). */
  readonly ratio: number;
  readonly learnedFixedRatio: number;
  /** learned ÷ oracle (≥ 1 in expectation). */
  readonly learnedOracleRatio: number;
  /** oracle ÷ fixed: about the best any policy could do against the fixed ladder here. */
  readonly oracleRatio: number;
  readonly ratioNoRelapse: number;
  readonly ratioNoContext: number;
  readonly ratioContextFree: number;
  readonly ratioIgnoringCost: number;
  readonly contextFreeOracleRatio: number;
  /** The same ratios per episode (each case on its own): what a per-case measure would report. */
  readonly perEpisode: {
    readonly ratio: number;
    readonly oracleRatio: number;
    readonly ratioContextFree: number;
  };
}

const MINUTES_PER_DAY = 24 * 60;
const MS_PER_MINUTE = 60_000;
/** Uniforms per episode: its kind, one per ladder step, its relapse delay. */
const DICE = 2 + LADDER.length;
const DELAY_DIE = DICE - 1;

/** An instance as first seen failing: its family and when it was launched (minutes, < 0 before the start). */
interface Instance {
  readonly family: string;
  readonly launchedAt: number;
}

/** A root fault's dice, drawn before any policy runs, so every policy meets the same world. */
interface RootFault {
  readonly arrival: number;
  /** The instance (a slot) it hits: a new one, or for a repeat one whose last fault was long ago. */
  readonly instance: number;
  readonly repeat: boolean;
  /** Uniforms: the cause is hardware below the hardware share; the old cause stays below `keepsCause`. */
  readonly cause: number;
  readonly keep: number;
  /** The instance it is on when it hits a new one (also for a repeat a policy sends elsewhere). */
  readonly fresh: Instance;
}

interface World {
  readonly faults: readonly RootFault[];
  readonly instances: readonly Instance[];
  /**
   * Each fault's episodes' dice, `maxEpisodes` × `DICE` uniforms per fault: episode e's kind, each
   * step's outcome (one uniform per step and episode, so a step tried again in a later episode meets
   * new dice) and its relapse delay.
   */
  readonly dice: Float64Array;
  readonly maxEpisodes: number;
}

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

/** The dice of every fault and the instances they hit (policy-independent). */
function generateWorld(p: RemediationSimParameters, seed: number): World {
  const rng = seededRandom(seed);
  const faults: RootFault[] = [];
  const instances: Instance[] = [];
  /** Each instance's last root fault's arrival (a repeat needs it `repeat.minGapMinutes` ago). */
  const lastArrival: number[] = [];
  /** Instances a repeat may hit (their last fault long enough ago), and each one's place in it. */
  const eligible: number[] = [];
  const place: number[] = [];
  /** Every (instance, arrival) in arrival order: each becomes eligible `minGapMinutes` later. */
  const waiting: Array<readonly [number, number]> = [];
  let next = 0;
  let t = 0;
  for (let n = 0; n < p.faults; n++) {
    t += -Math.log(1 - rng()) * p.meanMinutesBetweenFaults;
    const repeatDraw = rng();
    const pick = rng();
    const launchedDaysAgo = -Math.log(1 - rng()) * p.fleet.meanLaunchedDaysAgo;
    const fresh = { family: familyOf(p, rng()), launchedAt: -launchedDaysAgo * MINUTES_PER_DAY };
    for (; next < waiting.length && waiting[next][1] <= t - p.repeat.minGapMinutes; next++) {
      const [i, at] = waiting[next];
      // Hit again since (a later arrival is waiting): not yet.
      if (lastArrival[i] !== at) continue;
      place[i] = eligible.length;
      eligible.push(i);
    }
    const repeat = repeatDraw < p.repeat.share && eligible.length > 0;
    let instance: number;
    if (repeat) {
      instance = eligible[Math.floor(pick * eligible.length)];
      // Out of the eligible ones until its gap has passed again (swap with the last: O(1)).
      const last = eligible.pop()!;
      if (last !== instance) {
        eligible[place[instance]] = last;
        place[last] = place[instance];
      }
    } else {
      instance = instances.length;
      instances.push(fresh);
    }
    lastArrival[instance] = t;
    waiting.push([instance, t]);
    faults.push({ arrival: t, instance, repeat, cause: rng(), keep: rng(), fresh });
  }
  // The episodes' dice from a stream of their own: changing them shifts no fault's arrival or cause.
  const episodes = seededRandom((seed ^ 0x2545f491) >>> 0);
  const dice = new Float64Array(p.faults * p.persistence.maxEpisodes * DICE);
  for (let k = 0; k < dice.length; k++) dice[k] = episodes();
  return { faults, instances, dice, maxEpisodes: p.persistence.maxEpisodes };
}

/** The hardware share for a family and host age: the base share scaled in odds. */
export function hardwareShare(p: RemediationSimParameters, family: string, ageDays: number): number {
  const base = p.causes.hardware.share;
  // Odds are infinite at 1 and zero at 0, whatever they are multiplied by.
  if (base <= 0 || base >= 1) return base <= 0 ? 0 : 1;
  const familyOdds = p.fleet.families[family]?.hardwareOdds ?? 1;
  const odds = (base / (1 - base)) * familyOdds * p.fleet.hostAgeHardwareOdds[hostAgeBucket(ageDays)];
  return odds / (1 + odds);
}

/**
 * The expected time to recover per fault of a cause when every episode tries `order` (steps, then a
 * page): an episode costs E = Σ reach × minutes (reach: the chance the step is reached) and ends
 * restored (the fault comes back) with probability R = Σ reach × restores; the episodes repeat
 * until one does not end restored, so the fault costs E ÷ (1 − R). Infinite when it never ends.
 */
export function expectedFaultMinutes(
  p: RemediationSimParameters,
  cause: Cause,
  order: ReadonlyArray<LadderStep | 'page'>,
): number {
  let episode = 0;
  let restored = 0;
  let reach = 1;
  for (const step of order) {
    if (step === 'page') {
      episode += reach * p.pageMinutes;
      reach = 0;
      break;
    }
    episode += reach * (p.stepMinutes[step] + p.verifyMinutes);
    const fixes = p.causes[cause].recovers[step];
    const restores = step === 'reboot' ? p.causes[cause].rebootRestores : 0;
    restored += reach * restores;
    reach *= 1 - fixes - restores;
  }
  // Steps left untried and no page: a policy that gives up leaves the fault (never in `oracleOrder`).
  if (reach > 0) return Number.POSITIVE_INFINITY;
  return restored >= 1 - 1e-12 ? Number.POSITIVE_INFINITY : episode / (1 - restored);
}

/**
 * The oracle's order for a cause: of every order of distinct steps followed by a page (16 orders,
 * the page alone included), the one with the least `expectedFaultMinutes` (ties: the first in
 * ladder order, shorter first). The same order in every episode is optimal: a relapse of an unfixed
 * fault starts from the same state as its first episode (same cause, fresh dice), so knowing that
 * an episode is a relapse changes nothing for a policy that already knows the cause.
 */
export function oracleOrder(p: RemediationSimParameters, cause: Cause): Array<LadderStep | 'page'> {
  const orders: LadderStep[][] = [[]];
  for (let length = 1; length <= LADDER.length; length++) {
    const grow = (prefix: LadderStep[]): void => {
      if (prefix.length === length) {
        orders.push(prefix);
        return;
      }
      for (const step of LADDER) if (!prefix.includes(step)) grow([...prefix, step]);
    };
    grow([]);
  }
  let best: Array<LadderStep | 'page'> = ['page'];
  let bestMinutes = Number.POSITIVE_INFINITY;
  for (const order of orders) {
    const withPage = [...order, 'page' as const];
    const minutes = expectedFaultMinutes(p, cause, withPage);
    if (minutes < bestMinutes - 1e-9) {
      best = withPage;
      bestMinutes = minutes;
    }
  }
  return best;
}

/** An instance as a policy's history left it. */
interface Slot {
  /** Its instance id (a replace makes a new instance: a new id, no history). */
  id: string;
  family: string;
  launchedAt: number;
  /** Its unfixed fault, if any (a repeat fault does not land on it meanwhile). */
  fault?: number;
  /** Its last fault's cause and what fixed it for good. */
  lastFix?: { cause: Cause; fix: LadderStep | 'page' };
  /** What FleetOps' store keeps for it (`LastRemediation`): the relapse memory's learners only. */
  memory?: LastRemediation;
}

/** A remediation case (one episode) as it runs. */
interface Case {
  readonly id: string;
  readonly fault: number;
  readonly episode: number;
  readonly kind: StatusKind;
  readonly openedAt: number;
  /** As the deployed case keeps it: after its first step, the inherited steps and its own. */
  tried: LadderStep[];
  /** Steps inherited from the last case (set by a policy with relapse memory when the case opens). */
  inherited: readonly LadderStep[];
  /** Its own steps, in order. */
  readonly steps: LadderStep[];
  /** The decisions, as Decide records them (what `lastRemediationOf` and Verify read). */
  readonly decisions: Array<{
    action: LadderStep | 'page';
    context?: { family?: string; hostAgeDays?: number; helpedBefore?: LadderStep };
    relapse?: RecordedRelapse;
  }>;
  /** What `relapseOf` said when the case opened (policies with relapse memory). */
  relapse?: Relapse;
  /** It paged because the relapse reached the flap limit. */
  flapped?: boolean;
}

/** A policy: what it does when a case opens, at each decision, at each verdict and when a case ends. */
interface Policy {
  open(c: Case, slot: Slot, now: number): void;
  next(c: Case, slot: Slot, cause: Cause, now: number): LadderStep | 'page';
  verified(c: Case, step: LadderStep, recovered: boolean): void;
  ended(c: Case, slot: Slot, now: number, recoveredBy?: LadderStep): void;
}

const NO_HOOK = () => {};
const ms = (minutes: number) => minutes * MS_PER_MINUTE;

/** Reboot → stop-start → replace → page, every case fresh. */
const fixedPolicy = (): Policy => ({
  open: NO_HOOK,
  next: (c) => LADDER.find((step) => !c.tried.includes(step)) ?? 'page',
  verified: NO_HOOK,
  ended: NO_HOOK,
});

function oraclePolicy(orders: Record<Cause, ReadonlyArray<LadderStep | 'page'>>): Policy {
  return {
    open: NO_HOOK,
    next: (c, _slot, cause) => orders[cause].find((step) => step === 'page' || !c.tried.includes(step))!,
    verified: NO_HOOK,
    ended: NO_HOOK,
  };
}

/** Plain counters, as the stores keep them: one add per key (`recordOutcome` with its keys). */
function count(stats: Map<string, OutcomeCount>, keys: readonly string[], recovered: boolean): void {
  for (const key of new Set(keys)) {
    const { successes, failures } = stats.get(key) ?? { successes: 0, failures: 0 };
    stats.set(
      key,
      recovered ? { successes: successes + 1, failures } : { successes, failures: failures + 1 },
    );
  }
}

/**
 * The store's `reviseOutcome` (sim/adapters/memory-remediation-store.ts, the DynamoDB store's
 * transaction): once per record, all keys or none, a success becomes a failure.
 */
function revise(stats: Map<string, OutcomeCount>, keys: readonly string[]): void {
  const counts = [...new Set(keys)].map((k) => [k, stats.get(k)] as const);
  if (counts.some(([, c]) => !c || c.successes < 1)) return;
  for (const [k, c] of counts) stats.set(k, { successes: c!.successes - 1, failures: c!.failures + 1 });
}

interface LearnerConfig {
  /** Family and host age in the context (their statistics keys). */
  readonly context: boolean;
  /** The deployed relapse memory: `relapseOf`, `revisedOutcome`, `lastRemediationOf`, `helpedBefore`. */
  readonly memory: boolean;
  /** `nextStep`'s step costs (absent: the deployed STEP_MINUTES). */
  readonly stepMinutes?: Readonly<Record<LadderStep, number>>;
}

/**
 * A learning ladder, as Decide and Verify run it (decide.ts, verify.ts), over one seeded stream:
 * - a case opens: with relapse memory, `relapseOf(the instance's LastRemediation, now)`; a relapse
 *   revises the last case's counted success (`revisedOutcome`, the store's once-only revision);
 * - its first decision: a relapse at the flap limit pages; otherwise `nextStep` with the inherited
 *   steps counted as tried and the context (family and host age if `context`; `helpedBefore`, on a
 *   fresh case, from `relapseOf`); later decisions: the case's tried steps (the inherited ones among
 *   them) and the `helpedBefore` its first decision recorded (Decide reads the relapse only until
 *   the case acts);
 * - a verdict: counted under `contextKeys` of the context the step was chosen in (the kind alone
 *   without one);
 * - a case that ends (recovered, or paged) leaves `lastRemediationOf` as the instance's record.
 */
function learnerPolicy(
  p: RemediationSimParameters,
  seed: number,
  config: LearnerConfig,
): Policy & { stats: Map<string, OutcomeCount> } {
  const stats = new Map<string, OutcomeCount>();
  // Every learner gets the same stream: differences come from the policy, not the dice.
  const rng = seededRandom((seed ^ 0x5bd1e995) >>> 0);
  return {
    stats,
    open(c, slot, now) {
      if (!config.memory) return;
      const relapse = relapseOf(slot.memory, ms(now), p.relapse);
      c.relapse = relapse;
      if (!relapse.relapse) return;
      c.inherited = relapse.inherited;
      const revised = revisedOutcome(relapse.last);
      if (revised && slot.memory?.caseId === relapse.last.caseId && slot.memory.revisedBy === undefined) {
        slot.memory = { ...slot.memory, revisedBy: c.id };
        revise(stats, revised.keys);
      }
    },
    next(c, slot, _cause, now) {
      const first = c.tried.length === 0;
      const relapse = first ? c.relapse : undefined;
      const recorded: RecordedRelapse | undefined = relapse?.relapse
        ? { of: relapse.of, count: relapse.count, inherited: relapse.inherited }
        : undefined;
      if (relapse?.relapse && relapse.flapping) {
        c.flapped = true;
        c.decisions.push({ action: 'page', relapse: recorded });
        return 'page';
      }
      const helpedBefore =
        relapse && !relapse.relapse
          ? relapse.helpedBefore
          : c.decisions.find((d) => d.context?.helpedBefore)?.context?.helpedBefore;
      const age = config.context ? hostAgeDays(ms(slot.launchedAt), ms(now)) : undefined;
      const context = {
        ...(config.context ? { family: slot.family } : {}),
        ...(age !== undefined ? { hostAgeDays: age } : {}),
        ...(helpedBefore !== undefined ? { helpedBefore } : {}),
      };
      const inherited = recorded?.inherited ?? [];
      const step = nextStep({
        kind: c.kind,
        tried: [...c.tried, ...new Set(inherited.filter((s) => !c.tried.includes(s)))],
        stats,
        rng,
        context,
        ...p.ladder,
        ...(config.stepMinutes ? { stepMinutes: config.stepMinutes } : {}),
      }).action;
      c.decisions.push({
        action: step,
        ...(Object.keys(context).length > 0 ? { context } : {}),
        ...(recorded ? { relapse: recorded } : {}),
      });
      return step;
    },
    verified(c, step, recovered) {
      const chosen = [...c.decisions].reverse().find((d) => d.action === step)?.context;
      count(
        stats,
        chosen ? contextKeys({ kind: c.kind, ...chosen }, step) : [statsKey(c.kind, step)],
        recovered,
      );
    },
    ended(c, slot, now, recoveredBy) {
      if (!config.memory) return;
      slot.memory = lastRemediationOf(
        {
          id: c.id,
          createdAt: ms(c.openedAt),
          finding: { instanceId: slot.id, kind: c.kind as FindingKind },
          tried: c.tried,
          decisions: c.decisions,
        },
        {
          status: recoveredBy ? 'recovered' : 'paged',
          endedAt: ms(now),
          ...(recoveredBy ? { recoveredBy } : {}),
        },
      );
    },
  };
}

const zeroSteps = (): Record<LadderStep, number> => ({ reboot: 0, 'stop-start': 0, replace: 0 });
const zeroChoices = (): Record<LadderStep | 'page', number> => ({ ...zeroSteps(), page: 0 });

/** The value below which a share `q` of the sorted values fall (interpolated). */
function quantile(sorted: readonly number[], q: number): number {
  const at = q * (sorted.length - 1);
  const below = Math.floor(at);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (at - below);
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** One policy over the world, as a discrete-event simulation. */
function run(p: RemediationSimParameters, world: World, policy: Policy, trace: boolean): PolicyReport {
  type Event = { type: 'fault' | 'relapse' | 'verified' | 'fixed'; fault: number };
  const queue = new EventQueue<Event>();
  world.faults.forEach((f, fault) => {
    queue.push(f.arrival, { type: 'fault', fault });
  });
  const slots: Slot[] = world.instances.map((instance, k) => ({ id: `i-${k}`, ...instance }));
  let instances = slots.length;
  /** Per fault: its slot, cause, episodes so far, minutes out of service, the open case. */
  const faults: Array<{ slot: number; cause: Cause; episodes: number; minutes: number; start: number }> = [];
  const open = new Map<number, Case>();
  const cases: CaseTrace[] = [];
  const episodeMinutes: number[] = [];
  const actions = zeroSteps();
  let pages = 0;
  let flapPages = 0;
  let cappedFaults = 0;
  let redirectedRepeats = 0;
  const lateFrom = Math.floor((world.faults.length * 3) / 4);
  const firstChoice = Object.fromEntries(STATUS_KINDS.map((k) => [k, zeroChoices()])) as Record<
    StatusKind,
    Record<LadderStep | 'page', number>
  >;
  const relapseFirst = zeroChoices();
  const mix = Object.fromEntries(STATUS_KINDS.map((k) => [k, { episodes: 0, hardware: 0 }])) as Record<
    StatusKind,
    { episodes: number; hardware: number }
  >;
  const die = (fault: number, episode: number, k: number) =>
    world.dice[(fault * world.maxEpisodes + episode) * DICE + k];

  const endEpisode = (fault: number, now: number, c: Case | undefined, end: CaseTrace['end']) => {
    const f = faults[fault];
    const minutes = now - f.start + (end === 'paged' || end === 'capped' ? p.pageMinutes : 0);
    f.minutes += minutes;
    episodeMinutes.push(minutes);
    open.delete(fault);
    if (trace) {
      cases.push({
        fault,
        episode: f.episodes - 1,
        cause: f.cause,
        ...(c ? { kind: c.kind } : {}),
        inherited: c?.inherited ?? [],
        steps: c?.steps ?? [],
        end,
        minutes,
      });
    }
  };

  /** The fault is gone: the instance is free, and what fixed it is its history. */
  const fixed = (fault: number, now: number, fix: LadderStep | 'page') => {
    const f = faults[fault];
    const slot = slots[f.slot];
    slot.fault = undefined;
    slot.lastFix = { cause: f.cause, fix };
    // A stop-start starts the instance anew on another host (EC2 renews its launch time); a replace
    // is a new instance (a new id, no history, nothing in FleetOps' store).
    if (fix === 'stop-start') slot.launchedAt = now;
    if (fix === 'replace') {
      slot.id = `i-${instances++}`;
      slot.launchedAt = now;
      slot.lastFix = undefined;
      slot.memory = undefined;
    }
  };

  const page = (fault: number, now: number, c: Case | undefined, end: 'paged' | 'capped') => {
    pages++;
    endEpisode(fault, now, c, end);
    queue.push(now + p.pageMinutes, { type: 'fixed', fault });
  };

  const decide = (fault: number, now: number) => {
    const f = faults[fault];
    const c = open.get(fault)!;
    const slot = slots[f.slot];
    const step = policy.next(c, slot, f.cause, now);
    if (c.steps.length === 0) {
      if (c.episode > 0) relapseFirst[step]++;
      else if (fault >= lateFrom) firstChoice[c.kind][step]++;
    }
    if (step === 'page') {
      if (c.flapped) flapPages++;
      policy.ended(c, slot, now);
      page(fault, now, c, 'paged');
      return;
    }
    if (c.tried.includes(step) || c.inherited.includes(step)) {
      throw new Error(
        `policy chose ${step} again in case ${c.id} (tried ${c.tried.join(', ')}; inherited ${c.inherited.join(', ') || 'none'})`,
      );
    }
    // As Decide records it: the first step after the inherited ones.
    c.tried = c.steps.length === 0 ? [...c.inherited, step] : [...c.tried, step];
    c.steps.push(step);
    actions[step]++;
    queue.push(now + p.stepMinutes[step] + p.verifyMinutes, { type: 'verified', fault });
  };

  const startEpisode = (fault: number, now: number) => {
    const f = faults[fault];
    const episode = f.episodes++;
    f.start = now;
    if (episode >= world.maxEpisodes) {
      cappedFaults++;
      page(fault, now, undefined, 'capped');
      return;
    }
    const kind: StatusKind =
      die(fault, episode, 0) < p.causes[f.cause].surfacesAsInstanceCheck
        ? 'instance-status-check-failed'
        : 'system-status-check-failed';
    mix[kind].episodes++;
    if (f.cause === 'hardware') mix[kind].hardware++;
    const c: Case = {
      id: `case-${fault}.${episode}`,
      fault,
      episode,
      kind,
      openedAt: now,
      tried: [],
      inherited: [],
      steps: [],
      decisions: [],
    };
    open.set(fault, c);
    policy.open(c, slots[f.slot], now);
    decide(fault, now);
  };

  while (queue.size > 0) {
    const { time: now, value } = queue.pop();
    const { fault } = value;
    if (value.type === 'fault') {
      const root = world.faults[fault];
      let index = root.instance;
      if (root.repeat && slots[index].fault !== undefined) {
        // Still carrying an unfixed fault for this policy: this unrelated one hits a new instance.
        redirectedRepeats++;
        index = slots.length;
        slots.push({ id: `i-${instances++}`, ...root.fresh });
      }
      const slot = slots[index];
      const ageDays = Math.max(0, (now - slot.launchedAt) / MINUTES_PER_DAY);
      const keeps = slot.lastFix?.fix === 'reboot' && root.keep < p.repeat.keepsCause;
      const cause: Cause = keeps
        ? slot.lastFix!.cause
        : root.cause < hardwareShare(p, slot.family, ageDays)
          ? 'hardware'
          : 'software';
      slot.fault = fault;
      faults[fault] = { slot: index, cause, episodes: 0, minutes: 0, start: now };
      startEpisode(fault, now);
    } else if (value.type === 'relapse') {
      startEpisode(fault, now);
    } else if (value.type === 'fixed') {
      fixed(fault, now, 'page');
    } else {
      const f = faults[fault];
      const c = open.get(fault)!;
      const step = c.steps.at(-1)!;
      const u = die(fault, c.episode, 1 + LADDER.indexOf(step));
      const cause = p.causes[f.cause];
      const end: 'fixed' | 'restored' | 'failed' =
        u < cause.recovers[step]
          ? 'fixed'
          : step === 'reboot' && u < cause.recovers.reboot + cause.rebootRestores
            ? 'restored'
            : 'failed';
      policy.verified(c, step, end !== 'failed');
      if (end === 'failed') {
        decide(fault, now);
        continue;
      }
      policy.ended(c, slots[f.slot], now, step);
      endEpisode(fault, now, c, end);
      if (end === 'fixed') {
        fixed(fault, now, step);
      } else {
        const hours = -Math.log(1 - die(fault, c.episode, DELAY_DIE)) * p.persistence.meanHoursToRelapse;
        queue.push(now + hours * 60, { type: 'relapse', fault });
      }
    }
  }

  const minutes = faults.map((f) => f.minutes);
  const sorted = [...minutes].sort((a, b) => a - b);
  const late = Object.values(firstChoice);
  for (const shares of late) {
    const total = Object.values(shares).reduce((a, b) => a + b, 0);
    for (const step of Object.keys(shares) as Array<LadderStep | 'page'>) {
      shares[step] = total > 0 ? shares[step] / total : 0;
    }
  }
  const relapseEpisodes = Object.values(relapseFirst).reduce((a, b) => a + b, 0);
  const relapseShares = Object.fromEntries(
    Object.entries(relapseFirst).map(([step, n]) => [step, relapseEpisodes > 0 ? n / relapseEpisodes : 0]),
  ) as Record<LadderStep | 'page', number>;
  const episodes = faults.reduce((sum, f) => sum + f.episodes, 0);
  return {
    meanMinutes: mean(minutes),
    medianMinutes: quantile(sorted, 0.5),
    p90Minutes: quantile(sorted, 0.9),
    lateMeanMinutes: mean(minutes.slice(lateFrom)),
    episodes,
    relapses: episodes - faults.length,
    meanEpisodeMinutes: mean(episodeMinutes),
    actions,
    pages,
    flapPages,
    cappedFaults,
    firstChoice,
    relapseFirstChoice: { ...relapseShares, episodes: relapseEpisodes },
    mix,
    hardwareFaults: faults.filter((f) => f.cause === 'hardware').length,
    repeatFaults: world.faults.filter((f) => f.repeat).length,
    redirectedRepeats,
    ...(trace ? { cases } : {}),
  };
}

function checkParameters(p: RemediationSimParameters): void {
  if (!(Number.isInteger(p.faults) && p.faults > 0)) {
    throw new Error(`expected a whole number of faults > 0, found ${p.faults}`);
  }
  const probability = (x: number) => x >= 0 && x <= 1;
  for (const cause of CAUSES) {
    const c = p.causes[cause];
    for (const step of LADDER) {
      if (!probability(c.recovers[step])) {
        throw new Error(`expected causes.${cause}.recovers['${step}'] in [0, 1], found ${c.recovers[step]}`);
      }
    }
    if (!(c.rebootRestores >= 0 && c.recovers.reboot + c.rebootRestores <= 1)) {
      throw new Error(
        `expected causes.${cause}.rebootRestores ≥ 0 and recovers.reboot + rebootRestores ≤ 1, found ${c.rebootRestores}`,
      );
    }
    if (!probability(c.share) || !probability(c.surfacesAsInstanceCheck)) {
      throw new Error(`expected causes.${cause}.share and surfacesAsInstanceCheck in [0, 1]`);
    }
  }
  if (!(p.persistence.meanHoursToRelapse > 0)) {
    throw new Error(`expected persistence.meanHoursToRelapse > 0, found ${p.persistence.meanHoursToRelapse}`);
  }
  if (!(Number.isInteger(p.persistence.maxEpisodes) && p.persistence.maxEpisodes >= 1)) {
    throw new Error(
      `expected persistence.maxEpisodes a whole number ≥ 1, found ${p.persistence.maxEpisodes}`,
    );
  }
  if (!(p.repeat.minGapMinutes >= 0)) {
    throw new Error(`expected repeat.minGapMinutes ≥ 0, found ${p.repeat.minGapMinutes}`);
  }
  for (const bucket of HOST_AGE_BUCKETS) {
    if (!(p.fleet.hostAgeHardwareOdds[bucket] > 0)) {
      throw new Error(`expected fleet.hostAgeHardwareOdds['${bucket}'] > 0`);
    }
  }
}

/** Posterior mean success per kind and step, from the kind's own counts. */
function posteriorMeans(
  stats: ReadonlyMap<string, OutcomeCount>,
): Record<StatusKind, Record<LadderStep, number>> {
  return Object.fromEntries(
    STATUS_KINDS.map((kind) => [
      kind,
      Object.fromEntries(
        LADDER.map((step) => {
          const c = stats.get(statsKey(kind, step)) ?? { successes: 0, failures: 0 };
          return [step, (1 + c.successes) / (2 + c.successes + c.failures)];
        }),
      ),
    ]),
  ) as Record<StatusKind, Record<LadderStep, number>>;
}

/**
 * The fixed ladder, the deployed learning ladder, its ablations and an oracle over the same world:
 * 1. draw the world from the seed: each root fault's arrival, the instance it hits (a new one, or
 *    for a repeat one that failed days before), uniforms for its cause, and for each of its possible
 *    episodes uniforms for the kind, each step's outcome and the relapse delay: every policy meets
 *    the same dice;
 * 2. run each policy as a discrete-event simulation: a fault arrives (its cause may depend on what
 *    the policy did to the instance before: `repeat.keepsCause`, the host age a stop-start renews),
 *    an episode opens a case, the policy picks steps until one is verified to fix the fault, or to
 *    restore the guest (a reboot on a sick host: the fault relapses `persistence.meanHoursToRelapse`
 *    later as a new episode), or it pages (a person fixes the fault, `pageMinutes`). Learners count
 *    each verdict when it is known, so overlapping cases decide on what is known so far;
 * 3. report each policy's time to recover per fault (the sum of its episodes' minutes out of
 *    service) and per episode, and the ratios.
 * Deterministic by seed: the world and the learners' draws come from separate seeded streams.
 */
export function simulateRemediation(options: {
  readonly seed: number;
  readonly faults?: number;
  readonly parameters?: RemediationSimParameters;
  /** Keep every case in each policy's report (`cases`). */
  readonly trace?: boolean;
}): RemediationSimReport {
  const base = options.parameters ?? REMEDIATION_SIM_PARAMETERS;
  const p: RemediationSimParameters = { ...base, faults: options.faults ?? base.faults };
  checkParameters(p);
  const world = generateWorld(p, options.seed);
  const trace = options.trace ?? false;
  const orders = { hardware: oracleOrder(p, 'hardware'), software: oracleOrder(p, 'software') };

  const learn = (config: LearnerConfig): LearnerReport => {
    const policy = learnerPolicy(p, options.seed, config);
    const report = run(p, world, policy, trace);
    return { ...report, posteriorMean: posteriorMeans(policy.stats) };
  };
  const fixed = run(p, world, fixedPolicy(), trace);
  const oracle = run(p, world, oraclePolicy(orders), trace);
  const learned = learn({ context: true, memory: true });
  const learnedNoRelapse = learn({ context: true, memory: false });
  const learnedNoContext = learn({ context: false, memory: true });
  const contextFree = learn({ context: false, memory: false });
  const learnedIgnoringCost = learn({
    context: true,
    memory: true,
    stepMinutes: { reboot: 1, 'stop-start': 1, replace: 1 },
  });
  const over = (a: PolicyReport, b: PolicyReport) => a.meanMinutes / b.meanMinutes;
  const perEpisode = (a: PolicyReport, b: PolicyReport) => a.meanEpisodeMinutes / b.meanEpisodeMinutes;

  return {
    seed: options.seed,
    faults: p.faults,
    mix: fixed.mix,
    fixed,
    learned,
    learnedNoRelapse,
    learnedNoContext,
    contextFree,
    learnedIgnoringCost,
    oracle,
    oracleOrder: orders,
    ratio: over(learned, fixed),
    learnedFixedRatio: over(learned, fixed),
    learnedOracleRatio: over(learned, oracle),
    oracleRatio: over(oracle, fixed),
    ratioNoRelapse: over(learnedNoRelapse, fixed),
    ratioNoContext: over(learnedNoContext, fixed),
    ratioContextFree: over(contextFree, fixed),
    ratioIgnoringCost: over(learnedIgnoringCost, fixed),
    contextFreeOracleRatio: over(contextFree, oracle),
    perEpisode: {
      ratio: perEpisode(learned, fixed),
      oracleRatio: perEpisode(oracle, fixed),
      ratioContextFree: perEpisode(contextFree, fixed),
    },
  };
}
