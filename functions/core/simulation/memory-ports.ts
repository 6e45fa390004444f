import type { ChangeSpec } from '../change-spec';
import { type Finding, type FindingRecord, occurrenceOf } from '../findings';
import type { LedgerObservation } from '../inventory';
import type { Plan } from '../planner';
import type {
  AuditRecord,
  AutoScalingPort,
  Ec2Port,
  Freeze,
  InstanceCondition,
  Lease,
  LeaseOutcome,
  LeaseRequest,
  LeaseStore,
  RecordedAction,
  SsmCommand,
} from '../ports';
import type { CaseStatusWord, RemediationPorts } from '../remediation/remediate';
import {
  ACTIVE_CASE_STATUSES,
  type CaseAttachment,
  type CaseSource,
  caseSourceOf,
} from '../remediation/triage';
import { type Decision, type LadderStep, type OutcomeCount, statsKey } from '../remediation/types';
import type { RolloutPorts } from '../rollout';
import type { ServicesFile } from '../services';
import type { TokenBucket } from '../token-bucket';
import { inventoryDown, type Recoverer, type SimWorld, type Slot } from './sim-world';
import type { VirtualClock } from './virtual-clock';

/**
 * In-memory implementations of the ports, over the simulated account (`SimWorld`). They keep
 * the adapters' semantics (all-or-nothing leases with fencing tokens, the disruption ledger,
 * at-most-once action records, conditional status updates, batched and paced EC2 requests),
 * with maps and indexes so that every call costs what its arguments cost, never the fleet.
 */

/** A reservation outlives its leases by this much (as in the DynamoDB lease store). */
const RESERVATION_GRACE_MS = 60_000;
/** EC2 caps the instance ids of one request; FleetOps sends at most 100 (as `Ec2Actions`). */
const EC2_IDS_PER_REQUEST = 100;
/** DescribeAutoScalingInstances / DescribeAutoScalingGroups take at most 50 ids or names. */
const ASG_IDS_PER_REQUEST = 50;
/** SSM SendCommand takes at most 50 instance ids. */
const SSM_IDS_PER_COMMAND = 50;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A 32-bit FNV-1a digest: names a lease request (the DynamoDB store uses SHA-256 of the same ids). */
function digest(ids: readonly string[]): string {
  let h = 0x811c9dc5;
  for (const id of ids) {
    for (let k = 0; k < id.length; k++) h = Math.imul(h ^ id.charCodeAt(k), 0x01000193);
    h = Math.imul(h ^ 44, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

// ── API requests ──────────────────────────────────────────────────────────────

/** Requests sent per API, and how long the client's token bucket made them wait. */
export class ApiRequests {
  readonly counts = new Map<string, number>();
  readonly waitedMs = new Map<string, number>();

  count(api: string, waitedMs = 0): void {
    this.counts.set(api, (this.counts.get(api) ?? 0) + 1);
    if (waitedMs > 0) this.waitedMs.set(api, (this.waitedMs.get(api) ?? 0) + waitedMs);
  }
}

/** What a holder did to an instance, as the invariant checks see it (before the account changes). */
export type ActKind = 'reboot' | 'stop' | 'start' | 'terminate' | 'ssm';

export interface ActionObserver {
  acting(owner: string, by: Recoverer, kind: ActKind, instanceId: string): void;
}

/** Who is acting through a port view: the lease owner (a change id or a case id) and its role. */
export interface Actor {
  owner(): string;
  readonly by: Recoverer;
}

// ── leases and the disruption ledger ─────────────────────────────────────────

/**
 * Deliberate defects, to prove the invariant checks catch what they claim to catch:
 * - `ignore-budgets`: grants leases without looking at the ledger;
 * - `ignore-leases`: grants leases over other owners' live leases;
 * - `no-fencing`: records every action, never answering `duplicate` or `fenced`.
 */
export const LEASE_STORE_DEFECTS = ['ignore-budgets', 'ignore-leases', 'no-fencing'] as const;
export type LeaseStoreDefect = (typeof LEASE_STORE_DEFECTS)[number];

interface LeaseRecord {
  owner: string | undefined;
  token: number;
  until: number;
  reserved: boolean;
}

interface Reservation {
  readonly key: string;
  readonly owner: string;
  readonly service: string;
  readonly members: readonly string[];
  until: number;
}

interface LedgerCount {
  readonly capacity: number;
  /** Unavailable instances no live reservation covers. */
  observed: number;
  /** Members of live reservations. `used` = observed + reserved. */
  reserved: number;
}

interface Ledger extends LedgerCount {
  readonly zones: Map<string, LedgerCount>;
}

/**
 * Leases and the disruption ledger in memory, with the DynamoDB store's protocol (docs/store.md):
 * per service, overall and per zone, `used` = `observed` + members of live reservations and a
 * holder may reserve only while `used` stays within `capacity`; an instance already unavailable
 * moves from `observed` into the reservation instead of being counted twice; a reservation is
 * returned once its owner holds none of its instances; a lease has an owner, an expiry and a
 * fencing token that grows on every acquisition.
 *
 * One difference, on purpose: the simulated inventory is the account itself (an instant sweep),
 * so `observed` is always exact and an instance released as still unavailable keeps counting for
 * exactly as long as it is unavailable (the caller's `stillUnavailable` is what the next sync
 * would confirm).
 */
export class MemoryLeaseStore implements LeaseStore {
  private readonly leases = new Map<string, LeaseRecord>();
  /** Instances whose lease names the owner (live or expired, like the owner index). */
  private readonly byOwner = new Map<string, Set<string>>();
  private readonly reservations = new Map<string, Reservation>();
  private readonly reservationsByOwner = new Map<string, Set<string>>();
  /** Live reservations covering each instance. */
  private readonly covering = new Map<string, number>();
  private readonly ledgers = new Map<string, Ledger>();
  private readonly actions = new Map<string, RecordedAction[]>();
  private readonly recorded = new Set<string>();

  constructor(
    private readonly world: SimWorld,
    observations: readonly LedgerObservation[],
    private readonly defect?: LeaseStoreDefect,
  ) {
    for (const o of observations) {
      const zones = new Map<string, LedgerCount>();
      for (const [zone, z] of o.zones)
        zones.set(zone, { capacity: z.capacity, observed: z.observed, reserved: 0 });
      this.ledgers.set(o.service, { capacity: o.capacity, observed: o.observed, reserved: 0, zones });
    }
    world.listen({
      changed: (slot, was) => {
        const delta = Number(inventoryDown(slot.instance)) - Number(was.inventoryDown);
        if (delta !== 0 && !this.covering.get(slot.instance.id)) this.observe(slot, delta);
      },
      added: (slot) => {
        if (inventoryDown(slot.instance)) this.observe(slot, 1);
      },
    });
  }

  /** All or nothing: every lease and every budget, or nothing held (and the conflicts, in words). */
  async acquire(request: LeaseRequest): Promise<LeaseOutcome> {
    const ids = [...new Set(request.instanceIds)].sort();
    if (ids.length === 0) return { acquired: true, leases: [] };
    const until = request.now + request.ttlMs;
    const conflicts: Array<{ id: string; reason: string }> = [];
    const members: Slot[] = [];
    for (const id of ids) {
      const slot = this.world.slot(id);
      if (!slot) {
        conflicts.push({ id, reason: 'not in the fleet inventory' });
        continue;
      }
      if (slot.instance.state === 'terminated') {
        conflicts.push({ id, reason: 'terminated' });
        continue;
      }
      members.push(slot);
      const lease = this.leases.get(id);
      if (
        this.defect !== 'ignore-leases' &&
        lease?.owner !== undefined &&
        lease.owner !== request.owner &&
        // Held through `until` itself (it is taken over only after it), as the DynamoDB store's
        // conditional write says.
        lease.until >= request.now
      ) {
        conflicts.push({
          id,
          reason: `held by ${lease.owner} until ${new Date(lease.until).toISOString()}`,
        });
      }
    }
    if (conflicts.length > 0) {
      const unknown = conflicts.every((c) => !c.reason.startsWith('held by'));
      return refused(
        unknown ? 'instances are not in the fleet inventory' : 'instances are not available to lease',
        conflicts,
      );
    }

    const holderKey = `${request.owner}#${digest(ids)}`;
    const byService = new Map<string, Slot[]>();
    for (const m of members) {
      if (request.nonDisruptiveServices.has(m.instance.service)) continue;
      const group = byService.get(m.instance.service);
      if (group) group.push(m);
      else byService.set(m.instance.service, [m]);
    }
    const fresh: Array<{ service: string; group: Slot[] }> = [];
    const extended: Reservation[] = [];
    for (const [service, group] of byService) {
      const existing = this.reservations.get(`${service}|${holderKey}`);
      if (existing) {
        // A retry of the same request: the budget is already counted; keep it alive.
        extended.push(existing);
        continue;
      }
      const problem = this.defect === 'ignore-budgets' ? undefined : this.noRoom(service, group);
      if (problem) conflicts.push(...problem);
      else fresh.push({ service, group });
    }
    if (conflicts.length > 0) return refused('a disruption budget has no room', conflicts);

    for (const r of extended) r.until = until + RESERVATION_GRACE_MS;
    for (const { service, group } of fresh) this.reserve(service, group, request.owner, holderKey, until);
    const leases: Lease[] = [];
    for (const m of members) {
      const id = m.instance.id;
      const previous = this.leases.get(id);
      const lease: Lease = {
        instanceId: id,
        owner: request.owner,
        token: (previous?.token ?? 0) + 1,
        until,
        reserved: byService.has(m.instance.service),
      };
      if (previous?.owner !== undefined) this.byOwner.get(previous.owner)?.delete(id);
      this.leases.set(id, {
        owner: lease.owner,
        token: lease.token,
        until,
        reserved: lease.reserved === true,
      });
      this.ownerSet(this.byOwner, request.owner).add(id);
      leases.push(lease);
    }
    return { acquired: true, leases };
  }

  async renew(leases: readonly Lease[], ttlMs: number, now: number): Promise<Lease[]> {
    const until = now + ttlMs;
    const renewed: Lease[] = [];
    for (const lease of leases) {
      const current = this.leases.get(lease.instanceId);
      if (current?.owner !== lease.owner || current.token !== lease.token || current.until < now) continue;
      current.until = until;
      renewed.push({ ...lease, until });
    }
    for (const owner of new Set(renewed.map((l) => l.owner))) {
      const ids = new Set(renewed.filter((l) => l.owner === owner).map((l) => l.instanceId));
      for (const key of this.reservationsByOwner.get(owner) ?? []) {
        const r = this.reservations.get(key)!;
        if (r.members.some((id) => ids.has(id))) r.until = until + RESERVATION_GRACE_MS;
      }
    }
    // As the DynamoDB store: a live reservation covering leases the owner tried to renew, of
    // whose instances it no longer holds a live lease (taken over, expired), is returned at once.
    for (const owner of new Set(leases.map((l) => l.owner))) {
      const ids = new Set(leases.filter((l) => l.owner === owner).map((l) => l.instanceId));
      for (const key of [...(this.reservationsByOwner.get(owner) ?? [])]) {
        const r = this.reservations.get(key)!;
        if (r.until < now || !r.members.some((id) => ids.has(id))) continue;
        const holds = r.members.some((id) => {
          const l = this.leases.get(id);
          return l?.owner === owner && l.until >= now;
        });
        if (!holds) this.returnReservation(r);
      }
    }
    return renewed;
  }

  async release(
    owner: string,
    leases: readonly Lease[],
    _stillUnavailable?: ReadonlySet<string>,
  ): Promise<void> {
    for (const lease of leases) {
      if (lease.owner !== owner) continue;
      const current = this.leases.get(lease.instanceId);
      if (current?.owner !== owner || current.token !== lease.token) continue;
      current.owner = undefined;
      this.byOwner.get(owner)?.delete(lease.instanceId);
    }
    const keys = this.reservationsByOwner.get(owner);
    for (const key of [...(keys ?? [])]) {
      const r = this.reservations.get(key)!;
      if (!r.members.some((id) => this.leases.get(id)?.owner === owner)) this.returnReservation(r);
    }
  }

  async releaseAll(owner: string, stillUnavailable?: ReadonlySet<string>): Promise<number> {
    const held = [...(this.byOwner.get(owner) ?? [])].map((id) => {
      const l = this.leases.get(id)!;
      return { instanceId: id, owner, token: l.token, until: l.until, reserved: l.reserved };
    });
    await this.release(owner, held, stillUnavailable);
    return held.length;
  }

  async recordAction(
    lease: Lease,
    changeId: string,
    result: Record<string, unknown>,
    now: number,
  ): Promise<'recorded' | 'duplicate' | 'fenced'> {
    const key = `${changeId}|${lease.instanceId}`;
    if (this.defect !== 'no-fencing') {
      const current = this.leases.get(lease.instanceId);
      if (current?.owner !== lease.owner || current.token !== lease.token || current.until < now)
        return 'fenced';
      if (this.recorded.has(key)) return 'duplicate';
    }
    this.recorded.add(key);
    const wave = typeof result.wave === 'number' ? result.wave : 0;
    this.ownerList(changeId).push({ instanceId: lease.instanceId, wave, at: now });
    return 'recorded';
  }

  async activeLeases(now: number): Promise<Lease[]> {
    const out: Lease[] = [];
    for (const [instanceId, l] of this.leases) {
      if (l.owner !== undefined && l.until > now)
        out.push({ instanceId, owner: l.owner, token: l.token, until: l.until, reserved: l.reserved });
    }
    return out;
  }

  async actionsOf(changeId: string): Promise<RecordedAction[]> {
    return [...(this.actions.get(changeId) ?? [])];
  }

  async heldBy(owner: string, instanceIds: readonly string[], now: number): Promise<Lease[]> {
    const out: Lease[] = [];
    for (const instanceId of new Set(instanceIds)) {
      const l = this.leases.get(instanceId);
      if (l?.owner === owner && l.until > now)
        out.push({ instanceId, owner, token: l.token, until: l.until, reserved: l.reserved });
    }
    return out.sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));
  }

  /** Returns the budget of holders whose reservations expired (the inventory sweep does this). */
  async reclaimExpired(now: number): Promise<number> {
    let n = 0;
    for (const r of [...this.reservations.values()]) {
      if (r.until < now) {
        this.returnReservation(r);
        n++;
      }
    }
    return n;
  }

  /** The ledger of a service as `used` / `capacity` (for reports and tests). */
  ledger(service: string): { used: number; capacity: number } | undefined {
    const l = this.ledgers.get(service);
    return l && { used: l.observed + l.reserved, capacity: l.capacity };
  }

  private noRoom(service: string, group: readonly Slot[]): Array<{ id: string; reason: string }> | undefined {
    const ledger = this.ledgers.get(service);
    if (!ledger)
      return [{ id: service, reason: `budget:${service} has no ledger yet (run an inventory sync)` }];
    const total = new Map<string, number>();
    const added = new Map<string, number>();
    for (const m of group) {
      const zone = m.instance.zone;
      total.set(zone, (total.get(zone) ?? 0) + 1);
      // Already unavailable and counted as observed: it moves into the reservation, costing nothing.
      const transfers = inventoryDown(m.instance) && !this.covering.get(m.instance.id);
      if (!transfers) added.set(zone, (added.get(zone) ?? 0) + 1);
    }
    const problems: Array<{ id: string; reason: string }> = [];
    const n = [...added.values()].reduce((a, b) => a + b, 0);
    const used = ledger.observed + ledger.reserved;
    if (used + n > ledger.capacity) {
      problems.push({
        id: service,
        reason: `budget:${service} exhausted: ${used} of ${ledger.capacity} in use, ${n} requested`,
      });
      return problems;
    }
    for (const zone of total.keys()) {
      const z = ledger.zones.get(zone);
      const k = added.get(zone) ?? 0;
      if (!z) {
        // Fail closed: a zone the ledger does not know has no budget.
        problems.push({
          id: `${service}@${zone}`,
          reason: `budget:${service}@${zone} has no ledger yet (run an inventory sync)`,
        });
      } else if (k > 0 && z.observed + z.reserved + k > z.capacity) {
        problems.push({
          id: `${service}@${zone}`,
          reason: `budget:${service}@${zone} exhausted: ${z.observed + z.reserved} of ${z.capacity} in use, ${k} requested`,
        });
      }
    }
    return problems.length > 0 ? problems : undefined;
  }

  private reserve(service: string, group: readonly Slot[], owner: string, holderKey: string, until: number) {
    const key = `${service}|${holderKey}`;
    const r: Reservation = {
      key,
      owner,
      service,
      members: group.map((m) => m.instance.id),
      until: until + RESERVATION_GRACE_MS,
    };
    this.reservations.set(key, r);
    this.ownerSet(this.reservationsByOwner, owner).add(key);
    for (const m of group) {
      const id = m.instance.id;
      const covered = this.covering.get(id) ?? 0;
      if (covered === 0 && inventoryDown(m.instance)) this.observe(m, -1);
      this.covering.set(id, covered + 1);
      this.count(m, 'reserved', 1);
    }
  }

  private returnReservation(r: Reservation): void {
    this.reservations.delete(r.key);
    this.reservationsByOwner.get(r.owner)?.delete(r.key);
    for (const id of r.members) {
      const slot = this.world.slot(id)!;
      const covered = (this.covering.get(id) ?? 1) - 1;
      if (covered === 0) this.covering.delete(id);
      else this.covering.set(id, covered);
      this.count(slot, 'reserved', -1);
      if (covered === 0 && inventoryDown(slot.instance)) this.observe(slot, 1);
    }
  }

  private observe(slot: Slot, delta: number): void {
    this.count(slot, 'observed', delta);
  }

  private count(slot: Slot, field: 'observed' | 'reserved', delta: number): void {
    const ledger = this.ledgers.get(slot.instance.service);
    if (!ledger) return;
    ledger[field] += delta;
    const zone = ledger.zones.get(slot.instance.zone);
    if (zone) zone[field] += delta;
  }

  private ownerSet(index: Map<string, Set<string>>, owner: string): Set<string> {
    let set = index.get(owner);
    if (!set) {
      set = new Set();
      index.set(owner, set);
    }
    return set;
  }

  private ownerList(changeId: string): RecordedAction[] {
    let list = this.actions.get(changeId);
    if (!list) {
      list = [];
      this.actions.set(changeId, list);
    }
    return list;
  }
}

function refused(reason: string, conflicts: Array<{ id: string; reason: string }>): LeaseOutcome {
  return { acquired: false, reason, conflicts };
}

type ChangeStorePort = RolloutPorts['changes'];
type CaseStorePort = RemediationPorts['cases'];

// ── changes ───────────────────────────────────────────────────────────────────

const ENDED = new Set(['completed', 'failed', 'aborted', 'rolled-back']);

interface ChangeRow {
  status: string;
  readonly waves: number;
  reason: string;
  approval?: { token: string; wave: number; answer?: { decision: 'approve' | 'reject'; reason: string } };
}

/** Stored changes: spec, plan, status, wave records and the pending approval's token. */
export class MemoryChangeStore implements ChangeStorePort {
  private readonly rows = new Map<string, ChangeRow>();
  private readonly plans = new Map<string, Plan>();
  private readonly specs = new Map<string, ChangeSpec>();
  private readonly records = new Map<
    string,
    Map<number, Map<string, { at: number; body: Record<string, unknown> }>>
  >();

  async get(id: string): Promise<ChangeRow | undefined> {
    return this.rows.get(id);
  }

  /** Saving the same plan again is harmless; the same id with another plan is refused. */
  async save(spec: ChangeSpec, plan: Plan, _actor: string, _now: number): Promise<{ created: boolean }> {
    if (this.rows.has(spec.id)) {
      if (this.plans.get(spec.id) === plan) return { created: false };
      throw new Error(`change ${spec.id} already exists with another plan`);
    }
    this.plans.set(spec.id, plan);
    this.specs.set(spec.id, spec);
    this.rows.set(spec.id, { status: 'planned', waves: plan.waves.length, reason: 'planned' });
    return { created: true };
  }

  /** A change's status and why (for reports). */
  statusOf(id: string): { status: string; reason: string } {
    const row = this.rows.get(id);
    return row ? { status: row.status, reason: row.reason } : { status: 'unknown', reason: 'no such change' };
  }

  async loadPlan(id: string): Promise<Plan> {
    const plan = this.plans.get(id);
    if (!plan) throw new Error(`no change ${id}`);
    return plan;
  }

  async loadSpec(id: string): Promise<ChangeSpec> {
    const spec = this.specs.get(id);
    if (!spec) throw new Error(`no change ${id}`);
    return spec;
  }

  /** Like the table's conditional update: an ended change keeps its end (the same end again is harmless). */
  async setStatus(id: string, status: string, reason: string, _now: number): Promise<void> {
    const row = this.rows.get(id);
    if (!row) throw new Error(`no change ${id}`);
    if (ENDED.has(row.status) && row.status !== status)
      throw new Error(`change ${id} has ended (${row.status}); cannot become ${status}`);
    row.status = status;
    row.reason = reason;
  }

  async recordWave(id: string, wave: number, part: string, body: Record<string, unknown>, now: number) {
    let waves = this.records.get(id);
    if (!waves) {
      waves = new Map();
      this.records.set(id, waves);
    }
    let parts = waves.get(wave);
    if (!parts) {
      parts = new Map();
      waves.set(wave, parts);
    }
    parts.set(part, { at: now, body });
  }

  /** In wave order, then part order (the table's sort key order). */
  async waveRecords(id: string, wave?: number) {
    const waves = this.records.get(id);
    if (!waves) return [];
    const numbers = wave === undefined ? [...waves.keys()].sort((a, b) => a - b) : [wave];
    return numbers.flatMap((w) =>
      [...(waves.get(w) ?? new Map()).entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([part, r]) => ({ wave: w, part, at: r.at, body: r.body })),
    );
  }

  async awaitApproval(id: string, token: string, wave: number, reason: string, _now: number): Promise<void> {
    const row = this.rows.get(id);
    const replacing =
      row?.status === 'waiting-approval' &&
      (row.approval?.answer !== undefined || row.approval?.token === token);
    if (row?.status !== 'running' && !replacing)
      throw new Error(`change ${id} is not running (${row?.status ?? 'missing'})`);
    row!.status = 'waiting-approval';
    row!.reason = reason;
    row!.approval = { token, wave };
  }

  async claimApproval(id: string, decision: 'approve' | 'reject', reason: string, _now: number) {
    const row = this.rows.get(id);
    if (!row?.approval || row.status !== 'waiting-approval') return undefined;
    if (row.approval.answer !== undefined && row.approval.answer.decision !== decision) return undefined;
    row.approval = { ...row.approval, answer: { decision, reason } };
    return { token: row.approval.token, wave: row.approval.wave };
  }

  async settleApproval(id: string, token: string, decision: 'approve' | 'reject', _now: number) {
    const row = this.rows.get(id);
    if (row?.status !== 'waiting-approval' || row.approval?.token !== token) return;
    if (row.approval.answer?.decision !== decision) return;
    row.reason = row.approval.answer.reason;
    row.approval = undefined;
    row.status = decision === 'approve' ? 'running' : 'failed';
  }
}

// ── inventory, services, freezes, findings, audit ─────────────────────────────

type OpenFinding = Finding & { readonly createdAt: number };
const findingKey = (f: Pick<Finding, 'instanceId' | 'kind' | 'key'>) => `${f.instanceId}|${f.kind}|${f.key}`;

/**
 * The fleet-state table's inventory side. `listInstances` hands out the account's own instance
 * objects (no copy: callers only read them), so a whole-fleet read costs nothing here; the
 * audit trail is kept as counts per action (every decision is still recorded, cheaply).
 */
export class MemoryFleetStore {
  readonly audited = new Map<string, number>();
  private readonly findings = new Set<string>();
  private readonly open = new Map<string, OpenFinding>();
  /** Recorded findings whose intake has not finished (the DynamoDB store's unsettled index). */
  private readonly unsettled = new Map<string, OpenFinding>();

  constructor(
    private readonly world: SimWorld,
    private readonly services: ServicesFile,
    private readonly freezes: readonly Freeze[] = [],
  ) {}

  async listInstances() {
    return this.world.instances;
  }

  async getServices(): Promise<ServicesFile> {
    return this.services;
  }

  async listFreezes(): Promise<Freeze[]> {
    return [...this.freezes];
  }

  async audit(records: readonly AuditRecord[]): Promise<void> {
    for (const r of records) this.audited.set(r.action, (this.audited.get(r.action) ?? 0) + 1);
  }

  /** Records findings once each (by instance, kind and occurrence key); returns the new ones. */
  async recordFindings(findings: readonly Finding[], now: number): Promise<Finding[]> {
    const fresh: Finding[] = [];
    for (const f of findings) {
      const key = findingKey(f);
      if (this.findings.has(key)) continue;
      this.findings.add(key);
      this.open.set(key, { ...f, createdAt: now });
      this.unsettled.set(key, { ...f, createdAt: now });
      fresh.push(f);
    }
    return fresh;
  }

  /** Records one finding; a finding recorded before says whether its intake finished. */
  async recordFinding(finding: Finding, now: number): Promise<FindingRecord> {
    if ((await this.recordFindings([finding], now)).length > 0) return 'new';
    return this.unsettled.has(findingKey(finding)) ? 'unsettled' : 'settled';
  }

  async unsettledFindings(recordedBefore: number): Promise<Finding[]> {
    return [...this.unsettled.values()]
      .filter((f) => f.createdAt < recordedBefore)
      .map(({ createdAt: _, ...f }) => f);
  }

  async settleFinding(finding: Pick<Finding, 'instanceId' | 'kind' | 'key'>, _caseId: string, _now: number) {
    this.unsettled.delete(findingKey(finding));
  }

  async closeFinding(finding: Pick<Finding, 'instanceId' | 'kind' | 'key'>, _outcome: string, _now: number) {
    this.open.delete(findingKey(finding));
  }

  async openFindings(): Promise<OpenFinding[]> {
    return [...this.open.values()];
  }
}

// ── remediation cases ─────────────────────────────────────────────────────────

export interface MemoryCase {
  readonly id: string;
  readonly finding: Finding;
  status: CaseStatusWord;
  tried: readonly LadderStep[];
  readonly decisions: Decision[];
  reason: string;
  readonly at: string;
  readonly sources: CaseSource[];
  startedAt?: number;
  readonly createdAt: number;
}

/**
 * Remediation cases (with an index of those acting), outcome statistics and breaker pages; one
 * case per instance and underlying event, as the DynamoDB store (`open`).
 */
export class MemoryRemediationStore implements CaseStorePort {
  readonly cases = new Map<string, MemoryCase>();
  /** The case each finding went to. */
  private readonly byFinding = new Map<string, string>();
  /** The case of each underlying event (instance, kind, occurrence). */
  private readonly byEvent = new Map<string, string>();
  /** The active case of each instance and kind (the DynamoDB store's `ACTIVECASE` pointer). */
  private readonly active = new Map<string, string>();
  private readonly acting = new Map<string, MemoryCase>();
  private readonly outcomes = new Map<string, OutcomeCount>();
  private readonly pagedAt = new Map<string, number>();

  /**
   * The finding's case: the one it went to before, its event's, the instance's active one of its
   * kind, or a new one. No await in between: atomic, as the DynamoDB store's transactions.
   */
  async open(
    finding: Finding,
    at: string,
    now: number,
  ): Promise<{ created: boolean; attachment: CaseAttachment; case: MemoryCase }> {
    const linked = this.byFinding.get(findingKey(finding));
    if (linked) return { created: false, attachment: 'attached-before', case: this.cases.get(linked)! };
    const event = `${finding.instanceId}|${finding.kind}|${occurrenceOf(finding)}`;
    const slot = `${finding.instanceId}|${finding.kind}`;
    const same = this.byEvent.get(event);
    const current = this.active.get(slot);
    const into =
      same ?? (current && ACTIVE_CASE_STATUSES.has(this.cases.get(current)!.status) ? current : undefined);
    if (into) {
      const c = this.cases.get(into)!;
      c.sources.push(caseSourceOf(finding, now));
      this.byFinding.set(findingKey(finding), into);
      return { created: false, attachment: same ? 'same-event' : 'joined', case: c };
    }
    const id = `case-${String(this.cases.size + 1).padStart(6, '0')}-${finding.instanceId}`;
    const c: MemoryCase = {
      id,
      finding,
      status: 'open',
      tried: [],
      decisions: [],
      reason: 'opened',
      at,
      sources: [caseSourceOf(finding, now)],
      createdAt: now,
    };
    this.cases.set(id, c);
    this.byFinding.set(findingKey(finding), id);
    this.byEvent.set(event, id);
    this.active.set(slot, id);
    return { created: true, attachment: 'opened', case: c };
  }

  async markStarted(id: string, now: number): Promise<void> {
    const c = this.must(id);
    c.startedAt ??= now;
  }

  async get(id: string): Promise<MemoryCase | undefined> {
    return this.cases.get(id);
  }

  async decide(
    id: string,
    decision: Decision,
    patch: { status: CaseStatusWord; tried?: readonly LadderStep[] },
    _now: number,
  ): Promise<void> {
    const c = this.must(id);
    c.decisions.push(decision);
    c.reason = decision.reason;
    if (patch.tried) c.tried = [...patch.tried];
    this.setStatusOf(c, patch.status);
  }

  async setStatus(id: string, status: CaseStatusWord, reason: string, _now: number): Promise<void> {
    const c = this.must(id);
    c.reason = reason;
    this.setStatusOf(c, status);
  }

  async stats(): Promise<ReadonlyMap<string, OutcomeCount>> {
    return new Map(this.outcomes);
  }

  async recordOutcome(kind: Finding['kind'], step: LadderStep, recovered: boolean): Promise<void> {
    const key = statsKey(kind, step);
    const { successes, failures } = this.outcomes.get(key) ?? { successes: 0, failures: 0 };
    this.outcomes.set(
      key,
      recovered ? { successes: successes + 1, failures } : { successes, failures: failures + 1 },
    );
  }

  async inFlight(): Promise<MemoryCase[]> {
    return [...this.acting.values()];
  }

  /** True only for the caller that moves the scope's last page past the cooldown. */
  async claimPage(scope: string, _reason: string, now: number, cooldownMs: number): Promise<boolean> {
    const last = this.pagedAt.get(scope);
    if (last !== undefined && last >= now - cooldownMs) return false;
    this.pagedAt.set(scope, now);
    return true;
  }

  private setStatusOf(c: MemoryCase, status: CaseStatusWord): void {
    c.status = status;
    if (status === 'acting') this.acting.set(c.id, c);
    else this.acting.delete(c.id);
    const slot = `${c.finding.instanceId}|${c.finding.kind}`;
    if (!ACTIVE_CASE_STATUSES.has(status) && this.active.get(slot) === c.id) this.active.delete(slot);
  }

  private must(id: string): MemoryCase {
    const c = this.cases.get(id);
    if (!c) throw new Error(`no remediation case ${id}`);
    return c;
  }
}

// ── EC2, Auto Scaling, SSM, CloudWatch, SNS ───────────────────────────────────

/**
 * EC2 as a Lambda's paced client sees it: ids in batches of 100, every request first takes a
 * token from the function's bucket (on the virtual clock), requests counted per API with the
 * time they waited. `forActor` gives the view one execution uses, so the invariant checks know
 * who acted.
 */
export class SimulatedEc2 {
  constructor(
    private readonly world: SimWorld,
    private readonly clock: VirtualClock,
    private readonly bucket: TokenBucket,
    private readonly requests: ApiRequests,
    private readonly observer?: ActionObserver,
  ) {}

  forActor(actor: Actor): Ec2Port {
    const act = async (api: string, kind: ActKind, ids: readonly string[], change: (id: string) => void) => {
      for (const batch of chunks(ids, EC2_IDS_PER_REQUEST)) {
        await this.paced(api);
        for (const id of batch) {
          this.observer?.acting(actor.owner(), actor.by, kind, id);
          change(id);
        }
      }
    };
    return {
      reboot: (ids) => act('RebootInstances', 'reboot', ids, (id) => this.world.reboot(id, actor.by)),
      stop: (ids) => act('StopInstances', 'stop', ids, (id) => this.world.stop(id)),
      start: (ids) => act('StartInstances', 'start', ids, (id) => this.world.start(id, actor.by)),
      setTags: async (ids, tags) => {
        for (const batch of chunks(ids, EC2_IDS_PER_REQUEST)) {
          await this.paced('CreateTags');
          for (const id of batch) this.world.setTags(id, tags);
        }
      },
      conditions: async (ids) => {
        const out = new Map<string, InstanceCondition>();
        for (const batch of chunks(ids, EC2_IDS_PER_REQUEST)) {
          await this.paced('DescribeInstanceStatus');
          for (const id of batch) {
            const slot = this.world.slot(id);
            // EC2 forgets terminated instances; the simulation keeps reporting them, as within the hour it does.
            if (slot) out.set(id, { state: slot.instance.state, health: slot.instance.health });
          }
        }
        return out;
      },
    };
  }

  private async paced(api: string): Promise<void> {
    const asked = this.clock.now();
    await this.bucket.take();
    this.requests.count(api, this.clock.now() - asked);
  }
}

/** Auto Scaling: one group per service; `replace` terminates without decrementing capacity. */
export function simulatedAutoScaling(
  world: SimWorld,
  requests: ApiRequests,
  actor: Actor,
  observer?: ActionObserver,
): AutoScalingPort {
  return {
    async groupsOf(ids) {
      const out = new Map<string, string>();
      for (const batch of chunks(ids, ASG_IDS_PER_REQUEST)) {
        requests.count('DescribeAutoScalingInstances');
        for (const id of batch) {
          const group = world.groupOf(id);
          if (group) out.set(id, group);
        }
      }
      return out;
    },
    async terminateKeepingCapacity(id) {
      requests.count('TerminateInstanceInAutoScalingGroup');
      observer?.acting(actor.owner(), actor.by, 'terminate', id);
      world.terminateInGroup(id, actor.by);
    },
    // The simulated groups keep a fixed capacity: each runs at its maximum (describeGroup says
    // max = desired), so a remediation plans terminate-first and never calls the two below. They
    // refuse as AWS refuses a desired capacity above MaxSize, rather than pretend to scale.
    async terminateDecrementingCapacity(id) {
      requests.count('TerminateInstanceInAutoScalingGroup');
      throw new Error(
        `ValidationError: the simulated groups keep their capacity; cannot decrement for ${id}`,
      );
    },
    async setDesiredCapacity(group, desired) {
      requests.count('SetDesiredCapacity');
      const current = world.groupHealth(group);
      if (current?.desired === desired) return;
      throw new Error(
        `ValidationError: New SetDesiredCapacity value ${desired} is outside the bounds of the simulated group ${group} (it runs at its maximum, ${current?.desired ?? 0})`,
      );
    },
    async describeGroup(group) {
      requests.count('DescribeAutoScalingGroups');
      const health = world.groupHealth(group);
      if (!health) return undefined;
      const healthy = new Set(health.healthy);
      const lifecycle = (id: string) => {
        const state = world.slot(id)?.instance.state;
        if (state === 'pending') return 'Pending';
        return state === 'shutting-down' || state === 'terminated' ? 'Terminating' : 'InService';
      };
      return {
        name: group,
        desired: health.desired,
        min: 0,
        max: health.desired,
        members: health.members.map((id) => ({ id, lifecycle: lifecycle(id), healthy: healthy.has(id) })),
      };
    },
    async health(groups) {
      const out = new Map<
        string,
        { desired: number; healthy: readonly string[]; members: readonly string[] }
      >();
      for (const batch of chunks(groups, ASG_IDS_PER_REQUEST)) {
        requests.count('DescribeAutoScalingGroups');
        for (const name of batch) {
          const health = world.groupHealth(name);
          if (health) out.set(name, health);
        }
      }
      return out;
    },
  };
}

/** Run Command: 50 instances a command; each invocation runs a few minutes and fails where the instance is down. */
export function simulatedSsm(
  world: SimWorld,
  requests: ApiRequests,
  actor: Actor,
  observer?: ActionObserver,
): RolloutPorts['ssm'] {
  let sent = 0;
  return {
    async send(ids: readonly string[], _command: SsmCommand) {
      const out: Array<{ commandId: string; instanceIds: string[] }> = [];
      for (const batch of chunks(ids, SSM_IDS_PER_COMMAND)) {
        requests.count('SendCommand');
        const commandId = `${actor.owner()}-cmd-${String(++sent).padStart(6, '0')}`;
        for (const id of batch) observer?.acting(actor.owner(), actor.by, 'ssm', id);
        world.sendCommand(commandId, batch);
        out.push({ commandId, instanceIds: batch });
      }
      return out;
    },
    async states(commandIds) {
      const out = new Map<string, 'pending' | 'success' | 'failed'>();
      for (const id of commandIds) {
        requests.count('ListCommands');
        out.set(id, world.commandState(id));
      }
      return out;
    },
    async failedInstances(commandId) {
      requests.count('ListCommandInvocations');
      return world.commandFailures(commandId);
    },
  };
}

/**
 * CloudWatch in an account that defines no alarms and publishes no per-instance metrics: an
 * alarm a spec names is `missing` (as the adapter reports a name that does not exist) and a
 * metric has no samples (the judge then says inconclusive). The simulated change gates on
 * status checks, which the simulated EC2 answers.
 */
export function simulatedMetrics(requests: ApiRequests): RolloutPorts['metrics'] {
  return {
    async alarmStates(names) {
      requests.count('DescribeAlarms');
      return new Map(names.map((n) => [n, 'missing']));
    },
    async samples() {
      requests.count('GetMetricData');
      return [];
    },
  };
}

/** SNS: every page a person would get: about the breaker (one per storm) or about one instance. */
export class RecordingNotifier {
  breakerPages = 0;
  instancePages = 0;

  async publish(subject: string, _message: string): Promise<void> {
    if (subject.startsWith('FleetOps breaker open')) this.breakerPages++;
    else this.instancePages++;
  }
}
