/**
 * A client-side token bucket: requests wait for a token instead of being throttled by the
 * service. EC2's Describe* actions are refilled at about 20 requests per second per account;
 * FleetOps takes less than that so other tools in the account keep their share.
 */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export class TokenBucket {
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    /** Tokens added per second. */
    readonly ratePerSecond: number,
    /** The most tokens the bucket holds: the largest burst. */
    readonly capacity: number,
    private readonly clock: Clock = realClock,
  ) {
    if (!(ratePerSecond > 0) || !(capacity >= 1)) {
      throw new Error(
        `token bucket: expected rate > 0 and capacity ≥ 1, found rate ${ratePerSecond}, capacity ${capacity}`,
      );
    }
    this.tokens = capacity;
    this.last = clock.now();
  }

  /** Waits until a token is available and takes it. Callers are served in arrival order. */
  take(): Promise<void> {
    const turn = this.queue.then(() => this.takeNow());
    this.queue = turn;
    return turn;
  }

  private async takeNow(): Promise<void> {
    for (;;) {
      const now = this.clock.now();
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
      this.last = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await this.clock.sleep(Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000));
    }
  }
}
