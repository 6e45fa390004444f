import type { Timer, VirtualClock } from './virtual-clock';

/**
 * The global timers on the virtual clock, for as long as one simulation runs.
 *
 * aws-local-stepfunctions sleeps with the global `setTimeout`: a Wait state (Seconds,
 * SecondsPath; Timestamp and TimestampPath measured against `Date.now()`), the interval before
 * a retry, and each Task's and the execution's TimeoutSeconds (`setTimeout`, then `clearTimeout`
 * when the Task ends first). Inside `onVirtualTime`, `setTimeout` schedules on the clock (and
 * `clearTimeout` takes the event back, so a week-long approval timeout that never fires never
 * stops the clock), and `Date.now` reads it. So the deployed definition runs unmodified: its
 * own Wait, Retry, Catch and timeouts decide, only time is simulated.
 *
 * Why this and not rewriting each Wait state into a Task that awaits the clock: that changes
 * the definition under test, and it would leave the retry back-off and the Task timeouts on
 * real time (nothing would ever time out, and a retry would really sleep).
 *
 * The shim is global: one simulation at a time (a second one started meanwhile throws), and the
 * originals come back in `finally`, even when the simulation throws.
 */

/** A handle `setTimeout` returns while the shim is installed; Node's own handles still clear. */
class VirtualTimeout {
  constructor(readonly timer: Timer) {}
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  hasRef(): boolean {
    return true;
  }
}

let installed = false;

export async function onVirtualTime<T>(clock: VirtualClock, run: () => Promise<T>): Promise<T> {
  if (installed) throw new Error('onVirtualTime: a simulation is already running on virtual time');
  const g = globalThis as unknown as {
    setTimeout: (...args: unknown[]) => unknown;
    clearTimeout: (handle: unknown) => void;
  };
  const saved = { setTimeout: g.setTimeout, clearTimeout: g.clearTimeout, now: Date.now };
  installed = true;
  g.setTimeout = (callback: unknown, ms?: unknown, ...args: unknown[]) => {
    if (typeof callback !== 'function') throw new TypeError('setTimeout: expected a function');
    const delay = typeof ms === 'number' && ms > 0 ? ms : 0;
    return new VirtualTimeout(clock.at(clock.now() + delay, () => callback(...args)));
  };
  g.clearTimeout = (handle: unknown) => {
    if (handle instanceof VirtualTimeout) clock.cancel(handle.timer);
    else saved.clearTimeout(handle);
  };
  Date.now = () => clock.now();
  try {
    return await run();
  } finally {
    g.setTimeout = saved.setTimeout;
    g.clearTimeout = saved.clearTimeout;
    Date.now = saved.now;
    installed = false;
  }
}
