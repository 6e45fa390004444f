import type { LeaseStore } from '../../ports/lease-store';
import type { RolloutPorts } from '../../ports/rollout-ports';
import type { TrafficExits } from '../../ports/traffic';
import { releaseHold } from '../../safety/hold';
import { at, describeError, type RolloutState, setUnlessEnded } from './state';
import { restoreTraffic } from './traffic';

/** How a change ends: completed, failed, rolled back (by its rollback's end), or aborted by a person. */

/**
 * Ends the change: completed, or failed with the reason (and the step's error, when one ended
 * it). A rollback that completes marks the change it undid `rolled-back`; one that fails marks
 * it failed too. A change completed after a person accepted a failed or unjudged wave says so.
 * The end is published to the topic.
 */
export async function finishRollout(
  ports: RolloutPorts,
  state: Pick<RolloutState, 'changeId' | 'rollbackOf'> & { readonly wave?: number },
  outcome: 'completed' | 'failed',
  reason: string,
  error?: { Error?: string; Cause?: string },
): Promise<{ status: 'completed' | 'failed' | 'rolled-back'; reason: string }> {
  if (outcome === 'failed' && state.wave !== undefined) {
    // A step that failed for good may have left the wave leased (its release failed too):
    // the change lets go of it now; its instances keep counting until the next sweep.
    const wave = (await ports.changes.loadPlan(state.changeId)).waves[state.wave];
    // Out of traffic first back in (what cannot come back yet is kept for the sweep).
    if (wave) await restoreTraffic(ports, state.changeId, wave.instances);
    const held = wave ? await ports.leases.heldBy(state.changeId, wave.instances, ports.now()) : [];
    if (held.length > 0)
      await releaseHold(
        { leases: ports.leases, audit: ports.fleet },
        state.changeId,
        held,
        ports.actor,
        `the change ended failed holding wave ${state.wave}`,
        ports.now(),
        new Set(held.map((l) => l.instanceId)),
      );
  }
  let why = error ? `${reason}: ${describeError(error)}` : reason;
  if (outcome === 'completed') {
    const accepted = (await ports.changes.waveRecords(state.changeId))
      .filter((r) => r.part === 'result' && r.body.verdict !== 'pass')
      .map((r) => r.wave);
    const distinct = [...new Set(accepted)];
    if (distinct.length > 0)
      why = `completed: a person accepted wave${distinct.length > 1 ? 's' : ''} ${distinct.join(', ')} after a failed or unjudged gate; the other waves passed`;
  }
  await ports.changes.setStatus(state.changeId, outcome, why, ports.now());
  await ports.fleet.audit([
    {
      subject: `change:${state.changeId}`,
      actor: ports.actor,
      action: `change.${outcome}`,
      reason: why,
      at: at(ports),
    },
  ]);
  if (state.rollbackOf === '') {
    await ports.notify.publish(
      `FleetOps: ${state.changeId} ${outcome}`,
      `${why}\nSee: fleetops change status ${state.changeId}`,
    );
    return { status: outcome, reason: why };
  }
  const status = outcome === 'completed' ? 'rolled-back' : 'failed';
  const original =
    outcome === 'completed'
      ? `rolled back by ${state.changeId}`
      : `its rollback ${state.changeId} failed: ${why}`;
  await setUnlessEnded(ports, state.rollbackOf, status, original);
  await ports.fleet.audit([
    {
      subject: `change:${state.rollbackOf}`,
      actor: ports.actor,
      action: outcome === 'completed' ? 'change.rolled-back' : 'rollback.failed',
      reason: original,
      at: at(ports),
    },
  ]);
  await ports.notify.publish(
    `FleetOps: ${state.rollbackOf} ${status}`,
    `${original}\nSee: fleetops change status ${state.rollbackOf} and fleetops change status ${state.changeId}`,
  );
  return { status, reason: original };
}

/**
 * Aborts a change: every instance it took out of traffic is brought back (core/traffic; one that
 * cannot come back yet is kept for the sweep), every lease and budget it holds is released (its
 * instances keep counting as unavailable until inventory sync sees them, since an action may be
 * half done), and the change ends as aborted. Stopping the execution is the caller's part
 * (StopExecution), and comes first: no step of the change runs while it is being undone.
 */
export async function abortRollout(
  ports: Pick<RolloutPorts, 'changes' | 'fleet' | 'now' | 'traffic' | 'autoscaling' | 'ec2'> & {
    leases: Pick<LeaseStore, 'releaseAll' | 'activeLeases'>;
    exits: TrafficExits;
  },
  changeId: string,
  actor: string,
  reason: string,
): Promise<{ released: number; stuck: number }> {
  const out = (await ports.exits.all()).filter((e) => e.owner === changeId).map((e) => e.instanceId);
  const stuck = out.length > 0 ? await restoreTraffic({ ...ports, actor }, changeId, out) : [];
  const held = (await ports.leases.activeLeases(ports.now())).filter((l) => l.owner === changeId);
  const released = await ports.leases.releaseAll(changeId, new Set(held.map((l) => l.instanceId)));
  await ports.changes.setStatus(changeId, 'aborted', reason, ports.now());
  await ports.fleet.audit([
    {
      subject: `change:${changeId}`,
      actor,
      action: 'change.aborted',
      reason: `${reason}; ${out.length > 0 ? `${out.length - stuck.length} of ${out.length} out of traffic brought back; ` : ''}${released} leases released`,
      at: new Date(ports.now()).toISOString(),
    },
  ]);
  return { released, stuck: stuck.length };
}
