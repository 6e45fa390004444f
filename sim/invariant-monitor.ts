import type { ActionType } from '../functions/core/change/spec';
import { isDisruptive, type ServiceCatalog } from '../functions/core/fleet/services';
import type { Lease, LeaseStore } from '../functions/core/ports/index';
import type { ResolvedBudget } from '../functions/core/safety/budget';
import type { ActionObserver, ActKind } from './adapters';
import { MinHeap } from './kernel/min-heap';
import type { VirtualClock } from './kernel/virtual-clock';
import { type Recoverer, reallyDown, type SimWorld, type Slot, type WorldListener } from './world/sim-world';

/** The invariants of the design (DESIGN.md, "The invariants") the simulation checks as it runs. */
export const CHECKED_INVARIANTS = ['disruption-budget', 'one-actor', 'at-most-once'] as const;
export type InvariantName = (typeof CHECKED_INVARIANTS)[number];

export interface Violation {
  readonly invariant: InvariantName;
  /** `service:<name>`, `service:<name>@<zone>`, `instance:<id>` or `fault:<n>`. */
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
  /** Really not serving: stopped, impaired, rebooting, being replaced… */
  down: boolean;
  hold: Hold | undefined;
  /** Counted against the budget: down, or held by a lease that reserves budget. */
  counted: boolean;
}

interface Tally {
  readonly cap: number;
  count: number;
  peak: number;
}

/** Kept in full; beyond this only counted. */
const KEPT_VIOLATIONS = 100;

/**
 * Watches the simulation from outside the core and the ports, with its own bookkeeping, and
 * records every violation of:
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
 *
 * Counting is incremental (per instance flag, per service and zone tallies), so a check costs
 * what the grant or the act costs, never the fleet.
 */
export class InvariantMonitor implements ActionObserver, WorldListener {
  readonly violations: Violation[] = [];
  violationCount = 0;
  readonly checked = { grants: 0, acts: 0, records: 0 };
  private readonly watched = new Map<string, Watched>();
  private readonly tallies = new Map<string, Tally & { readonly zones: Map<string, Tally> }>();
  private readonly expiries = new MinHeap<{ until: number; id: string; token: number }>(
    (a, b) => a.until < b.until,
  );
  private readonly recorded = new Set<string>();
  private readonly applied = new Set<string>();
  private readonly faultCases = new Map<number, string>();

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
    }
    for (const instance of world.instances) this.added(world.slot(instance.id)!);
    world.listen(this);
  }

  /** The lease store, as the use cases see it, with every grant, release and record checked. */
  watch(store: LeaseStore): LeaseStore {
    return {
      acquire: async (request) => {
        const outcome = await store.acquire(request);
        if (outcome.acquired) this.granted(outcome.leases);
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
    };
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
    const w = this.watched.get(slot.instance.id);
    if (!w) return;
    w.down = reallyDown(slot);
    this.recount(w);
  }

  added(slot: Slot): void {
    const w: Watched = {
      service: slot.instance.service,
      zone: slot.instance.zone,
      down: false,
      hold: undefined,
      counted: false,
    };
    this.watched.set(slot.instance.id, w);
    if (slot.instance.state === 'terminated') return;
    w.down = reallyDown(slot);
    this.recount(w);
  }

  // ── acts ───────────────────────────────────────────────────────────────────

  acting(owner: string, by: Recoverer, kind: ActKind, id: string): void {
    this.checked.acts++;
    this.expire();
    const w = this.watched.get(id);
    if (!w) return;
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

  // ── leases ─────────────────────────────────────────────────────────────────

  private granted(leases: readonly Lease[]): void {
    this.checked.grants++;
    this.expire();
    const adds = new Map<string, { service: number; zones: Map<string, number> }>();
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
        this.recount(w);
      }
    }
  }

  private recount(w: Watched): void {
    const counted = w.down || w.hold?.reserved === true;
    if (counted === w.counted) return;
    w.counted = counted;
    const t = this.tallies.get(w.service);
    if (!t) return;
    const delta = counted ? 1 : -1;
    t.count += delta;
    if (t.count > t.peak) t.peak = t.count;
    const z = t.zones.get(w.zone);
    if (z) {
      z.count += delta;
      if (z.count > z.peak) z.peak = z.count;
    }
  }

  private actionOf(by: Recoverer, kind: ActKind): ActionType {
    if (by === 'change') return this.changeAction;
    return kind === 'reboot' ? 'reboot' : kind === 'terminate' ? 'replace' : 'stop-start';
  }

  private violate(invariant: InvariantName, subject: string, detail: string): void {
    this.violationCount++;
    if (this.violations.length >= KEPT_VIOLATIONS) return;
    const now = this.clock.now();
    this.violations.push({
      invariant,
      subject,
      minute: Math.round((now - this.start) / 600) / 100,
      at: new Date(now).toISOString(),
      detail,
    });
  }
}
