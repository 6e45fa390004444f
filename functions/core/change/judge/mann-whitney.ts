/** The Mann–Whitney U test (exact for small samples without ties, asymptotic otherwise), the Hodges–Lehmann shift and the median. */
import { normalSf } from './normal';

export interface MannWhitneyResult {
  /** U of the first sample (SciPy's `statistic`). */
  readonly u: number;
  /** Two-sided p-value. */
  readonly pValue: number;
  readonly method: 'exact' | 'asymptotic';
}

/**
 * The Mann–Whitney U test as SciPy's `mannwhitneyu(x, y)` computes it by default: two-sided,
 * `method='auto'` (exact when either sample has at most 8 values and there are no ties,
 * otherwise the normal approximation with tie correction), continuity correction on.
 */
export function mannWhitneyU(x: readonly number[], y: readonly number[]): MannWhitneyResult {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) throw new Error('mannWhitneyU: both samples need at least one value');
  if ([...x, ...y].some((v) => !Number.isFinite(v)))
    throw new Error('mannWhitneyU: samples must be finite numbers');

  const { ranks, tieSizes } = averageRanks([...x, ...y]);
  let r1 = 0;
  for (let i = 0; i < n1; i++) r1 += ranks[i];
  const u1 = r1 - (n1 * (n1 + 1)) / 2;
  const u2 = n1 * n2 - u1;
  const u = Math.max(u1, u2);
  const ties = tieSizes.some((t) => t > 1);

  if ((n1 <= 8 || n2 <= 8) && !ties) {
    return { u: u1, pValue: Math.min(1, Math.max(0, 2 * exactSf(u, n1, n2))), method: 'exact' };
  }
  const n = n1 + n2;
  const tieTerm = tieSizes.reduce((sum, t) => sum + (t ** 3 - t), 0);
  const s = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  const z = (u - (n1 * n2) / 2 - 0.5) / s;
  // All values tied: no evidence of a shift (SciPy gives z = −∞, p clipped to 1).
  const p = s === 0 ? 1 : 2 * normalSf(z);
  return { u: u1, pValue: Math.min(1, Math.max(0, p)), method: 'asymptotic' };
}

/** Ranks with ties averaged (1-based), and the size of each group of tied values. */
export function averageRanks(values: readonly number[]): { ranks: number[]; tieSizes: number[] } {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(values.length);
  const tieSizes: number[] = [];
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    const rank = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) ranks[order[k][1]] = rank;
    tieSizes.push(j - i + 1);
    i = j + 1;
  }
  return { ranks, tieSizes };
}

/**
 * P(U ≥ u) under the null hypothesis, from the exact distribution of U: the coefficients of
 * the Gaussian binomial ∏ᵢ (1 − q^{n2+i}) / (1 − qⁱ), i = 1…n1, over C(n1+n2, n1).
 * By symmetry P(U ≥ u) = P(U ≤ n1·n2 − u).
 */
function exactSf(u: number, n1: number, n2: number): number {
  const [small, large] = n1 <= n2 ? [n1, n2] : [n2, n1];
  const max = small * large;
  const counts = new Float64Array(max + 1);
  counts[0] = 1;
  for (let i = 1; i <= small; i++) {
    // × (1 − q^{large+i}): subtract the shifted copy, high to low.
    const shift = large + i;
    for (let k = max; k >= shift; k--) counts[k] -= counts[k - shift];
    // ÷ (1 − qⁱ): a running sum with stride i.
    for (let k = i; k <= max; k++) counts[k] += counts[k - i];
  }
  let total = 0;
  for (let k = 0; k <= max; k++) total += counts[k];
  const limit = Math.floor(max - u + 1e-9);
  let tail = 0;
  for (let k = 0; k <= limit; k++) tail += counts[k];
  return tail / total;
}

/** The Hodges–Lehmann estimate of the shift from `baseline` to `canary`: the median of all pairwise differences. */
export function hodgesLehmann(baseline: readonly number[], canary: readonly number[]): number {
  const diffs: number[] = [];
  for (const c of canary) for (const b of baseline) diffs.push(c - b);
  return median(diffs);
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
