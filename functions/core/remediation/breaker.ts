/**
 * The remediation breaker: automatic remediation stops in a scope (account, zone, service) that
 * looks like an outage rather than a bad instance, and a person is paged once per scope.
 */
import { BREAKER_MAX_IN_FLIGHT, BREAKER_MAX_UNHEALTHY_PERCENT } from '../defaults';
import { type Instance, isUnavailable } from '../fleet/fleet';
import type { InFlightLimits } from './caps';
import type { ScopeCount } from './scope-health';

export interface BreakerThresholds {
  /** A scope with more than this fraction unhealthy is having an outage. @default 0.2 (core/defaults.ts) */
  readonly maxUnhealthyFraction?: number;
  /** A finding this recent makes its instance count as unhealthy. @default 30 */
  readonly windowMinutes?: number;
  /** Remediations already running in a scope that stop another from starting there. @default 5 (core/defaults.ts) */
  readonly maxInFlightPerScope?: number;
  /**
   * The smallest denominator of the unhealthy fraction: a scope with fewer instances is judged as
   * if it had this many, so one bad box in a 3-instance service (1 of 5 = 20%) is a bad box, while
   * two of them (2 of 5 = 40%) still look like an outage. @default 5
   */
  readonly minPopulation?: number;
  /** In-flight caps per scope, enforced with the case's lease (caps.ts); defaults scale with the fleet. */
  readonly inFlight?: InFlightLimits;
  /** How often a case the open breaker holds decides again. @default 10 (core/defaults.ts) */
  readonly recheckMinutes?: number;
  /** How long at most an open breaker holds a case before it ends `skipped`. @default 360 (core/defaults.ts) */
  readonly holdMinutes?: number;
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

function resolve(thresholds: BreakerThresholds = {}) {
  const t = {
    maxUnhealthyFraction: thresholds.maxUnhealthyFraction ?? BREAKER_MAX_UNHEALTHY_PERCENT / 100,
    windowMinutes: thresholds.windowMinutes ?? 30,
    maxInFlightPerScope: thresholds.maxInFlightPerScope ?? BREAKER_MAX_IN_FLIGHT,
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
  const flagged = new Set<string>();
  for (const f of input.recentFindings) if (f.at >= since) flagged.add(f.instanceId);
  // Distinct instances: a remediation recorded twice is still one box being worked on.
  const othersInFlight = new Set<string>();
  for (const f of input.inFlight) if (f.instanceId !== target.id) othersInFlight.add(f.instanceId);

  // One pass over the inventory (100,000 instances at the largest, on every decision): each
  // scope's population, unhealthy members and remediations in flight. The inventory lists each
  // instance once (it is keyed by id); the target counts even when the inventory misses it.
  const scopes = [
    { name: 'account', members: 0, bad: 0, inFlight: 0 },
    { name: `zone:${target.zone}`, members: 0, bad: 0, inFlight: 0 },
    { name: `service:${target.service}`, members: 0, bad: 0, inFlight: 0 },
  ];
  const [account, zone, service] = scopes;
  const seenInFlight = new Set<string>();
  let sawTarget = false;
  const count = (i: Instance) => {
    if (i.state === 'terminated') return;
    const bad = isUnavailable(i) || (flagged.size > 0 && flagged.has(i.id));
    const working = othersInFlight.size > 0 && othersInFlight.has(i.id);
    if (working) seenInFlight.add(i.id);
    const inZone = i.zone === target.zone;
    const inService = i.service === target.service;
    account.members++;
    if (inZone) zone.members++;
    if (inService) service.members++;
    if (bad) {
      account.bad++;
      if (inZone) zone.bad++;
      if (inService) service.bad++;
    }
    if (working) {
      account.inFlight++;
      if (inZone) zone.inFlight++;
      if (inService) service.inFlight++;
    }
  };
  for (const i of input.instances) {
    if (i.id === target.id) sawTarget = true;
    count(i);
  }
  if (!sawTarget) count(target);
  // An in-flight instance the inventory does not know is still in the account.
  account.inFlight += othersInFlight.size - seenInFlight.size;

  return judge(
    scopes.map((s) => ({ scope: s.name, members: s.members, bad: s.bad, inFlight: s.inFlight })),
    t,
    ` within ${t.windowMinutes} min`,
  );
}

/**
 * The breaker from the stored counts of the target's scopes (scope-health.ts: account, zone,
 * service), as a decision evaluates it: a handful of items read, whatever the fleet's size.
 * Unhealthy = unavailable at the last sweep + open health findings; in-flight remediations are
 * capped where they are taken (caps.ts, with the lease), so only the fraction is judged here.
 * The same thresholds and the same order as `evaluateBreaker`; a finding counts until its case
 * ends (no window): the breaker closes when the scope's instances are back, not when the findings
 * of a storm that goes on grow old.
 */
export function breakerFromCounts(
  counts: readonly ScopeCount[],
  thresholds?: BreakerThresholds,
): BreakerState {
  const t = resolve(thresholds);
  return judge(
    counts.map((c) => ({ scope: c.scope, members: c.members, bad: c.unavailable + c.flagged, inFlight: 0 })),
    t,
    '',
  );
}

function judge(
  scopes: ReadonlyArray<{ scope: string; members: number; bad: number; inFlight: number }>,
  t: ReturnType<typeof resolve>,
  within: string,
): BreakerState {
  for (const scope of scopes) {
    const denominator = Math.max(scope.members, t.minPopulation);
    if (scope.bad / denominator > t.maxUnhealthyFraction) {
      const floor =
        scope.members < t.minPopulation ? ` (counted as ${t.minPopulation}, the minimum population)` : '';
      return {
        open: true,
        scope: scope.scope,
        reason: `${scope.scope}: ${scope.bad} of ${scope.members} instances unhealthy${floor} = ${percent(scope.bad / denominator)} > ${percent(t.maxUnhealthyFraction)}${within}: an outage, not a bad instance; automatic remediation stops here`,
      };
    }
    if (scope.inFlight >= t.maxInFlightPerScope) {
      return {
        open: true,
        scope: scope.scope,
        reason: `${scope.scope}: ${scope.inFlight} remediations already in flight (at most ${t.maxInFlightPerScope}): automatic remediation stops here`,
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
