import { type FleetSimReport, simulateFleet } from '../../sim/fleet-sim';
import { checkFleetSimOptions } from '../../sim/fleet-sim-options';

/**
 * `simulate --storm F`: a fraction of the first zone fails its system status check at once an
 * hour in, for two hours. The findings wait out their accumulation window, so the breaker sees the
 * zone-wide event before anything is touched and pages once for the zone, not once per instance;
 * the cases it holds look again every 10 minutes and, once the event is over, find their
 * instances recovered. A decision reads a handful of items from the table, not the fleet.
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
    expect(r.remediation.pages.breakerByScope).toEqual({ 'zone:us-east-1a': 1 });
    expect(r.remediation.pages.instance).toBeLessThan(5);
    // Held by the breaker, not ended: each held case looked again, and resumed when the zone was back.
    expect(r.remediation.decisions.defer).toBeGreaterThan(200);
    expect(r.remediation.outcomes.recovered).toBeGreaterThan(200);
    expect(r.remediation.outcomes.skipped ?? 0).toBe(0);
    // Nothing in the storm acted on (random faults elsewhere account for a handful).
    const acted = (r.remediation.decisions.reboot ?? 0) + (r.remediation.decisions['stop-start'] ?? 0);
    expect(acted).toBeLessThan(10);
    // The breaker from counts: the target, three scope counts, the case, the outcome counts.
    expect(r.remediation.itemsReadPerDecision!.max).toBeLessThanOrEqual(50);
    expect(r.remediation.itemsReadPerDecision!.mean).toBeLessThanOrEqual(50);
    // No automatic action in the storm's zone beyond its in-flight cap, none while its breaker is open.
    const zone = r.remediation.inFlight['zone:us-east-1a'] ?? { peak: 0, cap: 1 };
    expect(zone.peak).toBeLessThanOrEqual(zone.cap);
    expect(r.invariants.byInvariant['in-flight-cap']).toBe(0);
    expect(r.invariants.byInvariant.breaker).toBe(0);
    expect(r.invariants.byInvariant['disruption-budget']).toBe(0);
    // A storm is the run's incident: the default ones are left out.
    expect(r.parameters.incidents).toBe(false);
    expect(r.faults.incidents).toBeUndefined();
  });

  it('is validated: a fraction above 0, at most 1', () => {
    for (const storm of [0, -0.1, 1.5, Number.NaN])
      expect(() => checkFleetSimOptions({ ...options, storm })).toThrow(/storm: expected a fraction/);
  });
});
