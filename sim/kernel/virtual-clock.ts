import type { Clock } from '../../functions/core/shared/token-bucket';
import { MinHeap } from './min-heap';

/** A scheduled event; `cancel` takes it back (it is then dropped without stopping the clock at its time). */
export interface Timer {
  readonly time: number;
  readonly seq: number;
  readonly run: () => void;
  cancelled: boolean;
}

/** Lets every promise chain that can run now run to its next sleep (microtasks drain before setImmediate). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A discrete-event clock: simulated time jumps from one scheduled event to the next, nothing
 * really sleeps. Processes are ordinary async functions (the same use cases the Lambdas run);
 * `sleep` parks one until the clock reaches its wake-up time, so a Step Functions Wait state,
 * a token bucket's wait and an instance rebooting for three minutes all cost no wall-clock time.
 *
 * Deterministic: events at the same time run in the order they were scheduled, and between two
 * instants every runnable process runs to its next sleep before time moves on.
 */
export class VirtualClock implements Clock {
  private time: number;
  private readonly timers = new MinHeap<Timer>(
    (a, b) => a.time < b.time || (a.time === b.time && a.seq < b.seq),
  );
  private seq = 0;
  private live = 0;
  private failure: { error: unknown } | undefined;
  /** Distinct instants the clock has stopped at. */
  instants = 0;

  constructor(start: number) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.at(this.time + Math.max(0, ms), resolve));
  }

  /** Runs `run` when the clock reaches `time` (or at once, in order, if that is already past). */
  at(time: number, run: () => void): Timer {
    const timer: Timer = { time: Math.max(time, this.time), seq: this.seq++, run, cancelled: false };
    this.timers.push(timer);
    return timer;
  }

  /** Takes back a scheduled event (a cleared timeout): it never runs, and the clock never stops for it. */
  cancel(timer: Timer): void {
    timer.cancelled = true;
  }

  /** Stops the simulation with this error (a bug, never an outcome), as a process that threw would. */
  fail(error: unknown): void {
    this.failure ??= { error };
  }

  /** Starts a process; if it throws, the simulation stops with its error (a bug, never an outcome). */
  spawn(process: () => Promise<void>): void {
    this.live++;
    process().then(
      () => {
        this.live--;
      },
      (error: unknown) => {
        this.live--;
        this.failure ??= { error };
      },
    );
  }

  /** Processes started and not yet ended. */
  get running(): number {
    return this.live;
  }

  /** Runs until nothing is scheduled any more. A process still waiting then can never wake: an error. */
  async run(): Promise<void> {
    for (;;) {
      await settle();
      if (this.failure) throw this.failure.error;
      while (this.timers.peek()?.cancelled) this.timers.pop();
      const next = this.timers.peek();
      if (!next) break;
      const time = next.time;
      this.time = time;
      this.instants++;
      while (this.timers.peek()?.time === time) {
        const timer = this.timers.pop()!;
        if (!timer.cancelled) timer.run();
      }
    }
    if (this.live > 0) throw new Error(`simulation stalled: ${this.live} processes wait for nothing`);
  }
}
