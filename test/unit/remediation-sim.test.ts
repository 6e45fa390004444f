import {
  CAUSES,
  oracleOrder,
  REMEDIATION_SIM_PARAMETERS,
  type RemediationSimParameters,
  simulateRemediation,
} from '../../sim/remediation-sim';

const world = (recovers: {
  reboot: number;
  'stop-start': number;
  replace: number;
}): RemediationSimParameters => ({
  ...REMEDIATION_SIM_PARAMETERS,
  causes: Object.fromEntries(
    CAUSES.map((cause) => [cause, { ...REMEDIATION_SIM_PARAMETERS.causes[cause], recovers }]),
  ) as RemediationSimParameters['causes'],
});

/** The same world where the instance tells nothing: one cause mix for every age and family, no relapses. */
const contextFree: RemediationSimParameters = {
  ...REMEDIATION_SIM_PARAMETERS,
  families: Object.fromEntries(
    Object.entries(REMEDIATION_SIM_PARAMETERS.families).map(([f, m]) => [f, { ...m, hardwareFactor: 1 }]),
  ),
  causeMix: {
    'under-a-day': { software: 0.45, hardware: 0.4, 'root-volume': 0.15 },
    'under-30-days': { software: 0.45, hardware: 0.4, 'root-volume': 0.15 },
    older: { software: 0.45, hardware: 0.4, 'root-volume': 0.15 },
  },
  relapseShare: 0,
};

describe('simulateRemediation', () => {
  it('is deterministic by seed', () => {
    expect(simulateRemediation({ seed: 17, failures: 300 })).toEqual(
      simulateRemediation({ seed: 17, failures: 300 }),
    );
    expect(simulateRemediation({ seed: 18, failures: 300 })).not.toEqual(
      simulateRemediation({ seed: 17, failures: 300 }),
    );
  });

  it('adds up step, verification and page times exactly when nothing ever works', () => {
    // Every policy tries all three steps, then pages: 8 + 13 + 20 + 60 minutes.
    const report = simulateRemediation({
      seed: 1,
      failures: 50,
      parameters: world({ reboot: 0, 'stop-start': 0, replace: 0 }),
    });

    for (const policy of [
      report.fixed,
      report.learned,
      report.learnedKindOnly,
      report.learnedIgnoringCost,
      report.oracle,
    ]) {
      expect(policy.meanMinutes).toBeCloseTo(101, 9);
      expect(policy.medianMinutes).toBeCloseTo(101, 9);
      expect(policy.pages).toBe(50);
      expect(policy.actions).toEqual({ reboot: 50, 'stop-start': 50, replace: 50 });
    }
  });

  it('recovers every failure with the first reboot of the fixed ladder (and the oracle) when reboots always work', () => {
    const report = simulateRemediation({
      seed: 2,
      failures: 40,
      parameters: world({ reboot: 1, 'stop-start': 1, replace: 1 }),
    });

    // (Times are differences of arrival times: equal to the minute up to rounding.)
    for (const policy of [report.fixed, report.oracle]) {
      expect(policy.meanMinutes).toBeCloseTo(8, 9);
      expect(policy.p90Minutes).toBeCloseTo(8, 9);
      expect(policy.pages).toBe(0);
      expect(policy.actions).toEqual({ reboot: 40, 'stop-start': 0, replace: 0 });
    }
    expect(report.oracleToFixed).toBeCloseTo(1, 9);
  });

  it('gives the oracle the order that is fastest for each cause', () => {
    const p = REMEDIATION_SIM_PARAMETERS;

    expect(oracleOrder(p, 'software')).toEqual(['reboot', 'stop-start', 'replace']);
    // Reboot last: 5% in 8 minutes is less per minute than anything else.
    expect(oracleOrder(p, 'hardware')).toEqual(['stop-start', 'replace', 'reboot']);
    expect(oracleOrder(p, 'root-volume')).toEqual(['replace', 'reboot', 'stop-start']);
  });

  it('draws the causes by context: the kinds reveal the host, fresh starts a broken root volume', () => {
    const report = simulateRemediation({ seed: 3 });
    const system = report.mix['system-status-check-failed'];
    const instance = report.mix['instance-status-check-failed'];

    expect(system.failures + instance.failures).toBe(2000);
    expect(system.hardware / system.failures).toBeGreaterThan(0.9);
    expect(instance.software / instance.failures).toBeGreaterThan(0.6);
    expect(instance['root-volume'] + instance.hardware).toBeGreaterThan(0.2 * instance.failures);
    // About 20% of first faults within a day of a start, and 30% of failures relapses.
    expect(report.context['under-a-day'] / 2000).toBeGreaterThan(0.1);
    expect(report.context.relapses / 2000).toBeGreaterThan(0.25);
    expect(report.context.relapses / 2000).toBeLessThan(0.35);
    expect(report.fixed.actions.reboot).toBe(2000);
  });

  it.each([1, 2, 3])(
    'learns from the context to beat the kind-only ladder, short of the oracle (seed %d)',
    (seed) => {
      const report = simulateRemediation({ seed });

      // Both learners stop-start system-check failures first.
      expect(report.learned.firstChoice['system-status-check-failed']['stop-start']).toBeGreaterThan(0.9);
      expect(report.learnedKindOnly.firstChoice['system-status-check-failed']['stop-start']).toBeGreaterThan(
        0.9,
      );
      // Only the contextual one replaces first an instance check within a day of a start.
      expect(report.learned.firstChoiceByAge['under-a-day'].replace).toBeGreaterThan(0.6);
      expect(report.learnedKindOnly.firstChoiceByAge['under-a-day'].replace).toBeLessThan(0.1);
      expect(report.learned.firstChoiceByAge.older.reboot).toBeGreaterThan(0.9);

      expect(report.ratio).toBeLessThan(report.ratioKindOnly - 0.02);
      expect(report.ratio).toBeLessThan(0.86);
      expect(report.ratioToOracle).toBeGreaterThan(1);
      expect(report.oracleToFixed).toBeLessThan(0.76);
      expect(report.learned.posteriorMean['system-status-check-failed'].reboot).toBeLessThan(0.2);
      // Ranking by the success draw alone ends up replacing everything, and is slower than the fixed ladder.
      expect(report.learnedIgnoringCost.firstChoice['system-status-check-failed'].replace).toBeGreaterThan(
        0.9,
      );
      expect(report.ratioIgnoringCost).toBeGreaterThan(1.05);
    },
  );

  it('gains nothing from a context that tells nothing', () => {
    const report = simulateRemediation({ seed: 4, parameters: contextFree });

    expect(Math.abs(report.ratio - report.ratioKindOnly)).toBeLessThan(0.02);
  });

  it('rejects a number of failures that is not a positive whole number', () => {
    expect(() => simulateRemediation({ seed: 1, failures: 0 })).toThrow(
      'expected a whole number of failures > 0, found 0',
    );
  });
});
