import fc from 'fast-check';
import type { Instance } from '../../functions/core/fleet/fleet';
import { evaluateBreaker, shouldPage } from '../../functions/core/remediation/breaker';
import { fleetArb, SERVICES, ZONES } from '../support/arbitraries';
import { instances } from '../support/builders';

const NOW = Date.parse('2025-06-11T10:00:00Z');
const MINUTE = 60_000;

/** 60 healthy instances: web and api, 10 of each in each of three zones. */
function fleet() {
  const zones = ['us-east-1a', 'us-east-1b', 'us-east-1c'];
  return Object.fromEntries(
    zones.flatMap((zone) =>
      ['web', 'api'].map((service) => [`${service}@${zone}`, instances(10, service, zone)] as const),
    ),
  ) as Record<string, Instance[]>;
}

const impair = (list: readonly Instance[], n: number) => list.slice(0, n).map((i) => i.id);

function evaluate(all: Record<string, Instance[]>, impairedIds: readonly string[], extra = {}) {
  const ids = new Set(impairedIds);
  const everything = Object.values(all)
    .flat()
    .map((i) => (ids.has(i.id) ? { ...i, health: 'impaired' as const } : i));
  const target = everything.find((i) => i.id === impairedIds[0])!;
  return evaluateBreaker({
    target,
    instances: everything,
    recentFindings: [],
    inFlight: [],
    now: NOW,
    ...extra,
  });
}

describe('evaluateBreaker', () => {
  it('stays closed for a bad instance among healthy ones', () => {
    const f = fleet();

    expect(evaluate(f, impair(f['web@us-east-1a'], 1))).toEqual({ open: false });
  });

  it('opens for the zone when more than 20% of it is unhealthy', () => {
    const f = fleet();
    // Zone a: 5 of 20 (25%); web 3 of 30, api 2 of 30; the account 5 of 60.
    const five = [...impair(f['web@us-east-1a'], 3), ...impair(f['api@us-east-1a'], 2)];

    expect(evaluate(f, five)).toEqual({
      open: true,
      scope: 'zone:us-east-1a',
      reason:
        'zone:us-east-1a: 5 of 20 instances unhealthy = 25% > 20% within 30 min: an outage, not a bad instance; automatic remediation stops here',
    });
    // Exactly 20% is still a bad day, not an outage.
    expect(evaluate(f, five.slice(0, 4))).toEqual({ open: false });
  });

  it('opens for the service when more than 20% of it is unhealthy across zones', () => {
    const f = fleet();
    // web: 7 of 30 (23%); zones 3, 2, 2 of 20; the account 7 of 60.
    const seven = [
      ...impair(f['web@us-east-1a'], 3),
      ...impair(f['web@us-east-1b'], 2),
      ...impair(f['web@us-east-1c'], 2),
    ];

    expect(evaluate(f, seven)).toMatchObject({ open: true, scope: 'service:web' });
  });

  it('names the account, the widest scope, when the whole account is unhealthy', () => {
    const f = fleet();
    const eighteen = Object.values(f).flatMap((list) => impair(list, 3)); // 18 of 60

    expect(evaluate(f, eighteen)).toMatchObject({ open: true, scope: 'account' });
  });

  it('counts instances with a recent finding as unhealthy, and forgets old findings', () => {
    const f = fleet();
    const zoneA = [...f['web@us-east-1a'], ...f['api@us-east-1a']];
    const findings = (minutesAgo: number) =>
      zoneA.slice(0, 5).map((i) => ({ instanceId: i.id, at: NOW - minutesAgo * MINUTE }));

    expect(evaluate(f, [zoneA[0].id], { recentFindings: findings(29) })).toMatchObject({
      open: true,
      scope: 'zone:us-east-1a',
    });
    expect(evaluate(f, [zoneA[0].id], { recentFindings: findings(31) })).toEqual({ open: false });
    expect(
      evaluate(f, [zoneA[0].id], { recentFindings: findings(31), thresholds: { windowMinutes: 45 } }),
    ).toMatchObject({ open: true });
  });

  it('leaves terminated instances out of the population', () => {
    // 2 of 8 running ones impaired (25%) in a service with 30 terminated instances beside them.
    const running = instances(8, 'batch', 'us-east-1d');
    const gone = instances(30, 'batch', 'us-east-1d', { state: 'terminated' });
    const others = instances(100, 'web', 'us-east-1a');
    const target = { ...running[0], health: 'impaired' as const };
    const input = {
      target,
      instances: [
        target,
        { ...running[1], health: 'impaired' as const },
        ...running.slice(2),
        ...gone,
        ...others,
      ],
      recentFindings: [],
      inFlight: [],
      now: NOW,
    };

    expect(evaluateBreaker(input)).toMatchObject({ open: true, scope: 'zone:us-east-1d' });
  });

  describe('minimum population', () => {
    // A 3-instance service in a big, healthy zone.
    const small = () => ({
      small: instances(3, 'tiny', 'us-east-1a'),
      big: instances(50, 'web', 'us-east-1a'),
    });

    it('one bad box in a 3-instance service is a bad box', () => {
      const { small: s, big } = small();
      const target = { ...s[0], health: 'impaired' as const };

      expect(
        evaluateBreaker({
          target,
          instances: [target, ...s.slice(1), ...big],
          recentFindings: [],
          inFlight: [],
          now: NOW,
        }),
      ).toEqual({ open: false });
    });

    it('two of three are an outage: judged as 2 of 5', () => {
      const { small: s, big } = small();
      const target = { ...s[0], health: 'impaired' as const };
      const result = evaluateBreaker({
        target,
        instances: [target, { ...s[1], state: 'stopped' as const }, s[2], ...big],
        recentFindings: [],
        inFlight: [],
        now: NOW,
      });

      expect(result).toEqual({
        open: true,
        scope: 'service:tiny',
        reason:
          'service:tiny: 2 of 3 instances unhealthy (counted as 5, the minimum population) = 40% > 20% within 30 min: an outage, not a bad instance; automatic remediation stops here',
      });
    });

    it('without the floor, one bad box in three would trip it', () => {
      const { small: s, big } = small();
      const target = { ...s[0], health: 'impaired' as const };

      expect(
        evaluateBreaker({
          target,
          instances: [target, ...s.slice(1), ...big],
          recentFindings: [],
          inFlight: [],
          now: NOW,
          thresholds: { minPopulation: 1 },
        }),
      ).toMatchObject({ open: true, scope: 'service:tiny' });
    });
  });

  describe('remediations in flight', () => {
    it('opens when five others are already being remediated, counting each instance once', () => {
      const f = fleet();
      const busy = f['api@us-east-1b'].slice(0, 5).map((i) => ({ instanceId: i.id }));
      const target = impair(f['web@us-east-1a'], 1);

      expect(evaluate(f, target, { inFlight: busy })).toEqual({
        open: true,
        scope: 'account',
        reason: 'account: 5 remediations already in flight (at most 5): automatic remediation stops here',
      });
      expect(evaluate(f, target, { inFlight: [...busy.slice(0, 4), busy[0], busy[1]] })).toEqual({
        open: false,
      });
    });

    it("does not count the target's own remediation (it escalates, it does not add one)", () => {
      const f = fleet();
      const target = impair(f['web@us-east-1a'], 1);
      const busy = [
        ...f['api@us-east-1b'].slice(0, 4).map((i) => ({ instanceId: i.id })),
        { instanceId: target[0] },
      ];

      expect(evaluate(f, target, { inFlight: busy })).toEqual({ open: false });
    });

    it('counts in-flight instances the inventory does not know toward the account', () => {
      const f = fleet();
      const unknown = ['i-00ffff01', 'i-00ffff02', 'i-00ffff03'].map((instanceId) => ({ instanceId }));

      expect(
        evaluate(f, impair(f['web@us-east-1a'], 1), {
          inFlight: unknown,
          thresholds: { maxInFlightPerScope: 3 },
        }),
      ).toMatchObject({ open: true, scope: 'account' });
    });
  });

  it('rejects thresholds that cannot work', () => {
    const f = fleet();
    const target = impair(f['web@us-east-1a'], 1);

    expect(() => evaluate(f, target, { thresholds: { maxUnhealthyFraction: 1.2 } })).toThrow(
      'expected maxUnhealthyFraction in [0, 1], found 1.2',
    );
    expect(() => evaluate(f, target, { thresholds: { minPopulation: 0 } })).toThrow(
      'expected minPopulation to be a whole number ≥ 1, found 0',
    );
    expect(() => evaluate(f, target, { thresholds: { windowMinutes: -5 } })).toThrow(
      'expected windowMinutes > 0, found -5',
    );
  });
});

describe('shouldPage', () => {
  it('pages the first time', () => {
    expect(shouldPage(undefined, NOW)).toEqual({ page: true, reason: 'breaker open, nobody paged yet' });
    expect(shouldPage({ open: true }, NOW).page).toBe(true);
  });

  it('does not page again while the same storm lasts, however long', () => {
    expect(shouldPage({ open: true, pagedAt: NOW - 10 * MINUTE }, NOW)).toEqual({
      page: false,
      reason: 'same storm: paged 10 min ago and the breaker stayed open',
    });
    expect(shouldPage({ open: true, pagedAt: NOW - 300 * MINUTE }, NOW).page).toBe(false);
  });

  it('pages again for a new storm only after the cooldown', () => {
    expect(shouldPage({ open: false, pagedAt: NOW - 59 * MINUTE }, NOW).page).toBe(false);
    expect(shouldPage({ open: false, pagedAt: NOW - 60 * MINUTE }, NOW).page).toBe(true);
    expect(shouldPage({ open: false, pagedAt: NOW - 20 * MINUTE }, NOW, 15).page).toBe(true);
  });

  it('turns a flapping storm of 200 events over two hours into two pages', () => {
    // Prepare: every 36 s an event; the breaker flaps open and closed every 5 minutes.
    let state: { open: boolean; pagedAt?: number } | undefined;
    const pages: number[] = [];
    for (let n = 0; n < 200; n++) {
      const now = NOW + n * 36_000;
      const open = Math.floor(n / 8) % 2 === 0;
      if (!open) {
        state = state && { ...state, open: false };
        continue;
      }
      const decision = shouldPage(state, now);
      if (decision.page) pages.push(now);
      state = { open: true, pagedAt: decision.page ? now : state?.pagedAt };
    }

    // Assess: one page at the start, one more at its first reopening after the 60-min cooldown
    // (it reopens every 9.6 min: 57.6 is too soon, 67.2 is not).
    expect(pages.map((t) => (t - NOW) / MINUTE)).toEqual([0, 67.2]);
  });
});

describe('evaluateBreaker (property-based)', () => {
  const RUNS = Number(process.env.FC_RUNS ?? 300);
  const extraArb = fc.array(
    fc.record({
      zone: fc.constantFrom(...ZONES),
      service: fc.constantFrom(...SERVICES),
      how: fc.constantFrom('impaired', 'stopped', 'finding'),
    }),
    { minLength: 1, maxLength: 20 },
  );
  const scenario = fc
    .tuple(
      fleetArb,
      extraArb,
      fc.array(fc.nat(200), { maxLength: 10 }),
      fc.array(fc.nat(200), { maxLength: 8 }),
    )
    .filter(([fleet]) => fleet.length > 0)
    .chain(([fleet, extra, findingIdx, flightIdx]) =>
      fc.tuple(
        fc.constant(fleet),
        fc.constant(extra),
        fc.constant(findingIdx),
        fc.constant(flightIdx),
        fc.nat(fleet.length - 1),
        fc.subarray(fleet.map((i) => i.id)),
      ),
    );

  it('never closes an open breaker when instances turn or come in unhealthy', () => {
    fc.assert(
      fc.property(scenario, ([fleet, extra, findingIdx, flightIdx, targetIdx, worsened]) => {
        const idAt = (n: number) => fleet[n % fleet.length].id;
        const base = {
          target: fleet[targetIdx],
          recentFindings: findingIdx.map((n, k) => ({ instanceId: idAt(n), at: NOW - k * 7 * MINUTE })),
          inFlight: flightIdx.map((n) => ({ instanceId: idAt(n) })),
          now: NOW,
        };
        const before = evaluateBreaker({ ...base, instances: fleet });
        if (!before.open) return;

        // Worse: some instances turn impaired, new unhealthy ones appear, new findings come in.
        const turned = new Set(worsened);
        const added = extra.map(
          (e, k): Instance => ({
            id: `i-${(0x100000 + k).toString(16)}`,
            zone: e.zone,
            service: e.service,
            state: e.how === 'stopped' ? 'stopped' : 'running',
            health: e.how === 'impaired' ? 'impaired' : 'ok',
            tags: {},
          }),
        );
        const after = evaluateBreaker({
          ...base,
          instances: [
            ...fleet.map((i) => (turned.has(i.id) ? { ...i, health: 'impaired' as const } : i)),
            ...added,
          ],
          recentFindings: [
            ...base.recentFindings,
            ...added.filter((_, k) => extra[k].how === 'finding').map((i) => ({ instanceId: i.id, at: NOW })),
          ],
        });

        expect(after.open).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});
