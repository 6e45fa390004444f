import fc from 'fast-check';
import { FINDING_KINDS } from '../../functions/core/events/findings';
import {
  contextKeys,
  hostAgeBucket,
  hostAgeDays,
  instanceFamily,
  type LadderContext,
  nextStep,
  pooledPosterior,
  recordContextOutcome,
  recordOutcome,
} from '../../functions/core/remediation/ladder';
import { LADDER, type LadderStep, type OutcomeStats, statsKey } from '../../functions/core/remediation/types';
import { seededRandom } from '../../sim/kernel/random';

const KIND = 'instance-status-check-failed';
const OLD: LadderContext = { kind: KIND, family: 'm4', hostAgeDays: 400 };

type Counts = Partial<Record<LadderStep, [successes: number, failures: number]>>;

/** Statistics at each level: the kind's, a family's, a family and age bucket's (keys by `contextKeys`). */
function statsAt(levels: Array<{ context: LadderContext; level: number; counts: Counts }>): OutcomeStats {
  const stats = new Map<string, { successes: number; failures: number }>();
  for (const { context, level, counts } of levels) {
    for (const [step, [successes, failures]] of Object.entries(counts)) {
      stats.set(contextKeys(context, step as LadderStep)[level], { successes, failures });
    }
  }
  return stats;
}

function tally(draws: number, input: Omit<Parameters<typeof nextStep>[0], 'rng'>, seed = 1) {
  const rng = seededRandom(seed);
  const counts: Record<string, number> = {};
  for (let n = 0; n < draws; n++) {
    const { action } = nextStep({ ...input, rng });
    counts[action] = (counts[action] ?? 0) + 1;
  }
  return counts;
}

describe('context helpers', () => {
  it.each([
    ['m5.large', 'm5'],
    ['m7g.2xlarge', 'm7g'],
    ['C6i.Metal', 'c6i'],
    ['u-6tb1.metal', 'u-6tb1'],
    ['m5', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('instanceFamily(%p) is %p', (type, family) => {
    expect(instanceFamily(type)).toBe(family);
  });

  it('buckets host age at 7 and 90 days, and measures it from the launch time', () => {
    expect([0, 6.99, 7, 90, 90.01, 1000].map(hostAgeBucket)).toEqual([
      '<7d',
      '<7d',
      '7-90d',
      '7-90d',
      '>90d',
      '>90d',
    ]);
    expect(() => hostAgeBucket(-1)).toThrow('expected a host age in days ≥ 0, found -1');
    expect(hostAgeDays('2026-01-01T00:00:00Z', Date.parse('2026-01-11T12:00:00Z'))).toBe(10.5);
    expect(hostAgeDays('2026-01-02T00:00:00Z', Date.parse('2026-01-01T00:00:00Z'))).toBe(0);
    expect(hostAgeDays(undefined, 0)).toBeUndefined();
    expect(hostAgeDays('not a date', 0)).toBeUndefined();
  });
});

describe('contextKeys', () => {
  it('starts with the kind key (statsKey) and goes finer with the family, then the host age', () => {
    expect(contextKeys({ kind: KIND }, 'reboot')).toEqual([statsKey(KIND, 'reboot')]);
    expect(contextKeys({ kind: KIND, family: 'm5' }, 'reboot')).toEqual([
      'instance-status-check-failed|reboot',
      'instance-status-check-failed|family=m5|reboot',
    ]);
    expect(contextKeys({ kind: KIND, family: 'm5', hostAgeDays: 30 }, 'stop-start')).toEqual([
      'instance-status-check-failed|stop-start',
      'instance-status-check-failed|family=m5|stop-start',
      'instance-status-check-failed|family=m5|age=7-90d|stop-start',
    ]);
    // Without a family, the age alone; helpedBefore is per instance and has no key.
    expect(contextKeys({ kind: KIND, hostAgeDays: 2, helpedBefore: 'reboot' }, 'replace')).toEqual([
      'instance-status-check-failed|replace',
      'instance-status-check-failed|age=<7d|replace',
    ]);
  });

  it('rejects a family that would break the keys', () => {
    expect(() => contextKeys({ kind: KIND, family: 'm5|x' }, 'reboot')).toThrow(
      'expected an instance family of [a-z0-9-], found "m5|x"',
    );
  });
});

describe('recordContextOutcome', () => {
  it('counts the outcome under every key of the context, leaving the given map alone', () => {
    const before: OutcomeStats = new Map([[statsKey(KIND, 'reboot'), { successes: 4, failures: 1 }]]);
    const after = recordContextOutcome(before, OLD, 'reboot', false);

    expect(before.size).toBe(1);
    expect(Object.fromEntries(after)).toEqual({
      'instance-status-check-failed|reboot': { successes: 4, failures: 2 },
      'instance-status-check-failed|family=m4|reboot': { successes: 0, failures: 1 },
      'instance-status-check-failed|family=m4|age=>90d|reboot': { successes: 0, failures: 1 },
    });
    // With nothing but the kind, it is recordOutcome.
    expect(recordContextOutcome(before, { kind: KIND }, 'stop-start', true)).toEqual(
      recordOutcome(before, KIND, 'stop-start', true),
    );
  });
});

describe('pooledPosterior', () => {
  const options = { priorStrength: 10, helpedBeforeBoost: 2 };

  it('is Beta(1 + successes, 1 + failures) of the kind without finer levels', () => {
    const stats = statsAt([{ context: OLD, level: 0, counts: { reboot: [30, 10] } }]);
    expect(pooledPosterior(stats, { kind: KIND }, 'reboot', options)).toMatchObject({
      alpha: 31,
      beta: 11,
      outcomes: 40,
      boost: 0,
    });
  });

  it('shrinks each finer level towards the coarser one with at most priorStrength pseudo-outcomes', () => {
    // Kind: Beta(81, 21), mean 81/102. Family: 10 pseudo-outcomes at that mean + 5/15. Family and
    // age: 10 pseudo-outcomes at the family's mean + 1/9.
    const stats = statsAt([
      { context: OLD, level: 0, counts: { reboot: [80, 20] } },
      { context: OLD, level: 1, counts: { reboot: [5, 15] } },
      { context: OLD, level: 2, counts: { reboot: [1, 9] } },
    ]);
    const m0 = 81 / 102;
    const [a1, b1] = [10 * m0 + 5, 10 * (1 - m0) + 15];
    const m1 = a1 / (a1 + b1);
    const posterior = pooledPosterior(stats, OLD, 'reboot', options);

    expect(posterior.alpha).toBeCloseTo(10 * m1 + 1, 12);
    expect(posterior.beta).toBeCloseTo(10 * (1 - m1) + 9, 12);
    expect(posterior.outcomes).toBe(100);
    expect(posterior.levels.map((l) => l.successes + l.failures)).toEqual([100, 20, 10]);
  });

  it('backs off to what the kind knows in a context without data, with the prior weight bounded', () => {
    const stats = statsAt([{ context: OLD, level: 0, counts: { reboot: [800, 200] } }]);
    const posterior = pooledPosterior(stats, OLD, 'reboot', options);

    expect(posterior.alpha / (posterior.alpha + posterior.beta)).toBeCloseTo(801 / 1002, 12);
    expect(posterior.alpha + posterior.beta).toBeCloseTo(10, 12);
    // A kind with less weight than priorStrength lends only what it has (here Beta(1, 1): 2).
    const empty = pooledPosterior(new Map(), OLD, 'reboot', options);
    expect(empty.alpha).toBeCloseTo(1, 12);
    expect(empty.beta).toBeCloseTo(1, 12);
  });

  it('adds helpedBeforeBoost pseudo-successes to the step that helped before, and to no other', () => {
    const stats = statsAt([{ context: OLD, level: 0, counts: { reboot: [5, 5], 'stop-start': [5, 5] } }]);
    const context = { ...OLD, helpedBefore: 'reboot' as const };
    const plain = pooledPosterior(stats, OLD, 'reboot', options);
    const boosted = pooledPosterior(stats, context, 'reboot', options);

    expect(boosted.alpha - plain.alpha).toBeCloseTo(2, 12);
    expect(boosted.beta).toBe(plain.beta);
    expect(boosted.boost).toBe(2);
    expect(pooledPosterior(stats, context, 'stop-start', options)).toEqual(
      pooledPosterior(stats, OLD, 'stop-start', options),
    );
  });
});

describe('nextStep with a context', () => {
  // Instance checks overall: a reboot usually works (so the kind reboots first)…
  const kindCounts: Counts = { reboot: [700, 300], 'stop-start': [450, 50], replace: [30, 0] };
  // …but on old m4 hosts the faults are hardware: a reboot rarely helps there.
  const oldCounts: Counts = { reboot: [10, 90], 'stop-start': [90, 10] };

  it('is exactly the context-free ladder without a context, or with one of only the kind', () => {
    const countArb = fc.record({ successes: fc.nat(200), failures: fc.nat(200) });
    fc.assert(
      fc.property(
        fc.constantFrom(...FINDING_KINDS),
        fc.tuple(countArb, countArb, countArb),
        fc.subarray([...LADDER]),
        fc.integer(),
        (kind, counts, tried, seed) => {
          const stats: OutcomeStats = new Map(LADDER.map((step, i) => [statsKey(kind, step), counts[i]]));
          const plain = nextStep({ kind, tried, stats, rng: seededRandom(seed) });

          expect(nextStep({ kind, tried, stats, rng: seededRandom(seed), context: {} })).toEqual(plain);
          expect(nextStep({ kind, tried, stats, rng: seededRandom(seed), context: { kind } })).toEqual(plain);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('follows the most specific level with enough data', () => {
    const stats = statsAt([
      { context: OLD, level: 0, counts: kindCounts },
      { context: OLD, level: 1, counts: oldCounts },
      { context: OLD, level: 2, counts: oldCounts },
    ]);

    expect(tally(500, { kind: KIND, tried: [], stats })).toEqual({ reboot: 500 });
    const withContext = tally(500, { kind: KIND, tried: [], stats, context: OLD });
    expect(withContext['stop-start']).toBe(500);

    const step = nextStep({ kind: KIND, tried: [], stats, rng: seededRandom(2), context: OLD });
    expect(step.reason).toMatch(
      /^thompson: stop-start drew .* \(posterior from 500 outcomes; pooled with family=m4\|age=>90d: reboot 100, stop-start 100, replace 0 outcomes\)$/,
    );
  });

  it("backs off to the family's data when its age bucket has none, and to the kind's when the family has none", () => {
    const stats = statsAt([
      { context: OLD, level: 0, counts: kindCounts },
      { context: OLD, level: 1, counts: oldCounts },
    ]);
    const fresh = { ...OLD, hostAgeDays: 1 };

    // (A thin context's posteriors are wide: Thompson sampling still tries replace now and then.)
    const counts = tally(500, { kind: KIND, tried: [], stats, context: fresh });
    expect(counts['stop-start']).toBeGreaterThan(400);
    expect(counts.reboot ?? 0).toBeLessThan(25);
    // Another family: nothing known about it, so it starts from the kind (reboot first, mostly:
    // its posteriors there carry only priorStrength pseudo-outcomes).
    const other = tally(500, { kind: KIND, tried: [], stats, context: { family: 'm7g', hostAgeDays: 400 } });
    expect(other.reboot).toBeGreaterThan(350);
    expect(other['stop-start'] ?? 0).toBeLessThan(100);
  });

  it('lets the helpedBefore boost tip a close call, but not outweigh clear evidence', () => {
    // Equal costs and equal, thin-ish context data: the boost makes stop-start win more often.
    const even = statsAt([
      { context: OLD, level: 0, counts: { reboot: [300, 300], 'stop-start': [300, 300] } },
      { context: OLD, level: 1, counts: { reboot: [3, 3], 'stop-start': [3, 3] } },
    ]);
    const base = {
      kind: KIND as typeof KIND,
      tried: ['replace'] as LadderStep[],
      stats: even,
      stepMinutes: { reboot: 1, 'stop-start': 1, replace: 1 },
    };
    const without = tally(4000, { ...base, context: { family: 'm4' } });
    const withBoost = tally(4000, { ...base, context: { family: 'm4', helpedBefore: 'stop-start' } });
    expect(withBoost['stop-start']).toBeGreaterThan(without['stop-start'] + 400);

    // Plenty of evidence that a reboot rarely helps here: a reboot that helped once changes nothing.
    const clear = statsAt([
      { context: OLD, level: 0, counts: kindCounts },
      { context: OLD, level: 1, counts: oldCounts },
      { context: OLD, level: 2, counts: oldCounts },
    ]);
    expect(
      tally(500, { kind: KIND, tried: [], stats: clear, context: { ...OLD, helpedBefore: 'reboot' } }),
    ).toEqual({ 'stop-start': 500 });
    // The boost is bounded by its setting (0 turns it off).
    expect(
      tally(4000, { ...base, context: { family: 'm4', helpedBefore: 'stop-start' }, helpedBeforeBoost: 0 }),
    ).toEqual(without);
  });

  it('says which step helped this instance before', () => {
    const stats = statsAt([{ context: OLD, level: 0, counts: kindCounts }]);
    const step = nextStep({
      kind: KIND,
      tried: [],
      stats,
      rng: seededRandom(3),
      context: { helpedBefore: 'reboot' },
    });

    expect(step.reason).toMatch(/; reboot helped this instance before \(\+2 successes\)\)$/);
  });

  it('keeps the safe default: with thin data for the kind, ladder order stands whatever the context says', () => {
    // 9 < minSamples outcomes for the kind (all in this context), all of them for stop-start.
    const stats = statsAt([
      { context: OLD, level: 0, counts: { reboot: [0, 9], 'stop-start': [9, 0] } },
      { context: OLD, level: 1, counts: { reboot: [0, 9], 'stop-start': [9, 0] } },
      { context: OLD, level: 2, counts: { reboot: [0, 9], 'stop-start': [9, 0] } },
    ]);
    const context = { ...OLD, helpedBefore: 'stop-start' as const };
    const rng = seededRandom(4);
    for (let n = 0; n < 300; n++) {
      const step = nextStep({ kind: KIND, tried: [], stats, rng, explorationRate: 0, context });

      expect(step.action).toBe('reboot');
      expect(step.reason).toMatch(
        /^thin data: ladder order, reboot \(stop-start drew higher with 9 outcomes < 10; pooled/,
      );
    }
  });

  it('caps exploration at the rate with a context too', () => {
    // Reboot is known to fail for the kind; the others are thin everywhere and boosted — yet the
    // safe default holds unless the exploration coin says otherwise.
    const stats = statsAt([
      { context: OLD, level: 0, counts: { reboot: [0, 1000] } },
      { context: OLD, level: 1, counts: { reboot: [0, 300] } },
    ]);
    const draws = 20_000;
    const counts = tally(draws, {
      kind: KIND,
      tried: [],
      stats,
      explorationRate: 0.1,
      context: { ...OLD, helpedBefore: 'stop-start' },
    });

    const explored = (draws - (counts.reboot ?? 0)) / draws;
    expect(Math.abs(explored - 0.1)).toBeLessThan(0.01);
  });

  it('rejects a context or settings that cannot work', () => {
    const base = { kind: KIND, tried: [], stats: new Map(), rng: seededRandom(1) } as const;

    expect(() => nextStep({ ...base, context: { kind: 'system-status-check-failed' } })).toThrow(
      "expected the context's kind to be instance-status-check-failed, found system-status-check-failed",
    );
    expect(() => nextStep({ ...base, context: { helpedBefore: 'page' as LadderStep } })).toThrow(
      'expected context.helpedBefore to be a ladder step, found page',
    );
    expect(() => nextStep({ ...base, priorStrength: 0 })).toThrow('expected priorStrength > 0, found 0');
    expect(() => nextStep({ ...base, helpedBeforeBoost: -1 })).toThrow(
      'expected helpedBeforeBoost ≥ 0, found -1',
    );
    expect(() => nextStep({ ...base, context: { hostAgeDays: -3 } })).toThrow(
      'expected a host age in days ≥ 0, found -3',
    );
  });
});
