import fc from 'fast-check';
import {
  checkReservation,
  type LedgerCounts,
  type LedgerState,
  type ReservationMember,
} from '../../functions/core/safety/ledger';

/**
 * The ledger arithmetic both lease stores ask (functions/core/safety/ledger.ts): the refusal
 * texts, and properties over random ledgers and requests.
 */

const ZONES = ['za', 'zb', 'zc'];

function ledger(counts: LedgerCounts, zones: Record<string, LedgerCounts>): LedgerState {
  return { ...counts, zone: (z) => zones[z] };
}

const member = (id: string, zone = 'za', down = false): ReservationMember => ({ id, zone, down });

describe('checkReservation: examples', () => {
  const roomy = ledger({ capacity: 3, used: 1, observed: 1 }, { za: { capacity: 2, used: 1, observed: 1 } });

  it('fails closed without a ledger, or without a capacity', () => {
    const refusal = {
      room: false,
      conflicts: [{ id: 'web', reason: 'budget:web has no ledger yet (run an inventory sync)' }],
    };
    expect(checkReservation('web', undefined, [member('i-1')])).toEqual(refusal);
    expect(checkReservation('web', ledger({ used: 0, observed: 0 }, {}), [member('i-1')])).toEqual(refusal);
  });

  it('refuses overall first, with that one conflict', () => {
    expect(checkReservation('web', roomy, [member('i-1'), member('i-2'), member('i-3', 'zq')])).toEqual({
      room: false,
      conflicts: [{ id: 'web', reason: 'budget:web exhausted: 1 of 3 in use, 3 requested' }],
    });
  });

  it('refuses per zone: an unknown zone has no budget, a full one is exhausted', () => {
    expect(
      checkReservation('web', { ...roomy, capacity: 4 }, [
        member('i-1'),
        member('i-2'),
        member('i-3', 'zq', true),
      ]),
    ).toEqual({
      room: false,
      conflicts: [
        { id: 'web@za', reason: 'budget:web@za exhausted: 1 of 2 in use, 2 requested' },
        { id: 'web@zq', reason: 'budget:web@zq has no ledger yet (run an inventory sync)' },
      ],
    });
  });

  it('moves an instance already counted as observed into the reservation, at no cost', () => {
    const full = ledger({ capacity: 1, used: 1, observed: 1 }, { za: { capacity: 1, used: 1, observed: 1 } });
    const check = checkReservation('web', full, [member('i-down', 'za', true)]);
    expect(check).toEqual({
      room: true,
      counts: {
        zones: new Map([['za', 1]]),
        transferred: new Map([['za', 1]]),
        transferredIds: new Set(['i-down']),
        added: 0,
      },
    });
    // Only as many as the ledger counts: a second one costs budget.
    expect(checkReservation('web', full, [member('i-d1', 'za', true), member('i-d2', 'za', true)])).toEqual({
      room: false,
      conflicts: [{ id: 'web', reason: 'budget:web exhausted: 1 of 1 in use, 1 requested' }],
    });
  });
});

describe('checkReservation: properties', () => {
  const counts = fc
    .record({ capacity: fc.nat(6), reserved: fc.nat(4), observed: fc.nat(3) })
    .map(({ capacity, reserved, observed }) => ({ capacity, used: reserved + observed, observed }));
  const arbitraryLedger = fc.record({
    overall: counts,
    zones: fc.dictionary(fc.constantFrom(...ZONES), counts),
    withCapacity: fc.boolean(),
  });
  const arbitraryMembers = fc
    .array(fc.record({ zone: fc.constantFrom(...ZONES, 'zq'), down: fc.boolean() }), { maxLength: 8 })
    .map((ms) => ms.map((m, i) => ({ id: `i-${i}`, ...m })));

  const build = (l: { overall: LedgerCounts; zones: Record<string, LedgerCounts>; withCapacity: boolean }) =>
    ledger(l.withCapacity ? l.overall : { used: l.overall.used, observed: l.overall.observed }, l.zones);

  it('counts every member once: transferred (down, within the observed counts) or added', () => {
    fc.assert(
      fc.property(arbitraryLedger, arbitraryMembers, (l, members) => {
        const state = build(l);
        const check = checkReservation('web', state, members);
        if (!check.room) return;
        const { zones, transferred, transferredIds, added } = check.counts;
        expect(added + transferredIds.size).toBe(members.length);
        expect([...zones.values()].reduce((a, b) => a + b, 0)).toBe(members.length);
        expect(transferredIds.size).toBeLessThanOrEqual(state.observed);
        for (const id of transferredIds) expect(members.find((m) => m.id === id)?.down).toBe(true);
        for (const [zone, n] of transferred) {
          expect(n).toBe(members.filter((m) => m.zone === zone && transferredIds.has(m.id)).length);
          expect(n).toBeLessThanOrEqual(state.zone(zone)?.observed ?? 0);
        }
      }),
    );
  });

  it('grants only what keeps used within capacity, overall and in every zone it spends', () => {
    fc.assert(
      fc.property(arbitraryLedger, arbitraryMembers, (l, members) => {
        const state = build(l);
        const check = checkReservation('web', state, members);
        if (!check.room) return;
        expect(state.capacity).toBeDefined();
        expect(state.used + check.counts.added).toBeLessThanOrEqual(state.capacity!);
        for (const [zone, total] of check.counts.zones) {
          const z = state.zone(zone);
          expect(z?.capacity).toBeDefined();
          const n = total - (check.counts.transferred.get(zone) ?? 0);
          if (n > 0) expect(z!.used + n).toBeLessThanOrEqual(z!.capacity!);
        }
      }),
    );
  });

  it('transfers every down member when the ledger counts them all as observed', () => {
    fc.assert(
      fc.property(arbitraryLedger, arbitraryMembers, (l, members) => {
        const down = members.filter((m) => m.down);
        const zones: Record<string, LedgerCounts> = {};
        for (const zone of [...ZONES, 'zq']) {
          const here = down.filter((m) => m.zone === zone).length;
          const z = l.zones[zone] ?? { capacity: 0, used: 0, observed: 0 };
          zones[zone] = { ...z, observed: z.observed + here, used: z.used + here };
        }
        const state = ledger(
          { capacity: l.overall.capacity + 10, used: l.overall.used + down.length, observed: down.length },
          zones,
        );
        const check = checkReservation('web', state, members);
        if (check.room) expect([...check.counts.transferredIds].sort()).toEqual(down.map((m) => m.id).sort());
      }),
    );
  });

  it('never finds room for more members where it found none for fewer', () => {
    fc.assert(
      fc.property(arbitraryLedger, arbitraryMembers, arbitraryMembers, (l, some, more) => {
        const state = build(l);
        const extra = more.map((m, i) => ({ ...m, id: `j-${i}` }));
        if (!checkReservation('web', state, some).room)
          expect(checkReservation('web', state, [...some, ...extra]).room).toBe(false);
      }),
    );
  });
});
