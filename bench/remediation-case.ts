// Remediation policies compared by simulation (sim/remediation-sim.ts): the fixed ladder (reboot →
// stop-start → replace → page, every case fresh), the deployed learning ladder (family, host age,
// what helped before; relapse memory: a relapse within 24 h inherits the tried steps and revises
// the last recovery's counted success, the flap limit pages), its ablations, and an oracle that
// knows each fault's cause, over 2,000 root faults (hardware faults come back after a reboot on
// the same host). Time to recover is per root fault: the minutes out of service summed over its
// episodes until it is fixed for good. Five seeds; every figure is the median over the seeds.
// Prints one JSON line.
//   learned*      the deployed ladder (the headline; `ratio` = `learnedFixedRatio` = learned ÷ fixed)
//   noRelapse*    family and host age, no relapse memory (the deployed ladder before relapse.ts)
//   noContext*    relapse memory, statistics per kind only
//   contextFree*  per kind only, no relapse memory (the first learning ladder)
//   *Episode*     per episode (each case on its own) instead of per fault
import { performance } from 'node:perf_hooks';
import { REMEDIATION_SIM_PARAMETERS, simulateRemediation } from '../sim/remediation-sim';

const SEEDS = [1, 2, 3, 4, 5];

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

const started = performance.now();
const reports = SEEDS.map((seed) => simulateRemediation({ seed }));
const elapsedMs = performance.now() - started;
type Report = (typeof reports)[number];
type Policy = Report['fixed'];
const over = (pick: (r: Report) => number, digits?: number) => round(median(reports.map(pick)), digits);
const steps = (p: Policy) => p.actions.reboot + p.actions['stop-start'] + p.actions.replace;
const POLICIES = {
  fixed: (r: Report) => r.fixed,
  learned: (r: Report) => r.learned,
  noRelapse: (r: Report) => r.learnedNoRelapse,
  noContext: (r: Report) => r.learnedNoContext,
  contextFree: (r: Report) => r.contextFree,
  oracle: (r: Report) => r.oracle,
} as const;
/** `${policy}${suffix}` for every policy: the median of `pick` over the seeds. */
const each = (suffix: string, pick: (p: Policy) => number, digits?: number) =>
  Object.fromEntries(
    Object.entries(POLICIES).map(([name, of]) => [`${name}${suffix}`, over((r) => pick(of(r)), digits)]),
  );

process.stdout.write(
  `${JSON.stringify({
    ...each('MeanMinutes', (p) => p.meanMinutes),
    ratio: over((r) => r.ratio),
    learnedFixedRatio: over((r) => r.learnedFixedRatio),
    learnedOracleRatio: over((r) => r.learnedOracleRatio),
    oracleFixedRatio: over((r) => r.oracleRatio),
    ratioNoRelapse: over((r) => r.ratioNoRelapse),
    ratioNoContext: over((r) => r.ratioNoContext),
    ratioContextFree: over((r) => r.ratioContextFree),
    contextFreeOracleRatio: over((r) => r.contextFreeOracleRatio),
    seeds: SEEDS.length,
    faults: REMEDIATION_SIM_PARAMETERS.faults,
    ...each('MedianMinutes', (p) => p.medianMinutes),
    ...each('P90Minutes', (p) => p.p90Minutes),
    ...each('Actions', steps),
    ...each('Pages', (p) => p.pages),
    ...each('Episodes', (p) => p.episodes),
    ...each('Relapses', (p) => p.relapses),
    ...each('EpisodeMeanMinutes', (p) => p.meanEpisodeMinutes),
    learnedFlapPages: over((r) => r.learned.flapPages),
    cappedFaults: over((r) => r.fixed.cappedFaults),
    hardwareFaults: over((r) => r.fixed.hardwareFaults),
    repeatFaults: over((r) => r.fixed.repeatFaults),
    redirectedRepeats: over((r) => r.fixed.redirectedRepeats + r.learned.redirectedRepeats),
    episodeRatio: over((r) => r.perEpisode.ratio),
    episodeOracleRatio: over((r) => r.perEpisode.oracleRatio),
    episodeRatioContextFree: over((r) => r.perEpisode.ratioContextFree),
    oracleOrder: reports[0].oracleOrder,
    learnedFirstStopStartShare: {
      system: over((r) => r.learned.firstChoice['system-status-check-failed']['stop-start']),
      instance: over((r) => r.learned.firstChoice['instance-status-check-failed']['stop-start']),
    },
    contextFreeFirstStopStartShare: {
      system: over((r) => r.contextFree.firstChoice['system-status-check-failed']['stop-start']),
      instance: over((r) => r.contextFree.firstChoice['instance-status-check-failed']['stop-start']),
    },
    learnedRelapseRebootShare: over((r) => r.learned.relapseFirstChoice.reboot),
    learnedIgnoringCostMeanMinutes: over((r) => r.learnedIgnoringCost.meanMinutes),
    ratioIgnoringCost: over((r) => r.ratioIgnoringCost),
    elapsedMs: round(elapsedMs, 1),
  })}\n`,
);
