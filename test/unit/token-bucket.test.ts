import fc from 'fast-check';
import { type Clock, TokenBucket } from '../../functions/core/shared/token-bucket';

function virtualClock(): Clock & { elapsed: () => number } {
  let t = 0;
  return {
    now: () => t,
    sleep: async (ms) => {
      t += ms;
    },
    elapsed: () => t,
  };
}

describe('TokenBucket', () => {
  it('never lets more than capacity + rate × elapsed requests through', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 300 }),
        async (rate, capacity, requests) => {
          const clock = virtualClock();
          const bucket = new TokenBucket(rate, capacity, clock);
          await Promise.all(Array.from({ length: requests }, () => bucket.take()));
          const allowed = capacity + (clock.elapsed() / 1000) * rate;
          expect(requests).toBeLessThanOrEqual(Math.floor(allowed + 1e-9));
          // …and it does not wait much longer than it must.
          const needed = Math.max(0, (requests - capacity) / rate) * 1000;
          expect(clock.elapsed()).toBeLessThanOrEqual(needed + requests + 1000 / rate);
        },
      ),
    );
  });

  it('rejects a rate or capacity that cannot work', () => {
    expect(() => new TokenBucket(0, 10)).toThrow(
      'expected rate > 0 and capacity ≥ 1, found rate 0, capacity 10',
    );
  });
});
