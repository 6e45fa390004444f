import { type Instance, isUnavailable } from '../fleet';

export interface BreakerThresholds {
  /** A scope with more than this fraction unhealthy is having an outage. @default 0.2 */
  readonly maxUnhealthyFraction?: number;
  /** A finding this recent makes its instance count as unhealthy. @default 30 */
  readonly windowMinutes?: number;
  /** Remediations already running in a scope that stop another from starting there. @default 5 */
  readonly maxInFlightPerScope?: number;
  /**
   * The smallest denominator of the unhealthy fraction: a scope with fewer instances is judged as
   * if it had this many, so one bad box in a 3-instance service (1 of 5 = 20%) is a bad box, while
   * two of them (2 of 5 = 40%) still look like an outage. @default 5
   */
  readonly minPopulation?: number;
}

export interface BreakerInput {
  /** The instance remediation wants to act on. */
  readonly target: Instance;
  readonly instances: readonly Instance[];
  /** Findings recorded lately (`at`: epoch milliseconds). */
  readonly recentFindings: ReadonlyArray<{ readonly instanceId: string; readonly at: number }>;
  /** Remediations in progress (the target's own, when it escalates, is not counted). */
  readonly inFlight: ReadonlyArray<{ readonly instanceId: string }>;
  /** Epoch milliseconds. */
  readonly now: number;
  readonly thresholds?: BreakerThresholds;
}

export type BreakerState =
  | { readonly open: false }
  | {
      readonly open: true;
      /** 'account', 'zone:us-east-1a' or 'service:web'. */
      readonly scope: string;
      readonly reason: string;
    };

interface Scope {
  readonly name: string;
  readonly contains: (instance: Pick<Instance, 'zone' | 'service'>) => boolean;
}

function resolve(thresholds: BreakerThresholds = {}) {
  const t = {
    maxUnhealthyFraction: thresholds.maxUnhealthyFraction ?? 0.2,
    windowMinutes: thresholds.windowMinutes ?? 30,
    maxInFlightPerScope: thresholds.maxInFlightPerScope ?? 5,
    minPopulation: thresholds.minPopulation ?? 5,
  };
  if (!(t.maxUnhealthyFraction >= 0 && t.maxUnhealthyFraction <= 1)) {
    throw new Error(`expected maxUnhealthyFraction in [0, 1], found ${t.maxUnhealthyFraction}`);
  }
  if (!(t.windowMinutes > 0 && Number.isFinite(t.windowMinutes))) {
    throw new Error(`expected windowMinutes > 0, found ${t.windowMinutes}`);
  }
  for (const name of ['maxInFlightPerScope', 'minPopulation'] as const) {
    if (!(Number.isInteger(t[name]) && t[name] >= 1)) {
      throw new Error(`expected ${name} to be a whole number ≥ 1, found ${t[name]}`);
    }
  }
  return t;
}

const percent = (x: number) => `${Math.round(x * 1000) / 10}%`;

/**
 * Whether automatic remediation of `target` must stop because its surroundings are having an
 * outage, not a bad instance:
 * 1. scopes, widest first: the account, the target's zone, the target's service;
 * 2. in each scope, unhealthy = non-terminated instances that are unavailable (not running or
 *    impaired) or have a finding within the window; more than `maxUnhealthyFraction` of
 *    max(population, `minPopulation`) unhealthy → open;
 * 3. `maxInFlightPerScope` remediations (other than the target's) already running in the scope →
 *    open: starting one more would make remediation itself the outage;
 * 4. the first open scope is returned; the caller stops automatic action there and pages (once per
 *    storm: `shouldPage`).
 * Monotone by construction: more unhealthy instances or findings never close an open breaker.
 */
export function evaluateBreaker(input: BreakerInput): BreakerState {
  const t = resolve(input.thresholds);
  const { target, now } = input;
  const since = now - t.windowMinutes * 60_000;
  const flagged = new Set(input.recentFindings.filter((f) => f.at >= since).map((f) => f.instanceId));
  const byId = new Map(input.instances.map((i) => [i.id, i] as const));
  if (!byId.has(target.id)) byId.set(target.id, target);
  const population = [...byId.values()].filter((i) => i.state !== 'terminated');
  const unhealthy = (i: Instance) => isUnavailable(i) || flagged.has(i.id);
  // Distinct instances: a remediation recorded twice is still one box being worked on.
  const othersInFlight = [...new Set(input.inFlight.map((f) => f.instanceId))].filter(
    (id) => id !== target.id,
  );

  const scopes: Scope[] = [
    { name: 'account', contains: () => true },
    { name: `zone:${target.zone}`, contains: (i) => i.zone === target.zone },
    { name: `service:${target.service}`, contains: (i) => i.service === target.service },
  ];
  for (const scope of scopes) {
    const members = population.filter(scope.contains);
    const bad = members.filter(unhealthy).length;
    const denominator = Math.max(members.length, t.minPopulation);
    if (bad / denominator > t.maxUnhealthyFraction) {
      const floor =
        members.length < t.minPopulation ? ` (counted as ${t.minPopulation}, the minimum population)` : '';
      return {
        open: true,
        scope: scope.name,
        reason: `${scope.name}: ${bad} of ${members.length} instances unhealthy${floor} = ${percent(bad / denominator)} > ${percent(t.maxUnhealthyFraction)} within ${t.windowMinutes} min: an outage, not a bad instance; automatic remediation stops here`,
      };
    }
    // An in-flight instance the inventory does not know is still in the account.
    const inScope = othersInFlight.filter((id) => {
      const instance = byId.get(id);
      return instance ? scope.contains(instance) : scope.name === 'account';
    }).length;
    if (inScope >= t.maxInFlightPerScope) {
      return {
        open: true,
        scope: scope.name,
        reason: `${scope.name}: ${inScope} remediations already in flight (at most ${t.maxInFlightPerScope}): automatic remediation stops here`,
      };
    }
  }
  return { open: false };
}

/**
 * Whether an open breaker pages a person now, so a storm yields one page, not one per event:
 * 1. never paged → page;
 * 2. the breaker was already open → the same storm, already paged → no page;
 * 3. it had closed and opens again → page only if the last page is at least `cooldownMinutes`
 *    old (a breaker flapping at the edge of its threshold is still one storm).
 * Call it when `evaluateBreaker` says open; record `{ open: true, pagedAt: now }` after paging.
 */
export function shouldPage(
  previous: { readonly open: boolean; readonly pagedAt?: number } | undefined,
  now: number,
  cooldownMinutes = 60,
): { page: boolean; reason: string } {
  if (previous?.pagedAt === undefined) return { page: true, reason: 'breaker open, nobody paged yet' };
  const minutesAgo = Math.floor((now - previous.pagedAt) / 60_000);
  if (previous.open) {
    return { page: false, reason: `same storm: paged ${minutesAgo} min ago and the breaker stayed open` };
  }
  if (now - previous.pagedAt >= cooldownMinutes * 60_000) {
    return {
      page: true,
      reason: `breaker open again, last page ${minutesAgo} min ago (cooldown ${cooldownMinutes} min)`,
    };
  }
  return {
    page: false,
    reason: `breaker reopened within the ${cooldownMinutes}-min cooldown (paged ${minutesAgo} min ago): one storm, one page`,
  };
}
