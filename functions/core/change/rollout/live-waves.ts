import type { Instance } from '../../fleet/fleet';
import type { BudgetRoom } from '../../safety/ledger';
import {
  compare,
  type Plan,
  type PlanRevision,
  type PostponedInstance,
  selectTargets,
  type Wave,
  whyNotChangeableNow,
} from '../plan/planner';
import type { ChangeSpec } from '../spec';
import { skippedIn } from './wave-records';

/**
 * # Live waves
 *
 * The plan fixes an order and a size per wave; the fleet under a change of days does not hold
 * still. So each wave is sized when it is leased, against the ledger as it is then:
 * 1. it takes the next instances in the plan's order (its own first, then the next waves' of the
 *    same segment: a stretch of waves in one zone group up to an approval point), as many as
 *    every budget has room for now, at most its cap (the first plan's size for it), and on a
 *    service's first exposure at most `strategy.canary`;
 * 2. instances that are not changeable any more are skipped with why; those held by another
 *    party, or with no room in their budget now, are deferred to the next waves of the segment;
 * 3. whenever the wave differs from the plan, the rest of the segment is planned again with the
 *    room known now (a revision of the plan, with its reason). Everything here is a function of
 *    the plan, the inventory and the ledger it is given: the same fleet history gives the same
 *    revisions, and with budgets as they were at planning the plan is followed exactly.
 */

/** An instance the wave might take, as the inventory has it now. */
export type LiveCandidate = Pick<Instance, 'id' | 'service' | 'zone'>;

export interface LiveSizingInput {
  /** In the plan's order: the wave's own instances, then the next ones of its segment. */
  readonly candidates: readonly LiveCandidate[];
  /** How many of the candidates are the wave's own (the others may only be pulled forward). */
  readonly own: number;
  readonly cap: number;
  /** Per service, the budget's room now (services the action does not disrupt need none). */
  readonly room: ReadonlyMap<string, BudgetRoom>;
  readonly disruptive: (service: string) => boolean;
  /** Services the change has not touched before this wave: at most `canary` of each. */
  readonly untouched: ReadonlySet<string>;
  readonly canary: number;
  /** Instances another party holds now, with why (deferred, not skipped). */
  readonly heldByOthers?: ReadonlyMap<string, string>;
}

export interface LiveSizing {
  /** What the wave takes now, in the plan's order. */
  readonly take: readonly string[];
  /** The wave's own instances it cannot take now, with why (the next waves get them). */
  readonly deferred: ReadonlyArray<{ readonly id: string; readonly reason: string }>;
  /** Of `take`, how many were pulled forward from the next waves. */
  readonly pulled: number;
}

/** Sizes one wave against the room there is now ({@link LiveSizingInput}). */
export function sizeWave(input: LiveSizingInput): LiveSizing {
  const overall = new Map<string, number>();
  const zoneRoom = new Map<string, number>();
  for (const [service, r] of input.room) {
    overall.set(service, r.overall);
    for (const [zone, n] of r.zones) zoneRoom.set(`${service}@${zone}`, n);
  }
  const takenOf = new Map<string, number>();
  const take: string[] = [];
  const deferred: Array<{ id: string; reason: string }> = [];
  let pulled = 0;
  input.candidates.forEach((c, index) => {
    const own = index < input.own;
    const why = whyNotNow(c);
    if (why === undefined) {
      take.push(c.id);
      takenOf.set(c.service, (takenOf.get(c.service) ?? 0) + 1);
      if (input.disruptive(c.service)) {
        overall.set(c.service, (overall.get(c.service) ?? 0) - 1);
        zoneRoom.set(`${c.service}@${c.zone}`, (zoneRoom.get(`${c.service}@${c.zone}`) ?? 0) - 1);
      }
      if (!own) pulled++;
    } else if (own) {
      deferred.push({ id: c.id, reason: why });
    }
  });
  return { take, deferred, pulled };

  function whyNotNow(c: LiveCandidate): string | undefined {
    const holder = input.heldByOthers?.get(c.id);
    if (holder) return holder;
    if (take.length >= input.cap) return `the wave is full (${input.cap})`;
    if (input.untouched.has(c.service) && (takenOf.get(c.service) ?? 0) >= input.canary)
      return `canary: ${c.service}'s first exposure takes at most ${input.canary}`;
    if (!input.disruptive(c.service)) return undefined;
    if ((overall.get(c.service) ?? 0) <= 0) return `budget:${c.service} has no room now`;
    if ((zoneRoom.get(`${c.service}@${c.zone}`) ?? 0) <= 0)
      return `budget:${c.service}@${c.zone} has no room now`;
    return undefined;
  }
}

/**
 * Why an instance the plan holds cannot be changed now, if so: gone, not running, impaired, not in
 * service in its group, or (stop-start) unstoppable. A rollback skips only what is gone: it
 * undoes what the change did to an instance, whatever its health.
 */
export function ineligibleNow(
  instance: Instance | undefined,
  spec: ChangeSpec,
  rollback: boolean,
): string | undefined {
  if (!instance) return 'not in the fleet inventory';
  if (instance.state === 'terminated') return 'terminated';
  if (rollback) return undefined;
  return whyNotChangeableNow(instance, spec);
}

/** Skip reasons after which an instance may be changed later, once it is back (revisits). */
export function mayComeBack(reason: string): boolean {
  return !(
    reason === 'terminated' ||
    reason === 'not in the fleet inventory' ||
    reason.startsWith('refused') ||
    reason.startsWith('final wave')
  );
}

/** The waves of the segment wave `index` is in: from it to the last before the zone changes or an approval. */
export function segmentEnd(plan: Plan, index: number): number {
  let end = index;
  while (
    end + 1 < plan.waves.length &&
    plan.waves[end].approvalAfter === null &&
    plan.waves[end + 1].zone === plan.waves[index].zone &&
    plan.waves[end + 1].joiners === plan.waves[index].joiners
  )
    end++;
  return end;
}

export interface ReviseInput {
  readonly plan: Plan;
  readonly wave: number;
  /** What the wave takes now (sizeWave's `take`). */
  readonly take: readonly string[];
  /** Instances skipped from the segment now (not changeable any more): out of the plan. */
  readonly skipped: ReadonlySet<string>;
  readonly serviceOf: (id: string) => string | undefined;
  readonly zoneOf: (id: string) => string | undefined;
  /**
   * The room now. The forecast of the rest of the segment gives each service, in each wave, the
   * more of this and of what the plan gave it in one wave at most (its peak): most of what takes
   * a budget during a long change (a fault, a remediation) passes within a wave or two, and a
   * room that stays short is met again by each wave's own sizing.
   */
  readonly room: ReadonlyMap<string, BudgetRoom>;
  readonly disruptive: (service: string) => boolean;
  readonly canary: number;
  /**
   * May the few instances that need a wave beyond the segment's planned ones go to the change's
   * final waves instead ({@link postponable}): a rollout's zone waves, not a rollback nor a final wave.
   */
  readonly postpone?: boolean;
  readonly reason: string;
  readonly at: number;
}

/**
 * How many instances of a zone a change's revisions may postpone to its final waves, all together:
 * half the zone segment's last cap. A fault that takes a budget for a wave or two leaves a
 * bottleneck service (the one whose instances set the zone's number of waves) an instance short
 * in a wave, and carrying it costs the zone a wave of its own for a handful of instances — at
 * 100,000 instances, a fault rate of 5e-5 gave 41 such waves of 1 to 3 instances (+20% of the
 * change's time). Postponed, they share the final waves with the late joiners and revisits
 * (one a zone). A budget that stays short defers more than that, and the zone's waves grow.
 */
export const postponable = (lastCap: number) => Math.floor(lastCap / 2);

/**
 * The next revision of the plan: wave `wave` as taken now, and the rest of its segment (the
 * instances it deferred, then the segment's next waves, less what it pulled forward) planned again
 * in the same order, each wave at most its cap (extra waves: the segment's last cap), with the room
 * there is now. The segment's approval point, if any, moves to its new last wave; every other
 * wave stays as it was. Deterministic: a function of its input only.
 */
export function revisePlan(input: ReviseInput): Plan {
  const { plan } = input;
  const end = segmentEnd(plan, input.wave);
  const current = plan.waves[input.wave];
  const taken = new Set(input.take);
  const rest: string[] = [];
  for (let w = input.wave; w <= end; w++)
    for (const id of plan.waves[w].instances) if (!taken.has(id) && !input.skipped.has(id)) rest.push(id);
  // The segment's last wave may grow to what the plan's rules (growth, maxWaveSize, risk) allowed
  // it, its `limit`: it is usually the small "remaining" wave of its zone, and the instances
  // deferred earlier fold into it instead of costing a wave of their own.
  const caps = plan.waves.slice(input.wave + 1, end + 1).map(capOf);
  const last = plan.waves[end];
  const lastCap = Math.max(capOf(last), last.limit);
  if (caps.length > 0) caps[caps.length - 1] = lastCap;

  const touched = new Set<string>();
  for (const w of plan.waves.slice(0, input.wave)) for (const s of Object.keys(w.services)) touched.add(s);
  const serviceOf = (id: string) => input.serviceOf(id) ?? '?';
  for (const id of input.take) touched.add(serviceOf(id));

  const segment: MutableWave[] = [waveOf(current, [...input.take], serviceOf, capOf(current), 'live')];
  segment.push(...forecastSegment(plan, input, rest, input.wave, 1, caps, lastCap, touched, serviceOf));
  // Waves beyond the segment's planned ones, when few instances need them: to the final waves.
  const planned = end - input.wave + 1;
  let postponed: PostponedInstance[] = [];
  if (input.postpone && current.joiners === undefined && segment.length > planned) {
    const extra = segment.slice(planned).flatMap((w) => w.instances);
    const before = (plan.postponed ?? []).filter((p) => p.zone === current.zone).length;
    if (before + extra.length <= postponable(lastCap)) {
      segment.length = planned;
      postponed = extra.map((id) => ({
        id,
        zone: current.zone,
        wave: input.wave,
        reason: `postponed to the final waves: no room in ${current.zone}'s planned waves (${extra.length} would need a wave of their own)`,
      }));
    }
  }
  // The segment's approval point stays at its end.
  const approval = plan.waves[end].approvalAfter;
  for (const w of segment) w.approvalAfter = null;
  segment[segment.length - 1].approvalAfter = approval;

  const waves = [...plan.waves.slice(0, input.wave), ...segment, ...plan.waves.slice(end + 1)].map(
    (w, index) => ({ ...w, index }),
  );
  if (postponed.length === 0) return withRevision(plan, waves, input.wave, input.reason, input.at);
  const ids = postponed.map((p) => p.id);
  return withRevision(
    { ...plan, postponed: [...(plan.postponed ?? []), ...postponed] },
    waves,
    input.wave,
    `${input.reason}; ${ids.length} postponed to the final waves`,
    input.at,
    { postponed: ids.slice(0, 100), postponedCount: ids.length },
  );
}

/**
 * The forecast of the waves of wave `wave`'s segment from `wave + offset` on for the instances in
 * `queue0` (in order): each
 * wave as the room known now and the plan's peaks allow ({@link forecastRoom}), at most its cap.
 */
function forecastSegment(
  plan: Plan,
  input: Pick<ReviseInput, 'zoneOf' | 'room' | 'disruptive' | 'canary'>,
  queue0: readonly string[],
  wave: number,
  offset: number,
  caps: readonly number[],
  lastCap: number,
  touched: Set<string>,
  serviceOf: (id: string) => string,
): MutableWave[] {
  const end = segmentEnd(plan, wave);
  const { zone, zones } = plan.waves[wave];
  const peaks = plannedPeaks(plan);
  const out: MutableWave[] = [];
  let queue = [...queue0];
  for (let k = 0; queue.length > 0; k++) {
    const cap = k < caps.length ? caps[k] : lastCap;
    const candidates = queue.map((id) => ({ id, service: serviceOf(id), zone: input.zoneOf(id) ?? '?' }));
    const untouched = new Set(candidates.map((c) => c.service).filter((s) => !touched.has(s)));
    const { take } = sizeWave({
      candidates,
      own: candidates.length,
      cap,
      room: forecastRoom(input.room, candidates, peaks),
      disruptive: input.disruptive,
      untouched,
      canary: input.canary,
    });
    // At least one a wave, so the forecast always ends (a budget with no room now: it will wait).
    const next: string[] = take.length > 0 ? [...take] : [queue[0]];
    // Each wave keeps the planned wave's settings it takes the place of (extra ones: the segment's last).
    const model = wave + offset + k <= end ? plan.waves[wave + offset + k] : plan.waves[end];
    for (const id of next) touched.add(serviceOf(id));
    out.push(waveOf({ ...model, zone, zones }, next, serviceOf, cap, 'revised'));
    const chosen = new Set(next);
    queue = queue.filter((id) => !chosen.has(id));
  }
  return out;
}

/** Whether a planning skip was for a budget spent at the time (the instance may be changed once it has room). */
export const skippedForBudget = (reason: string) => /^budget:\S+ exhausted/.test(reason);

/**
 * The plan with the instances of `zone` that planning skipped because their budget was spent
 * then (`adopt`) taken into the zone's segment starting at `wave`, before it begins: its waves
 * planned again, in the plan's order and then the adopted ones', each at most its cap (the segment's
 * last may grow to its limit), with the room known now, as many of them as its planned waves hold
 * (none: undefined, no revision) — so they are changed
 * among the zone's waves, a few a wave, instead of one by one in the change's final waves (a
 * service whose budget is one instance needs as many waves as it has instances). Deterministic.
 */
export function adoptSkipped(
  input: Omit<ReviseInput, 'take' | 'skipped' | 'postpone'> & { readonly adopt: readonly string[] },
): Plan | undefined {
  const { plan } = input;
  const end = segmentEnd(plan, input.wave);
  const own = plan.waves.slice(input.wave, end + 1).flatMap((w) => w.instances);
  // Each wave may grow to what the plan's rules (growth, maxWaveSize, risk) allowed it, its
  // `limit`: a wave its budgets kept smaller has room for instances of other services.
  const caps = plan.waves.slice(input.wave, end + 1).map((w) => Math.max(capOf(w), w.limit));
  const lastCap = caps[caps.length - 1];
  const before = new Set<string>();
  for (const w of plan.waves.slice(0, input.wave)) for (const s of Object.keys(w.services)) before.add(s);
  const serviceOf = (id: string) => input.serviceOf(id) ?? '?';
  // Only as many as the zone's planned waves hold: those that would need waves of their own are
  // left for the final waves (so the zone takes no longer than planned).
  let adopt = [...input.adopt];
  let segment: MutableWave[] = [];
  for (let pass = 0; pass < 4 && adopt.length > 0; pass++) {
    segment = forecastSegment(
      plan,
      input,
      [...own, ...adopt],
      input.wave,
      0,
      caps,
      lastCap,
      new Set(before),
      serviceOf,
    );
    if (segment.length <= caps.length) break;
    const extra = new Set(segment.slice(caps.length).flatMap((w) => w.instances));
    adopt = adopt.filter((id) => !extra.has(id));
    if (pass === 3) adopt = [];
  }
  if (adopt.length === 0 || segment.length > caps.length) return undefined;
  const approval = plan.waves[end].approvalAfter;
  for (const w of segment) w.approvalAfter = null;
  segment[segment.length - 1].approvalAfter = approval;
  const waves = [...plan.waves.slice(0, input.wave), ...segment, ...plan.waves.slice(end + 1)].map(
    (w, index) => ({ ...w, index }),
  );
  return withRevision(plan, waves, input.wave, `${input.reason}: ${adopt.length} join its waves`, input.at, {
    adopted: adopt.slice(0, 100),
    adoptedCount: adopt.length,
  });
}

/**
 * Who gets a final wave: instances the target matches and that are changeable now, not changed by
 * the change, and either never in its plan (`late`: launched after planning; only when `late`) or
 * skipped — at planning or from a wave — for a reason they may come back from, or postponed by a
 * revision (`revisit`). An instance a wave leased and the action refused or failed on is not tried
 * again.
 */
export function findJoiners(input: {
  readonly plan: Plan;
  readonly spec: ChangeSpec;
  readonly instances: readonly Instance[];
  readonly changed: ReadonlySet<string>;
  readonly records: ReadonlyArray<{ readonly part: string; readonly body: Record<string, unknown> }>;
  readonly late: boolean;
}): Array<{ instance: Instance; kind: 'late' | 'revisit' }> {
  const skippedInWave = skippedIn(input.records);
  const inWaves = new Set(input.plan.waves.flatMap((w) => w.instances));
  const skippedAtPlanning = new Map(input.plan.skipped.map((s) => [s.id, s.reason]));
  const postponed = new Set((input.plan.postponed ?? []).map((p) => p.id));
  const out: Array<{ instance: Instance; kind: 'late' | 'revisit' }> = [];
  for (const instance of selectTargets(input.instances, input.spec, [], [])) {
    if (input.changed.has(instance.id) || ineligibleNow(instance, input.spec, false) !== undefined) continue;
    // Skipped from a wave (a revision may have taken it out of the waves since) or at planning.
    const skip = skippedInWave.get(instance.id) ?? skippedAtPlanning.get(instance.id);
    if (postponed.has(instance.id) && !inWaves.has(instance.id)) {
      out.push({ instance, kind: 'revisit' });
    } else if (skip !== undefined) {
      if (mayComeBack(skip)) out.push({ instance, kind: 'revisit' });
    } else if (!inWaves.has(instance.id) && input.late) out.push({ instance, kind: 'late' });
  }
  return out;
}

/** The plan with final waves appended for late joiners and revisited instances. */
export function appendFinalWaves(
  plan: Plan,
  joiners: ReadonlyArray<{ readonly instance: LiveCandidate; readonly kind: 'late' | 'revisit' }>,
  reason: string,
  at: number,
): Plan {
  const zoneRank = new Map(plan.zoneOrder.map((z, i) => [z, i]));
  const sorted = [...joiners].sort(
    (a, b) =>
      (zoneRank.get(a.instance.zone) ?? plan.zoneOrder.length) -
        (zoneRank.get(b.instance.zone) ?? plan.zoneOrder.length) ||
      compare(a.instance.zone, b.instance.zone) ||
      compare(a.instance.id, b.instance.id),
  );
  // As large as the plan's largest wave: the growth is done, and each final wave is still sized
  // live against every budget (and the canary of a service never changed before).
  const cap = Math.max(1, ...plan.waves.map(capOf));
  const waves: Wave[] = [...plan.waves];
  for (let i = 0; i < sorted.length; ) {
    const zone = sorted[i].instance.zone;
    const chunk: typeof sorted = [];
    while (i < sorted.length && sorted[i].instance.zone === zone && chunk.length < cap)
      chunk.push(sorted[i++]);
    const kinds = new Set(chunk.map((j) => j.kind));
    const byId = new Map(chunk.map((j) => [j.instance.id, j.instance.service]));
    const wave = waveOf(
      {
        index: waves.length,
        kind: 'rollout',
        zone,
        zones: [zone],
        size: 0,
        limit: cap,
        bindingConstraint: 'final',
        services: {},
        instances: [],
        approvalAfter: null,
      },
      chunk.map((j) => j.instance.id),
      (id) => byId.get(id) ?? '?',
      cap,
      'final',
    );
    waves.push({ ...wave, joiners: kinds.size > 1 ? 'final' : [...kinds][0] });
  }
  const late = sorted.filter((j) => j.kind === 'late').map((j) => j.instance.id);
  const revisits = sorted.filter((j) => j.kind === 'revisit').map((j) => j.instance.id);
  return withRevision(plan, waves, plan.waves.length, reason, at, {
    late: late.slice(0, 100),
    revisits: revisits.slice(0, 100),
    lateCount: late.length,
    revisitCount: revisits.length,
  });
}

/** How many rounds of final waves a change has had (each appended by {@link appendFinalWaves}). */
export const finalRounds = (plan: Plan) =>
  (plan.revisions ?? []).filter((r) => r.lateCount !== undefined).length;

const capOf = (w: Wave) => w.cap ?? w.size;

type MutableWave = { -readonly [K in keyof Wave]: Wave[K] };

function waveOf(
  model: Wave,
  ids: string[],
  serviceOf: (id: string) => string,
  cap: number,
  how: 'live' | 'revised' | 'final',
): MutableWave {
  const counts: Record<string, number> = {};
  for (const id of ids) counts[serviceOf(id)] = (counts[serviceOf(id)] ?? 0) + 1;
  const services: Record<string, number> = {};
  for (const s of Object.keys(counts).sort(compare)) services[s] = counts[s];
  const instances = [...ids].sort(compare);
  return {
    ...model,
    size: instances.length,
    instances,
    services,
    cap,
    bindingConstraint:
      how === 'final'
        ? 'final'
        : instances.length < cap
          ? `live:${model.bindingConstraint}`
          : model.bindingConstraint,
  };
}

/** Per service, overall and per zone, the most instances one wave of the plan takes. */
function plannedPeaks(plan: Plan): { overall: Map<string, number>; zone: Map<string, number> } {
  const overall = new Map<string, number>();
  const zone = new Map<string, number>();
  for (const w of plan.waves) {
    for (const [service, n] of Object.entries(w.services)) {
      overall.set(service, Math.max(overall.get(service) ?? 0, n));
      // A wave of one zone gives its count to that zone; one over several zones, to each (an upper bound).
      for (const z of w.zones) zone.set(`${service}@${z}`, Math.max(zone.get(`${service}@${z}`) ?? 0, n));
    }
  }
  return { overall, zone };
}

/** The forecast's room: the more of the room now and the plan's peak, at least 1 (so it ends). */
function forecastRoom(
  room: ReadonlyMap<string, BudgetRoom>,
  candidates: readonly LiveCandidate[],
  peaks: ReturnType<typeof plannedPeaks>,
) {
  const out = new Map<string, BudgetRoom>();
  for (const c of candidates) {
    if (out.has(c.service)) continue;
    const r = room.get(c.service);
    const zones = new Map<string, number>();
    for (const x of candidates) {
      if (x.service !== c.service || zones.has(x.zone)) continue;
      const key = `${c.service}@${x.zone}`;
      zones.set(x.zone, Math.max(1, r?.zones.get(x.zone) ?? 0, peaks.zone.get(key) ?? 0));
    }
    out.set(c.service, { overall: Math.max(1, r?.overall ?? 0, peaks.overall.get(c.service) ?? 0), zones });
  }
  return out;
}

function withRevision(
  plan: Plan,
  waves: Wave[],
  wave: number,
  reason: string,
  at: number,
  extra: Partial<PlanRevision> = {},
): Plan {
  const revision = (plan.revision ?? 0) + 1;
  const entry: PlanRevision = {
    revision,
    wave,
    at: new Date(at).toISOString(),
    reason,
    waves: waves.length,
    ...extra,
  };
  return {
    ...plan,
    revision,
    revisions: [...(plan.revisions ?? []), entry],
    waves,
    summary: {
      ...plan.summary,
      waves: waves.length,
      planned: waves.reduce((n, w) => n + w.size, 0),
      approvals: waves.filter((w) => w.approvalAfter !== null).length,
    },
  };
}
