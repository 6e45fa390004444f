import fc from 'fast-check';
import { hodgesLehmann, mannWhitneyU } from '../../functions/core/change/judge/mann-whitney';
import { normalSf } from '../../functions/core/change/judge/normal';
import reference from '../fixtures/judge/mannwhitneyu-reference.json';

describe('Mann–Whitney U', () => {
  it.each(reference.cases.map((c) => [c.name, c] as const))('matches SciPy mannwhitneyu: %s', (_name, c) => {
    const result = mannWhitneyU(c.x, c.y);
    expect(Math.abs(result.u - c.u)).toBeLessThan(1e-9);
    expect(Math.abs(result.pValue - c.p)).toBeLessThan(1e-6);
  });

  it('is symmetric: swapping the samples keeps p and mirrors U', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 30 }),
        (x, y) => {
          const a = mannWhitneyU(x, y);
          const b = mannWhitneyU(y, x);
          expect(b.pValue).toBeCloseTo(a.pValue, 12);
          expect(a.u + b.u).toBeCloseTo(x.length * y.length, 9);
          expect(a.pValue).toBeGreaterThanOrEqual(0);
          expect(a.pValue).toBeLessThanOrEqual(1);
        },
      ),
    );
  });

  it('rejects empty and non-finite samples', () => {
    expect(() => mannWhitneyU([], [1])).toThrow('both samples need at least one value');
    expect(() => mannWhitneyU([1, Number.NaN], [1])).toThrow('samples must be finite numbers');
  });

  it('estimates the shift as the median pairwise difference (Hodges–Lehmann)', () => {
    expect(hodgesLehmann([1, 2, 3], [11, 12, 13])).toBe(10);
    expect(hodgesLehmann([10, 20], [10, 20])).toBe(0);
  });

  it('computes the normal tail to 1e-15 at known points', () => {
    expect(normalSf(0)).toBe(0.5);
    expect(Math.abs(normalSf(1.959963984540054) - 0.025)).toBeLessThan(1e-15);
    expect(Math.abs(normalSf(-3) - 0.9986501019683699)).toBeLessThan(1e-15);
    expect(Math.abs(normalSf(6) - 9.865876450376983e-10) / 9.865876450376983e-10).toBeLessThan(1e-12);
  });
});
