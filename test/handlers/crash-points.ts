/**
 * Crash injection for intake tests: ports wrapped so that the k-th write completes and then the
 * caller dies (an exception, as a killed process or a Lambda that timed out leaves it: the write
 * is done, nothing after it ran). Reads pass through. Every wrapped port shares one counter, so
 * k walks every position between two writes of a use case, and after its last one.
 */
export class Crash extends Error {
  override name = 'Crash';
}

export class CrashPoints {
  /** Writes completed so far, in order (`port.method`). */
  readonly writes: string[] = [];

  /** @param crashAfter the write after which to crash (1-based); undefined: count only. */
  constructor(private readonly crashAfter?: number) {}

  get crashed(): boolean {
    return this.crashAfter !== undefined && this.writes.length >= this.crashAfter;
  }

  wrap<T extends object>(name: string, target: T, writes: readonly string[]): T {
    return new Proxy(target, {
      get: (t, prop) => {
        const value = Reflect.get(t, prop, t);
        if (typeof value !== 'function') return value;
        if (typeof prop !== 'string' || !writes.includes(prop)) return value.bind(t);
        return async (...args: unknown[]) => {
          if (this.crashed) throw new Crash(`already crashed: ${name}.${String(prop)} never ran`);
          const result = await value.apply(t, args);
          this.writes.push(`${name}.${String(prop)}`);
          if (this.writes.length === this.crashAfter) {
            throw new Crash(`crash after write ${this.crashAfter} (${name}.${String(prop)})`);
          }
          return result;
        };
      },
    });
  }
}

/** The methods of the intake's ports that write (everything else they call only reads). */
export const WRITES = {
  fleet: [
    'recordFinding',
    'recordFindings',
    'settleFinding',
    'audit',
    'putInstances',
    'reconcileLedgers',
    'closeFinding',
  ],
  cases: ['open', 'markStarted', 'decide', 'setStatus'],
  executions: ['start'],
  leases: ['reclaimExpired'],
} as const;
