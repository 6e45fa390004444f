import { LADDER, type LadderStep } from '../../functions/core/remediation/types';
import {
  type CaseTrace,
  expectedFaultMinutes,
  hardwareShare,
  oracleOrder,
  type PolicyReport,
  REMEDIATION_SIM_PARAMETERS,
  type RemediationSimParameters,
  type RemediationSimReport,
  simulateRemediation,
} from '../../sim/remediation-sim';

const P = REMEDIATION_SIM_PARAMETERS;
type Steps = Record<LadderStep, number>;

/** The default world with both causes' step outcomes replaced (and no exploration, if asked). */
const world = (
  recovers: Steps,
  rebootRestores = 0,
  ladder?: RemediationSimParameters['ladder'],
): RemediationSimParameters => ({
  ...P,
  causes: {
    hardware: { ...P.causes.hardware, recovers, rebootRestores },
    software: { ...P.causes.software, recovers, rebootRestores },
  },
  ...(ladder ? { ladder } : {}),
});

/**
 * Every fault is a sick host: a reboot always brings the guest back and never fixes the fault, a
 * stop-start or a replace always does. Relapses come within the hour (never outside the 24 h
 * window), and a person steps in after 4 episodes.
 */
const relapseWorld: RemediationSimParameters = {
  ...P,
  causes: {
    hardware: {
      ...P.causes.hardware,
      share: 1,
      recovers: { reboot: 0, 'stop-start': 1, replace: 1 },
      rebootRestores: 1,
    },
    software: P.causes.software,
  },
  persistence: { meanHoursToRelapse: 1, maxEpisodes: 4 },
};

const policies = (r: RemediationSimReport): Record<string, PolicyReport> => ({
  fixed: r.fixed,
  learned: r.learned,
  learnedNoRelapse: r.learnedNoRelapse,
  learnedNoContext: r.learnedNoContext,
  contextFree: r.contextFree,
  learnedIgnoringCost: r.learnedIgnoringCost,
  oracle: r.oracle,
});

/** Each fault's cases, in episode order. */
const byFault = (cases: readonly CaseTrace[]) => {
  const faults = new Map<number, CaseTrace[]>();
  for (const c of cases) faults.set(c.fault, [...(faults.get(c.fault) ?? []), c]);
  for (const list of faults.values()) list.sort((a, b) => a.episode - b.episode);
  return faults;
};

describe('simulateRemediation', () => {
  it('is deterministic by seed', () => {
    expect(simulateRemediation({ seed: 17, faults: 300 })).toEqual(
      simulateRemediation({ seed: 17, faults: 300 }),
    );
    expect(simulateRemediation({ seed: 18, faults: 300 })).not.toEqual(
      simulateRemediation({ seed: 17, faults: 300 }),
    );
  });

  it('adds up step, verification and page times exactly when nothing ever works', () => {
    // Every ladder tries all three steps, then pages: 8 + 13 + 20 + 60 minutes, and the person's
    // fix holds (no relapse).
    const report = simulateRemediation({
      seed: 1,
      faults: 50,
      parameters: world({ reboot: 0, 'stop-start': 0, replace: 0 }),
    });

    for (const [name, policy] of Object.entries(policies(report))) {
      if (name === 'oracle') continue;
      expect([name, policy.meanMinutes]).toEqual([name, expect.closeTo(101, 9)]);
      expect([name, policy.medianMinutes]).toEqual([name, expect.closeTo(101, 9)]);
      expect([name, policy.pages, policy.episodes, policy.relapses]).toEqual([name, 50, 50, 0]);
      expect([name, policy.actions]).toEqual([name, { reboot: 50, 'stop-start': 50, replace: 50 }]);
    }
    // The oracle knows no step can work: a page (a sure step) at once is the fastest order.
    expect(report.oracleOrder).toEqual({ hardware: ['page'], software: ['page'] });
    expect(report.oracle.meanMinutes).toBeCloseTo(60, 9);
    expect(report.oracle.actions).toEqual({ reboot: 0, 'stop-start': 0, replace: 0 });
  });

  it('takes 8 minutes per fault for every policy when a reboot always fixes the fault for good', () => {
    // Without exploration (pinned here so the arithmetic is exact), every learner keeps ladder order.
    const report = simulateRemediation({
      seed: 2,
      faults: 60,
      parameters: world({ reboot: 1, 'stop-start': 0, replace: 0 }, 0, { explorationRate: 0 }),
    });

    for (const [name, policy] of Object.entries(policies(report))) {
      // (Times are differences of arrival times: equal to the minute up to rounding.)
      expect([name, policy.meanMinutes]).toEqual([name, expect.closeTo(8, 9)]);
      expect([name, policy.p90Minutes]).toEqual([name, expect.closeTo(8, 9)]);
      expect([name, policy.pages, policy.relapses]).toEqual([name, 0, 0]);
      expect([name, policy.actions]).toEqual([name, { reboot: 60, 'stop-start': 0, replace: 0 }]);
    }
    expect(report.ratio).toBeCloseTo(1, 9);
    expect(report.oracleRatio).toBeCloseTo(1, 9);
  });

  describe('a sick host that a reboot brings back but does not fix', () => {
    const faults = 200;
    let report: RemediationSimReport;
    beforeAll(() => {
      report = simulateRemediation({ seed: 5, faults, parameters: relapseWorld, trace: true });
    });

    it('has the fixed ladder reboot it again in every episode until a person steps in', () => {
      // 4 episodes of 8 minutes, then the person (60): 92 minutes per fault, never a stop-start.
      expect(report.fixed.meanMinutes).toBeCloseTo(4 * 8 + 60, 9);
      expect(report.fixed.actions).toEqual({ reboot: 4 * faults, 'stop-start': 0, replace: 0 });
      expect(report.fixed.episodes).toBe(5 * faults);
      expect(report.fixed.cappedFaults).toBe(faults);
      // Each case on its own looks fast: 8 minutes, then "recovered".
      const restored = report.fixed.cases!.filter((c) => c.end === 'restored');
      expect(restored).toHaveLength(4 * faults);
      expect(Math.max(...restored.map((c) => Math.abs(c.minutes - 8)))).toBeLessThan(1e-9);
    });

    it('has a learner without relapse memory do the same: a reboot that restores counts as a success', () => {
      for (const policy of [report.learnedNoRelapse, report.contextFree]) {
        expect(policy.meanMinutes).toBeCloseTo(92, 9);
        expect(policy.actions['stop-start']).toBe(0);
      }
    });

    it('has the deployed ladder go on to a stop-start on the relapse, and learn to start with one', () => {
      for (const policy of [report.learned, report.learnedNoContext]) {
        const cases = byFault(policy.cases!);
        for (const [fault, list] of cases) {
          // At most two episodes: a reboot that restores, then the relapse's stop-start (or a replace).
          expect([fault, list.length <= 2]).toEqual([fault, true]);
          const [first, relapse] = list;
          if (relapse) {
            expect([fault, first.steps, first.end]).toEqual([fault, ['reboot'], 'restored']);
            expect([fault, relapse.inherited, relapse.steps.includes('reboot')]).toEqual([
              fault,
              ['reboot'],
              false,
            ]);
            expect([fault, relapse.end]).toEqual([fault, 'fixed']);
          }
        }
        // Per fault: 13 (stop-start first), 20 (replace first), 8 + 13 or 8 + 20 (after a relapse).
        expect(policy.meanMinutes).toBeLessThan(21);
        expect(policy.pages).toBe(0);
        expect(policy.flapPages).toBe(0);
        // The revised reboots teach it: most faults late in the run get a stop-start first.
        expect(policy.relapses).toBeLessThan(faults / 4);
        expect(policy.posteriorMean['system-status-check-failed'].reboot).toBeLessThan(0.2);
      }
      expect(report.ratio).toBeLessThan(21 / 92);
    });

    it('matches the oracle: stop-start first for a host fault, never a reboot', () => {
      expect(report.oracleOrder.hardware[0]).toBe('stop-start');
      expect(report.oracle.meanMinutes).toBeCloseTo(13, 9);
      expect(report.oracle.actions.reboot).toBe(0);
    });
  });

  describe('a sick host that nothing but a person fixes', () => {
    // A reboot restores the guest, a stop-start or replace never works; relapses come in minutes.
    const parameters: RemediationSimParameters = {
      ...relapseWorld,
      causes: {
        ...relapseWorld.causes,
        hardware: { ...relapseWorld.causes.hardware, recovers: { reboot: 0, 'stop-start': 0, replace: 0 } },
      },
      persistence: { meanHoursToRelapse: 0.5, maxEpisodes: 20 },
    };
    const STEP_MINUTES: Steps = { reboot: 8, 'stop-start': 13, replace: 20 };

    it('pages on the relapse once the inherited steps and its own have all been tried', () => {
      const report = simulateRemediation({ seed: 3, faults: 40, parameters, trace: true });

      // Episode 0 ends with the reboot that restores (after any step explored before it, which
      // fails); the relapse inherits what it tried and tries the rest once; nothing is left: a page.
      // Every step once, then a person: 8 + 13 + 20 + 60 = 101 minutes per fault, in any order.
      expect(report.learned.meanMinutes).toBeCloseTo(8 + 13 + 20 + 60, 9);
      for (const [fault, [first, relapse, ...more]] of byFault(report.learned.cases!)) {
        expect([fault, first.steps.at(-1), first.end, more]).toEqual([fault, 'reboot', 'restored', []]);
        expect([fault, relapse.inherited]).toEqual([fault, LADDER.filter((s) => first.steps.includes(s))]);
        expect([fault, [...first.steps, ...relapse.steps].sort(), relapse.end]).toEqual([
          fault,
          ['reboot', 'replace', 'stop-start'],
          'paged',
        ]);
      }
      expect(report.learned.flapPages).toBe(0);
      // The fixed ladder meets the same sick host fresh each time, until a person notices.
      expect(report.fixed.cappedFaults).toBe(40);
    });

    it('pages at the flap limit without another step', () => {
      // A flap limit of 1: the first relapse pages at once.
      const report = simulateRemediation({
        seed: 3,
        faults: 40,
        parameters: { ...parameters, relapse: { flapLimit: 1 } },
        trace: true,
      });

      expect(report.learned.flapPages).toBe(40);
      expect(report.learned.pages).toBe(40);
      let total = 0;
      for (const [fault, [first, relapse, ...more]] of byFault(report.learned.cases!)) {
        expect([fault, first.steps.at(-1), first.end, more]).toEqual([fault, 'reboot', 'restored', []]);
        expect([fault, relapse.steps, relapse.end]).toEqual([fault, [], 'paged']);
        total += first.steps.reduce((sum, s) => sum + STEP_MINUTES[s], 0) + 60;
      }
      expect(report.learned.meanMinutes).toBeCloseTo(total / 40, 9);
      // Mostly the reboot alone: 8 + 60.
      expect(report.learned.medianMinutes).toBeCloseTo(68, 9);
    });
  });

  it('never has the deployed ladder try again a step its case inherited', () => {
    const report = simulateRemediation({ seed: 4, trace: true });
    const cases = report.learned.cases!;
    const inheriting = cases.filter((c) => c.inherited.length > 0);

    expect(inheriting.length).toBeGreaterThan(50);
    for (const c of inheriting) {
      expect([c.fault, c.episode, c.steps.filter((s) => c.inherited.includes(s))]).toEqual([
        c.fault,
        c.episode,
        [],
      ]);
    }
    // A relapse within the window inherits every step its fault's last case tried.
    for (const list of byFault(cases).values()) {
      for (let e = 1; e < list.length; e++) {
        if (list[e].inherited.length === 0) continue; // came back after the window: a fresh case
        const before = new Set([...list[e - 1].inherited, ...list[e - 1].steps]);
        expect(list[e].inherited).toEqual(LADDER.filter((s) => before.has(s)));
      }
    }
  });

  it('sums a fault’s episodes: per-fault and per-episode totals agree, relapses are the extra episodes', () => {
    const report = simulateRemediation({ seed: 6, faults: 500, trace: true });
    for (const [name, policy] of Object.entries(policies(report))) {
      expect([name, policy.meanMinutes * 500]).toEqual([
        name,
        expect.closeTo(policy.meanEpisodeMinutes * policy.episodes, 6),
      ]);
      expect([name, policy.relapses]).toEqual([name, policy.episodes - 500]);
      expect([name, policy.cases!.length]).toEqual([name, policy.episodes]);
    }
  });

  it('computes the oracle’s expected minutes per fault, relapses included', () => {
    // A host fault, stop-start first: 13 + 0.1 × (20 + 0.01 × 60).
    expect(expectedFaultMinutes(P, 'hardware', ['stop-start', 'replace', 'page'])).toBeCloseTo(15.06, 9);
    // The fixed ladder: an episode is 8 + 0.45 × (13 + 0.1 × (20 + 0.01 × 60)), and half of them end
    // restored (the fault comes back): twice that per fault.
    const episode = 8 + 0.45 * (13 + 0.1 * (20 + 0.01 * 60));
    expect(expectedFaultMinutes(P, 'hardware', ['reboot', 'stop-start', 'replace', 'page'])).toBeCloseTo(
      episode / 0.5,
      9,
    );
    expect(oracleOrder(P, 'hardware')[0]).toBe('stop-start');
    expect(oracleOrder(P, 'software')).toEqual(['reboot', 'stop-start', 'replace', 'page']);
    // Every reboot restores, none fixes: an order that only reboots never ends.
    expect(expectedFaultMinutes(relapseWorld, 'hardware', ['reboot', 'page'])).toBe(Number.POSITIVE_INFINITY);
  });

  describe('the default world (seeds 1–3)', () => {
    let reports: RemediationSimReport[];
    beforeAll(() => {
      reports = [1, 2, 3].map((seed) => simulateRemediation({ seed, trace: seed === 1 }));
    });
    const mean = (pick: (r: RemediationSimReport) => number) =>
      reports.reduce((sum, r) => sum + pick(r), 0) / reports.length;

    it('counts the episodes of each kind, and the hidden hardware faults among them', () => {
      for (const r of reports) {
        const system = r.mix['system-status-check-failed'];
        const instance = r.mix['instance-status-check-failed'];
        expect(system.episodes + instance.episodes).toBe(r.fixed.episodes);
        // Hardware faults show half the time as either check, software ones nearly always as the
        // instance check: the system checks are nearly all hardware, the instance checks a mix.
        expect(system.hardware / system.episodes).toBeGreaterThan(0.9);
        expect(instance.hardware / instance.episodes).toBeGreaterThan(0.2);
        // (Per episode: the fixed ladder's relapses are all hardware, which raises the share.)
        expect(instance.hardware / instance.episodes).toBeLessThan(0.5);
        // A quarter of the faults hit an instance that failed days before.
        expect(r.fixed.repeatFaults / r.faults).toBeGreaterThan(0.2);
        expect(r.fixed.repeatFaults / r.faults).toBeLessThan(0.26);
      }
    });

    it('matches the analysis: the fixed ladder’s time per hardware fault is about twice an episode', () => {
      const cases = reports[0].fixed.cases!;
      const perFault = new Map<number, number>();
      for (const c of cases)
        if (c.cause === 'hardware') perFault.set(c.fault, (perFault.get(c.fault) ?? 0) + c.minutes);
      const observed = [...perFault.values()].reduce((a, b) => a + b, 0) / perFault.size;
      const expected = expectedFaultMinutes(P, 'hardware', ['reboot', 'stop-start', 'replace', 'page']);
      expect(perFault.size).toBeGreaterThan(700);
      expect(Math.abs(observed - expected)).toBeLessThan(2.5);
    });

    it('gives the oracle, which knows each cause, a mean no worse than the fixed ladder’s, and the lowest on average', () => {
      for (const r of reports) expect(r.oracle.meanMinutes).toBeLessThan(r.fixed.meanMinutes);
      const oracle = mean((r) => r.oracle.meanMinutes);
      for (const name of [
        'fixed',
        'learned',
        'learnedNoRelapse',
        'learnedNoContext',
        'contextFree',
      ] as const) {
        expect([name, oracle < mean((r) => r[name].meanMinutes)]).toEqual([name, true]);
      }
      for (const r of reports) {
        expect(r.learnedOracleRatio).toBeCloseTo(r.learned.meanMinutes / r.oracle.meanMinutes, 12);
        expect(r.learnedFixedRatio).toBe(r.ratio);
        expect(r.oracleRatio).toBeLessThan(r.ratio);
      }
    });

    it('has the deployed ladder beat the fixed one per fault, mostly through its relapse memory', () => {
      for (const r of reports) {
        expect(r.ratio).toBeLessThan(0.85);
        // Fewer relapses: a relapse goes on to a stop-start, and revised reboots are learned from.
        expect(r.learned.relapses).toBeLessThan(r.fixed.relapses / 3);
        expect(r.learned.firstChoice['system-status-check-failed']['stop-start']).toBeGreaterThan(0.9);
      }
      // Relapse memory alone gets most of the gain; context alone little.
      expect(mean((r) => r.ratioNoContext)).toBeLessThan(mean((r) => r.ratioNoRelapse) - 0.05);
      expect(mean((r) => r.ratio)).toBeLessThan(mean((r) => r.ratioContextFree) - 0.05);
      // Counted per episode, the deployed ladder looks no better than the fixed one: its stop-starts
      // take longer than reboots, and the relapses they spare are invisible case by case.
      expect(mean((r) => r.perEpisode.ratio)).toBeGreaterThan(0.95);
    });

    it('ranks by recoveries per minute: by the success draw alone it is slower than the fixed ladder', () => {
      for (const r of reports) {
        expect(r.learnedIgnoringCost.firstChoice['system-status-check-failed'].replace).toBeGreaterThan(0.9);
        expect(r.ratioIgnoringCost).toBeGreaterThan(1);
      }
    });
  });

  it('makes hardware faults likelier on older families and on fresh or old hosts', () => {
    expect(hardwareShare(P, 'm4', 30)).toBeGreaterThan(hardwareShare(P, 'm5', 30));
    expect(hardwareShare(P, 'm5', 30)).toBeGreaterThan(hardwareShare(P, 'm7g', 30));
    expect(hardwareShare(P, 'm5', 2)).toBeGreaterThan(hardwareShare(P, 'm5', 30));
    expect(hardwareShare(P, 'm5', 200)).toBeGreaterThan(hardwareShare(P, 'm5', 30));
    // Odds 1 for both: the base share; a share of 1 stays 1 whatever the odds.
    expect(
      hardwareShare(
        { ...P, fleet: { ...P.fleet, hostAgeHardwareOdds: { '<7d': 1, '7-90d': 1, '>90d': 1 } } },
        'm5',
        30,
      ),
    ).toBeCloseTo(P.causes.hardware.share, 12);
    expect(hardwareShare(relapseWorld, 'm7g', 30)).toBe(1);
  });

  it('rejects a world it cannot simulate', () => {
    expect(() => simulateRemediation({ seed: 1, faults: 0 })).toThrow(
      'expected a whole number of faults > 0, found 0',
    );
    expect(() =>
      simulateRemediation({ seed: 1, parameters: world({ reboot: 0.6, 'stop-start': 1, replace: 1 }, 0.5) }),
    ).toThrow('recovers.reboot + rebootRestores ≤ 1');
  });
});
