// Remediation policies compared by simulation: the fixed ladder (reboot → stop-start → replace →
// page) against the learned one (Beta posteriors, Thompson sampling, safe default, capped
// exploration), learning online over 2,000 status-check failures of two hidden causes. Five
// seeds; every figure is the median over the seeds. Prints one JSON line.
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
const over = (pick: (r: (typeof reports)[number]) => number, digits?: number) =>
  round(median(reports.map(pick)), digits);

process.stdout.write(
  `${JSON.stringify({
    fixedMeanMinutes: over((r) => r.fixed.meanMinutes),
    learnedMeanMinutes: over((r) => r.learned.meanMinutes),
    ratio: over((r) => r.ratio),
    seeds: SEEDS.length,
    failures: REMEDIATION_SIM_PARAMETERS.failures,
    fixedMedianMinutes: over((r) => r.fixed.medianMinutes),
    learnedMedianMinutes: over((r) => r.learned.medianMinutes),
    fixedP90Minutes: over((r) => r.fixed.p90Minutes),
    learnedP90Minutes: over((r) => r.learned.p90Minutes),
    fixedActions: over(
      (r) => r.fixed.actions.reboot + r.fixed.actions['stop-start'] + r.fixed.actions.replace,
    ),
    learnedActions: over(
      (r) => r.learned.actions.reboot + r.learned.actions['stop-start'] + r.learned.actions.replace,
    ),
    fixedPages: over((r) => r.fixed.pages),
    learnedPages: over((r) => r.learned.pages),
    learnedFirstStopStartShare: {
      system: over((r) => r.learned.firstChoice['system-status-check-failed']['stop-start']),
      instance: over((r) => r.learned.firstChoice['instance-status-check-failed']['stop-start']),
    },
    learnedIgnoringCostMeanMinutes: over((r) => r.learnedIgnoringCost.meanMinutes),
    ratioIgnoringCost: over((r) => r.ratioIgnoringCost),
    elapsedMs: round(elapsedMs, 1),
  })}\n`,
);
