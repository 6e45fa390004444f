import fc from 'fast-check';
import { FINDING_KINDS } from '../../functions/core/events/findings';
import { sampleBeta, sampleGamma } from '../../functions/core/remediation/beta';
import { nextStep, recordOutcome } from '../../functions/core/remediation/ladder';
import { LADDER, type LadderStep, type OutcomeStats, statsKey } from '../../functions/core/remediation/types';
import { seededRandom } from '../../sim/kernel/random';

const KIND = 'system-status-check-failed';

function statsOf(counts: Partial<Record<LadderStep, [successes: number, failures: number]>>): OutcomeStats {
  return new Map(
    Object.entries(counts).map(([step, [successes, failures]]) => [
      statsKey(KIND, step as LadderStep),
      { successes, failures },
    ]),
  );
}

/** How often each action comes out of `draws` decisions with one seeded stream. */
function tally(draws: number, input: Omit<Parameters<typeof nextStep>[0], 'rng'>, seed = 1) {
  const rng = seededRandom(seed);
  const counts: Record<string, number> = {};
  for (let n = 0; n < draws; n++) {
    const { action } = nextStep({ ...input, rng });
    counts[action] = (counts[action] ?? 0) + 1;
  }
  return counts;
}

function moments(xs: readonly number[]) {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1);
  return { mean, variance };
}

describe('Beta and Gamma sampling', () => {
  const N = 40_000;

  it.each([
    [2, 5],
    [1, 1],
    [0.3, 0.7],
    [38, 4],
  ])('Beta(%d, %d) has the right mean and variance (seeded)', (a, b) => {
    const rng = seededRandom(2024);
    const xs = Array.from({ length: N }, () => sampleBeta(a, b, rng));
    const { mean, variance } = moments(xs);

    const expectedMean = a / (a + b);
    const expectedVariance = (a * b) / ((a + b) ** 2 * (a + b + 1));
    // Five standard errors of the mean; variance within 5%.
    expect(Math.abs(mean - expectedMean)).toBeLessThan(5 * Math.sqrt(expectedVariance / N));
    expect(variance / expectedVariance).toBeGreaterThan(0.95);
    expect(variance / expectedVariance).toBeLessThan(1.05);
    expect(xs.every((x) => x >= 0 && x <= 1)).toBe(true);
  });

  it.each([0.2, 0.5, 1, 3.7, 50])('Gamma(%d) has mean and variance equal to its shape (seeded)', (shape) => {
    const rng = seededRandom(99);
    const { mean, variance } = moments(Array.from({ length: N }, () => sampleGamma(shape, rng)));

    expect(Math.abs(mean - shape)).toBeLessThan(5 * Math.sqrt(shape / N));
    expect(variance / shape).toBeGreaterThan(0.93);
    expect(variance / shape).toBeLessThan(1.07);
  });

  it('puts a uniform Beta(1, 1) evenly into deciles', () => {
    const rng = seededRandom(5);
    const deciles = new Array(10).fill(0);
    for (let n = 0; n < N; n++) deciles[Math.min(9, Math.floor(sampleBeta(1, 1, rng) * 10))]++;

    // Chi-square with 9 degrees of freedom: 27.9 is its 0.999 quantile.
    const chiSquare = deciles.reduce((sum, count) => sum + (count - N / 10) ** 2 / (N / 10), 0);
    expect(chiSquare).toBeLessThan(27.9);
  });

  it('is deterministic for a seeded stream', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const draws = (rng: () => number) => Array.from({ length: 50 }, () => sampleBeta(3, 9, rng));

    expect(draws(a)).toEqual(draws(b));
  });

  it('rejects a shape that is not positive', () => {
    expect(() => sampleGamma(0, Math.random)).toThrow('expected a finite gamma shape > 0, found 0');
    expect(() => sampleBeta(1, -2, Math.random)).toThrow('found -2');
  });
});

describe('nextStep', () => {
  it('pages a person once every step was tried', () => {
    const step = nextStep({ kind: KIND, tried: [...LADDER], stats: new Map(), rng: seededRandom(1) });

    expect(step).toEqual({
      action: 'page',
      reason: 'ladder exhausted (tried reboot, stop-start, replace): page a person',
    });
  });

  it('follows ladder order while data is thin and exploration is off', () => {
    const rng = seededRandom(3);
    for (let n = 0; n < 300; n++) {
      const step = nextStep({ kind: KIND, tried: [], stats: new Map(), rng, explorationRate: 0 });

      expect(step.action).toBe('reboot');
      expect(step.reason).toMatch(/^thin data: ladder order, reboot \(/);
    }
  });

  it('goes on with the next step in ladder order after one was tried', () => {
    const step = nextStep({
      kind: KIND,
      tried: ['reboot'],
      stats: new Map(),
      rng: seededRandom(4),
      explorationRate: 0,
    });

    expect(step.action).toBe('stop-start');
    expect(Object.keys(step.sampled!)).toEqual(['stop-start', 'replace']);
  });

  it('caps exploration at the rate even when a thin step always draws higher', () => {
    // Reboot is known to fail; the others are untried, so they win nearly every draw — yet the
    // safe default holds unless the exploration coin says otherwise.
    const stats = statsOf({ reboot: [0, 1000] });
    const draws = 20_000;
    const counts = tally(draws, { kind: KIND, tried: [], stats, explorationRate: 0.1 });

    const explored = (draws - (counts.reboot ?? 0)) / draws;
    expect(Math.abs(explored - 0.1)).toBeLessThan(0.01);
  });

  it('explores less than the rate when the thin steps win only some draws', () => {
    // With no data anywhere, a later step wins 2 draws in 3 (uniform posteriors, equal costs).
    const draws = 20_000;
    const counts = tally(draws, {
      kind: KIND,
      tried: [],
      stats: new Map(),
      explorationRate: 0.3,
      stepMinutes: { reboot: 1, 'stop-start': 1, replace: 1 },
    });

    const explored = (draws - (counts.reboot ?? 0)) / draws;
    expect(Math.abs(explored - (2 / 3) * 0.3)).toBeLessThan(0.01);
  });

  it('prefers a clearly better step once it has data, with the draws in its reason', () => {
    const stats = statsOf({ reboot: [1, 40], 'stop-start': [45, 5], replace: [20, 0] });
    const counts = tally(1000, { kind: KIND, tried: [], stats });

    expect(counts).toEqual({ 'stop-start': 1000 });

    // The reason quotes the very draws: replay the same stream through the sampler.
    const replay = seededRandom(8);
    const reboot = sampleBeta(2, 41, replay);
    const stopStart = sampleBeta(46, 6, replay);
    const replace = sampleBeta(21, 1, replay);
    const step = nextStep({ kind: KIND, tried: [], stats, rng: seededRandom(8) });
    const runnerUp =
      replace / 20 > reboot / 8
        ? `replace drew ${replace.toFixed(2)} (${(replace / 20).toFixed(3)}/min)`
        : `reboot drew ${reboot.toFixed(2)} (${(reboot / 8).toFixed(3)}/min)`;
    expect(step).toEqual({
      action: 'stop-start',
      reason: `thompson: stop-start drew ${stopStart.toFixed(2)} (${(stopStart / 13).toFixed(3)}/min) > ${runnerUp} (posterior from 50 outcomes)`,
      sampled: { reboot, 'stop-start': stopStart, replace },
    });
  });

  it('weighs each step by its cost: equal costs prefer the surest step, real costs the fastest', () => {
    const stats = statsOf({ reboot: [700, 300], 'stop-start': [900, 100], replace: [990, 10] });

    expect(tally(500, { kind: KIND, tried: [], stats })).toEqual({ reboot: 500 });
    expect(
      tally(500, { kind: KIND, tried: [], stats, stepMinutes: { reboot: 1, 'stop-start': 1, replace: 1 } }),
    ).toEqual({ replace: 500 });
  });

  it('keeps statistics per finding kind', () => {
    // Plenty of evidence that stop-start works — but for the other kind.
    const stats: OutcomeStats = new Map([
      [statsKey('instance-status-check-failed', 'reboot'), { successes: 0, failures: 100 }],
      [statsKey('instance-status-check-failed', 'stop-start'), { successes: 100, failures: 0 }],
    ]);

    expect(tally(200, { kind: KIND, tried: [], stats, explorationRate: 0 })).toEqual({ reboot: 200 });
  });

  it('says when only one step is left', () => {
    const step = nextStep({
      kind: KIND,
      tried: ['stop-start', 'reboot'],
      stats: new Map(),
      rng: seededRandom(1),
    });

    expect(step).toMatchObject({ action: 'replace', reason: 'last step left: replace' });
  });

  it('labels exploration in its reason', () => {
    const stats = statsOf({ reboot: [0, 1000] });
    const step = nextStep({ kind: KIND, tried: [], stats, rng: seededRandom(1), explorationRate: 1 });

    expect(step.action).not.toBe('reboot');
    expect(step.reason).toMatch(/^exploring \(rate 1\): (stop-start|replace) drew .* with 0 outcomes < 10$/);
  });

  it('rejects settings and statistics that cannot work', () => {
    const base = { kind: KIND, tried: [], rng: seededRandom(1) } as const;

    expect(() => nextStep({ ...base, stats: new Map(), explorationRate: 1.5 })).toThrow(
      'expected explorationRate in [0, 1], found 1.5',
    );
    expect(() => nextStep({ ...base, stats: new Map(), minSamples: -1 })).toThrow(
      'expected minSamples to be a whole number ≥ 0, found -1',
    );
    expect(() => nextStep({ ...base, stats: statsOf({ reboot: [-1, 2] }) })).toThrow(
      'expected whole, non-negative outcome counts for system-status-check-failed|reboot, found -1 successes and 2 failures',
    );
    expect(() =>
      nextStep({ ...base, stats: new Map(), stepMinutes: { reboot: 0, 'stop-start': 1, replace: 1 } }),
    ).toThrow('expected stepMinutes.reboot > 0, found 0');
  });
});

describe('recordOutcome', () => {
  it('counts one more success or failure in a new map, leaving the old one alone', () => {
    const before = statsOf({ reboot: [2, 3] });
    const afterSuccess = recordOutcome(before, KIND, 'reboot', true);
    const afterFailure = recordOutcome(afterSuccess, KIND, 'stop-start', false);

    expect(before.get(statsKey(KIND, 'reboot'))).toEqual({ successes: 2, failures: 3 });
    expect(afterSuccess.get(statsKey(KIND, 'reboot'))).toEqual({ successes: 3, failures: 3 });
    expect(afterFailure.get(statsKey(KIND, 'stop-start'))).toEqual({ successes: 0, failures: 1 });
    expect(afterSuccess.has(statsKey(KIND, 'stop-start'))).toBe(false);
  });
});

describe('nextStep (property-based)', () => {
  const RUNS = Number(process.env.FC_RUNS ?? 300);
  const countArb = fc.record({ successes: fc.nat(200), failures: fc.nat(200) });
  const scenario = fc.record({
    kind: fc.constantFrom(...FINDING_KINDS),
    tried: fc.subarray([...LADDER]).chain((steps) => fc.shuffledSubarray(steps, { minLength: steps.length })),
    counts: fc.tuple(countArb, countArb, countArb),
    seed: fc.integer(),
    minSamples: fc.nat(30),
    explorationRate: fc.double({ min: 0, max: 1, noNaN: true }),
  });

  it('never offers a step already tried, pages only when all were, and is deterministic by seed', () => {
    fc.assert(
      fc.property(scenario, ({ kind, tried, counts, seed, minSamples, explorationRate }) => {
        const stats: OutcomeStats = new Map(LADDER.map((step, i) => [statsKey(kind, step), counts[i]]));
        const input = { kind, tried, stats, minSamples, explorationRate };
        const step = nextStep({ ...input, rng: seededRandom(seed) });

        expect(tried).not.toContain(step.action);
        expect(step.action === 'page').toBe(tried.length === LADDER.length);
        expect(nextStep({ ...input, rng: seededRandom(seed) })).toEqual(step);
        if (step.sampled) {
          expect(Object.keys(step.sampled)).toEqual(LADDER.filter((s) => !tried.includes(s)));
        }
      }),
      { numRuns: RUNS },
    );
  });
});
