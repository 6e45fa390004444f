// Remediation policies compared by simulation: the fixed ladder (reboot → stop-start → replace →
// page), the learned ladder with each failure's context (family, host age, what helped the
// instance before) and without it (per failure kind: Beta posteriors, Thompson sampling, safe
// default, capped exploration), and an oracle that knows each fault's cause, learning online over
// 2,000 status-check failures of two hidden causes. Five seeds; every figure is the median over
// the seeds. Prints one JSON line. `learned*` figures are the contextual learner's (`ratio` too);
// `contextFree*` and `ratioContextFree` are the per-kind learner's.
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
const over = (pick: (r: Report) => number, digits?: number) => round(median(reports.map(pick)), digits);
const steps = (p: Report['fixed']) => p.actions.reboot + p.actions['stop-start'] + p.actions.replace;

process.stdout.write(
  `${JSON.stringify({
    fixedMeanMinutes: over((r) => r.fixed.meanMinutes),
    learnedMeanMinutes: over((r) => r.learnedContextual.meanMinutes),
    contextFreeMeanMinutes: over((r) => r.learned.meanMinutes),
    oracleMeanMinutes: over((r) => r.oracle.meanMinutes),
    ratio: over((r) => r.ratio),
    learnedFixedRatio: over((r) => r.ratio),
    learnedOracleRatio: over((r) => r.learnedOracleRatio),
    ratioContextFree: over((r) => r.ratioContextFree),
    contextFreeOracleRatio: over((r) => r.contextFreeOracleRatio),
    oracleFixedRatio: over((r) => r.oracleRatio),
    seeds: SEEDS.length,
    failures: REMEDIATION_SIM_PARAMETERS.failures,
    relapses: over((r) => r.fixed.relapses),
    fixedMedianMinutes: over((r) => r.fixed.medianMinutes),
    learnedMedianMinutes: over((r) => r.learnedContextual.medianMinutes),
    fixedP90Minutes: over((r) => r.fixed.p90Minutes),
    learnedP90Minutes: over((r) => r.learnedContextual.p90Minutes),
    contextFreeP90Minutes: over((r) => r.learned.p90Minutes),
    oracleP90Minutes: over((r) => r.oracle.p90Minutes),
    fixedActions: over((r) => steps(r.fixed)),
    learnedActions: over((r) => steps(r.learnedContextual)),
    contextFreeActions: over((r) => steps(r.learned)),
    oracleActions: over((r) => steps(r.oracle)),
    fixedPages: over((r) => r.fixed.pages),
    learnedPages: over((r) => r.learnedContextual.pages),
    contextFreePages: over((r) => r.learned.pages),
    learnedFirstStopStartShare: {
      system: over((r) => r.learnedContextual.firstChoice['system-status-check-failed']['stop-start']),
      instance: over((r) => r.learnedContextual.firstChoice['instance-status-check-failed']['stop-start']),
    },
    contextFreeFirstStopStartShare: {
      system: over((r) => r.learned.firstChoice['system-status-check-failed']['stop-start']),
      instance: over((r) => r.learned.firstChoice['instance-status-check-failed']['stop-start']),
    },
    learnedIgnoringCostMeanMinutes: over((r) => r.learnedIgnoringCost.meanMinutes),
    ratioIgnoringCost: over((r) => r.ratioIgnoringCost),
    elapsedMs: round(elapsedMs, 1),
  })}\n`,
);
