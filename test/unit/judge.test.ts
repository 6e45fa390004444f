import fc from 'fast-check';
import {
  classifyMetric,
  cleanSamples,
  judge,
  judgeConfigSchema,
} from '../../functions/core/change/judge/judge';
import { seededRandom } from '../../sim/kernel/random';

const defaults = judgeConfigSchema.parse({});
const config = (fields: Record<string, unknown>) => judgeConfigSchema.parse(fields);

/** n values spread evenly around `center` (±spread), shuffled by a seed: reproducible samples. */
function sample(n: number, center: number, spread: number, seed: number): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => center + spread * ((i / (n - 1)) * 2 - 1) + random() * 1e-6);
}

describe('the canary judge', () => {
  it('fails a critical metric that rises beyond the band, naming it', () => {
    const result = judge(
      { Latency: sample(50, 100, 20, 1), Errors: sample(50, 5, 2, 2) },
      { Latency: sample(50, 130, 20, 3), Errors: sample(50, 5, 2, 4) },
      config({ metrics: { Latency: { critical: true } } }),
    );
    expect(result.verdict).toBe('fail');
    expect(result.reasons[0]).toMatch(
      /^critical metric Latency: higher by 30\.\d% \(p = .+\), the bad direction \(increase\)$/,
    );
    expect(result.metrics.find((m) => m.metric === 'Errors')?.status).toBe('pass');
  });

  it('passes a shift in the harmless direction', () => {
    const m = classifyMetric('Latency', sample(40, 100, 10, 1), sample(40, 70, 10, 2), defaults);
    expect(m).toMatchObject({ classification: 'low', status: 'pass' });
    const throughput = classifyMetric(
      'Throughput',
      sample(40, 100, 10, 1),
      sample(40, 70, 10, 2),
      config({ metrics: { Throughput: { direction: 'decrease' } } }),
    );
    expect(throughput.status).toBe('fail');
  });

  it('tolerates a significant shift within the effect band', () => {
    const m = classifyMetric('Latency', sample(2000, 100, 5, 1), sample(2000, 103, 5, 2), defaults);
    expect(m.pValue).toBeLessThan(0.05);
    expect(m).toMatchObject({ classification: 'same', status: 'pass' });
    expect(m.reason).toMatch(/^shift 3\.\d% is within the tolerated ±10\.0%$/);
  });

  it('is inconclusive with too few samples, so the bake is extended rather than passed', () => {
    const result = judge({ Latency: [100, 101, 102] }, { Latency: [300, 301, 302] }, defaults);
    expect(result.verdict).toBe('inconclusive');
    expect(result.reasons).toEqual(['Latency: too few samples (baseline 3, canary 3; at least 10 each)']);
  });

  it('cleans missing and non-finite values, and outliers when asked', () => {
    expect(cleanSamples([1, null, 2, Number.NaN, 3], 'keep')).toEqual([1, 2, 3]);
    expect(cleanSamples([10, 11, 12, 13, 11, 12, 500], 'remove')).toEqual([10, 11, 12, 13, 11, 12]);
  });

  it('scores by weight: one failing metric of four passes, two make it marginal', () => {
    const base = {
      A: sample(30, 10, 1, 1),
      B: sample(30, 10, 1, 2),
      C: sample(30, 10, 1, 3),
      D: sample(30, 10, 1, 4),
    };
    const worse = (n: number) => sample(30, 20, 1, 10 + n);
    expect(judge(base, { ...base, A: worse(1) }, defaults)).toMatchObject({ verdict: 'pass', score: 75 });
    expect(judge(base, { ...base, A: worse(1), B: worse(2) }, defaults)).toMatchObject({
      verdict: 'marginal',
      score: 50,
    });
    expect(judge(base, { ...base, A: worse(1), B: worse(2), C: worse(3) }, defaults)).toMatchObject({
      verdict: 'fail',
      score: 25,
    });
  });

  it('never fails a canary that is the baseline (property)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom('A', 'B', 'C'),
          fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 10, maxLength: 60 }),
          { minKeys: 1 },
        ),
        (samples) => {
          const result = judge(samples, samples, defaults);
          expect(result.verdict).toBe('pass');
        },
      ),
    );
  });

  it('is inconclusive, not passing, when there is nothing to judge', () => {
    expect(judge({}, {}, defaults)).toMatchObject({
      verdict: 'inconclusive',
      reasons: ['no metrics to judge'],
    });
  });
});
