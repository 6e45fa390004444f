import {
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
    // Every policy tries all three steps, then pages: 8 + 13 + 20 + 60 minutes.
    const report = simulateRemediation({
      seed: 1,
      failures: 50,
      parameters: world({ reboot: 0, 'stop-start': 0, replace: 0 }),
    });

    for (const policy of [report.fixed, report.learned, report.learnedIgnoringCost]) {
      expect(policy.meanMinutes).toBeCloseTo(101, 9);
      expect(policy.medianMinutes).toBeCloseTo(101, 9);
      expect(policy.pages).toBe(50);
      expect(policy.actions).toEqual({ reboot: 50, 'stop-start': 50, replace: 50 });
    }
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
  });

  it('counts the failures of each kind, and the hidden hardware faults among them', () => {
    const report = simulateRemediation({ seed: 3 });
    const { system, instance } = {
      system: report.mix['system-status-check-failed'],
      instance: report.mix['instance-status-check-failed'],
    };

    expect(system.failures + instance.failures).toBe(2000);
    // 40% hardware, 80% of it seen as a system check failure; software rarely is.
    expect(system.hardware / system.failures).toBeGreaterThan(0.9);
    expect(instance.hardware / instance.failures).toBeLessThan(0.2);
    expect(report.fixed.actions.reboot).toBe(2000);
  });

  it.each([1, 2, 3])(
    'learns to stop-start system-check failures first and beats the fixed ladder (seed %d)',
    (seed) => {
      const report = simulateRemediation({ seed });

      expect(report.learned.firstChoice['system-status-check-failed']['stop-start']).toBeGreaterThan(0.9);
      expect(report.learned.firstChoice['instance-status-check-failed'].reboot).toBeGreaterThan(0.9);
      expect(report.ratio).toBeLessThan(0.92);
      expect(report.learned.posteriorMean['system-status-check-failed'].reboot).toBeLessThan(0.2);
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
