import {
  hardwareShare,
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
  causes: {
    hardware: { ...REMEDIATION_SIM_PARAMETERS.causes.hardware, recovers },
    software: { ...REMEDIATION_SIM_PARAMETERS.causes.software, recovers },
  },
});

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
    // Every ladder tries all three steps, then pages: 8 + 13 + 20 + 60 minutes.
    const report = simulateRemediation({
      seed: 1,
      failures: 50,
      parameters: world({ reboot: 0, 'stop-start': 0, replace: 0 }),
    });

    for (const policy of [
      report.fixed,
      report.learned,
      report.learnedContextual,
      report.learnedIgnoringCost,
    ]) {
      expect(policy.meanMinutes).toBeCloseTo(101, 9);
      expect(policy.medianMinutes).toBeCloseTo(101, 9);
      expect(policy.pages).toBe(50);
      expect(policy.actions).toEqual({ reboot: 50, 'stop-start': 50, replace: 50 });
    }
    // The oracle knows no step can work: a page (a sure step) is the fastest order.
    expect(report.oracle.meanMinutes).toBeCloseTo(60, 9);
    expect(report.oracle.actions).toEqual({ reboot: 0, 'stop-start': 0, replace: 0 });
  });

  it('recovers every failure with the first reboot of the fixed ladder when reboots always work', () => {
    const report = simulateRemediation({
      seed: 2,
      failures: 40,
      parameters: world({ reboot: 1, 'stop-start': 1, replace: 1 }),
    });

    // (Times are differences of arrival times: equal to the minute up to rounding.)
    expect(report.fixed.meanMinutes).toBeCloseTo(8, 9);
    expect(report.fixed.medianMinutes).toBeCloseTo(8, 9);
    expect(report.fixed.p90Minutes).toBeCloseTo(8, 9);
    expect(report.fixed.pages).toBe(0);
    expect(report.fixed.actions).toEqual({ reboot: 40, 'stop-start': 0, replace: 0 });
    expect(report.ratio).toBeCloseTo(1, 9);
    expect(report.ratioContextFree).toBeCloseTo(1, 9);
    expect(report.oracleRatio).toBeCloseTo(1, 9);
  });

  it('counts the failures of each kind, and the hidden hardware faults among them', () => {
    const report = simulateRemediation({ seed: 3 });
    const { system, instance } = {
      system: report.mix['system-status-check-failed'],
      instance: report.mix['instance-status-check-failed'],
    };

    expect(system.failures + instance.failures).toBe(2000);
    // About 40% hardware, half of it seen as a system check failure; software rarely is. So the
    // system checks are nearly all hardware and the instance checks a mix (about a quarter).
    expect(system.hardware / system.failures).toBeGreaterThan(0.9);
    expect(instance.hardware / instance.failures).toBeGreaterThan(0.2);
    expect(instance.hardware / instance.failures).toBeLessThan(0.35);
    expect(report.fixed.actions.reboot).toBe(2000);
    // A quarter of the failures hit an instance that failed before.
    expect(report.fixed.relapses / 2000).toBeGreaterThan(0.2);
    expect(report.fixed.relapses / 2000).toBeLessThan(0.26);
  });

  it('makes hardware faults likelier on older families and on fresh or old hosts', () => {
    const p = REMEDIATION_SIM_PARAMETERS;
    expect(hardwareShare(p, 'm4', 30)).toBeGreaterThan(hardwareShare(p, 'm5', 30));
    expect(hardwareShare(p, 'm5', 30)).toBeGreaterThan(hardwareShare(p, 'm7g', 30));
    expect(hardwareShare(p, 'm5', 2)).toBeGreaterThan(hardwareShare(p, 'm5', 30));
    expect(hardwareShare(p, 'm5', 200)).toBeGreaterThan(hardwareShare(p, 'm5', 30));
    // Odds 1 for both: the base share.
    expect(
      hardwareShare(
        { ...p, fleet: { ...p.fleet, hostAgeHardwareOdds: { '<7d': 1, '7-90d': 1, '>90d': 1 } } },
        'm5',
        30,
      ),
    ).toBeCloseTo(p.causes.hardware.share, 12);
  });

  it('gives the oracle, which knows each cause, the lowest mean time to recover on average', () => {
    const reports = [1, 2, 3].map((seed) => simulateRemediation({ seed }));
    const mean = (pick: (r: (typeof reports)[number]) => number) =>
      reports.reduce((sum, r) => sum + pick(r), 0) / reports.length;
    const oracle = mean((r) => r.oracle.meanMinutes);

    for (const policy of [
      mean((r) => r.fixed.meanMinutes),
      mean((r) => r.learned.meanMinutes),
      mean((r) => r.learnedContextual.meanMinutes),
      mean((r) => r.learnedIgnoringCost.meanMinutes),
    ]) {
      expect(oracle).toBeLessThan(policy);
    }
    for (const r of reports) {
      expect(r.learnedOracleRatio).toBeCloseTo(r.learnedContextual.meanMinutes / r.oracle.meanMinutes, 12);
      expect(r.oracleRatio).toBeLessThan(r.ratio);
    }
  });

  it('learns faster with context: the contextual ladder beats the per-kind one over seeds 1–5', () => {
    const reports = [1, 2, 3, 4, 5].map((seed) => simulateRemediation({ seed }));
    const mean = (pick: (r: (typeof reports)[number]) => number) =>
      reports.reduce((sum, r) => sum + pick(r), 0) / reports.length;

    expect(mean((r) => r.learnedContextual.meanMinutes)).toBeLessThan(
      mean((r) => r.learned.meanMinutes) - 0.05,
    );
    expect(mean((r) => r.ratio)).toBeLessThan(mean((r) => r.ratioContextFree));
    // The per-kind ladder reboots every instance check first; with context, a share of them (old
    // families, fresh or old hosts: mostly hardware) is stop-started first.
    for (const r of reports) {
      expect(r.learned.firstChoice['instance-status-check-failed'].reboot).toBeGreaterThan(0.95);
      expect(r.learnedContextual.firstChoice['instance-status-check-failed']['stop-start']).toBeGreaterThan(
        0.1,
      );
    }
  });

  it.each([1, 2, 3])(
    'learns to stop-start system-check failures first and beats the fixed ladder (seed %d)',
    (seed) => {
      const report = simulateRemediation({ seed });

      expect(report.learned.firstChoice['system-status-check-failed']['stop-start']).toBeGreaterThan(0.9);
      expect(report.learned.firstChoice['instance-status-check-failed'].reboot).toBeGreaterThan(0.9);
      expect(report.ratio).toBeLessThan(0.93);
      expect(report.ratioContextFree).toBeLessThan(0.94);
      // Few reboots are tried on system checks once stop-start leads: the posterior stays wide.
      expect(report.learned.posteriorMean['system-status-check-failed'].reboot).toBeLessThan(0.3);
      // Ranking by the success draw alone ends up replacing everything, and is slower than the fixed ladder.
      expect(report.learnedIgnoringCost.firstChoice['system-status-check-failed'].replace).toBeGreaterThan(
        0.9,
      );
      expect(report.ratioIgnoringCost).toBeGreaterThan(1.1);
    },
  );

  it('rejects a number of failures that is not a positive whole number', () => {
    expect(() => simulateRemediation({ seed: 1, failures: 0 })).toThrow(
      'expected a whole number of failures > 0, found 0',
    );
  });
});
