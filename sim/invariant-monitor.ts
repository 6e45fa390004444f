import type { ActionType } from '../functions/core/change/spec';
import { isEnded } from '../functions/core/change/status';
import { BREAKER_MAX_UNHEALTHY_PERCENT } from '../functions/core/defaults';
import type { Instance } from '../functions/core/fleet/fleet';
import { isDisruptive, type ServiceCatalog } from '../functions/core/fleet/services';
import type { Lease, LeaseStore } from '../functions/core/ports/index';
import type { TrafficExits } from '../functions/core/ports/traffic';
import type { ResolvedBudget } from '../functions/core/safety/budget';
import type { ActionObserver, ActKind } from './adapters';
import type { TrafficKind, TrafficObserver } from './adapters/common';
import { MinHeap } from './kernel/min-heap';
import type { VirtualClock } from './kernel/virtual-clock';
import {
  type Fault,
  outOfTraffic,
  type Recoverer,
  reallyDown,
  type SimWorld,
  type Slot,
  type WorldListener,
} from './world/sim-world';
import type { FailCause } from './world/traffic-world';

/** The invariants of the design (DESIGN.md, "The invariants") the simulation checks as it runs. */
export const CHECKED_INVARIANTS = [
  'disruption-budget',
  'one-actor',
  'at-most-once',
  'traffic-budget',
  'drain-before-act',
  'no-replacement',
  'back-in-service',
  'every-path-ends',
  'change-coverage',
  'in-flight-cap',
  'breaker',
] as const;
export type InvariantName = (typeof CHECKED_INVARIANTS)[number];

export interface Violation {
  readonly invariant: InvariantName;
  /** `service:<name>`, `service:<name>@<zone>`, `instance:<id>`, `fault:<n>` or `change:<id>`. */
  readonly subject: string;
  /** Simulated minutes since the start. */
  readonly minute: number;
  readonly at: string;
  readonly detail: string;
}

interface Hold {
  readonly owner: string;
  readonly token: number;
  until: number;
  readonly reserved: boolean;
}

interface Watched {
  readonly service: string;
  readonly zone: string;
  /** Running, checks ok, not rebooting, `InService` if in a group: what a change may act on. */
  up: boolean;
  /** When it last came up (or was first seen up). */
  upSince: number;
  /** When a lease on it last ended (released or expired), of any owner. */
  holdEndedAt: number;
  /** Really not serving: stopped, impaired, rebooting, being replaced… */
  down: boolean;
  hold: Hold | undefined;
  /** Counted against the budget: down, or held by a lease that reserves budget. */
  counted: boolean;
  /** Out of traffic: down, not `InService` in its group, or not `healthy` in one of its target groups. */
  out: boolean;
  /** Counted against the budget in traffic terms: out of traffic, or held by a lease that reserves budget. */
  outCounted: boolean;
  /** Not terminated: a member of its scopes (account, zone, service). */
  live: boolean;
  /** The fault whose status-check alarm has fired and that is still there: counted unhealthy in its scopes. */
  alarmed: Fault | undefined;
  /** Its scopes' tallies (account, zone, service), for the breaker check. */
  readonly scopes: readonly ScopeTally[];
}

/** One breaker scope as the monitor counts it from the world (never from FleetOps' counts). */
interface ScopeTally {
  readonly scope: string;
  /** Instances not terminated, now. */
  members: number;
  /** Members at the last inventory sweep (what FleetOps' counts are a fraction of). */
  swept: number;
  /** Members failing a status check whose alarm has fired (a finding FleetOps has recorded). */
  bad: number;
  /** When it last went over the breaker's threshold (for the violation's detail). */
  overSince: number | undefined;
}

/**
 * The breaker's documented rule (README "Remediation", breaker.ts): more than 20% of a scope
 * unhealthy stops automatic remediation there; a scope smaller than 5 is judged as 5.
 */
const BREAKER_FRACTION = BREAKER_MAX_UNHEALTHY_PERCENT / 100;
const BREAKER_MIN_POPULATION = 5;

/** What FleetOps did to an instance that is not back in traffic yet. */
interface Touch {
  readonly owner: string;
  readonly kind: ActKind | TrafficKind;
}

interface Tally {
  /** The declared budget over the population as the sweep last saw it (`rebudget`). */
  cap: number;
  count: number;
  peak: number;
}

/** Kept in full; beyond this only counted. */
const KEPT_VIOLATIONS = 100;

/** What the coverage check reads when the change ends: its target now, and who changed what. */
export interface CoverageInput {
  readonly changeId: string;
  /** Instances that match the change's target now (not terminated). */
  readonly targeted: readonly Instance[];
  /** Instances an attempt of the change recorded its action on. */
  readonly changed: ReadonlySet<string>;
  /** Instances a plan or a wave of the change lists as skipped, with why (what `change status` shows). */
  readonly listed: ReadonlyMap<string, string>;
  /** Why an instance may not be changed now (the planner's rule, the leases now); undefined: eligible. */
  readonly whyNot: (instance: Instance) => string | undefined;
  /**
   * When the change last looked for this instance: its last wave's lease, or, for one the last
   * attempt's target does not name (it joined after that attempt was planned), that planning.
   * What became eligible after it may have missed the look.
   */
  readonly lastLook: (instance: Instance) => number;
}

/** How the instances of the change's target stand at its end. */
export interface Coverage {
  readonly targeted: number;
  readonly changed: number;
  /** Not eligible now (not running, impaired, held, no budget…), by reason (its first words). */
  readonly notEligible: Readonly<Record<string, number>>;
  /** Eligible, not changed, and listed as skipped by a plan or a wave of the change, with why. */
  readonly listed: number;
  /** Eligible only since the change's last look (launched, back, or let go after it). */
  readonly joinedAfterLastLook: number;
  /** Eligible before the last look, never changed, listed nowhere: a change-coverage violation each. */
  readonly uncovered: number;
}

/**
 * Watches the simulation from outside the core and the ports, with its own bookkeeping, and
 * records every violation of (4 to 7: the traffic protocol, issue 14):
 *
 * 1. **disruption-budget**: per service, overall and per zone, the instances counted against the
 *    budget are those really not serving plus those held by a lease that reserves budget. Faults
 *    alone may push a service over its budget; FleetOps must never add to it: at every lease
 *    grant, the count including the grant must stay within the budget, or the grant must add
 *    nothing (every instance it holds was already counted). At every act, the actor's lease must
 *    reserve budget unless the service declared that action non-disruptive.
 * 2. **one-actor**: no lease is granted on an instance while another owner's lease on it is live;
 *    every EC2 action and every recorded action comes from the owner of the live lease, at its
 *    fencing token.
 * 3. **at-most-once**: a change's action is recorded, and applied, at most once per instance; a
 *    remediation case applies each step at most once; one fault is acted on by one case only.
 * 4. **traffic-budget**: the same budgets over instances out of traffic (down, not `InService`
 *    in their group, not `healthy` in one of their target groups) plus those a reserving lease
 *    holds: at every grant, and at every moment an instance FleetOps acted on goes out of
 *    traffic without a reserving lease on it, the count stays within the budget.
 * 5. **drain-before-act**: no RebootInstances or StopInstances reaches an instance `healthy` in a
 *    target group or `InService` in its group; no termination one `healthy` in a target group
 *    its group does not drain it from.
 * 6. **no-replacement**: no instance FleetOps acted on (and that is not back yet) is replaced by
 *    its group's health check.
 * 7. **back-in-service**: when a change ends, every instance it acted on is back (running, status
 *    checks ok, `InService`, `healthy` in every target group it was in) or still has a traffic
 *    exit recorded (stuck, or kept for the sweep); broken ones (a fault), terminated ones and those
 *    their owner is scaling in (churn) aside.
 * 8. **every-path-ends**: when a change's execution ends, the change has ended too (completed,
 *    failed, rolled back, aborted): no error leaves it `running` or waiting.
 * 9. **change-coverage** (`checkCoverage`, when a change completes): every instance that matches
 *    its target and is eligible then got the change, or a plan or a wave of the change lists it as
 *    skipped with why, or it became eligible only after the change's last look (its last wave's lease;
 *    for an instance the last attempt does not target, that attempt's planning).
 * 10. **in-flight-cap**: no scope ever has more remediation cases holding its in-flight slot at once
 *    than its cap (checked at every grant that takes slots).
 * 11. **breaker**: no automatic remediation action (a reboot, a stop, a termination sent by a case)
 *    starts in a scope (the account, the instance's zone, its service) whose breaker the documented
 *    rule opens: more than 20% of max(members, 5) unhealthy. The monitor counts from the world, not
 *    from FleetOps' counts or breaker state: unhealthy = failing a status check whose alarm has
 *    fired (FleetOps records the finding at that instant) and still failing; members = instances not
 *    terminated, now or at the last sweep, whichever is more. That is a lower bound of what FleetOps
 *    itself counts (its open findings, which stay open until their case closes them, plus what the
 *    last sweep saw unavailable), so the only tolerance is the information lag: a failure counts
 *    from its alarm (3 minutes after it began), never sooner; instances merely stopped or out of
 *    traffic are left out. A FleetOps that decided before a scope crossed its threshold and acts
 *    after is flagged: that is the check, not a tolerance.
 *
 * Budgets follow the population as the sweep sees it (`rebudget`, when instances are launched or
 * terminated), as the ledgers' capacities do.
 *
 * Counting is incremental (per instance flag, per service and zone tallies), so a check costs
 * what the grant or the act costs, never the fleet.
 */
export class InvariantMonitor implements ActionObserver, TrafficObserver, WorldListener {
  readonly violations: Violation[] = [];
  violationCount = 0;
  /** Violations per invariant (all of them, kept or not). */
  readonly violationsBy = Object.fromEntries(CHECKED_INVARIANTS.map((n) => [n, 0])) as Record<
    InvariantName,
    number
  >;
  readonly checked = { grants: 0, acts: 0, records: 0, trafficActions: 0, changesEnded: 0 };
  /** Members the groups replaced on their own health checks, and how many of them FleetOps had acted on. */
  readonly replacements = { byGroups: 0, afterFleetOps: 0 };
  private readonly watched = new Map<string, Watched>();
  private readonly tallies = new Map<string, Tally & { readonly zones: Map<string, Tally> }>();
  private readonly trafficTallies = new Map<string, Tally & { readonly zones: Map<string, Tally> }>();
  private readonly touched = new Map<string, Touch>();
  /** Per owner: the instances it acted on, and the target groups each was registered in then. */
  private readonly actedOn = new Map<
    string,
    Map<string, { kind: ActKind | TrafficKind; targetGroups: string[] }>
  >();
  private readonly expiries = new MinHeap<{ until: number; id: string; token: number }>(
    (a, b) => a.until < b.until,
  );
  private readonly recorded = new Set<string>();
  private readonly applied = new Set<string>();
  private readonly faultCases = new Map<number, string>();
  /** The breaker's scopes as the monitor counts them: `account`, `zone:<z>`, `service:<s>`. */
  private readonly scopes = new Map<string, ScopeTally>();
  /** Per in-flight scope, the most holders at once and its cap then (the report's `remediation.inFlight`). */
  readonly inFlightPeaks = new Map<string, { peak: number; cap: number }>();

  constructor(
    private readonly clock: VirtualClock,
    private readonly world: SimWorld,
    budgets: ReadonlyMap<string, ResolvedBudget>,
    private readonly catalog: ServiceCatalog,
    /** The change's action, to tell which acts spend budget. */
    private readonly changeAction: ActionType,
    private readonly start: number,
  ) {
    for (const [service, b] of budgets) {
      const zones = new Map<string, Tally>();
      for (const [zone, z] of b.zones) zones.set(zone, { cap: z.maxUnavailable, count: 0, peak: 0 });
      this.tallies.set(service, { cap: b.maxUnavailable, count: 0, peak: 0, zones });
      const trafficZones = new Map<string, Tally>();
      for (const [zone, z] of b.zones) trafficZones.set(zone, { cap: z.maxUnavailable, count: 0, peak: 0 });
      this.trafficTallies.set(service, { cap: b.maxUnavailable, count: 0, peak: 0, zones: trafficZones });
    }
    for (const instance of world.instances) this.added(world.slot(instance.id)!);
    world.listen(this);
  }

  /** The lease store, as the use cases see it, with every grant, release and record checked. */
  watch(store: LeaseStore): LeaseStore {
    return {
      acquire: async (request) => {
        const outcome = await store.acquire(request);
        if (outcome.acquired) {
          this.granted(outcome.leases);
          if (request.caps && request.caps.length > 0) this.tookSlots(request.caps, outcome.leases);
        }
        return outcome;
      },
      renew: async (leases, ttlMs, now) => {
        const renewed = await store.renew(leases, ttlMs, now);
        for (const l of renewed) {
          const w = this.watched.get(l.instanceId);
          if (w?.hold?.owner === l.owner && w.hold.token === l.token) {
            w.hold.until = l.until;
            this.expiries.push({ until: l.until, id: l.instanceId, token: l.token });
          }
        }
        return renewed;
      },
      release: async (owner, leases, stillUnavailable) => {
        await store.release(owner, leases, stillUnavailable);
        this.released(owner, leases);
      },
      releaseAll: async (owner, stillUnavailable) => {
        const n = await store.releaseAll(owner, stillUnavailable);
        for (const [id, w] of this.watched) {
          if (w.hold?.owner === owner) this.released(owner, [{ instanceId: id, ...w.hold }]);
        }
        return n;
      },
      recordAction: async (lease, changeId, result, now) => {
        const outcome = await store.recordAction(lease, changeId, result, now);
        if (outcome === 'recorded') this.recordedAction(lease, changeId);
        return outcome;
      },
      activeLeases: (now) => store.activeLeases(now),
      actionsOf: (changeId) => store.actionsOf(changeId),
      heldBy: (owner, ids, now) => store.heldBy(owner, ids, now),
      room: (services, zones) => store.room(services, zones),
      inFlight: (scopes, now) => store.inFlight(scopes, now),
    };
  }

  /** Per in-flight scope, its holders as granted (owner → the lease), live while their hold is. */
  private readonly slotHolders = new Map<string, Map<string, { id: string; token: number }>>();

  /** Invariant: no scope ever has more holders in flight than its cap. */
  private tookSlots(caps: ReadonlyArray<{ scope: string; max: number }>, leases: readonly Lease[]): void {
    const [lease] = leases;
    if (!lease) return;
    for (const cap of caps) {
      const holders = this.slotHolders.get(cap.scope) ?? new Map<string, { id: string; token: number }>();
      this.slotHolders.set(cap.scope, holders);
      holders.set(lease.owner, { id: lease.instanceId, token: lease.token });
      for (const [owner, h] of holders) {
        const w = this.watched.get(h.id);
        if (w?.hold?.owner !== owner || w.hold.token !== h.token) holders.delete(owner);
      }
      const peak = this.inFlightPeaks.get(cap.scope);
      if (!peak || holders.size > peak.peak || (holders.size === peak.peak && cap.max < peak.cap))
        this.inFlightPeaks.set(cap.scope, { peak: holders.size, cap: cap.max });
      if (holders.size > cap.max)
        this.violate(
          'in-flight-cap',
          `scope:${cap.scope}`,
          `${holders.size} remediations in flight in ${cap.scope}, at most ${cap.max}`,
        );
    }
  }

  /** Per service: the most instances ever out of traffic (or reserved) at once, and the budget. */
  trafficPeaks(): Array<{ service: string; peak: number; budget: number }> {
    return [...this.trafficTallies].map(([service, t]) => ({ service, peak: t.peak, budget: t.cap }));
  }

  /** Per service: the most instances ever counted against its budget at once, and the budget. */
  peaks(): Array<{ service: string; peak: number; budget: number; zonePeakRatio: number }> {
    return [...this.tallies].map(([service, t]) => {
      let zonePeakRatio = 0;
      for (const z of t.zones.values()) {
        if (z.cap > 0) zonePeakRatio = Math.max(zonePeakRatio, z.peak / z.cap);
        else if (z.peak > 0) zonePeakRatio = Number.POSITIVE_INFINITY;
      }
      return { service, peak: t.peak, budget: t.cap, zonePeakRatio };
    });
  }

  // ── world ──────────────────────────────────────────────────────────────────

  changed(slot: Slot): void {
    const id = slot.instance.id;
    const w = this.watched.get(id);
    if (!w) return;
    const up = isUp(slot);
    if (up && !w.up) w.upSince = this.clock.now();
    w.up = up;
    w.down = reallyDown(slot);
    const wasOut = w.out;
    w.out = outOfTraffic(slot);
    if (wasOut && !w.out) this.touched.delete(id);
    this.recount(w, id);
    if (w.alarmed && slot.fault !== w.alarmed) this.unalarm(w);
    if (w.live && slot.instance.state === 'terminated') {
      if (w.alarmed) this.unalarm(w);
      w.live = false;
      for (const t of w.scopes) t.members--;
    }
  }

  added(slot: Slot): void {
    const { service, zone } = slot.instance;
    const w: Watched = {
      service,
      zone,
      up: isUp(slot),
      upSince: this.clock.now(),
      holdEndedAt: Number.NEGATIVE_INFINITY,
      down: false,
      hold: undefined,
      counted: false,
      out: false,
      outCounted: false,
      live: slot.instance.state !== 'terminated',
      alarmed: undefined,
      scopes: ['account', `zone:${zone}`, `service:${service}`].map((scope) => this.scopeTally(scope)),
    };
    this.watched.set(slot.instance.id, w);
    if (slot.instance.state === 'terminated') return;
    for (const t of w.scopes) t.members++;
    w.down = reallyDown(slot);
    w.out = outOfTraffic(slot);
    this.recount(w);
  }

  /**
   * The group replaces a member on its health check: never one FleetOps acted on and has not
   * brought back (a broken instance, whose fault fails the check, is the group doing its job).
   */
  replaced(slot: Slot, reason: string, cause: FailCause): void {
    const id = slot.instance.id;
    this.replacements.byGroups++;
    const touch = this.touched.get(id);
    if (!touch || (slot.fault && cause !== 'state')) return;
    this.replacements.afterFleetOps++;
    this.violate(
      'no-replacement',
      `instance:${id}`,
      `its Auto Scaling group replaced it (${reason}) after ${touch.owner} sent ${touch.kind}`,
    );
  }

  // ── traffic ────────────────────────────────────────────────────────────────

  /** EnterStandby, ExitStandby, DeregisterTargets, RegisterTargets by FleetOps. */
  traffic(owner: string, _by: Recoverer, kind: TrafficKind, id: string): void {
    this.checked.trafficActions++;
    if (kind === 'standby' || kind === 'deregister') this.touch(owner, kind, id);
  }

  private touch(owner: string, kind: ActKind | TrafficKind, id: string): void {
    const slot = this.world.slot(id);
    if (!slot) return;
    if (!this.touched.has(id) || kind !== 'start') this.touched.set(id, { owner, kind });
    let mine = this.actedOn.get(owner);
    if (!mine) {
      mine = new Map();
      this.actedOn.set(owner, mine);
    }
    if (!mine.has(id))
      mine.set(id, {
        kind,
        targetGroups: slot.targetGroups.filter((tg) => tg.targets.has(id)).map((tg) => tg.arn),
      });
    else if (kind === 'terminate') mine.get(id)!.kind = kind;
  }

  /**
   * A change ended (its execution returned): every instance it (or its rollback) acted on is back
   * in traffic, or has an exit recorded; broken (faulted) and terminated ones aside.
   */
  async changeEnded(
    changeId: string,
    exits: TrafficExits,
    status?: { status: string; reason: string },
  ): Promise<void> {
    this.checked.changesEnded++;
    this.expire();
    if (status && !isEnded(status.status))
      this.violate(
        'every-path-ends',
        `change:${changeId}`,
        `its execution ended with the change still ${status.status} (${status.reason})`,
      );
    const notBack: Array<{ id: string; why: string }> = [];
    for (const owner of [changeId, `${changeId}-rollback`]) {
      for (const [id, a] of this.actedOn.get(owner) ?? []) {
        const slot = this.world.slot(id);
        if (
          !slot ||
          a.kind === 'terminate' ||
          slot.fault ||
          slot.scaledIn ||
          slot.instance.state === 'terminated'
        )
          continue;
        const hold = this.watched.get(id)?.hold;
        if (hold && hold.owner !== changeId && hold.owner !== `${changeId}-rollback`) continue;
        const why = this.notBackWhy(slot, a.targetGroups);
        if (why) notBack.push({ id, why });
      }
    }
    if (notBack.length === 0) return;
    const recorded = await exits.of(notBack.map((n) => n.id));
    for (const n of notBack)
      if (!recorded.has(n.id))
        this.violate(
          'back-in-service',
          `instance:${n.id}`,
          `${changeId} ended with it ${n.why}, and no exit recorded`,
        );
  }

  private notBackWhy(slot: Slot, targetGroups: readonly string[]): string | undefined {
    const i = slot.instance;
    if (i.state !== 'running' || i.health !== 'ok' || slot.rebooting)
      return `${slot.rebooting ? 'rebooting' : i.state}, status ${i.health}`;
    if (slot.member && slot.member.lifecycle !== 'InService')
      return `${slot.member.lifecycle} in ${slot.member.group.name}`;
    for (const arn of targetGroups) {
      const h = this.world.traffic.health(arn, i.id);
      if (h.state !== 'healthy')
        return `${h.state}${h.reason ? ` (${h.reason})` : ''} in ${arn.split('/').at(-2)}`;
    }
    return undefined;
  }

  // ── acts ───────────────────────────────────────────────────────────────────

  acting(owner: string, by: Recoverer, kind: ActKind, id: string): void {
    this.checked.acts++;
    this.expire();
    const w = this.watched.get(id);
    if (!w) return;
    if (kind === 'reboot' || kind === 'stop' || kind === 'terminate') {
      this.drainedBeforeAct(owner, kind, id);
      if (by === 'remediation') this.breakerClosed(owner, kind, id, w);
    }
    if (kind !== 'ssm') this.touch(owner, kind, id);
    const hold = w.hold;
    if (hold?.owner !== owner) {
      this.violate(
        'one-actor',
        `instance:${id}`,
        `${owner} sent ${kind} without holding the lease (${hold ? `held by ${hold.owner}` : 'not held'})`,
      );
    } else if (
      !hold.reserved &&
      isDisruptive(this.catalog.budgetOf(w.service).budget, this.actionOf(by, kind))
    ) {
      this.violate(
        'disruption-budget',
        `instance:${id}`,
        `${owner} sent ${kind} under a lease that reserves no budget, and ${w.service} counts it as disruptive`,
      );
    }
    // A stop-start's start completes the same step: only the first half is counted.
    if (kind !== 'start') {
      const key = `${owner}|${id}|${kind}`;
      if (this.applied.has(key))
        this.violate('at-most-once', `instance:${id}`, `${owner} sent ${kind} twice`);
      this.applied.add(key);
    }
    const fault = this.world.slot(id)?.fault;
    if (by === 'remediation' && fault) {
      const first = this.faultCases.get(fault.id);
      if (first !== undefined && first !== owner) {
        this.violate(
          'at-most-once',
          `fault:${fault.id}`,
          `fault on ${id} acted on by ${first} and by ${owner}`,
        );
      }
      this.faultCases.set(fault.id, first ?? owner);
    }
  }

  /** A disruptive action must find the instance out of traffic: not `healthy` in a target group, not `InService`. */
  private drainedBeforeAct(owner: string, kind: ActKind, id: string): void {
    const slot = this.world.slot(id);
    if (!slot || slot.instance.state === 'terminated') return;
    // TerminateInstanceInAutoScalingGroup: the group itself drains its attached target groups first.
    const drainedByGroup = (arn: string) =>
      kind === 'terminate' && slot.member?.group.targetGroups.some((tg) => tg.arn === arn) === true;
    const serving = slot.targetGroups.filter(
      (tg) => tg.targets.get(id)?.state === 'healthy' && !drainedByGroup(tg.arn),
    );
    const inService = kind !== 'terminate' && slot.member?.lifecycle === 'InService';
    if (serving.length === 0 && !inService) return;
    const where = [
      ...serving.map((tg) => `healthy in target group ${tg.service}`),
      ...(inService ? [`InService in ${slot.member!.group.name}`] : []),
    ];
    this.violate(
      'drain-before-act',
      `instance:${id}`,
      `${owner} sent ${kind} while it was ${where.join(' and ')}`,
    );
  }

  // ── the breaker ────────────────────────────────────────────────────────────

  private scopeTally(scope: string): ScopeTally {
    let t = this.scopes.get(scope);
    if (!t) {
      t = { scope, members: 0, swept: 0, bad: 0, overSince: undefined };
      this.scopes.set(scope, t);
    }
    return t;
  }

  /**
   * A status-check alarm fired for this fault (the world's detection, when FleetOps records the
   * finding): its instance counts as unhealthy in its scopes while the fault is there.
   */
  alarmed(fault: Fault): void {
    const w = this.watched.get(fault.instanceId);
    if (!w?.live || w.alarmed === fault || this.world.slot(fault.instanceId)?.fault !== fault) return;
    if (w.alarmed) this.unalarm(w);
    w.alarmed = fault;
    const now = this.clock.now();
    for (const t of w.scopes) {
      t.bad++;
      if (t.overSince === undefined && over(t)) t.overSince = now;
    }
  }

  private unalarm(w: Watched): void {
    w.alarmed = undefined;
    for (const t of w.scopes) {
      t.bad--;
      if (!over(t)) t.overSince = undefined;
    }
  }

  /** An inventory sweep ran: each scope's members as it saw them (FleetOps' counts are fractions of these). */
  swept(): void {
    for (const t of this.scopes.values()) {
      t.swept = t.members;
      if (!over(t)) t.overSince = undefined;
    }
  }

  /** Invariant: a remediation's reboot, stop or termination starts only where the breaker's rule keeps it closed. */
  private breakerClosed(owner: string, kind: ActKind, id: string, w: Watched): void {
    for (const t of w.scopes) {
      if (!over(t)) continue;
      const members = Math.max(t.members, t.swept);
      const since = t.overSince === undefined ? '' : `, over since minute ${this.minuteOf(t.overSince)}`;
      this.violate(
        'breaker',
        `scope:${t.scope}`,
        `${owner} sent ${kind} to ${id} while ${t.bad} of ${members} instances of ${t.scope} failed a status ` +
          `check their alarm had reported (${percent(t.bad / Math.max(members, BREAKER_MIN_POPULATION))} > ` +
          `${percent(BREAKER_FRACTION)}${since}): its breaker is open`,
      );
      return;
    }
  }

  private minuteOf(t: number): number {
    return Math.round((t - this.start) / 600) / 100;
  }

  // ── leases ─────────────────────────────────────────────────────────────────

  private granted(leases: readonly Lease[]): void {
    this.checked.grants++;
    this.expire();
    const adds = new Map<string, { service: number; zones: Map<string, number> }>();
    const outAdds = new Map<string, { service: number; zones: Map<string, number> }>();
    for (const lease of leases) {
      const w = this.watched.get(lease.instanceId);
      if (!w) continue;
      if (w.hold && w.hold.owner !== lease.owner) {
        this.violate(
          'one-actor',
          `instance:${lease.instanceId}`,
          `leased to ${lease.owner} while ${w.hold.owner} holds it until ${new Date(w.hold.until).toISOString()}`,
        );
      }
      if (lease.reserved && !w.counted) {
        let add = adds.get(w.service);
        if (!add) {
          add = { service: 0, zones: new Map() };
          adds.set(w.service, add);
        }
        add.service++;
        add.zones.set(w.zone, (add.zones.get(w.zone) ?? 0) + 1);
      }
      if (lease.reserved && !w.outCounted) {
        let add = outAdds.get(w.service);
        if (!add) {
          add = { service: 0, zones: new Map() };
          outAdds.set(w.service, add);
        }
        add.service++;
        add.zones.set(w.zone, (add.zones.get(w.zone) ?? 0) + 1);
      }
    }
    for (const [service, add] of outAdds) {
      const t = this.trafficTallies.get(service);
      if (!t) continue;
      if (t.count + add.service > t.cap)
        this.violate(
          'traffic-budget',
          `service:${service}`,
          `a lease grant takes ${service} to ${t.count + add.service} out of traffic, budget ${t.cap} (${t.count} before)`,
        );
      for (const [zone, n] of add.zones) {
        const z = t.zones.get(zone);
        if (z && z.count + n > z.cap)
          this.violate(
            'traffic-budget',
            `service:${service}@${zone}`,
            `a lease grant takes ${service} in ${zone} to ${z.count + n} out of traffic, budget ${z.cap} (${z.count} before)`,
          );
      }
    }
    for (const [service, add] of adds) {
      const t = this.tallies.get(service);
      if (!t) continue;
      if (t.count + add.service > t.cap) {
        this.violate(
          'disruption-budget',
          `service:${service}`,
          `a lease grant takes ${service} to ${t.count + add.service} unavailable, budget ${t.cap} (${t.count} before)`,
        );
      }
      for (const [zone, n] of add.zones) {
        const z = t.zones.get(zone);
        if (z && z.count + n > z.cap) {
          this.violate(
            'disruption-budget',
            `service:${service}@${zone}`,
            `a lease grant takes ${service} in ${zone} to ${z.count + n} unavailable, budget ${z.cap} (${z.count} before)`,
          );
        }
      }
    }
    for (const lease of leases) {
      const w = this.watched.get(lease.instanceId);
      if (!w) continue;
      w.hold = {
        owner: lease.owner,
        token: lease.token,
        until: lease.until,
        reserved: lease.reserved === true,
      };
      this.expiries.push({ until: lease.until, id: lease.instanceId, token: lease.token });
      this.recount(w);
    }
  }

  private released(owner: string, leases: readonly Lease[]): void {
    for (const lease of leases) {
      const w = this.watched.get(lease.instanceId);
      if (w?.hold?.owner === owner && w.hold.token === lease.token) {
        w.hold = undefined;
        w.holdEndedAt = this.clock.now();
        this.recount(w);
      }
    }
  }

  private recordedAction(lease: Lease, changeId: string): void {
    this.checked.records++;
    this.expire();
    const w = this.watched.get(lease.instanceId);
    if (w && (w.hold?.owner !== lease.owner || w.hold.token !== lease.token)) {
      this.violate(
        'one-actor',
        `instance:${lease.instanceId}`,
        `${lease.owner} recorded an action at token ${lease.token} without holding the live lease`,
      );
    }
    const key = `${changeId}|${lease.instanceId}`;
    if (this.recorded.has(key)) {
      this.violate('at-most-once', `instance:${lease.instanceId}`, `${changeId} recorded its action twice`);
    }
    this.recorded.add(key);
  }

  /** Leases whose expiry has passed hold nothing any more (their owner may no longer act). */
  private expire(): void {
    const now = this.clock.now();
    while ((this.expiries.peek()?.until ?? Number.POSITIVE_INFINITY) <= now) {
      const e = this.expiries.pop()!;
      const w = this.watched.get(e.id);
      if (w?.hold && w.hold.token === e.token && w.hold.until <= now) {
        w.hold = undefined;
        w.holdEndedAt = e.until;
        this.recount(w);
      }
    }
  }

  /** Keeps both tallies; `id` given (a change of the world), an instance FleetOps acted on going out of traffic unreserved is checked. */
  private recount(w: Watched, id?: string): void {
    const reserved = w.hold?.reserved === true;
    const counted = w.down || reserved;
    if (counted !== w.counted) {
      w.counted = counted;
      const t = this.tallies.get(w.service);
      if (t) bump(t, w.zone, counted ? 1 : -1);
    }
    const outCounted = w.out || reserved;
    if (outCounted === w.outCounted) return;
    w.outCounted = outCounted;
    const t = this.trafficTallies.get(w.service);
    if (!t) return;
    bump(t, w.zone, outCounted ? 1 : -1);
    if (!outCounted || id === undefined || reserved) return;
    const touch = this.touched.get(id);
    if (!touch) return;
    const z = t.zones.get(w.zone);
    if (t.count > t.cap || (z && z.count > z.cap))
      this.violate(
        'traffic-budget',
        `service:${w.service}${t.count > t.cap ? '' : `@${w.zone}`}`,
        `${id} went out of traffic after ${touch.owner} sent ${touch.kind}, holding no reserving lease on it: ` +
          (t.count > t.cap
            ? `${t.count} out, budget ${t.cap}`
            : `${z!.count} out in ${w.zone}, budget ${z!.cap}`),
      );
  }

  // ── budgets under churn, and coverage ──────────────────────────────────────

  /**
   * The budgets resolved again over the population (after launches or terminations), as the
   * sweep reconciles the ledgers' capacities: the counts stay, the caps follow.
   */
  rebudget(budgets: ReadonlyMap<string, ResolvedBudget>): void {
    for (const [service, b] of budgets) {
      for (const tallies of [this.tallies, this.trafficTallies]) {
        // Scale-outs launch into the services and zones the fleet had from the start: tallies to follow.
        const t = tallies.get(service);
        if (!t) continue;
        t.cap = b.maxUnavailable;
        for (const [zone, z] of b.zones) {
          const tz = t.zones.get(zone);
          if (tz) tz.cap = z.maxUnavailable;
        }
      }
    }
  }

  /**
   * change-coverage, when a change completes: each instance of its target now is changed, not
   * eligible (with why), listed as skipped by a plan of the change, or eligible only since the
   * change's last look; any other is a violation.
   */
  checkCoverage(input: CoverageInput): Coverage {
    const notEligible: Record<string, number> = {};
    let changed = 0;
    let listed = 0;
    let joined = 0;
    let uncovered = 0;
    for (const i of input.targeted) {
      if (input.changed.has(i.id)) {
        changed++;
        continue;
      }
      const why = input.whyNot(i);
      if (why !== undefined) {
        const key = reasonKind(why);
        notEligible[key] = (notEligible[key] ?? 0) + 1;
        continue;
      }
      if (input.listed.has(i.id)) {
        listed++;
        continue;
      }
      const w = this.watched.get(i.id);
      const since = Math.max(w?.upSince ?? 0, w?.holdEndedAt ?? 0);
      const lastLook = input.lastLook(i);
      if (since > lastLook) {
        joined++;
        continue;
      }
      uncovered++;
      this.violate(
        'change-coverage',
        `instance:${i.id}`,
        `${input.changeId} completed; ${i.id} (${i.service}, ${i.zone}) matches its target and has been eligible since ` +
          `${new Date(since).toISOString()}, before the change's last look at ${new Date(lastLook).toISOString()}, ` +
          'yet no attempt changed it and neither a plan nor a wave lists it as skipped',
      );
    }
    return {
      targeted: input.targeted.length,
      changed,
      notEligible: Object.fromEntries(Object.entries(notEligible).sort(([a], [b]) => (a < b ? -1 : 1))),
      listed,
      joinedAfterLastLook: joined,
      uncovered,
    };
  }

  private actionOf(by: Recoverer, kind: ActKind): ActionType {
    if (by === 'change') return this.changeAction;
    return kind === 'reboot' ? 'reboot' : kind === 'terminate' ? 'replace' : 'stop-start';
  }

  private violate(invariant: InvariantName, subject: string, detail: string): void {
    this.violationCount++;
    this.violationsBy[invariant]++;
    if (this.violations.length >= KEPT_VIOLATIONS) return;
    const now = this.clock.now();
    this.violations.push({
      invariant,
      subject,
      minute: this.minuteOf(now),
      at: new Date(now).toISOString(),
      detail,
    });
  }
}

/** Whether the breaker's rule opens this scope: more than 20% of max(members, 5) unhealthy. */
function over(t: ScopeTally): boolean {
  return t.bad / Math.max(t.members, t.swept, BREAKER_MIN_POPULATION) > BREAKER_FRACTION;
}

const percent = (x: number) => `${Math.round(x * 1000) / 10}%`;

/** A reason not to change an instance, as a kind to count: "held", "budget exhausted", "not running"… */
function reasonKind(why: string): string {
  if (why.startsWith('held by')) return 'held by another owner';
  if (why.startsWith('budget:')) return 'budget exhausted';
  if (/ in \S+: held by its group/.test(why)) return 'not InService in its group';
  return why.split(/[:(]/)[0].trim();
}

/** What a change may act on: running, checks ok, not rebooting, `InService` if in a group. */
function isUp(slot: Slot): boolean {
  const i = slot.instance;
  return (
    i.state === 'running' &&
    i.health === 'ok' &&
    !slot.rebooting &&
    (slot.member === undefined || slot.member.lifecycle === 'InService')
  );
}

function bump(t: Tally & { readonly zones: Map<string, Tally> }, zone: string, delta: number): void {
  t.count += delta;
  if (t.count > t.peak) t.peak = t.count;
  const z = t.zones.get(zone);
  if (z) {
    z.count += delta;
    if (z.count > z.peak) z.peak = z.count;
  }
}
