import {
  LOOK_MARGIN_SECONDS,
  OVERDUE_LOOK_SECONDS,
  SETTLE_FIRST_WAIT_SECONDS,
  settleCapSeconds,
  settleWaitAfter,
  settleWaitFor,
} from '../../functions/core/change/actions/index';

describe("settle's looks (actions/index.ts)", () => {
  const now = Date.UTC(2026, 0, 1);

  it('waits by the schedule: 30 s after the first look, doubling, at most the cap', () => {
    expect(SETTLE_FIRST_WAIT_SECONDS).toBe(15);
    expect([0, 1, 2, 3, 4, 5].map((p) => settleWaitAfter(p, settleCapSeconds(900)))).toEqual([
      30, 60, 120, 240, 300, 300,
    ]);
  });

  it('looks a few seconds past a drain’s end or a readiness when that comes before the scheduled look', () => {
    // Due in 40 s, the schedule says 300 s: look at 45 s.
    expect(settleWaitFor(300, now, now + 40_000)).toBe(40 + LOOK_MARGIN_SECONDS);
    // A fraction of a second rounds up: never before the bound.
    expect(settleWaitFor(300, now, now + 40_200)).toBe(41 + LOOK_MARGIN_SECONDS);
    // The schedule comes first: it wins.
    expect(settleWaitFor(30, now, now + 40_000)).toBe(30);
    // No bound: the schedule.
    expect(settleWaitFor(240, now, undefined)).toBe(240);
  });

  it('a bound passed with the work not done: looks again soon, never later than the schedule', () => {
    expect(settleWaitFor(300, now, now - 1)).toBe(OVERDUE_LOOK_SECONDS);
    expect(settleWaitFor(300, now, now)).toBe(OVERDUE_LOOK_SECONDS);
    expect(settleWaitFor(15, now, now - 1)).toBe(15);
  });
});
