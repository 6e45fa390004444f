/**
 * The breaker's counts per scope (account, zone, service), kept with the ledgers so that a
 * decision reads a handful of items whatever the fleet's size:
 * - `members` and `unavailable` are set by each inventory sweep (the whole fleet is in hand then);
 * - `flagged` is the number of open health findings on the scope's instances, counted up when a
 *   finding is recorded and down when its case closes it, in the same write as the finding itself.
 * An instance is counted once: the sweep's `unavailable` leaves out instances that have an open
 * health finding (they are in `flagged`). Between two sweeps an instance can be counted twice (it
 * was unavailable at the sweep and a finding came since) or not at all (its finding closed while
 * it is still down); both last until the next sweep, and the first only makes the breaker open
 * sooner.
 */
import { type FindingKind, SCHEDULED_FINDING_KINDS } from '../events/findings';
import { type Instance, isUnavailable } from '../fleet/fleet';

/** One scope's counts, as the fleet-state table keeps them. */
export interface ScopeCount {
  /** `account`, `zone:<zone>` or `service:<service>`. */
  readonly scope: string;
  /** Instances not terminated (at the last sweep). */
  readonly members: number;
  /** Of those, unavailable (fleet.ts `isUnavailable`) but neither impaired nor with an open health finding (at the last sweep). */
  readonly unavailable: number;
  /** Open health findings on the scope's instances (now). */
  readonly flagged: number;
}

/** Where the breaker's counts come from (DynamoDB: the fleet store's `HEALTH` items; the simulator's memory store). */
export interface ScopeHealthSource {
  /** The counts of the account, the target's zone and the target's service, in that order. */
  scopeHealth(target: { readonly zone: string; readonly service: string }): Promise<ScopeCount[]>;
  /**
   * When the inventory last wrote this instance's record (epoch ms: the time its sweep observed
   * the fleet; a sweep writes only what it saw change), or undefined. A held case trusts a sweep's "back in service" only from a record written
   * since the case opened: the sweep saw the instance change, not merely never saw it fail.
   */
  recordWrittenAt(instanceId: string): Promise<number | undefined>;
}

/** The scopes a target is in, widest first. */
export const scopesOf = (target: { readonly zone: string; readonly service: string }): string[] => [
  'account',
  `zone:${target.zone}`,
  `service:${target.service}`,
];

/**
 * Findings that say an instance is unhealthy now (failed checks, degraded hardware, an unexpected
 * stop or termination, a Spot interruption). Scheduled events (AWS acts at a set time on a healthy
 * instance) and rebalance recommendations (a risk, not a failure) are not: a wave of retirement
 * notices is maintenance, not an outage.
 */
export const isHealthFinding = (kind: FindingKind): boolean =>
  !SCHEDULED_FINDING_KINDS.has(kind) && kind !== 'rebalance-recommendation';

/**
 * Every scope's members and unavailable instances, as a sweep sets them: one pass over the
 * inventory; `flaggedIds` are the instances with an open health finding (left out of
 * `unavailable`, since `flagged` counts them).
 */
export function populationOf(
  instances: readonly Instance[],
  flaggedIds: ReadonlySet<string> = new Set(),
): Map<string, { members: number; unavailable: number }> {
  const counts = new Map<string, { members: number; unavailable: number }>([
    ['account', { members: 0, unavailable: 0 }],
  ]);
  const add = (scope: string, down: boolean) => {
    let c = counts.get(scope);
    if (!c) {
      c = { members: 0, unavailable: 0 };
      counts.set(scope, c);
    }
    c.members++;
    if (down) c.unavailable++;
  };
  for (const i of instances) {
    if (i.state === 'terminated') continue;
    // An impaired instance is counted by its status-check finding (the sweep records it in the
    // same run, before these counts; an alarm may have recorded it sooner).
    const down = isUnavailable(i) && i.health !== 'impaired' && !flaggedIds.has(i.id);
    for (const scope of scopesOf(i)) add(scope, down);
  }
  return counts;
}

/**
 * The counts of `target`'s scopes from a whole inventory and its open health findings: what the
 * stored counts amount to right after a sweep (the reference the stores are tested against). The
 * target counts as a member even when the inventory misses it.
 */
export function scopeCountsFrom(
  target: Instance,
  instances: readonly Instance[],
  openFindings: ReadonlyArray<{ readonly instanceId: string }>,
): ScopeCount[] {
  const ids = new Set(instances.map((i) => i.id));
  const listed = ids.has(target.id) ? instances : [...instances, target];
  const byId = new Map(listed.map((i) => [i.id, i]));
  const flaggedIds = new Set(openFindings.map((f) => f.instanceId));
  const population = populationOf(listed, flaggedIds);
  const flagged = new Map<string, number>();
  for (const f of openFindings) {
    const i = byId.get(f.instanceId);
    for (const scope of i && i.state !== 'terminated' ? scopesOf(i) : ['account']) {
      flagged.set(scope, (flagged.get(scope) ?? 0) + 1);
    }
  }
  return scopesOf(target).map((scope) => ({
    scope,
    members: population.get(scope)?.members ?? 0,
    unavailable: population.get(scope)?.unavailable ?? 0,
    flagged: flagged.get(scope) ?? 0,
  }));
}
