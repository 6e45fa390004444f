import * as z from 'zod';
import { hodgesLehmann, mannWhitneyU, median } from './mann-whitney';

/**
 * The canary judge, in the manner of Kayenta's: per metric, clean the samples, classify the
 * canary against the baseline with a Mann–Whitney U test and a Hodges–Lehmann effect band,
 * then score the metrics and classify the score. Each step is a small function of its own.
 */

export const metricConfigSchema = z.strictObject({
  /** Which way is bad: a rise (latency, errors), a fall (throughput), or either. */
  direction: z.enum(['increase', 'decrease', 'either']).default('increase'),
  /** A critical metric that fails fails the whole judgement, whatever the score. */
  critical: z.boolean().default(false),
  /** The relative shift (of the baseline's median) tolerated even when significant. */
  effectTolerance: z.number().min(0).optional(),
  minSamples: z.number().int().min(3).optional(),
  weight: z.number().gt(0).default(1),
});

export const judgeConfigSchema = z.strictObject({
  /** Significance level of the Mann–Whitney U test. */
  alpha: z.number().gt(0).lt(0.5).default(0.05),
  /** Fewer values than this in either sample makes a metric inconclusive (bake longer). */
  minSamples: z.number().int().min(3).default(10),
  /** `remove`: drop values outside Tukey's fences (1.5 × IQR) in each sample before testing. */
  outliers: z.enum(['keep', 'remove']).default('keep'),
  effectTolerance: z.number().min(0).default(0.1),
  passThreshold: z.number().min(0).max(100).default(75),
  marginalThreshold: z.number().min(0).max(100).default(50),
  metrics: z.record(z.string().min(1), metricConfigSchema).default({}),
});

export type JudgeConfig = z.infer<typeof judgeConfigSchema>;
export type MetricConfig = z.infer<typeof metricConfigSchema>;

/** Samples per metric name; `null` stands for a missing value (cleaned like NaN). */
export const samplesSchema = z.record(z.string().min(1), z.array(z.number().nullable()));
export type Samples = z.infer<typeof samplesSchema>;

export type MetricStatus = 'pass' | 'fail' | 'inconclusive';

export interface MetricJudgement {
  readonly metric: string;
  readonly status: MetricStatus;
  /** `high`/`low`: a significant shift beyond the tolerated band; `same`: none. */
  readonly classification: 'high' | 'low' | 'same' | 'insufficient';
  readonly critical: boolean;
  readonly baseline: { readonly n: number; readonly median: number };
  readonly canary: { readonly n: number; readonly median: number };
  /** Hodges–Lehmann estimate of the canary's shift, absolute and relative to the baseline median. */
  readonly shift: number;
  readonly relativeShift: number;
  readonly pValue: number;
  readonly method: 'exact' | 'asymptotic' | 'none';
  readonly reason: string;
}

export interface Judgement {
  readonly verdict: 'pass' | 'marginal' | 'fail' | 'inconclusive';
  readonly score: number;
  readonly reasons: readonly string[];
  readonly metrics: readonly MetricJudgement[];
}

/** Step 1: drop missing and non-finite values, and outliers when asked. */
export function cleanSamples(
  values: ReadonlyArray<number | null>,
  outliers: JudgeConfig['outliers'],
): number[] {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (outliers === 'keep' || finite.length < 4) return finite;
  const sorted = [...finite].sort((a, b) => a - b);
  const q1 = quantile(sorted, 0.25);
  const q3 = quantile(sorted, 0.75);
  const fence = 1.5 * (q3 - q1);
  return finite.filter((v) => v >= q1 - fence && v <= q3 + fence);
}

/** Step 2: classify one metric. */
export function classifyMetric(
  metric: string,
  baselineRaw: ReadonlyArray<number | null>,
  canaryRaw: ReadonlyArray<number | null>,
  config: JudgeConfig,
): MetricJudgement {
  const settings: MetricConfig = config.metrics[metric] ?? metricConfigSchema.parse({});
  const baseline = cleanSamples(baselineRaw, config.outliers);
  const canary = cleanSamples(canaryRaw, config.outliers);
  const minSamples = settings.minSamples ?? config.minSamples;
  const summary = {
    metric,
    critical: settings.critical,
    baseline: { n: baseline.length, median: median(baseline) },
    canary: { n: canary.length, median: median(canary) },
  };
  if (baseline.length < minSamples || canary.length < minSamples) {
    return {
      ...summary,
      status: 'inconclusive',
      classification: 'insufficient',
      shift: Number.NaN,
      relativeShift: Number.NaN,
      pValue: Number.NaN,
      method: 'none',
      reason: `too few samples (baseline ${baseline.length}, canary ${canary.length}; at least ${minSamples} each)`,
    };
  }
  const test = mannWhitneyU(canary, baseline);
  const shift = hodgesLehmann(baseline, canary);
  const scale = Math.abs(summary.baseline.median);
  const relativeShift =
    scale > 0 ? shift / scale : shift === 0 ? 0 : Math.sign(shift) * Number.POSITIVE_INFINITY;
  const tolerance = settings.effectTolerance ?? config.effectTolerance;
  const significant = test.pValue < config.alpha;
  const beyond = Math.abs(relativeShift) > tolerance;
  const classification = significant && beyond ? (shift > 0 ? 'high' : 'low') : 'same';
  const bad =
    (classification === 'high' && settings.direction !== 'decrease') ||
    (classification === 'low' && settings.direction !== 'increase');
  const percent = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : x > 0 ? '+∞' : '−∞');
  const reason =
    classification === 'same'
      ? significant
        ? `shift ${percent(relativeShift)} is within the tolerated ±${percent(tolerance)}`
        : `no significant difference (p = ${test.pValue.toPrecision(3)} ≥ ${config.alpha})`
      : `${classification === 'high' ? 'higher' : 'lower'} by ${percent(relativeShift)} (p = ${test.pValue.toPrecision(3)})` +
        (bad ? `, the bad direction (${settings.direction})` : ', the harmless direction');
  return {
    ...summary,
    status: bad ? 'fail' : 'pass',
    classification,
    shift,
    relativeShift,
    pValue: test.pValue,
    method: test.method,
    reason,
  };
}

/**
 * Judges a canary against its baseline.
 *
 * 1. Classify every metric present in either sample set.
 * 2. A failing critical metric fails the judgement.
 * 3. Any inconclusive metric makes it inconclusive: bake longer rather than pass on thin data.
 * 4. Otherwise score = weighted share of passing metrics; pass, marginal or fail by threshold.
 */
export function judge(baseline: Samples, canary: Samples, config: JudgeConfig): Judgement {
  const names = [...new Set([...Object.keys(baseline), ...Object.keys(canary)])].sort();
  const metrics = names.map((name) => classifyMetric(name, baseline[name] ?? [], canary[name] ?? [], config));
  const weightOf = (m: MetricJudgement) => config.metrics[m.metric]?.weight ?? 1;
  const judged = metrics.filter((m) => m.status !== 'inconclusive');
  const total = judged.reduce((sum, m) => sum + weightOf(m), 0);
  const passed = judged.filter((m) => m.status === 'pass').reduce((sum, m) => sum + weightOf(m), 0);
  const score = total > 0 ? Math.round((1000 * passed) / total) / 10 : 0;

  const criticalFailures = metrics.filter((m) => m.critical && m.status === 'fail');
  if (criticalFailures.length > 0) {
    return {
      verdict: 'fail',
      score,
      metrics,
      reasons: criticalFailures.map((m) => `critical metric ${m.metric}: ${m.reason}`),
    };
  }
  const inconclusive = metrics.filter((m) => m.status === 'inconclusive');
  if (metrics.length === 0 || inconclusive.length > 0) {
    return {
      verdict: 'inconclusive',
      score,
      metrics,
      reasons:
        metrics.length === 0 ? ['no metrics to judge'] : inconclusive.map((m) => `${m.metric}: ${m.reason}`),
    };
  }
  const failures = metrics.filter((m) => m.status === 'fail').map((m) => `${m.metric}: ${m.reason}`);
  const verdict =
    score >= config.passThreshold ? 'pass' : score >= config.marginalThreshold ? 'marginal' : 'fail';
  return {
    verdict,
    score,
    metrics,
    reasons: [
      `score ${score} (pass ≥ ${config.passThreshold}, marginal ≥ ${config.marginalThreshold})`,
      ...failures,
    ],
  };
}

/** Linear interpolation between closest ranks (NumPy's default). */
function quantile(sorted: readonly number[], q: number): number {
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
}
