import fc from 'fast-check';
import {
  expectedMaxWaves,
  FINAL_ROUNDS,
  LAUNCH_WINDOW_HOURS,
  launchesPerHour,
  poissonCdf,
} from '../../functions/core/change/plan/churn';
import { planChange } from '../../functions/core/change/plan/planner';
import type { Instance } from '../../functions/core/fleet/fleet';
import { serviceCatalog } from '../../functions/core/fleet/services';
import { parseServices } from '../../functions/core/input/files';
import { instances, spec } from '../support/builders';

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 5, 1, 12);
const at = (ms: number) => new Date(ms).toISOString();

describe('the churn the prediction expects (plan/churn.ts)', () => {
  it('Poisson sums: the CDF is P(X ≤ k), finite for means of thousands', () => {
    expect(poissonCdf(0, 2)).toBeCloseTo(Math.exp(-2), 12);
    expect(poissonCdf(2, 2)).toBeCloseTo(Math.exp(-2) * (1 + 2 + 2), 12);
    expect(poissonCdf(-1, 2)).toBe(0);
    expect(poissonCdf(5000, 5000)).toBeGreaterThan(0.49);
    expect(poissonCdf(5000, 5000)).toBeLessThan(0.51);
    fc.assert(
      fc.property(fc.double({ min: 0.01, max: 300, noNaN: true }), fc.nat(400), (mean, k) => {
        const p = poissonCdf(k, mean);
        return p >= 0 && p <= 1 && poissonCdf(k + 1, mean) >= p - 1e-12;
      }),
    );
  });

  it('the expected most constrained service: one service with room 1 needs its mean in waves; more services need more', () => {
    // ⌈X ÷ 1⌉ = X: E = the mean.
    expect(expectedMaxWaves([{ mean: 3, room: 1 }])).toBeCloseTo(3, 5);
    // Room without bound: one wave when any joins, P(X > 0).
    expect(expectedMaxWaves([{ mean: 0.5, room: Number.POSITIVE_INFINITY }])).toBeCloseTo(
      1 - Math.exp(-0.5),
      9,
    );
    expect(expectedMaxWaves([])).toBe(0);
    // The maximum of 100 such services is well above the mean of one, and below their sum.
    const many = expectedMaxWaves(Array.from({ length: 100 }, () => ({ mean: 3, room: 1 })));
    expect(many).toBeGreaterThan(6);
    expect(many).toBeLessThan(12);
    // More room a wave, fewer waves.
    expect(expectedMaxWaves([{ mean: 10, room: 5 }])).toBeLessThan(expectedMaxWaves([{ mean: 10, room: 2 }]));
  });

  it('counts the targeted instances launched in the day before the inventory was read', () => {
    const fleet: Instance[] = [
      ...instances(6, 'web', 'us-east-1a', { launchedAt: at(NOW - 2 * HOUR) }),
      ...instances(2, 'web', 'us-east-1a', { launchedAt: at(NOW - 30 * HOUR) }),
      // Launched after the inventory was read, terminated, or of unknown launch time: not counted.
      ...instances(1, 'web', 'us-east-1a', { launchedAt: at(NOW + HOUR) }),
      ...instances(1, 'web', 'us-east-1a', { launchedAt: at(NOW - HOUR), state: 'terminated' }),
      ...instances(3, 'web', 'us-east-1a'),
    ];
    expect(launchesPerHour(fleet, NOW)).toBe(6 / LAUNCH_WINDOW_HOURS);
    expect(launchesPerHour(fleet, NOW - 20 * HOUR)).toBe(2 / LAUNCH_WINDOW_HOURS);
  });

  describe('in the plan', () => {
    const catalog = serviceCatalog(
      parseServices('services: { web: { maxUnavailable: 2 }, api: { maxUnavailable: 1 } }', 's.yaml'),
    );
    // 60 instances launched over the last 60 days; `recent` of them in the last day.
    const fleetWith = (recent: number): Instance[] =>
      ['us-east-1a', 'us-east-1b'].flatMap((zone) =>
        ['web', 'api'].flatMap((service) =>
          Array.from({ length: 15 }, (_, k) => {
            const ago = k < recent / 4 ? (k + 1) * HOUR : (k + 2) * 24 * HOUR;
            return instances(1, service, zone, { launchedAt: at(NOW - ago) })[0];
          }),
        ),
      );
    const target = { target: { services: ['web', 'api'] } };

    it('expects the target’s recent launch rate over the change, in FINAL_ROUNDS rounds of final waves', () => {
      const fleet = fleetWith(24);
      const quiet = planChange({ instances: fleet, catalog, spec: spec(target) });
      const churning = planChange({ instances: fleet, catalog, spec: spec(target), observedAt: NOW });
      expect(quiet.launchesPerHour).toBeUndefined();
      expect(quiet.expectedFinalWaves).toBeUndefined();
      // 24 launches in the day: 1 an hour. The first round expects the main waves' hours of joiners,
      // the second those of the first round's: more than the main waves' alone, less than if churn went on.
      expect(churning.launchesPerHour).toBe(1);
      const mainHours = quiet.predictedMinutes / 60;
      expect(churning.expectedLateJoiners).toBeGreaterThan(mainHours - 1);
      expect(churning.expectedLateJoiners).toBeLessThan(mainHours * FINAL_ROUNDS + 1);
      expect(churning.expectedFinalWaves).toBeGreaterThan(0);
      expect(churning.predictedMinutes).toBeGreaterThan(quiet.predictedMinutes);
      expect(churning.finalWaveMinutes).toBeCloseTo(churning.predictedMinutes - quiet.predictedMinutes, 0);
      // The plan's own waves are the same: only the prediction expects the joiners.
      expect(churning.waves).toEqual(quiet.waves);
    });

    it('more launches, a longer prediction; none in the day, none expected; replace chases no late joiner', () => {
      const minutes = [0, 8, 24, 48].map(
        (n) =>
          planChange({ instances: fleetWith(n), catalog, spec: spec(target), observedAt: NOW })
            .predictedMinutes,
      );
      for (let k = 1; k < minutes.length; k++) expect(minutes[k]).toBeGreaterThanOrEqual(minutes[k - 1]);
      expect(minutes[3]).toBeGreaterThan(minutes[0]);
      const none = planChange({ instances: fleetWith(0), catalog, spec: spec(target), observedAt: NOW });
      expect(none.expectedLateJoiners).toBeUndefined();
      const replace = planChange({
        instances: fleetWith(24),
        catalog,
        spec: spec({ ...target, action: { type: 'replace' } }),
        observedAt: NOW,
      });
      expect(replace.launchesPerHour).toBeUndefined();
    });

    it('is deterministic: the same fleet and instant give the same bytes', () => {
      const fleet = fleetWith(24);
      const a = planChange({ instances: fleet, catalog, spec: spec(target), observedAt: NOW });
      const b = planChange({ instances: [...fleet].reverse(), catalog, spec: spec(target), observedAt: NOW });
      expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    });
  });
});
