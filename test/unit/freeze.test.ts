import fc from 'fast-check';
import type { Freeze } from '../../functions/core/ports/index';
import { activeFreezes, freezeDecision } from '../../functions/core/safety/freeze';

const freeze = (fields: Partial<Freeze>): Freeze => ({
  id: 'frz-1',
  scope: 'account',
  start: '2026-12-20T00:00:00Z',
  end: '2027-01-02T00:00:00Z',
  reason: 'holidays',
  createdBy: 'ops',
  ...fields,
});
const at = (iso: string) => Date.parse(iso);

describe('freezes', () => {
  it('freeze mutating actions in their window and scope only', () => {
    const freezes = [freeze({}), freeze({ id: 'frz-2', scope: 'service:db', start: '2026-11-01T00:00:00Z' })];
    expect(freezeDecision(freezes, at('2026-12-25T00:00:00Z'), { services: ['web'] })).toMatchObject({
      allowed: false,
      reason: 'frozen by frz-1 (account, until 2027-01-02T00:00:00Z: holidays)',
    });
    expect(freezeDecision(freezes, at('2026-11-27T00:00:00Z'), { services: ['web'] }).allowed).toBe(true);
    expect(freezeDecision(freezes, at('2026-11-27T00:00:00Z'), { services: ['web', 'db'] }).allowed).toBe(
      false,
    );
    expect(freezeDecision(freezes, at('2027-01-02T00:00:00Z'), { services: ['web'] }).allowed).toBe(true);
  });

  it('let an emergency through only with a reason, and say what was overridden', () => {
    const freezes = [freeze({})];
    const now = at('2026-12-25T00:00:00Z');
    expect(freezeDecision(freezes, now, { services: ['web'], emergencyReason: '   ' }).allowed).toBe(false);
    expect(
      freezeDecision(freezes, now, {
        services: ['web'],
        emergencyReason: 'CVE-2026-1234 actively exploited',
      }),
    ).toEqual({
      allowed: true,
      overridden: freezes,
      reason:
        'emergency override of frz-1 (account, until 2027-01-02T00:00:00Z: holidays): CVE-2026-1234 actively exploited',
    });
  });

  it('stop at the moment a freeze is ended early', () => {
    const ended = freeze({ endedAt: '2026-12-22T00:00:00Z' });
    expect(activeFreezes([ended], at('2026-12-21T00:00:00Z'))).toHaveLength(1);
    expect(activeFreezes([ended], at('2026-12-22T00:00:00Z'))).toHaveLength(0);
  });

  it('never allow a covered action without an emergency reason (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: -100, max: 2100 }),
        (start, length, t) => {
          const base = at('2026-12-01T00:00:00Z');
          const f = freeze({
            start: new Date(base + start * 60_000).toISOString(),
            end: new Date(base + (start + length) * 60_000).toISOString(),
          });
          const now = base + t * 60_000;
          const inside = t >= start && t < start + length;
          expect(freezeDecision([f], now, { services: ['x'] }).allowed).toBe(!inside);
        },
      ),
    );
  });
});
