/**
 * The planner: fleet + budgets + spec → ordered waves ({@link planChange}), and the plan's shape
 * (waves, skipped instances, budgets, warnings) that the rollout, the CLI and the reports read.
 */
import type { Instance } from '../../fleet/fleet';
import type { ServiceCatalog } from '../../fleet/services';
import {
  exhaustedReason,
  headroom,
  type ResolvedBudget,
  resolveBudgets,
  zoneHeadroom,
} from '../../safety/budget';
import { resolveQuantity } from '../../safety/quantity';
import { actionModule } from '../actions/index';
import { unstoppable } from '../actions/stop-start';
import type { ActionType, ChangeSpec, RiskClass } from '../spec';
import { expectedJoinerWaves, FINAL_ROUNDS, launchesPerHour } from './churn';
import { PREDICTION_EPOCH, predictWaves } from './predict';

/**
 * The constraint that bound a wave's size:
 * - `canary`: the canary size (wave 0, or a service's first exposure later on);
 * - `growth`: the growth rule (a wave is at most `factor` times the largest wave before it);
 * - `max-wave-size`: the strategy's `maxWaveSize`;
 * - `risk`: the blast-radius cap of a `high` or `kernel` change before its approval point;
 * - `budget:<service>` / `budget:<service>@<zone>`: a service's disruption budget;
 * - `remaining`: nothing else was left to change in the wave's zone(s).
 */
export type BindingConstraint = string;

export type WaveKind = 'canary' | 'containment' | 'rollout';
export type ApprovalPoint = 'canary' | 'risk-containment';

export interface Wave {
  readonly index: number;
  readonly kind: WaveKind;
  /** The wave's zone; with `zoneConcurrency` > 1, its zones joined by "+". */
  readonly zone: string;
  readonly zones: readonly string[];
  readonly size: number;
  /** The size the wave was allowed before budgets: growth, max-wave-size and risk. */
  readonly limit: number;
  readonly bindingConstraint: BindingConstraint;
  /** Per service, how many of its instances the wave changes. */
  readonly services: Readonly<Record<string, number>>;
  readonly instances: readonly string[];
  /** When set, the rollout waits for a person's approval after this wave passes its gate. */
  readonly approvalAfter: ApprovalPoint | null;
  /**
   * The most this wave may take when the rollout sizes it live (rollout/live-waves.ts): the
   * first plan's size for it; absent, `size`. A revision that shrinks a wave keeps its cap.
   */
  readonly cap?: number;
  /**
   * For a final wave added at the end of a change: whether its instances joined after planning
   * (`late`: launched since), were skipped then and are back (`revisit`), or both (`final`).
   */
  readonly joiners?: 'late' | 'revisit' | 'final';
}

/**
 * A revision of the plan while it runs: the wave it was made at, why (a budget that shrank or
 * grew, instances that became ineligible, late joiners), and the waves the plan then had.
 */
export interface PlanRevision {
  readonly revision: number;
  readonly wave: number;
  readonly at: string;
  readonly reason: string;
  readonly waves: number;
  /** Late joiners and revisited instances the revision added as final waves (ids, at most 100 each). */
  readonly late?: readonly string[];
  readonly revisits?: readonly string[];
  readonly lateCount?: number;
  readonly revisitCount?: number;
  /** Instances the revision postponed to the final waves (ids, at most 100) and how many. */
  readonly postponed?: readonly string[];
  readonly postponedCount?: number;
  /** Instances skipped at planning for a spent budget that the revision took into their zone's waves. */
  readonly adopted?: readonly string[];
  readonly adoptedCount?: number;
}

/**
 * An instance a revision moved from its zone's waves to the change's final waves: the few a
 * passing fault left without room in the zone's planned waves, which would otherwise have cost
 * the zone a wave of their own (rollout/live-waves.ts).
 */
export interface PostponedInstance {
  readonly id: string;
  readonly zone: string;
  /** The wave whose revision postponed it. */
  readonly wave: number;
  readonly reason: string;
}

export interface SkippedInstance {
  readonly id: string;
  readonly reason: string;
}

/** A service's resolved budget as the plan reports it, with what the plan spends of it. */
export interface PlannedBudget extends Omit<ResolvedBudget, 'zones' | 'source'> {
  readonly planned: number;
  /** The largest number of the service's instances that any one wave makes unavailable. */
  readonly peakPerWave: number;
}

export interface Plan {
  readonly changeId: string;
  readonly description: string;
  readonly action: ActionType;
  readonly risk: RiskClass;
  readonly zoneOrder: readonly string[];
  readonly summary: {
    readonly targeted: number;
    readonly planned: number;
    readonly skipped: number;
    readonly waves: number;
    readonly approvals: number;
    readonly blastRadiusBeforeApproval: number | null;
  };
  /**
   * From the first wave's start to the last wave's gate (./predict.ts): waves × (action + bake),
   * plus what draining and readiness, the time windows, the expected approval waits and the zone
   * bakes add (the fields below).
   */
  readonly predictedMinutes: number;
  /**
   * Of the prediction, what draining and readiness add: per wave, the longest deregistration
   * delay plus the longest healthy threshold × interval among its instances' target groups (for
   * services the action disrupts; Standby adds no time of its own beyond the groups' draining).
   */
  readonly trafficMinutes?: number;
  /** Of the prediction, the waits for the spec's time windows (from {@link predictedFrom}). */
  readonly windowMinutes?: number;
  /** Of the prediction, `approval.expectedWaitMinutes` at each approval point that has waves after it. */
  readonly approvalMinutes?: number;
  /** Of the prediction, the bakes between zones (`strategy.firstZoneBakeMinutes`, `zoneBakeMinutes`). */
  readonly zoneBakeMinutes?: number;
  /**
   * The final waves expected for the instances skipped for a spent budget (they come back at the
   * end: a service's budget's worth a wave), and what they add to the prediction.
   */
  readonly expectedFinalWaves?: number;
  readonly finalWaveMinutes?: number;
  /**
   * The target's launches an hour in the day before the inventory was read (./churn.ts), and the
   * instances the prediction expects to join the change at that rate (in its final waves, counted
   * in `expectedFinalWaves`). Absent: no launch expected.
   */
  readonly launchesPerHour?: number;
  readonly expectedLateJoiners?: number;
  /**
   * The start the prediction assumed (ISO 8601), given only when the spec has time windows: the
   * only case where the start changes it.
   */
  readonly predictedFrom?: string;
  readonly waves: readonly Wave[];
  readonly skipped: readonly SkippedInstance[];
  readonly budgets: readonly PlannedBudget[];
  readonly warnings: readonly string[];
  /** 0 (or absent): the plan as made; each revision while the change runs adds one. */
  readonly revision?: number;
  /** The revisions made so far, oldest first (absent: none). */
  readonly revisions?: readonly PlanRevision[];
  /** Instances revisions postponed to the final waves, in the order postponed (absent: none). */
  readonly postponed?: readonly PostponedInstance[];
}

/**
 * Risk containment: a `high` or `kernel` change first touches at most this many instances
 * (canary included), all in the first zone, then waits for a person's approval.
 * The cap is `percent` of the change's changeable instances, at least 1 and at most `max`.
 */
export const RISK_CONTAINMENT: Readonly<Partial<Record<RiskClass, { percent: number; max: number }>>> = {
  high: { percent: 5, max: 100 },
  kernel: { percent: 2, max: 25 },
};

export interface PlanInput {
  readonly instances: readonly Instance[];
  readonly catalog: ServiceCatalog;
  readonly spec: ChangeSpec;
  /** Instances held by a lease now (id → owner): unavailable, and not changed by this plan. */
  readonly held?: ReadonlyMap<string, string>;
  /**
   * When the change is to start (epoch ms), for the prediction's waits for time windows; the CLI
   * passes now. Default: a fixed instant ({@link PREDICTION_EPOCH}), so the plan is the same bytes
   * for the same inputs (without windows the start changes nothing).
   */
  readonly startAt?: number;
  /**
   * When the inventory was read (epoch ms): the prediction expects as many instances to join the
   * target an hour as were launched into it in the day before (./churn.ts). Absent: none expected.
   */
  readonly observedAt?: number;
}

/** Instances of one service in one zone, in change order, with a cursor. */
interface Queue {
  readonly service: string;
  readonly zone: string;
  readonly ids: string[];
  next: number;
}

/**
 * Plans a change: fleet + budgets + spec → ordered waves.
 *
 * 1. Select the targeted instances; skip those that are not running, impaired, or whose
 *    service (or zone) has no budget left, each with its reason.
 * 2. Order the zones: `strategy.zoneOrder` when given, otherwise the zone where the most
 *    targeted services can be canaried first, then the others by name.
 * 3. Wave 0 is the canary: up to `canary` instances per service, in the first zone.
 * 4. Then zone by zone (or `zoneConcurrency` zones at a time), waves grow by the growth rule
 *    and are filled, bottleneck services first, up to every service's budget.
 * 5. `high` and `kernel` changes stop at a capped blast radius for a person's approval.
 *
 * The result depends only on the inputs' content, never on their order.
 */
export function planChange({
  instances,
  catalog,
  spec,
  held = new Map(),
  startAt = PREDICTION_EPOCH,
  observedAt,
}: PlanInput): Plan {
  const { strategy } = spec;
  const budgets = resolveBudgets(instances, catalog, spec.action.type, held);
  const skipped: SkippedInstance[] = [];
  const warnings: string[] = [];

  // 1. Targeting.
  const targeted = selectTargets(instances, spec, skipped, warnings);
  const queues = new Map<string, Map<string, Queue>>(); // zone → service → queue
  const candidates = [...targeted].sort(byCellThenId);
  for (const instance of candidates) {
    const owner = held.get(instance.id);
    const notChangeable = owner
      ? `held by ${owner}`
      : whyNotChangeable(instance, budgets.get(instance.service)!, spec);
    if (notChangeable) {
      skipped.push({ id: instance.id, reason: notChangeable });
      continue;
    }
    let byService = queues.get(instance.zone);
    if (!byService) {
      byService = new Map();
      queues.set(instance.zone, byService);
    }
    let queue = byService.get(instance.service);
    if (!queue) {
      queue = { service: instance.service, zone: instance.zone, ids: [], next: 0 };
      byService.set(instance.service, queue);
    }
    queue.ids.push(instance.id);
  }
  const changeable = remainingIn(queues, [...queues.keys()]);

  // 2. Zones.
  const zoneOrder = orderZones(queues, strategy.zoneOrder, warnings);
  const groups: string[][] = [];
  for (let i = 0; i < zoneOrder.length; i += strategy.zoneConcurrency) {
    groups.push(zoneOrder.slice(i, i + strategy.zoneConcurrency));
  }

  const maxWave = strategy.maxWaveSize
    ? Math.max(1, resolveQuantity(strategy.maxWaveSize, changeable))
    : Number.POSITIVE_INFINITY;
  const containment = RISK_CONTAINMENT[spec.risk];
  const riskCap = containment
    ? Math.min(containment.max, Math.max(1, Math.ceil((containment.percent * changeable) / 100)))
    : Number.POSITIVE_INFINITY;
  const approveCanary = spec.approval.afterCanary ?? spec.risk !== 'low';

  const waves: MutableWave[] = [];
  const touched = new Set<string>();
  let changedSoFar = 0;
  let largest = 0;
  let containmentOpen = containment !== undefined;
  // Exponential: each wave at most `factor` × the largest wave so far. Linear: the largest
  // wave so far plus `factor` × the canary's size.
  const growthLimit = (largestSoFar: number, canarySize: number) =>
    strategy.growth.mode === 'exponential'
      ? Math.ceil(largestSoFar * strategy.growth.factor)
      : largestSoFar + Math.max(1, Math.ceil(canarySize * strategy.growth.factor));

  // 3–5. Waves.
  for (const [groupIndex, group] of groups.entries()) {
    while (remainingIn(queues, group) > 0) {
      const isCanary = waves.length === 0;
      const limits: Array<[string, number]> = [];
      if (containmentOpen) limits.push(['risk', riskCap - changedSoFar]);
      limits.push(['max-wave-size', maxWave]);
      if (!isCanary) limits.push(['growth', growthLimit(largest, waves[0].size)]);
      const [limitName, limit] = limits.reduce((a, b) => (b[1] < a[1] ? b : a));

      const wave = fillWave(
        queues,
        isCanary ? [group[0]] : group,
        limit,
        limitName,
        budgets,
        touched,
        strategy.canary,
        isCanary ? 'canary' : 'remaining',
      );
      const kind: WaveKind = isCanary ? 'canary' : containmentOpen ? 'containment' : 'rollout';
      waves.push({ index: waves.length, kind, ...wave, approvalAfter: null });
      changedSoFar += wave.size;
      largest = Math.max(largest, wave.size);

      if (containmentOpen && (changedSoFar >= riskCap || remainingIn(queues, group) === 0)) {
        containmentOpen = false;
        waves[waves.length - 1].approvalAfter = 'risk-containment';
      } else if (isCanary && approveCanary) {
        waves[waves.length - 1].approvalAfter = 'canary';
      }
    }
    // Containment is confined to the first zone group.
    if (groupIndex === 0 && containmentOpen && waves.length > 0) {
      containmentOpen = false;
      waves[waves.length - 1].approvalAfter = 'risk-containment';
    }
  }

  if (
    spec.gates.onFailure === 'rollback' &&
    !spec.rollback &&
    actionModule(spec.action).undo === 'spec-rollback'
  ) {
    warnings.push(
      'gates.onFailure is rollback but the spec declares no rollback action: a failed gate stops the change and leaves the changed instances as they are',
    );
  }
  skipped.sort((a, b) => compare(a.id, b.id));
  warnings.sort(compare);
  const planned = waves.reduce((n, w) => n + w.size, 0);
  // The instances skipped for a spent budget come back at the end, in final waves of their own
  // (rollout/release.ts): the prediction counts those waves too.
  const revisits = expectedRevisitWaves(waves, skipped, instances, budgets, zoneOrder);
  const finals = [...revisits];
  let prediction = predictWaves({ waves: [...waves, ...finals], spec, instances, catalog, startAt });
  // Instances launched into the target while the change runs join at the end (not for replace,
  // whose groups launch the new ones): a round of final waves for those that joined during the
  // waves before, FINAL_ROUNDS times, at the rate the target was launched into the day before.
  const perHour =
    observedAt !== undefined && actionModule(spec.action).type !== 'replace'
      ? launchesPerHour(targeted, observedAt)
      : 0;
  let lateJoiners = 0;
  if (perHour > 0 && waves.length > 0) {
    const cap = Math.max(1, ...waves.map((w) => w.size));
    let from = prediction.startAt;
    for (let round = 0; round < FINAL_ROUNDS; round++) {
      const expected = (perHour * (prediction.endsAt - from)) / 3_600_000;
      const more = expectedJoinerWaves({
        expected,
        targeted,
        budgets,
        zoneOrder,
        cap,
        firstIndex: waves.length + finals.length,
      });
      if (more.length === 0) break;
      lateJoiners += expected;
      from = prediction.endsAt;
      finals.push(...more);
      prediction = predictWaves({ waves: [...waves, ...finals], spec, instances, catalog, startAt });
    }
  }
  return {
    changeId: spec.id,
    description: spec.description,
    action: spec.action.type,
    risk: spec.risk,
    zoneOrder,
    summary: {
      targeted: targeted.length + countUnknownIds(skipped),
      planned,
      skipped: skipped.length,
      waves: waves.length,
      approvals: waves.filter((w) => w.approvalAfter !== null).length,
      blastRadiusBeforeApproval: containment ? Math.min(riskCap, planned) : null,
    },
    predictedMinutes: tenths(prediction.minutes),
    trafficMinutes: tenths(prediction.trafficMinutes),
    windowMinutes: tenths(prediction.windowMinutes),
    approvalMinutes: tenths(prediction.approvalMinutes),
    zoneBakeMinutes: tenths(prediction.zoneBakeMinutes),
    ...(perHour > 0
      ? { launchesPerHour: tenths(perHour), expectedLateJoiners: Math.round(lateJoiners) }
      : {}),
    ...(finals.length > 0
      ? {
          expectedFinalWaves: finals.length,
          finalWaveMinutes: tenths(
            (prediction.endsAt - (prediction.perWave[waves.length - 1]?.endsAt ?? prediction.startAt)) /
              60_000,
          ),
        }
      : {}),
    ...(spec.windows.length > 0 ? { predictedFrom: new Date(startAt).toISOString() } : {}),
    waves,
    skipped,
    budgets: summarizeBudgets(budgets, targeted, waves),
    warnings,
  };
}

type MutableWave = { -readonly [K in keyof Wave]: Wave[K] };

const UNKNOWN_INSTANCE = 'not in the fleet inventory';

function countUnknownIds(skipped: readonly SkippedInstance[]): number {
  let n = 0;
  for (const s of skipped) if (s.reason === UNKNOWN_INSTANCE) n++;
  return n;
}

/** Target selectors combine with AND; the values inside one selector combine with OR. */
export function selectTargets(
  instances: readonly Instance[],
  spec: ChangeSpec,
  skipped: SkippedInstance[],
  warnings: string[],
): Instance[] {
  const { services, tags, instanceIds } = spec.target;
  const serviceSet = services ? new Set(services) : undefined;
  const idSet = instanceIds ? new Set(instanceIds) : undefined;
  const tagEntries = tags ? Object.entries(tags) : [];
  const seenServices = new Set<string>();
  const seenIds = new Set<string>();
  const selected: Instance[] = [];
  for (const instance of instances) {
    seenIds.add(instance.id);
    if (instance.state === 'terminated') continue;
    seenServices.add(instance.service);
    if (serviceSet && !serviceSet.has(instance.service)) continue;
    if (idSet && !idSet.has(instance.id)) continue;
    if (tagEntries.some(([k, v]) => instance.tags[k] !== v)) continue;
    selected.push(instance);
  }
  for (const id of idSet ?? []) {
    if (!seenIds.has(id)) skipped.push({ id, reason: UNKNOWN_INSTANCE });
  }
  for (const service of serviceSet ?? []) {
    if (!seenServices.has(service))
      warnings.push(`target.services: "${service}" has no instance in the fleet`);
  }
  return selected;
}

export function whyNotChangeable(
  instance: Instance,
  budget: ResolvedBudget,
  spec: ChangeSpec,
): string | undefined {
  const why = whyNotChangeableNow(instance, spec);
  if (why) return why;
  if (headroom(budget, instance.zone) <= 0) return exhaustedReason(budget, instance.zone);
  return undefined;
}

/**
 * Why the instance itself cannot take the change now, budgets aside: not running, impaired, not
 * in service in its group, or (stop-start) unstoppable. The planner and each live wave ask it.
 */
export function whyNotChangeableNow(instance: Instance, spec: ChangeSpec): string | undefined {
  if (instance.state !== 'running') return `not running (state: ${instance.state})`;
  if (instance.health === 'impaired') return 'impaired: left to remediation';
  if (spec.action.type === 'stop-start') {
    const why = unstoppable(instance);
    if (why) return why;
  }
  if (instance.asg && instance.asg.lifecycle !== 'InService')
    return `${instance.asg.lifecycle} in ${instance.asg.name}: held by its group or another party`;
  return undefined;
}

function orderZones(
  queues: Map<string, Map<string, Queue>>,
  requested: readonly string[] | undefined,
  warnings: string[],
): string[] {
  const present = [...queues.keys()].sort(compare);
  if (requested) {
    const known = new Set(present);
    for (const zone of requested) {
      if (!known.has(zone)) warnings.push(`strategy.zoneOrder: zone "${zone}" has no changeable instance`);
    }
    const listed = requested.filter((z, i) => known.has(z) && requested.indexOf(z) === i);
    return [...listed, ...present.filter((z) => !listed.includes(z))];
  }
  // The canary zone is the one where the canary covers the most services.
  let canaryZone = present[0];
  for (const zone of present) {
    if (queues.get(zone)!.size > queues.get(canaryZone)!.size) canaryZone = zone;
  }
  return canaryZone === undefined ? [] : [canaryZone, ...present.filter((z) => z !== canaryZone)];
}

function remainingIn(queues: Map<string, Map<string, Queue>>, zones: readonly string[]): number {
  let n = 0;
  for (const zone of zones) {
    for (const q of queues.get(zone)?.values() ?? []) n += q.ids.length - q.next;
  }
  return n;
}

interface ServiceDemand {
  readonly service: string;
  readonly remaining: number;
  readonly cap: number;
  readonly capReason: BindingConstraint;
  readonly wavesNeeded: number;
  readonly queues: Queue[];
}

/**
 * Fills one wave from the given zones up to `limit`, giving each service at most its
 * per-wave capacity (budget headroom overall and per zone; `canary` on its first exposure).
 * Services that need the most waves go first, so the plan has as few waves as possible.
 */
function fillWave(
  queues: Map<string, Map<string, Queue>>,
  zones: readonly string[],
  limit: number,
  limitName: string,
  budgets: Map<string, ResolvedBudget>,
  touched: Set<string>,
  canary: number,
  emptied: BindingConstraint,
): Omit<Wave, 'index' | 'kind' | 'approvalAfter'> {
  const byService = new Map<string, Queue[]>();
  for (const zone of zones) {
    for (const q of queues.get(zone)?.values() ?? []) {
      if (q.next >= q.ids.length) continue;
      const list = byService.get(q.service);
      if (list) list.push(q);
      else byService.set(q.service, [q]);
    }
  }

  const demands: ServiceDemand[] = [];
  for (const [service, qs] of byService) {
    const budget = budgets.get(service)!;
    let remaining = 0;
    let zonesRoom = 0;
    let tightestZone = qs[0].zone;
    for (const q of qs) {
      remaining += q.ids.length - q.next;
      zonesRoom += zoneHeadroom(budget, q.zone);
      if (zoneHeadroom(budget, q.zone) < zoneHeadroom(budget, tightestZone)) tightestZone = q.zone;
    }
    const overall = headroom(budget);
    let cap = Math.min(overall, zonesRoom);
    let capReason = zonesRoom < overall ? `budget:${service}@${tightestZone}` : `budget:${service}`;
    if (!touched.has(service) && canary <= cap) {
      cap = canary;
      capReason = 'canary';
    }
    demands.push({
      service,
      remaining,
      cap,
      capReason,
      wavesNeeded: Number.isFinite(cap) ? Math.ceil(remaining / cap) : 1,
      queues: qs,
    });
  }
  demands.sort(
    (a, b) => b.wavesNeeded - a.wavesNeeded || b.remaining - a.remaining || compare(a.service, b.service),
  );

  const services: Record<string, number> = {};
  const taken: string[] = [];
  let bottleneck: BindingConstraint | undefined;
  for (const demand of demands) {
    const room = limit - taken.length;
    if (room <= 0) break;
    let want = Math.min(demand.cap, demand.remaining, room);
    const budget = budgets.get(demand.service)!;
    const before = taken.length;
    for (const q of demand.queues) {
      if (want <= 0) break;
      const n = Math.min(want, q.ids.length - q.next, zoneHeadroom(budget, q.zone));
      for (let i = 0; i < n; i++) taken.push(q.ids[q.next + i]);
      q.next += n;
      want -= n;
    }
    const got = taken.length - before;
    if (got > 0) {
      services[demand.service] = got;
      touched.add(demand.service);
    }
    if (bottleneck === undefined && got < demand.remaining && got < room) bottleneck = demand.capReason;
  }

  const size = taken.length;
  let bindingConstraint: BindingConstraint;
  if (size >= limit && remainingIn(queues, zones) > 0) bindingConstraint = limitName;
  else bindingConstraint = bottleneck ?? (size >= limit ? limitName : emptied);

  taken.sort(compare);
  const sortedServices: Record<string, number> = {};
  for (const name of Object.keys(services).sort(compare)) sortedServices[name] = services[name];
  return {
    zone: zones.join('+'),
    zones: [...zones],
    size,
    limit: Number.isFinite(limit) ? limit : size,
    bindingConstraint,
    services: sortedServices,
    instances: taken,
  };
}

export function summarizeBudgets(
  budgets: Map<string, ResolvedBudget>,
  targeted: readonly Instance[],
  waves: readonly Wave[],
): PlannedBudget[] {
  const targetedServices = new Set(targeted.map((i) => i.service));
  const planned = new Map<string, number>();
  const peak = new Map<string, number>();
  for (const wave of waves) {
    for (const [service, n] of Object.entries(wave.services)) {
      planned.set(service, (planned.get(service) ?? 0) + n);
      peak.set(service, Math.max(peak.get(service) ?? 0, n));
    }
  }
  return [...targetedServices].sort(compare).map((service) => {
    const b = budgets.get(service)!;
    return {
      service,
      declared: b.declared,
      disruptive: b.disruptive,
      population: b.population,
      maxUnavailable: b.maxUnavailable,
      unavailable: b.unavailable,
      planned: planned.get(service) ?? 0,
      peakPerWave: peak.get(service) ?? 0,
    };
  });
}

function byCellThenId(a: Instance, b: Instance): number {
  return compare(a.cell ?? '', b.cell ?? '') || compare(a.id, b.id);
}

/** Code-unit order: locale-independent, so plans are byte-identical on every machine. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const tenths = (minutes: number) => Math.round(minutes * 10) / 10;

/**
 * The final waves a plan's instances skipped for a spent budget are expected to get at the end of
 * the change (findJoiners revisits them once their budget has room): per zone in the plan's
 * order, as many waves as its most constrained service needs at its budget (per zone and overall,
 * at least one a wave), each at most the plan's largest wave — the waves the prediction adds.
 */
function expectedRevisitWaves(
  waves: readonly Wave[],
  skipped: readonly SkippedInstance[],
  instances: readonly Instance[],
  budgets: ReadonlyMap<string, ResolvedBudget>,
  zoneOrder: readonly string[],
): Wave[] {
  const byId = new Map(instances.map((i) => [i.id, i]));
  const back = skipped
    .filter((s) => /^budget:\S+ exhausted/.test(s.reason))
    .map((s) => byId.get(s.id))
    .filter((i): i is Instance => i !== undefined);
  if (back.length === 0) return [];
  const cap = Math.max(1, ...waves.map((w) => w.size));
  const out: Wave[] = [];
  const rank = new Map(zoneOrder.map((z, k) => [z, k]));
  const zones = [...new Set(back.map((i) => i.zone))].sort(
    (a, b) => (rank.get(a) ?? zoneOrder.length) - (rank.get(b) ?? zoneOrder.length) || compare(a, b),
  );
  for (const zone of zones) {
    const queues = new Map<string, string[]>();
    for (const i of back.filter((x) => x.zone === zone).sort((a, b) => compare(a.id, b.id))) {
      const q = queues.get(i.service);
      if (q) q.push(i.id);
      else queues.set(i.service, [i.id]);
    }
    while ([...queues.values()].some((q) => q.length > 0)) {
      const ids: string[] = [];
      const services: Record<string, number> = {};
      for (const [service, q] of [...queues].sort(([a], [b]) => compare(a, b))) {
        const b = budgets.get(service);
        const perWave = Math.max(
          1,
          Math.min(b?.maxUnavailable ?? 1, b?.zones.get(zone)?.maxUnavailable ?? 1),
        );
        const take = q.splice(0, Math.min(perWave, cap - ids.length));
        if (take.length > 0) services[service] = take.length;
        ids.push(...take);
        if (ids.length >= cap) break;
      }
      out.push({
        index: waves.length + out.length,
        kind: 'rollout',
        zone,
        zones: [zone],
        size: ids.length,
        limit: cap,
        bindingConstraint: 'final',
        services,
        instances: ids.sort(compare),
        approvalAfter: null,
        joiners: 'revisit',
      });
    }
  }
  return out;
}
