import fc from 'fast-check';
import type { Instance } from '../../functions/core/fleet/fleet';
import { breakerFromCounts, evaluateBreaker } from '../../functions/core/remediation/breaker';
import { populationOf, scopeCountsFrom } from '../../functions/core/remediation/scope-health';
import { fleetArb } from '../support/arbitraries';

const NOW = Date.parse('2026-12-02T12:00:00.000Z');

describe('the breaker from counts (breakerFromCounts, scopeCountsFrom)', () => {
  it('decides as the whole-inventory breaker does, from three counts', () => {
    // The counts equal the inventory's view when each impaired instance has its finding (the
    // sweep records one in the same run) and an instance has at most one open health finding.
    fc.assert(
      fc.property(
        fleetArb,
        fc.nat(),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (fleet, pick, flaggedPicks, maxUnhealthyFraction) => {
          const alive = fleet.filter((i) => i.state !== 'terminated');
          fc.pre(alive.length > 0);
          // A decision about a terminated instance records it gone before any breaker.
          const target = alive[pick % alive.length];
          // (A finding of a terminated instance counts until its case closes it: not compared here.)
          const live = fleet.filter((i) => i.state !== 'terminated');
          const flagged = new Set(live.length > 0 ? flaggedPicks.map((k) => live[k % live.length].id) : []);
          for (const i of live) if (i.health === 'impaired') flagged.add(i.id);
          const findings = [...flagged].map((instanceId) => ({ instanceId, at: NOW }));
          const thresholds = { maxUnhealthyFraction, maxInFlightPerScope: 10_000 };
          const whole = evaluateBreaker({
            target,
            instances: fleet,
            recentFindings: findings,
            inFlight: [],
            now: NOW,
            thresholds,
          });
          const counted = breakerFromCounts(scopeCountsFrom(target, fleet, findings), thresholds);
          expect(counted.open).toBe(whole.open);
          if (counted.open && whole.open) expect(counted.scope).toBe(whole.scope);
        },
      ),
      { numRuns: 300 },
    );
  });

  const box = (id: string, over: Partial<Instance> = {}): Instance => ({
    id,
    service: 'web',
    zone: 'us-east-1a',
    state: 'running',
    health: 'ok',
    tags: {},
    ...over,
  });

  it('opens on the zone when more than 20% of it is flagged or down, and names the counts', () => {
    const zone = Array.from({ length: 10 }, (_, k) => box(`i-${k}`, { service: `s${k}` }));
    const others = Array.from({ length: 30 }, (_, k) =>
      box(`i-b${k}`, { zone: 'us-east-1b', service: `s${k}` }),
    );
    const fleet = [...zone, box('i-down', { state: 'stopped' }), ...others];
    const counts = scopeCountsFrom(zone[0], fleet, [{ instanceId: 'i-1' }, { instanceId: 'i-2' }]);
    expect(counts).toEqual([
      { scope: 'account', members: 41, unavailable: 1, flagged: 2 },
      { scope: 'zone:us-east-1a', members: 11, unavailable: 1, flagged: 2 },
      { scope: 'service:s0', members: 2, unavailable: 0, flagged: 0 },
    ]);
    const state = breakerFromCounts(counts);
    expect(state).toMatchObject({ open: true, scope: 'zone:us-east-1a' });
    expect(state.open && state.reason).toMatch(/^zone:us-east-1a: 3 of 11 instances unhealthy = 27.3% > 20%/);
    // One fewer flagged: 2 of 11 is 18%, closed.
    expect(breakerFromCounts(scopeCountsFrom(zone[0], fleet, [{ instanceId: 'i-1' }])).open).toBe(false);
  });

  it('judges a scope smaller than the minimum population as if it had five', () => {
    const tiny = [box('i-1', { service: 'tiny', zone: 'z0' }), box('i-2', { service: 'tiny', zone: 'z0' })];
    const big = Array.from({ length: 50 }, (_, k) => box(`i-x${k}`, { zone: `z${k % 5}` }));
    const counts = scopeCountsFrom(tiny[0], [...tiny, ...big], [{ instanceId: 'i-1' }]);
    expect(breakerFromCounts(counts).open).toBe(false); // 1 of max(2, 5) = 20%, not above
    const two = scopeCountsFrom(tiny[0], [...tiny, ...big], [{ instanceId: 'i-1' }, { instanceId: 'i-2' }]);
    expect(breakerFromCounts(two)).toMatchObject({ open: true, scope: 'service:tiny' });
  });

  it('leaves impaired and flagged instances out of the sweep’s unavailable (their findings count them)', () => {
    const fleet = [
      box('i-1', { health: 'impaired' }),
      box('i-2', { state: 'stopped' }),
      box('i-3', { state: 'stopped' }),
      box('i-4', { state: 'terminated' }),
    ];
    const population = populationOf(fleet, new Set(['i-3']));
    expect(population.get('account')).toEqual({ members: 3, unavailable: 1 });
    expect(population.get('zone:us-east-1a')).toEqual({ members: 3, unavailable: 1 });
  });

  it('counts a target the inventory misses, and a finding of an unknown instance in the account only', () => {
    const counts = scopeCountsFrom(box('i-new'), [box('i-1')], [{ instanceId: 'i-gone' }]);
    expect(counts.map((c) => [c.members, c.flagged])).toEqual([
      [2, 1],
      [2, 0],
      [2, 0],
    ]);
  });
});
