import fc from 'fast-check';
import { FINDING_KINDS } from '../../functions/core/events/findings';
import { sampleBeta, sampleGamma } from '../../functions/core/remediation/beta';
import {
  ageBucket,
  instanceFamily,
  ladderContext,
  nextStep,
  type PastCase,
  recordOutcome,
} from '../../functions/core/remediation/ladder';
import {
  AGE_BUCKETS,
  contextStatsKeys,
  LADDER,
  type LadderContext,
  type LadderStep,
  ladderStatsKeys,
  type OutcomeStats,
  qualifiedStatsKey,
  statsKey,
} from '../../functions/core/remediation/types';
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

const DAY = 24 * 60 * 60_000;
const NOW = Date.parse('2026-08-01T12:00:00.000Z');
const FRESH: LadderContext = { family: 'm5', age: 'under-a-day' };

/** Counts under qualified keys: `[qualifier, step, successes, failures]` ('' is the kind alone). */
function statsAt(rows: ReadonlyArray<[string, LadderStep, number, number]>): OutcomeStats {
  return new Map(
    rows.map(([qualifier, step, successes, failures]) => [
      qualifiedStatsKey(KIND, qualifier, step),
      { successes, failures },
    ]),
  );
}

describe('contextStatsKeys', () => {
  it('nests age, then what helped before, then family, down to the kind alone', () => {
    const keys = contextStatsKeys(KIND, 'reboot', { family: 'm5', age: 'older', helpedBefore: 'stop-start' });

    expect(keys).toEqual([
      'system-status-check-failed|age=older&helped=stop-start&family=m5|reboot',
      'system-status-check-failed|age=older&helped=stop-start|reboot',
      'system-status-check-failed|age=older|reboot',
      'system-status-check-failed|reboot',
    ]);
  });

  it('leaves out what the context does not know, and is the kind alone without one', () => {
    expect(contextStatsKeys(KIND, 'replace', { family: 'c6g' })).toEqual([
      'system-status-check-failed|family=c6g|replace',
      statsKey(KIND, 'replace'),
    ]);
    expect(contextStatsKeys(KIND, 'replace')).toEqual([statsKey(KIND, 'replace')]);
    expect(contextStatsKeys(KIND, 'replace', {})).toEqual([statsKey(KIND, 'replace')]);
    expect(ladderStatsKeys(KIND, { age: 'older' })).toHaveLength(6);
  });

  it('rejects a context that would not make a readable key', () => {
    expect(() => contextStatsKeys(KIND, 'reboot', { family: 'm5|x' })).toThrow(
      'expected an instance type family such as "m5" (lower case), found "m5|x"',
    );
    expect(() => contextStatsKeys(KIND, 'reboot', { age: 'ancient' as never })).toThrow(
      'expected an age bucket (under-a-day, under-30-days, older), found "ancient"',
    );
    expect(() => contextStatsKeys(KIND, 'reboot', { helpedBefore: 'page' as never })).toThrow(
      'expected a ladder step (reboot, stop-start, replace) as helpedBefore, found "page"',
    );
  });
});

describe('ladderContext', () => {
  const recovered = (kind: PastCase['finding']['kind'], ...tried: LadderStep[]): PastCase => ({
    finding: { kind },
    status: 'recovered',
    tried,
  });

  it('reads the family from the instance type and buckets the time since its last start', () => {
    const at = (ms: number) => new Date(NOW - ms).toISOString();

    expect(ladderContext({ instanceType: 'm5.large', launchedAt: at(DAY - 1) }, KIND, [], NOW)).toEqual({
      family: 'm5',
      age: 'under-a-day',
    });
    expect(ladderContext({ instanceType: 'c6gn.16xlarge', launchedAt: at(DAY) }, KIND, [], NOW)).toEqual({
      family: 'c6gn',
      age: 'under-30-days',
    });
    expect(ladderContext({ launchedAt: at(30 * DAY) }, KIND, [], NOW)).toEqual({ age: 'older' });
    // A launch time ahead of the clock is a fresh start; one that does not parse is unknown.
    expect(ageBucket(new Date(NOW + 60_000).toISOString(), NOW)).toBe('under-a-day');
    expect(ageBucket('yesterday', NOW)).toBeUndefined();
    expect(ladderContext({}, KIND, [], NOW)).toEqual({});
  });

  it('takes a family only from a type that reads as one', () => {
    expect(instanceFamily('u-6tb1.metal')).toBe('u-6tb1');
    expect(instanceFamily('M5.Large')).toBe('m5');
    expect(instanceFamily('m5')).toBeUndefined();
    expect(instanceFamily('m5.large|x')).toBeUndefined();
    expect(instanceFamily(undefined)).toBeUndefined();
  });

  it('remembers the step that recovered the latest case of the same kind, else of the other status check', () => {
    const other = 'instance-status-check-failed';
    const history = [recovered(KIND, 'reboot'), recovered(other, 'reboot', 'stop-start')];

    expect(ladderContext({}, KIND, history, NOW)).toEqual({ helpedBefore: 'reboot' });
    expect(ladderContext({}, other, history, NOW)).toEqual({ helpedBefore: 'stop-start' });
    expect(ladderContext({}, other, [recovered(KIND, 'replace')], NOW)).toEqual({ helpedBefore: 'replace' });
  });

  it('learns nothing from cases no step recovered, nor from other kinds of finding', () => {
    const history: PastCase[] = [
      // Recovered on its own before any action; paged; a scheduled retirement's fixed step.
      { finding: { kind: KIND }, status: 'recovered', tried: [] },
      { finding: { kind: KIND }, status: 'paged', tried: [...LADDER] },
      recovered('scheduled-retirement', 'stop-start'),
    ];

    expect(ladderContext({}, KIND, history, NOW)).toEqual({});
  });
});

describe('nextStep with a context', () => {
  it("keeps the kind's figures for a context with no outcomes of its own, held more loosely", () => {
    const stats = statsAt([
      ['', 'reboot', 2, 60],
      ['', 'stop-start', 55, 5],
      ['', 'replace', 20, 1],
    ]);
    const draws = (context: LadderContext | undefined) => {
      const rng = seededRandom(3);
      return Array.from(
        { length: 4000 },
        () =>
          nextStep({ kind: KIND, tried: [], stats, rng, ...(context ? { context } : {}) }).sampled![
            'stop-start'
          ],
      );
    };
    const kindAlone = moments(draws(undefined));
    const fresh = moments(draws(FRESH));

    // Its parent's mean, as uncertain as minSamples (10) outcomes: Beta(10 × 56/62, 10 × 6/62).
    expect(fresh.mean).toBeCloseTo(kindAlone.mean, 1);
    expect(fresh.variance).toBeGreaterThan(3 * kindAlone.variance);
    expect(tally(300, { kind: KIND, tried: [], stats, context: FRESH })['stop-start']).toBeGreaterThan(240);
  });

  it('uses the context once it has enough outcomes, and the kind for other contexts', () => {
    // Reboots help this kind, but not instances started within the day: those need a replace.
    const stats = statsAt([
      ['', 'reboot', 900, 100],
      ['', 'stop-start', 20, 80],
      ['', 'replace', 99, 1],
      ['age=under-a-day', 'reboot', 2, 38],
      ['age=under-a-day', 'replace', 39, 1],
      ['age=under-a-day&family=m5', 'reboot', 1, 19],
      ['age=under-a-day&family=m5', 'replace', 20, 0],
    ]);

    expect(tally(300, { kind: KIND, tried: [], stats, context: FRESH })).toEqual({ replace: 300 });
    expect(tally(300, { kind: KIND, tried: [], stats, context: { family: 'm5', age: 'older' } })).toEqual({
      reboot: 300,
    });
    const step = nextStep({ kind: KIND, tried: [], stats, context: FRESH, rng: seededRandom(2) });
    expect(step.reason).toMatch(
      /^thompson: replace drew .* \(posterior from 100 outcomes, 20 with age=under-a-day&family=m5\)$/,
    );
  });

  it("lets a context's first outcomes move its figures, without letting them decide alone", () => {
    // Three failed reboots for fresh instances: not enough to leave the kind's strong evidence.
    const few = statsAt([
      ['', 'reboot', 900, 100],
      ['', 'stop-start', 60, 40],
      ['', 'replace', 99, 1],
      ['age=under-a-day', 'reboot', 0, 3],
    ]);
    const draws = 4000;
    const rng = seededRandom(11);
    let sum = 0;
    for (let n = 0; n < draws; n++) {
      sum += nextStep({ kind: KIND, tried: ['stop-start', 'replace'], stats: few, context: FRESH, rng })
        .sampled!.reboot;
    }

    // Beta(10 × 0.9, 10 × 0.1 + 3): mean 0.69, between the kind's 0.9 and the context's 0.
    expect(sum / draws).toBeCloseTo(9 / 13, 1);
    expect(tally(300, { kind: KIND, tried: [], stats: few, context: FRESH }).reboot).toBeGreaterThan(270);
  });

  it('tries first what recovered this instance before while data is thin', () => {
    const context: LadderContext = { age: 'older', helpedBefore: 'stop-start' };
    const step = nextStep({
      kind: KIND,
      tried: [],
      stats: new Map(),
      rng: seededRandom(5),
      explorationRate: 0,
      context,
    });

    expect(step.action).toBe('stop-start');
    expect(step.reason).toMatch(/^instance history: stop-start recovered this instance before \(/);
    // Tried already in this case: ladder order again.
    expect(
      nextStep({
        kind: KIND,
        tried: ['stop-start'],
        stats: new Map(),
        rng: seededRandom(5),
        explorationRate: 0,
        context,
      }).action,
    ).toBe('reboot');
  });

  it('lets the data overrule what helped before once the kind has enough of it', () => {
    const stats = statsAt([
      ['', 'reboot', 95, 5],
      ['', 'stop-start', 50, 50],
      ['', 'replace', 90, 10],
    ]);

    expect(
      tally(300, { kind: KIND, tried: [], stats, context: { helpedBefore: 'replace' }, explorationRate: 0 }),
    ).toEqual({ reboot: 300 });
  });
});

describe('recordOutcome with a context', () => {
  it('counts the outcome under every key of the context', () => {
    const context: LadderContext = { family: 'm5', age: 'older', helpedBefore: 'reboot' };
    const once = recordOutcome(new Map(), KIND, 'stop-start', false, context);
    const twice = recordOutcome(once, KIND, 'stop-start', true, { age: 'older' });

    expect(Object.fromEntries(twice)).toEqual({
      'system-status-check-failed|age=older&helped=reboot&family=m5|stop-start': {
        successes: 0,
        failures: 1,
      },
      'system-status-check-failed|age=older&helped=reboot|stop-start': { successes: 0, failures: 1 },
      'system-status-check-failed|age=older|stop-start': { successes: 1, failures: 1 },
      'system-status-check-failed|stop-start': { successes: 1, failures: 1 },
    });
    expect(once.size).toBe(4);
  });
});

describe('nextStep with a context (property-based)', () => {
  const RUNS = Number(process.env.FC_RUNS ?? 200);
  const contextArb: fc.Arbitrary<LadderContext> = fc.record(
    {
      family: fc.constantFrom('m5', 'c6g', 'r7i'),
      age: fc.constantFrom(...AGE_BUCKETS),
      helpedBefore: fc.constantFrom(...LADDER),
    },
    { requiredKeys: [] },
  );
  const triedArb = fc
    .subarray([...LADDER])
    .chain((steps) => fc.shuffledSubarray(steps, { minLength: steps.length }));
  /** Counts for every key the context reads, each below `cap` outcomes. */
  const statsArb = (context: LadderContext, kind: (typeof FINDING_KINDS)[number], cap: number) =>
    fc.array(fc.tuple(fc.nat(cap), fc.nat(cap)), { minLength: 12, maxLength: 12 }).map(
      (counts): OutcomeStats =>
        new Map(
          ladderStatsKeys(kind, context).map((key, i) => {
            const [successes, failures] = counts[i];
            // Never more than `cap` in all.
            return [
              key,
              {
                successes: Math.min(successes, cap),
                failures: Math.min(failures, cap - Math.min(successes, cap)),
              },
            ];
          }),
        ),
    );

  it('never offers a step already tried, pages only when all were, and is deterministic by seed', () => {
    const scenario = fc
      .record({ kind: fc.constantFrom(...FINDING_KINDS), context: contextArb, tried: triedArb })
      .chain((s) =>
        fc.record({
          s: fc.constant(s),
          stats: statsArb(s.context, s.kind, 300),
          seed: fc.integer(),
          minSamples: fc.nat(30),
          explorationRate: fc.double({ min: 0, max: 1, noNaN: true }),
        }),
      );
    fc.assert(
      fc.property(scenario, ({ s, stats, seed, minSamples, explorationRate }) => {
        const input = { ...s, stats, minSamples, explorationRate };
        const step = nextStep({ ...input, rng: seededRandom(seed) });

        expect(s.tried).not.toContain(step.action);
        expect(step.action === 'page').toBe(s.tried.length === LADDER.length);
        expect(nextStep({ ...input, rng: seededRandom(seed) })).toEqual(step);
      }),
      { numRuns: RUNS },
    );
  });

  it('follows ladder order, or what helped before, when nothing was recorded and exploration is off', () => {
    fc.assert(
      fc.property(contextArb, triedArb, fc.integer(), (context, tried, seed) => {
        const step = nextStep({
          kind: KIND,
          tried,
          stats: new Map(),
          rng: seededRandom(seed),
          explorationRate: 0,
          context,
        });
        const left = LADDER.filter((x) => !tried.includes(x));
        const helped = context.helpedBefore;
        const expected = left.length === 0 ? 'page' : helped && left.includes(helped) ? helped : left[0];

        expect(step.action).toBe(expected);
      }),
      { numRuns: RUNS },
    );
  });

  it("explores at most at the cap while the kind's data is thin", () => {
    // Every count below minSamples for the kind (contexts included): each choice off the default
    // is exploration, which a seeded stream of 2,000 decisions keeps within the rate (4 sigma).
    const scenario = fc
      .record({ context: contextArb, rate: fc.double({ min: 0, max: 0.5, noNaN: true }), seed: fc.integer() })
      .chain((s) => fc.record({ s: fc.constant(s), stats: statsArb(s.context, KIND, 9) }));
    fc.assert(
      fc.property(scenario, ({ s, stats }) => {
        const rng = seededRandom(s.seed);
        const draws = 2000;
        const fallback = s.context.helpedBefore ?? 'reboot';
        let explored = 0;
        for (let n = 0; n < draws; n++) {
          const step = nextStep({
            kind: KIND,
            tried: [],
            stats,
            rng,
            explorationRate: s.rate,
            context: s.context,
          });
          if (step.action !== fallback) {
            explored++;
            expect(step.reason).toMatch(/^exploring \(rate /);
          }
        }
        expect(explored / draws).toBeLessThanOrEqual(
          s.rate + 4 * Math.sqrt((s.rate * (1 - s.rate)) / draws) + 1e-9,
        );
      }),
      { numRuns: 25 },
    );
  });

  it('uses the context once it has enough samples: a step that always works there wins', () => {
    // The kind's figures prefer reboot; in this context only `best` has ever worked.
    const scenario = fc.record({
      context: contextArb.filter(
        (c) => c.age !== undefined || c.family !== undefined || c.helpedBefore !== undefined,
      ),
      best: fc.constantFrom(...LADDER),
      n: fc.integer({ min: 60, max: 400 }),
      seed: fc.integer(),
    });
    fc.assert(
      fc.property(scenario, ({ context, best, n, seed }) => {
        const [specific] = contextStatsKeys(KIND, best, context).map((k) => k.split('|')[1]);
        const rows: Array<[string, LadderStep, number, number]> = [
          ['', 'reboot', 900, 100],
          ['', 'stop-start', 500, 500],
          ['', 'replace', 900, 100],
        ];
        for (const step of LADDER) rows.push([specific, step, step === best ? n : 0, step === best ? 0 : n]);
        const step = nextStep({
          kind: KIND,
          tried: [],
          stats: statsAt(rows),
          rng: seededRandom(seed),
          context,
        });

        expect(step.action).toBe(best);
      }),
      { numRuns: RUNS },
    );
  });
});
