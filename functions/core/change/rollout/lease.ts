import type { Instance } from '../../fleet/fleet';
import { isDisruptive, serviceCatalog } from '../../fleet/services';
import type { RolloutPorts } from '../../ports/rollout-ports';
import { describeRefusal, holdInstances } from '../../safety/hold';
import { actionModule } from '../actions/index';
import type { Plan } from '../plan/planner';
import { budgetWaitMinutes, type ChangeSpec } from '../spec';
import {
  adoptSkipped,
  ineligibleNow,
  type LiveCandidate,
  revisePlan,
  segmentEnd,
  sizeWave,
  skippedForBudget,
} from './live-waves';
import type { RolloutState } from './state';
import { at, loadChange } from './state';
import { readWave, recordSkipped, storeRevision } from './wave-records';

/**
 * The second step of every wave: the wave sized against the ledger as it is now (live-waves.ts),
 * its instances leased and their budgets reserved.
 */

/**
 * A final wave (late joiners, revisits) waits for room at most this long, then leaves what does not
 * fit listed with why: the change itself is done, and an instance whose budget others hold for
 * good (a service at its budget with instances stopped) must not fail it.
 */
export const FINAL_WAIT_MINUTES = 30;
export const NO_ROOM_AT_THE_END = 'final wave: no room in its budgets';
/** The first look again after nothing fitted; then twice as long each time, up to the most. */
const WAIT_FIRST_SECONDS = 60;
const WAIT_MAX_SECONDS = 900;
/** Candidates read beyond the wave's own when it may pull instances forward (some may not fit). */
const PULL_FACTOR = 2;

export interface LeaseResult {
  readonly acquired: boolean;
  readonly attempts: number;
  readonly skipped: number;
  /** Of the wave's own instances, how many were deferred to the next waves. */
  readonly deferred: number;
  /** When nothing fits: how long to wait before looking again, and whether waiting is over. */
  readonly waitSeconds: number;
  readonly giveUp: boolean;
  readonly reason: string;
}

/**
 * Sizes the wave against the room its budgets have now and leases what fits:
 * 1. the wave's instances are read from the inventory; those not changeable any more (gone, not
 *    running, impaired, not in service in their group) are skipped with why (revisited at the end
 *    of the change when they may come back);
 * 2. the wave takes, in the plan's order, what every budget has room for now, at most its cap,
 *    pulling the segment's next instances forward when there is room (live-waves.ts); what it
 *    defers, and the rest of the segment, go into a revision of the plan, stored before anything
 *    is leased (a retried step finds it and continues from it);
 * 3. instances another party holds are deferred the same way, found by the lease store itself;
 * 4. nothing fits: no revision, the state machine waits (60 s, doubling to 15 min) and looks
 *    again; the first wait is recorded and paged, and after `strategy.budgetWaitMinutes` the
 *    change fails.
 * A step retried after its lease was taken takes exactly the instances it holds (no resizing,
 * which would reserve their budget twice).
 */
export async function leaseWave(
  ports: RolloutPorts,
  state: RolloutState,
  attempts: number,
): Promise<LeaseResult> {
  for (let pass = 0; ; pass++) {
    try {
      return await leaseOnce(ports, state, attempts);
    } catch (error) {
      // Another attempt of this step revised the plan meanwhile: size again from its revision.
      if (pass < 2 && error instanceof Error && error.message.includes('revised')) continue;
      throw error;
    }
  }
}

async function leaseOnce(ports: RolloutPorts, state: RolloutState, attempts: number): Promise<LeaseResult> {
  const [[plan, spec], services] = await Promise.all([
    loadChange(ports, state.changeId),
    ports.fleet.getServices(),
  ]);
  const rollback = state.rollbackOf !== '';
  const wave = plan.waves[state.wave];
  const catalog = serviceCatalog(services);
  const disruptive = (s: string) => isDisruptive(catalog.budgetOf(s).budget, spec.action.type);
  const ttlMinutes = actionModule(spec.action).minutes + spec.strategy.bakeMinutes + 30;
  const hold = (instanceIds: readonly string[]) =>
    holdInstances(
      { leases: ports.leases, audit: ports.fleet },
      {
        owner: state.changeId,
        instanceIds,
        nonDisruptiveServices: new Set(
          [...new Set(instanceIds.map((id) => serviceOf.get(id) ?? ''))].filter((s) => !disruptive(s)),
        ),
        ttlMs: ttlMinutes * 60_000,
        now: ports.now(),
      },
      ports.actor,
    );
  const serviceOf = new Map<string, string>();
  const view = await readWave(ports, plan, state);
  const own = view.members;

  // A retry after the lease was taken: the wave is what it holds.
  const mine = await ports.leases.heldBy(state.changeId, own, ports.now());
  if (mine.length > 0) {
    const held = new Set(mine.map((l) => l.instanceId));
    const take = own.filter((id) => held.has(id));
    for (const i of await ports.fleet.getInstances(take)) serviceOf.set(i.id, i.service);
    const outcome = await hold(take);
    if (outcome.acquired) return result(true, 0, 0, 'leased (a retry: the instances it holds)');
  }

  // 0. A zone's first wave: the zone's instances skipped at planning for a spent budget join its waves.
  if (!rollback && wave.joiners === undefined && startsZone(plan, state.wave)) {
    const adopted = await adoptIntoZone(ports, state, plan, spec, disruptive);
    if (adopted) return leaseOnce(ports, state, attempts);
  }

  // 1. The wave's instances now, and the segment's next ones it might pull forward.
  const end = segmentEnd(plan, state.wave);
  const later = plan.waves.slice(state.wave + 1, end + 1).flatMap((w) => w.instances);
  const cap = wave.cap ?? wave.size;
  const pullable = later.slice(0, Math.max(0, cap - own.length) * PULL_FACTOR);
  const found = new Map<string, Instance>();
  for (const i of await ports.fleet.getInstances([...own, ...pullable])) found.set(i.id, i);
  for (const i of found.values()) serviceOf.set(i.id, i.service);
  const skipped: Array<{ id: string; reason: string }> = [];
  const candidates: LiveCandidate[] = [];
  let ownCount = 0;
  for (const [k, id] of [...own, ...pullable].entries()) {
    const why = ineligibleNow(found.get(id), spec, rollback);
    if (why !== undefined) {
      if (k < own.length) skipped.push({ id, reason: why });
      continue;
    }
    candidates.push(found.get(id)!);
    if (k < own.length) ownCount++;
  }
  if (skipped.length > 0) await recordSkipped(ports, state, skipped);
  const skippedIds = new Set(skipped.map((s) => s.id));

  // 2–3. Sized against the room now; holders found by the lease store are deferred, and it sizes again.
  const touchedBefore = new Set(plan.waves.slice(0, state.wave).flatMap((w) => Object.keys(w.services)));
  // A rollback undoes what was done as fast as budgets allow: no canary of its own.
  const untouched = new Set(
    rollback ? [] : candidates.map((c) => c.service).filter((s) => !touchedBefore.has(s)),
  );
  const heldByOthers = new Map<string, string>();
  for (let round = 0; round < 3; round++) {
    const room = await ports.leases.room(
      [...new Set(candidates.map((c) => c.service))].sort(),
      [...new Set(candidates.map((c) => c.zone))].sort(),
    );
    const sizing = sizeWave({
      candidates,
      own: ownCount,
      cap,
      room,
      disruptive,
      untouched,
      canary: spec.strategy.canary,
      heldByOthers,
    });
    if (sizing.take.length === 0) {
      const why = sizing.deferred.length > 0 ? sizing.deferred[0].reason : 'nothing left to change';
      if (candidates.length === 0) {
        // Everything the wave had is gone: an empty wave, leased at once (its gate has nothing to judge).
        return result(true, skipped.length, 0, `leased: nothing left (${skipped.length} skipped)`);
      }
      if (wave.joiners !== undefined && scheduledWait(attempts) >= FINAL_WAIT_MINUTES * 60) {
        // A final wave does not fail a change that is done: what still has no room is left, listed.
        const left = candidates.slice(0, ownCount).map((c) => ({
          id: c.id,
          reason: `${NO_ROOM_AT_THE_END} after ${FINAL_WAIT_MINUTES} minutes (${why})`,
        }));
        await recordSkipped(ports, state, left);
        return result(
          true,
          skipped.length + left.length,
          0,
          `${left.length} left: ${left[0]?.reason ?? why}`,
        );
      }
      return waitForRoom(ports, state, attempts, spec, `nothing fits now: ${why}`);
    }
    const same =
      sizing.take.length === wave.instances.length - skippedIds.size &&
      sizing.take.every((id) => wave.instances.includes(id));
    if (!same) {
      // The forecast of the rest of the segment needs each instance's service and zone.
      const unread = plan.waves
        .slice(state.wave, end + 1)
        .flatMap((w) => w.instances)
        .filter((id) => !found.has(id));
      for (const i of await ports.fleet.getInstances(unread)) {
        found.set(i.id, i);
        serviceOf.set(i.id, i.service);
      }
      const revised = revisePlan({
        plan,
        wave: state.wave,
        take: sizing.take,
        skipped: skippedIds,
        serviceOf: (id) => serviceOf.get(id),
        zoneOf: (id) => found.get(id)?.zone,
        room,
        disruptive,
        canary: rollback ? Number.POSITIVE_INFINITY : spec.strategy.canary,
        postpone: !rollback,
        reason: describeRevision(state.wave, wave, sizing, skipped.length),
        at: ports.now(),
      });
      await ports.changes.revisePlan(state.changeId, plan.revision ?? 0, revised, ports.now());
      await ports.changes.recordWave(
        state.changeId,
        state.wave,
        `deferred#${String(ports.now()).padStart(15, '0')}`,
        { instances: sizing.deferred.map(({ id, reason }) => ({ id, reason })) },
        ports.now(),
      );
      await ports.fleet.audit([
        {
          subject: `change:${state.changeId}`,
          actor: ports.actor,
          action: 'plan.revised',
          reason: revised.revisions![revised.revisions!.length - 1].reason,
          at: at(ports),
        },
      ]);
      // The revision is the plan from here on (a retried step, or this one's next round, sizes from it).
      return leaseRevised(ports, state, attempts, spec, hold, sizing, skipped.length, wave);
    }
    const outcome = await hold(sizing.take);
    if (outcome.acquired) {
      return result(
        true,
        skipped.length,
        0,
        `leased${skipped.length > 0 ? `; ${skipped.length} skipped: no longer changeable` : ''}`,
      );
    }
    const holders = outcome.conflicts.filter((c) => c.reason.startsWith('held by'));
    if (holders.length === 0) return waitForRoom(ports, state, attempts, spec, describeRefusal(outcome));
    for (const h of holders) heldByOthers.set(h.id, h.reason);
  }
  return waitForRoom(ports, state, attempts, spec, 'instances held by others');

  function result(acquired: boolean, nSkipped: number, deferred: number, reason: string): LeaseResult {
    return {
      acquired,
      attempts: attempts + 1,
      skipped: nSkipped,
      deferred,
      waitSeconds: 0,
      giveUp: false,
      reason,
    };
  }
}

const startsZone = (plan: Plan, wave: number) =>
  wave === 0 || plan.waves[wave - 1].zone !== plan.waves[wave].zone;

/**
 * Before a zone's first wave: the instances of the zone that planning skipped because their
 * service's budget was spent then (faults, other holders), and that are changeable now, are taken
 * into the zone's waves (a revision, stored before anything is leased; a retried step finds them
 * in the waves and adopts nothing more). Each wave still sizes itself against the room there is
 * when it is leased. Left for the final waves, they would be changed one wave after another, at
 * a service's budget per wave with nothing else to share the waves with. Whether it revised.
 */
async function adoptIntoZone(
  ports: RolloutPorts,
  state: RolloutState,
  plan: Plan,
  spec: ChangeSpec,
  disruptive: (service: string) => boolean,
): Promise<boolean> {
  const wave = plan.waves[state.wave];
  // Taken already: in the waves, or taken and postponed since.
  const taken = new Set([
    ...plan.waves.flatMap((w) => w.instances),
    ...(plan.postponed ?? []).map((p) => p.id),
  ]);
  const skipped = plan.skipped.filter((s) => skippedForBudget(s.reason) && !taken.has(s.id)).map((s) => s.id);
  if (skipped.length === 0) return false;
  const here = (await ports.fleet.getInstances(skipped)).filter(
    (i) => i.zone === wave.zone && ineligibleNow(i, spec, false) === undefined,
  );
  if (here.length === 0) return false;
  const end = segmentEnd(plan, state.wave);
  const found = new Map<string, Instance>();
  for (const i of await ports.fleet.getInstances(
    plan.waves.slice(state.wave, end + 1).flatMap((w) => w.instances),
  ))
    found.set(i.id, i);
  for (const i of here) found.set(i.id, i);
  const services = [...new Set([...found.values()].map((i) => i.service))].sort();
  const room = await ports.leases.room(services, [wave.zone]);
  // Only services whose budget has room again now: one still spent keeps its instances for the
  // final waves (which wait a bounded time, then list them), not blocking the zone's waves.
  const hasRoom = (service: string) =>
    !disruptive(service) ||
    ((room.get(service)?.overall ?? 0) > 0 && (room.get(service)?.zones.get(wave.zone) ?? 0) > 0);
  const adopt = here
    .filter((i) => hasRoom(i.service))
    .map((i) => i.id)
    .sort();
  if (adopt.length === 0) return false;
  const revised = adoptSkipped({
    plan,
    wave: state.wave,
    adopt,
    serviceOf: (id) => found.get(id)?.service,
    zoneOf: (id) => found.get(id)?.zone,
    room,
    disruptive,
    canary: spec.strategy.canary,
    reason: `zone ${wave.zone}: skipped at planning for a spent budget, back in its waves`,
    at: ports.now(),
  });
  if (revised === undefined) return false;
  await storeRevision(ports, state, plan, revised, revised.revisions!.at(-1)!.reason);
  return true;
}

/** After a revision: lease what it gave the wave (what did not fit any more waits, as any refusal). */
async function leaseRevised(
  ports: RolloutPorts,
  state: RolloutState,
  attempts: number,
  spec: Pick<ChangeSpec, 'strategy'>,
  hold: (ids: readonly string[]) => ReturnType<typeof holdInstances>,
  sizing: { take: readonly string[]; deferred: readonly unknown[] },
  skipped: number,
  planned: { size: number },
): Promise<LeaseResult> {
  const outcome = await hold(sizing.take);
  if (!outcome.acquired) return waitForRoom(ports, state, attempts, spec, describeRefusal(outcome));
  return {
    acquired: true,
    attempts: attempts + 1,
    skipped,
    deferred: sizing.deferred.length,
    waitSeconds: 0,
    giveUp: false,
    reason: `leased ${sizing.take.length} of ${planned.size} planned (${sizing.deferred.length} deferred, ${skipped} skipped): the plan was revised`,
  };
}

/** Nothing fits: look again later; the first wait is recorded and paged; bounded by the spec. */
async function waitForRoom(
  ports: RolloutPorts,
  state: RolloutState,
  attempts: number,
  spec: Pick<ChangeSpec, 'strategy'>,
  why: string,
): Promise<LeaseResult> {
  const records = await ports.changes.waveRecords(state.changeId, state.wave);
  const firstWait = records
    .filter((r) => r.part.startsWith('waiting#'))
    .map((r) => Number(r.part.slice('waiting#'.length)))
    .sort((a, b) => a - b)[0];
  const limitMinutes = budgetWaitMinutes(spec.strategy);
  if (firstWait === undefined) {
    await ports.changes.recordWave(
      state.changeId,
      state.wave,
      `waiting#${String(ports.now()).padStart(15, '0')}`,
      { reason: why },
      ports.now(),
    );
    await ports.fleet.audit([
      {
        subject: `change:${state.changeId}`,
        actor: ports.actor,
        action: 'wave.waiting',
        reason: why,
        at: at(ports),
      },
    ]);
    await ports.notify.publish(
      `FleetOps: ${state.changeId} wave ${state.wave} waits for budget`,
      `${why}. Nothing of the wave fits its disruption budgets now; it looks again, and fails the change after ${limitMinutes} minutes of waiting.`,
    );
  }
  // The waits so far as the state machine was told to wait them (the clock may run faster in a test).
  const waited = scheduledWait(attempts) * 1000;
  const giveUp = waited >= limitMinutes * 60_000;
  return {
    acquired: false,
    attempts: attempts + 1,
    skipped: 0,
    deferred: 0,
    waitSeconds: waitAfter(attempts),
    giveUp,
    reason: giveUp ? `${why} (waited ${Math.round(waited / 60_000)} minutes)` : why,
  };
}

/** The wait after the n-th refusal in a row (0-based): 60 s, doubling, at most 15 min. */
const waitAfter = (n: number) => Math.min(WAIT_FIRST_SECONDS * 2 ** Math.min(n, 10), WAIT_MAX_SECONDS);

/** Seconds waited after `refusals` refusals in a row. */
export function scheduledWait(refusals: number): number {
  let total = 0;
  for (let k = 0; k < refusals; k++) total += waitAfter(k);
  return total;
}

function describeRevision(
  index: number,
  wave: { size: number; cap?: number },
  sizing: { take: readonly string[]; deferred: ReadonlyArray<{ reason: string }>; pulled: number },
  skipped: number,
): string {
  const parts = [
    `wave ${index} takes ${sizing.take.length} (planned ${wave.size}, cap ${wave.cap ?? wave.size})`,
  ];
  if (sizing.deferred.length > 0) {
    const reasons = [...new Set(sizing.deferred.map((d) => d.reason))];
    parts.push(
      `${sizing.deferred.length} deferred: ${reasons.slice(0, 3).join('; ')}${reasons.length > 3 ? `; and ${reasons.length - 3} more` : ''}`,
    );
  }
  if (sizing.pulled > 0) parts.push(`${sizing.pulled} pulled forward: budgets have room again`);
  if (skipped > 0) parts.push(`${skipped} skipped: no longer changeable`);
  return parts.join('; ');
}
