import { type FleetSimReport, simulateFleet } from '../../sim/fleet-sim';
import { checkFleetSimOptions } from '../../sim/fleet-sim-options';

/**
 * `simulate --storm F`: a fraction of the first zone fails its system status check at once an
 * hour in. The breaker must see the zone-wide event and page once for the scope, not once per
 * instance, and the cases it stops are not acted on.
 */
describe('a storm (simulateFleet storm)', () => {
  const options = {
    instances: 3000,
    zones: 3,
    services: 30,
    faultRate: 0.00002,
    seed: 1,
    storm: 0.3,
  } as const;
  let r: FleetSimReport;
  beforeAll(async () => {
    r = await simulateFleet(options);
  });

  it('fails 30% of the first zone at minute 60, and the breaker pages once for it', () => {
    expect(r.parameters.storm).toBe(0.3);
    // About 300 of the zone's 1,000 fail at once; random faults add a handful.
    expect(r.faults.injected).toBeGreaterThan(250);
    expect(r.remediation.cases).toBeGreaterThan(250);
    expect(r.remediation.pages.breaker).toBe(1);
    expect(r.remediation.pages.instance).toBeLessThan(5);
    // Stopped by the breaker: skipped, not acted on (a handful act before it trips or elsewhere).
    expect(r.remediation.outcomes.skipped).toBeGreaterThan(200);
    const acted = (r.remediation.decisions.reboot ?? 0) + (r.remediation.decisions['stop-start'] ?? 0);
    expect(acted).toBeLessThan(10);
    expect(r.invariants.byInvariant['in-flight-cap']).toBe(0);
    expect(r.invariants.byInvariant['disruption-budget']).toBe(0);
  });

  it('is validated: a fraction above 0, at most 1', () => {
    for (const storm of [0, -0.1, 1.5, Number.NaN])
      expect(() => checkFleetSimOptions({ ...options, storm })).toThrow(/storm: expected a fraction/);
  });
});
