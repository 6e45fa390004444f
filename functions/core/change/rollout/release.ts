import type { RolloutPorts } from '../../ports/rollout-ports';
import { releaseHold } from '../../safety/hold';
import { actionModule } from '../actions/index';
import { FINAL_ROUNDS } from '../plan/churn';
import type { Plan } from '../plan/planner';
import { type ChangeSpec, zoneBakeSecondsAfter } from '../spec';
import { appendFinalWaves, finalRounds, findJoiners, ineligibleNow } from './live-waves';
import type { RolloutState } from './state';
import { loadChange } from './state';
import { restoreTraffic } from './traffic';
import { readWave, recordSkipped, skippedIn, storeRevision } from './wave-records';

/** The last step of every wave: its leases and budgets let go, and the next wave (or an approval) ahead. */

/**
 * Brings back into traffic whatever the wave still has out (core/traffic: what cannot come back
 * yet is kept for the sweep and keeps counting), then releases the wave's leases and budgets (instances not back in service keep counting; a replaced
 * instance counts while its group misses capacity) and moves on; says whether a person must
 * approve before the next wave (after the canary, at the risk containment point), so nothing
 * is held while the rollout waits for them.
 */
export async function releaseWave(
  ports: RolloutPorts,
  state: RolloutState,
  options: { final?: boolean } = {},
): Promise<{
  state: RolloutState;
  more: boolean;
  approval: 'canary' | 'risk-containment' | 'none';
  zoneBakeSeconds: number;
}> {
  let [plan, spec] = await loadChange(ports, state.changeId);
  const wave = plan.waves[state.wave];
  const { members, sent } = await readWave(ports, plan, state);
  // Every lease of the wave, skipped instances' too (one may have gone after it was leased).
  const leases = await ports.leases.heldBy(state.changeId, wave.instances, ports.now());
  const member = new Set(members);
  const stillUnavailable = new Set<string>(wave.instances.filter((id) => !member.has(id)));
  for (const id of await actionModule(spec.action).stillUnavailable(ports, sent, members))
    stillUnavailable.add(id);
  // Whatever the wave still has out of traffic goes back first (a pass, a failed gate, an error, a pause).
  for (const s of await restoreTraffic(ports, state.changeId, wave.instances)) stillUnavailable.add(s.id);
  await releaseHold(
    { leases: ports.leases, audit: ports.fleet },
    state.changeId,
    leases,
    ports.actor,
    `wave ${state.wave} done`,
    ports.now(),
    stillUnavailable,
  );
  const next = state.wave + 1;
  // The last wave passed: instances that joined since planning, or are back, get final waves.
  if (options.final && next >= plan.waves.length && state.rollbackOf === '')
    plan = await addFinalWaves(ports, state, plan, spec);
  const more = next < plan.waves.length;
  return {
    state: { ...state, wave: next, waves: plan.waves.length },
    more,
    approval: wave.approvalAfter ?? 'none',
    // A rollback undoes at once: no zone bakes.
    zoneBakeSeconds:
      more && state.rollbackOf === '' && plan.waves[next].zone !== wave.zone
        ? zoneBake(plan, state.wave, spec)
        : 0,
  };
}

/**
 * Appends final waves (a plan revision) for the instances that match the target and are
 * changeable now but were not changed: launched after planning (`late`; not for `replace`, whose
 * group launches fresh instances), or skipped at planning or in a wave for a reason they can come
 * back from (`revisit`). Idempotent: a retried step finds the revision already stored.
 */
async function addFinalWaves(ports: RolloutPorts, state: RolloutState, plan: Plan, spec: ChangeSpec) {
  const last = finalRounds(plan) >= FINAL_ROUNDS;
  const [instances, changed, records] = await Promise.all([
    ports.fleet.listInstances(),
    ports.leases.actionsOf(state.changeId),
    ports.changes.waveRecords(state.changeId),
  ]);
  const joiners = findJoiners({
    plan,
    spec,
    instances,
    changed: new Set(changed.map((c) => c.instanceId)),
    records,
    late: actionModule(spec.action).type !== 'replace',
  });
  // Postponed instances that cannot be changed now (gone, down) are listed with why, as a wave's skips are.
  const joined = new Set(joiners.map((j) => j.instance.id));
  const inWaves = new Set(plan.waves.flatMap((w) => w.instances));
  const byId = new Map(instances.map((i) => [i.id, i]));
  const done = new Set(changed.map((c) => c.instanceId));
  const listed = skippedIn(records);
  const unreachable = (plan.postponed ?? [])
    .filter((p) => !joined.has(p.id) && !inWaves.has(p.id) && !done.has(p.id) && !listed.has(p.id))
    .map((p) => ({
      id: p.id,
      reason: `postponed, then ${ineligibleNow(byId.get(p.id), spec, false) ?? 'not a target any more'}`,
    }));
  if (unreachable.length > 0) await recordSkipped(ports, state, unreachable);
  if (joiners.length === 0) return plan;
  if (last) {
    // Who joined during the last round is not chased further: listed with the change, with why.
    await recordSkipped(
      ports,
      state,
      joiners.map((j) => ({
        id: j.instance.id,
        reason: `final wave: ${j.kind === 'late' ? 'launched' : 'back'} after the last of ${FINAL_ROUNDS} rounds of final waves (a change of its own can take it)`,
      })),
    );
    return plan;
  }
  const late = joiners.filter((j) => j.kind === 'late').length;
  const reason = `final waves: ${late} launched after planning, ${joiners.length - late} back since they were skipped`;
  const revised = appendFinalWaves(plan, joiners, reason, ports.now());
  await storeRevision(ports, state, plan, revised, reason);
  return revised;
}

/** The bake after a zone (group): the first zone's, or every later one's (spec.strategy). */
function zoneBake(plan: Plan, index: number, spec: ChangeSpec): number {
  let zonesDone = 0;
  for (let w = 1; w <= index; w++) if (plan.waves[w].zone !== plan.waves[w - 1].zone) zonesDone++;
  return zoneBakeSecondsAfter(spec.strategy, zonesDone);
}
