import type { planChange } from '../functions/core/change/plan/planner';
import type { ChangeSpec } from '../functions/core/change/spec';
import type {
  ActKind,
  ApiRequests,
  MemoryChangeStore,
  MemoryRemediationStore,
  RecordingNotifier,
} from './adapters';
import type { SimDefect } from './fleet-sim-options';
import {
  CHECKED_INVARIANTS,
  type Coverage,
  type InvariantMonitor,
  type Violation,
} from './invariant-monitor';
import type { VirtualClock } from './kernel/virtual-clock';
import { median, type TrafficTimes } from './traffic-times';
import type { Fault, FaultRecoverer, Recoverer, SimWorld } from './world/sim-world';

/**
 * The figures of one `simulateFleet` run (`FleetSimReport`), read off the simulation's world,
 * stores, monitor and the counts its observers kept. Deterministic by options, except `wallClock`.
 */

/** Simulated time starts on a Monday at midnight UTC (the spec has no time windows). */
export const START = Date.parse('2026-01-05T00:00:00Z');
export const MINUTE = 60_000;

export interface Quantiles {
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly max: number;
}

/** What was simulated: the synthetic fleet's options, or a rehearsal's fleet counted. */
export interface SimParameters {
  readonly instances: number;
  readonly zones: number;
  readonly services: number;
  readonly faultRate: number;
  readonly churnRate: number;
  readonly seed: number;
  /** The change's action type. */
  readonly action: string;
  readonly bakeMinutes: number;
  readonly retryRate: number;
  readonly autoScaling: boolean;
  readonly traffic: boolean;
  readonly defect: SimDefect | null;
  /** `--storm F`: the fraction of the first zone that failed at once an hour in. */
  readonly storm?: number;
  /** The default scenario's incidents (synthetic mode; incidents.ts): failing hosts, a bad deployment. */
  readonly incidents?: boolean;
}

/** One revision of a change's plan while it ran (`plan.revisions`), as the report lists it. */
export interface ReportedRevision {
  readonly change: string;
  readonly revision: number;
  readonly wave: number;
  readonly at: string;
  readonly reason: string;
  /** The waves the plan had after it. */
  readonly waves: number;
  readonly late?: number;
  readonly revisits?: number;
  /** Instances it postponed from their zone's waves to the final waves. */
  readonly postponed?: number;
}

/** A rehearsal's inputs and what its scenario did. */
export interface RehearsalFigures {
  readonly fleet: string;
  readonly services: string;
  readonly spec: string;
  readonly scenario: string | null;
  /** About the inputs: what the simulator models differently from what the files say. */
  readonly warnings: readonly string[];
  readonly events: ReadonlyArray<{ readonly at: string; readonly kind: string; readonly applied: string }>;
}

/** Churn (world/churn.ts): scale-ins and scale-outs while the change ran. */
export interface ChurnFigures {
  readonly rate: number;
  readonly terminated: number;
  readonly launched: number;
  /** Scale-ins that found no instance in service to take, by why. */
  readonly refused: Readonly<Record<string, number>>;
  /** Of the launched instances: those that match the change's target, and those that got the change. */
  readonly launchedTargeted: number;
  readonly launchedChanged: number;
}

/** The simulation's figures. Deterministic by options, except `wallClock`. */
export interface FleetSimReport {
  readonly parameters: SimParameters;
  /** Present for `--fleet/--services/--spec` runs. */
  readonly rehearsal?: RehearsalFigures;
  readonly change: {
    readonly id: string;
    /** How the last change started for it ended, and why. */
    readonly status: string;
    readonly reason: string;
    /** The change, then each re-plan of what was left after a failure; minutes from the start. */
    readonly attempts: ReadonlyArray<{
      id: string;
      waves: number;
      status: string;
      reason: string;
      startedMinute: number;
      endedMinute: number | null;
    }>;
    readonly planned: number;
    readonly skipped: number;
    readonly waves: number;
    readonly wavesRun: number;
    readonly predictedMinutes: number;
    readonly makespanMinutes: number;
    /** Makespan ÷ the first plan's prediction. */
    readonly makespanToPredicted: number | null;
    /**
     * Of the prediction, the final waves it expected (for instances skipped for a spent budget,
     * and for those launched meanwhile), the launches an hour it read from the fleet's launch
     * times and the late joiners it expected at that rate (plan/churn.ts).
     */
    readonly predictedFinalWaves?: number;
    readonly predictedLaunchesPerHour?: number;
    readonly predictedLateJoiners?: number;
    /** The plans' revisions while they ran (`plan.revisions` of each attempt), oldest first. */
    readonly revisionCount: number;
    readonly revisions: readonly ReportedRevision[];
    readonly gates: { readonly pass: number; readonly fail: number; readonly extend: number };
    readonly approvals: number;
    readonly leaseRefusals: number;
    readonly retriedTasks: number;
  };
  readonly budgets: {
    readonly services: number;
    readonly withoutBudget: number;
    readonly maxRatio: number;
    /** Services whose peak reached their budget (100%). */
    readonly atBudget: number;
    /** Services that went over their budget: faults or churn alone can do that, FleetOps never may. */
    readonly overBudget: number;
    readonly top: ReadonlyArray<{
      service: string;
      /** Peak unavailable over the whole service, against its overall budget. */
      peak: number;
      budget: number;
      /** The highest use of a per-zone budget, as a fraction of it. */
      zoneRatio: number;
      /** The larger of the two fractions. */
      ratio: number;
    }>;
  };
  readonly faults: {
    readonly injected: number;
    readonly absorbed: number;
    readonly recovered: number;
    readonly unrecovered: number;
    /** `group`: an Auto Scaling group replaced the broken instance on its own health check. */
    readonly recoveredBy: Readonly<Record<FaultRecoverer, number>>;
    readonly recoveryMinutes: Quantiles | null;
    readonly recoveryMinutesByRemediation: Quantiles | null;
    /** The default scenario's incidents as they were applied (synthetic mode with `incidents`). */
    readonly incidents?: ReadonlyArray<{
      readonly at: string;
      readonly kind: string;
      readonly applied: string;
    }>;
  };
  /** Present when instances were scaled in or out (`--churn-rate`, a scenario's terminate or launch). */
  readonly churn?: ChurnFigures;
  readonly remediation: {
    readonly cases: number;
    readonly outcomes: Readonly<Record<string, number>>;
    readonly decisions: Readonly<Record<string, number>>;
    /** Items one decision read from the fleet-state table (instances, counts, findings, freezes, the case, outcome counts). */
    readonly itemsReadPerDecision: Quantiles | null;
    readonly pages: {
      readonly breaker: number;
      /** Breaker pages per scope: one per storm and scope. */
      readonly breakerByScope: Readonly<Record<string, number>>;
      readonly instance: number;
    };
    /**
     * Per in-flight scope (the account, each zone, and the busiest service): the most cases that
     * held its slot at once, and its cap (caps.ts); a scope no case took a slot in is absent.
     */
    readonly inFlight: Readonly<Record<string, { readonly peak: number; readonly cap: number }>>;
  };
  /** Instance actions sent, by who and what (a stop-start counts its stop). */
  readonly actions: {
    readonly change: Readonly<Record<string, number>>;
    readonly remediation: Readonly<Record<string, number>>;
  };
  readonly requests: {
    readonly ec2: Readonly<Record<string, number>>;
    readonly ec2Total: number;
    /** Seconds requests waited for a token, per API, summed over requests (waits overlap across executions). */
    readonly ec2TokenWaitSeconds: Readonly<Record<string, number>>;
    readonly ec2TokenWaitSecondsTotal: number;
    /** ELBv2 (DescribeTargetHealth, DeregisterTargets, …), paced by each function's Describe and registration buckets. */
    readonly elb: Readonly<Record<string, number>>;
    readonly elbTotal: number;
    readonly elbTokenWaitSecondsTotal: number;
    /** EC2 Auto Scaling (DescribeAutoScalingInstances, EnterStandby, …). */
    readonly autoScaling: Readonly<Record<string, number>>;
    readonly autoScalingTotal: number;
    readonly other: Readonly<Record<string, number>>;
  };
  /** Load balancing and Auto Scaling in the simulated account, and what the traffic protocol cost. */
  readonly traffic: {
    readonly targetGroups: number;
    readonly groups: number;
    /** Instances registered in (or members of) one, at the end (replacements included). */
    readonly instancesInTargetGroups: number;
    readonly instancesInGroups: number;
    /** Median over the change's waves of the longest draining of a wave's instances (s); null: no wave drained. */
    readonly drainSecondsPerWave: number | null;
    /** Median over the change's waves of the longest return to `healthy` / `InService` (s). */
    readonly readySecondsPerWave: number | null;
    readonly wavesMeasured: number;
    /** Members groups replaced on their own health checks; of them, instances FleetOps had acted on. */
    readonly replacedByGroups: number;
    readonly replacedAfterFleetOps: number;
    /** The highest use of a budget by instances out of traffic (or reserved), as a fraction of it. */
    readonly maxOutOfTrafficRatio: number;
    /** Traffic exits still recorded at the end (stuck or waiting for the sweep). */
    readonly exitsLeft: number;
  };
  readonly invariants: {
    readonly checked: readonly string[];
    readonly checks: {
      readonly grants: number;
      readonly acts: number;
      readonly records: number;
      readonly trafficActions: number;
      readonly changesEnded: number;
    };
    /** change-coverage at the change's end; null when it did not complete (nothing to check). */
    readonly coverage: Coverage | null;
    readonly violations: number;
    readonly byInvariant: Readonly<Record<string, number>>;
    /** The first 100. */
    readonly list: readonly Violation[];
  };
  readonly simulation: {
    readonly simulatedMinutes: number;
    readonly instants: number;
    /** Inventory sweep runs that threw (each as a failed scheduled invocation: the next one tries again). */
    readonly sweepErrors: number;
    readonly firstSweepError: string | null;
    /**
     * With a defect injected: Tasks that ran past their Lambda's timeout (the defect's consequence,
     * reported; without a defect the run stops instead). Absent when none.
     */
    readonly taskOverruns?: { readonly count: number; readonly first: string };
  };
  /** Wall-clock figures: the only part that differs between runs with the same options. */
  readonly wallClock: { readonly ms: number };
}

/** What the report reads: the simulation's parts. */
export interface SimFigures {
  readonly parameters: SimParameters;
  /** Items each remediation decision read from the fleet-state table (sim/adapters/read-counter.ts). */
  readonly decisionReads: readonly number[];
  readonly rehearsal?: RehearsalFigures;
  readonly churn?: ChurnFigures;
  readonly revisions: readonly ReportedRevision[];
  readonly coverage: Coverage | null;
  readonly trafficTimes: TrafficTimes;
  /** Traffic exits left when the simulation ended. */
  readonly exitsLeft: number;
  readonly clock: VirtualClock;
  readonly world: SimWorld;
  readonly monitor: InvariantMonitor;
  readonly changes: MemoryChangeStore;
  readonly cases: MemoryRemediationStore;
  readonly notifier: RecordingNotifier;
  readonly requests: ApiRequests;
  readonly spec: ChangeSpec;
  readonly plan: ReturnType<typeof planChange>;
  readonly acted: Readonly<Record<Recoverer, Map<ActKind, number>>>;
  /** What the observers of the bound Task states counted. */
  readonly counts: Readonly<
    Record<'approvals' | 'leaseRefusals' | 'retried' | 'pass' | 'fail' | 'extend', number>
  >;
  /** `changeId#wave` of every wave that reached its health gate. */
  readonly gatedWaves: ReadonlySet<string>;
  /** The changes started: the first, then what was left after each failure; when each was planned and ended. */
  readonly attempts: ReadonlyArray<{
    readonly id: string;
    readonly waves: number;
    readonly plannedAt: number;
  }>;
  readonly attemptEnds: ReadonlyMap<string, number>;
  readonly changeEndedAt: number | undefined;
  readonly sweepErrors: { readonly count: number; readonly first: string | null };
  readonly overruns: { readonly count: number; readonly first: string | null };
  /** The default scenario's incidents as applied; undefined when off. */
  readonly incidents?: ReadonlyArray<{
    readonly at: string;
    readonly kind: string;
    readonly applied: string;
  }>;
}

export const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

export function fleetSimReport(s: SimFigures, wallMs: number): FleetSimReport {
  const minuteOf = (t: number) => round((t - START) / MINUTE);
  const attempts = s.attempts.map((a) => {
    const ended = s.attemptEnds.get(a.id);
    return {
      id: a.id,
      waves: a.waves,
      ...s.changes.statusOf(a.id),
      startedMinute: minuteOf(a.plannedAt),
      endedMinute: ended === undefined ? null : minuteOf(ended),
    };
  });
  const last = attempts.at(-1) ?? { status: 'not started', reason: '' };
  const peaks = s.monitor.peaks();
  const budgeted = peaks.filter((p) => p.budget > 0);
  const ratio = (p: (typeof peaks)[number]) => Math.max(p.peak / p.budget, p.zonePeakRatio);
  const ranked = [...budgeted].sort((a, b) => ratio(b) - ratio(a) || (a.service < b.service ? -1 : 1));
  const faults = s.world.faults;
  const recovered = faults.filter((f) => f.recoveredAt !== undefined);
  const minutes = (fs: readonly Fault[]) => quantiles(fs.map((f) => (f.recoveredAt! - f.at) / MINUTE));
  const outcomes: Record<string, number> = {};
  const decisions: Record<string, number> = {};
  for (const c of s.cases.cases.values()) {
    outcomes[c.status] = (outcomes[c.status] ?? 0) + 1;
    for (const d of c.decisions) decisions[d.action] = (decisions[d.action] ?? 0) + 1;
  }
  const ec2 = new Set([
    'RebootInstances',
    'StopInstances',
    'StartInstances',
    'CreateTags',
    'DescribeInstanceStatus',
    'GetConsoleOutput',
  ]);
  const elb = new Set([
    'DescribeTargetHealth',
    'DescribeTargetGroups',
    'DescribeTargetGroupAttributes',
    'DescribeTags',
    'RegisterTargets',
    'DeregisterTargets',
  ]);
  const asg = new Set([
    'DescribeAutoScalingInstances',
    'DescribeAutoScalingGroups',
    'EnterStandby',
    'ExitStandby',
    'SetDesiredCapacity',
    'TerminateInstanceInAutoScalingGroup',
  ]);
  const byApi = [...s.requests.counts].sort(([a], [b]) => (a < b ? -1 : 1));
  const allWaits = [...s.requests.waitedMs].sort(([a], [b]) => (a < b ? -1 : 1));
  const waits = allWaits.filter(([api]) => ec2.has(api));
  const total = (set: ReadonlySet<string>) =>
    byApi.filter(([api]) => set.has(api)).reduce((n, [, k]) => n + k, 0);
  const trafficPeaks = s.monitor.trafficPeaks().filter((p) => p.budget > 0);
  const slots = s.world.instances.map((i) => s.world.slot(i.id)!);
  const end = s.changeEndedAt ?? s.clock.now();
  const makespan = round((end - START) / MINUTE);
  return {
    parameters: s.parameters,
    ...(s.rehearsal ? { rehearsal: s.rehearsal } : {}),
    change: {
      id: s.spec.id,
      status: last.status,
      reason: last.reason,
      attempts,
      planned: s.plan.summary.planned,
      skipped: s.plan.summary.skipped,
      waves: s.plan.waves.length,
      wavesRun: s.gatedWaves.size,
      predictedMinutes: s.plan.predictedMinutes,
      makespanMinutes: makespan,
      makespanToPredicted: s.plan.predictedMinutes > 0 ? round(makespan / s.plan.predictedMinutes, 3) : null,
      ...(s.plan.expectedFinalWaves !== undefined ? { predictedFinalWaves: s.plan.expectedFinalWaves } : {}),
      ...(s.plan.launchesPerHour !== undefined
        ? {
            predictedLaunchesPerHour: s.plan.launchesPerHour,
            predictedLateJoiners: s.plan.expectedLateJoiners ?? 0,
          }
        : {}),
      revisionCount: s.revisions.length,
      revisions: s.revisions,
      gates: { pass: s.counts.pass, fail: s.counts.fail, extend: s.counts.extend },
      approvals: s.counts.approvals,
      leaseRefusals: s.counts.leaseRefusals,
      retriedTasks: s.counts.retried,
    },
    budgets: {
      services: peaks.length,
      withoutBudget: peaks.length - budgeted.length,
      maxRatio: ranked.length > 0 ? round(ratio(ranked[0]), 3) : 0,
      atBudget: budgeted.filter((p) => ratio(p) >= 1).length,
      overBudget: budgeted.filter((p) => ratio(p) > 1).length,
      top: ranked.slice(0, 5).map((p) => ({
        service: p.service,
        peak: p.peak,
        budget: p.budget,
        zoneRatio: round(p.zonePeakRatio, 3),
        ratio: round(ratio(p), 3),
      })),
    },
    faults: {
      injected: faults.length,
      absorbed: s.world.absorbedFaults,
      recovered: recovered.length,
      unrecovered: faults.length - recovered.length,
      recoveredBy: {
        remediation: recovered.filter((f) => f.recoveredBy === 'remediation').length,
        change: recovered.filter((f) => f.recoveredBy === 'change').length,
        person: recovered.filter((f) => f.recoveredBy === 'person').length,
        group: recovered.filter((f) => f.recoveredBy === 'group').length,
        itself: recovered.filter((f) => f.recoveredBy === 'itself').length,
      },
      recoveryMinutes: minutes(recovered),
      recoveryMinutesByRemediation: minutes(recovered.filter((f) => f.recoveredBy === 'remediation')),
      ...(s.incidents ? { incidents: s.incidents } : {}),
    },
    ...(s.churn ? { churn: s.churn } : {}),
    remediation: {
      cases: s.cases.cases.size,
      outcomes: sortedRecord(outcomes),
      decisions: sortedRecord(decisions),
      itemsReadPerDecision: quantiles(s.decisionReads),
      pages: {
        breaker: s.notifier.breakerPages,
        breakerByScope: sortedRecord(Object.fromEntries(s.notifier.breakerScopes)),
        instance: s.notifier.instancePages,
      },
      inFlight: inFlightPeaks(s.monitor.inFlightPeaks),
    },
    actions: {
      change: sortedRecord(Object.fromEntries(s.acted.change)),
      remediation: sortedRecord(Object.fromEntries(s.acted.remediation)),
    },
    requests: {
      ec2: Object.fromEntries(byApi.filter(([api]) => ec2.has(api))),
      ec2Total: byApi.filter(([api]) => ec2.has(api)).reduce((n, [, k]) => n + k, 0),
      ec2TokenWaitSeconds: Object.fromEntries(waits.map(([api, ms]) => [api, round(ms / 1000, 1)])),
      ec2TokenWaitSecondsTotal: round(waits.reduce((n, [, ms]) => n + ms, 0) / 1000, 1),
      elb: Object.fromEntries(byApi.filter(([api]) => elb.has(api))),
      elbTotal: total(elb),
      elbTokenWaitSecondsTotal: round(
        allWaits.filter(([api]) => elb.has(api)).reduce((n, [, ms]) => n + ms, 0) / 1000,
        1,
      ),
      autoScaling: Object.fromEntries(byApi.filter(([api]) => asg.has(api))),
      autoScalingTotal: total(asg),
      other: Object.fromEntries(byApi.filter(([api]) => !ec2.has(api) && !elb.has(api) && !asg.has(api))),
    },
    traffic: {
      targetGroups: s.world.traffic.targetGroups.size,
      groups: s.world.traffic.groups.size,
      instancesInTargetGroups: slots.filter((x) => x.targetGroups.length > 0).length,
      instancesInGroups: slots.filter((x) => x.member !== undefined).length,
      drainSecondsPerWave: nullableRound(median(s.trafficTimes.drain.values())),
      readySecondsPerWave: nullableRound(median(s.trafficTimes.ready.values())),
      wavesMeasured: new Set([...s.trafficTimes.drain.keys(), ...s.trafficTimes.ready.keys()]).size,
      replacedByGroups: s.monitor.replacements.byGroups,
      replacedAfterFleetOps: s.monitor.replacements.afterFleetOps,
      maxOutOfTrafficRatio: round(Math.max(0, ...trafficPeaks.map((p) => p.peak / p.budget)), 3),
      exitsLeft: s.exitsLeft,
    },
    invariants: {
      checked: [...CHECKED_INVARIANTS],
      checks: { ...s.monitor.checked },
      coverage: s.coverage,
      violations: s.monitor.violationCount,
      byInvariant: { ...s.monitor.violationsBy },
      list: s.monitor.violations,
    },
    simulation: {
      simulatedMinutes: round((s.clock.now() - START) / MINUTE),
      instants: s.clock.instants,
      sweepErrors: s.sweepErrors.count,
      firstSweepError: s.sweepErrors.first,
      ...(s.overruns.count > 0
        ? { taskOverruns: { count: s.overruns.count, first: s.overruns.first ?? '' } }
        : {}),
    },
    wallClock: { ms: round(wallMs, 1) },
  };
}

/** The account's and each zone's in-flight peaks, and the service with the highest peak against its cap. */
function inFlightPeaks(
  peaks: ReadonlyMap<string, { peak: number; cap: number }>,
): Record<string, { peak: number; cap: number }> {
  const out: Array<[string, { peak: number; cap: number }]> = [];
  let busiest: [string, { peak: number; cap: number }] | undefined;
  for (const [scope, p] of peaks) {
    if (!scope.startsWith('service:')) out.push([scope, { ...p }]);
    else if (
      !busiest ||
      p.peak / p.cap > busiest[1].peak / busiest[1].cap ||
      (p.peak / p.cap === busiest[1].peak / busiest[1].cap && scope < busiest[0])
    )
      busiest = [scope, { ...p }];
  }
  out.sort(([a], [b]) => (a === 'account' ? -1 : b === 'account' ? 1 : a < b ? -1 : 1));
  if (busiest) out.push(busiest);
  return Object.fromEntries(out);
}

const nullableRound = (x: number | null) => (x === null ? null : round(x, 1));

function quantiles(values: readonly number[]): Quantiles | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => {
    const i = q * (sorted.length - 1);
    const lo = Math.floor(i);
    const hi = Math.min(sorted.length - 1, lo + 1);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (i - lo);
  };
  return {
    mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length),
    p50: round(at(0.5)),
    p90: round(at(0.9)),
    max: round(sorted[sorted.length - 1]),
  };
}

function sortedRecord(r: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1)));
}
