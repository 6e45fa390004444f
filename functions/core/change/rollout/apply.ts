import type { InstanceCondition } from '../../fleet/fleet';
import type { ApplyRecord } from '../../ports/apply-record';
import type { RolloutPorts } from '../../ports/rollout-ports';
import { type ActionModule, actionModule } from '../actions/index';
import type { ActionType } from '../spec';
import { at, loadChange, type RolloutState } from './state';
import { outOfTrafficFirst } from './traffic';
import { readWave, recordSkipped } from './wave-records';

/** The third step of every wave: the action applied, at most once per instance, and what was sent kept. */

/**
 * Applies the action to the wave, at most once per instance: each instance's action is
 * recorded (fenced by its lease) before it is applied, so a retried step skips what was done,
 * even when the step crashed between applying and saying so. What was sent (SSM command ids,
 * Auto Scaling groups, instances refused) is kept with the change for settle and the gate.
 * Where the action is disruptive, an instance first leaves traffic (core/traffic): it takes the
 * action only once drained; until then it `waits`, and settle calls this step again.
 */
export async function applyWave(
  ports: RolloutPorts,
  state: RolloutState,
): Promise<{ applied: number; alreadyApplied: number; lost: number; refused: number; waiting: number }> {
  const [plan, spec] = await loadChange(ports, state.changeId);
  const action = actionModule(spec.action);
  const wave = await readWave(ports, plan, state);
  let members = wave.members;
  const { gone, conditions } = await action.preflight(ports, members);
  if (gone.length > 0) {
    await recordSkipped(ports, state, gone);
    const goneIds = new Set(gone.map((g) => g.id));
    members = members.filter((id) => !goneIds.has(id));
  }
  let leases = await ports.leases.heldBy(state.changeId, members, ports.now());
  let lost = members.length - leases.length;
  const { refused, groups } = await action.route(
    ports,
    leases.map((l) => l.instanceId),
  );
  const refusedIds = new Set(refused.map((r) => r.id));
  leases = leases.filter((l) => !refusedIds.has(l.instanceId));
  const before = wave.sent;
  const settledBefore = new Set([...before.applied, ...before.unknown]);
  const traffic = await outOfTrafficFirst(
    ports,
    state,
    spec,
    wave,
    leases.map((l) => l.instanceId).filter((id) => !settledBefore.has(id)),
  );
  if (traffic.refused.length > 0) {
    // Held by another party (Standby, a lifecycle hook, another owner's exit): not this wave's to touch.
    await recordSkipped(ports, state, traffic.refused);
    const skipped = new Set(traffic.refused.map((r) => r.id));
    leases = leases.filter((l) => !skipped.has(l.instanceId));
  }
  leases = leases.filter((l) => !traffic.notYet.has(l.instanceId));
  const toApply: string[] = [];
  const inDoubt: string[] = [];
  let alreadyApplied = 0;
  for (const lease of leases) {
    const outcome = await ports.leases.recordAction(
      lease,
      state.changeId,
      { action: spec.action.type, wave: state.wave },
      ports.now(),
    );
    if (outcome === 'recorded') toApply.push(lease.instanceId);
    else if (outcome === 'duplicate' && !settledBefore.has(lease.instanceId)) inDoubt.push(lease.instanceId);
    else if (outcome === 'duplicate') alreadyApplied++;
    else lost++;
  }
  // Recorded by an attempt that died before saying what it sent: sent or not?
  const doubt = resolveDoubt(action, inDoubt, new Set(before.sending), conditions);
  toApply.push(...doubt.send);
  const applied = [...toApply, ...doubt.sent];
  const nothingNew =
    toApply.length === 0 && doubt.sent.length === 0 && doubt.unknown.length === 0 && refused.length === 0;
  // Still draining: settle looks again (an empty record each poll would only add noise).
  if (nothingNew && traffic.notYet.size > 0)
    return { applied: 0, alreadyApplied, lost, refused: 0, waiting: traffic.notYet.size };
  const part = `apply#${String(ports.now()).padStart(15, '0')}`;
  const groupsOf = (ids: readonly string[]) =>
    Object.fromEntries(ids.filter((id) => groups.has(id)).map((id) => [id, groups.get(id)!]));
  if (toApply.length > 0) {
    // The intent, before the call: a retry after a crash before this line knows nothing was sent.
    await ports.changes.recordWave(
      state.changeId,
      state.wave,
      part,
      { applied: [], sending: toApply, groups: groupsOf(toApply) },
      ports.now(),
    );
  }
  const record: ApplyRecord = {
    applied,
    refused,
    ...(doubt.unknown.length > 0 ? { unknown: doubt.unknown } : {}),
    groups: groupsOf(applied),
    ...(toApply.length > 0
      ? await action.apply(ports, spec.action, toApply, { changeId: state.changeId, wave: state.wave })
      : {}),
  };
  await ports.changes.recordWave(state.changeId, state.wave, part, { ...record }, ports.now());
  await ports.fleet.audit([
    {
      subject: `change:${state.changeId}`,
      actor: ports.actor,
      action: 'wave.applied',
      reason:
        `wave ${state.wave}: ${spec.action.type} applied to ${toApply.length}, already applied ${alreadyApplied + doubt.sent.length}, ` +
        (doubt.unknown.length > 0 ? `outcome unknown ${doubt.unknown.length}, ` : '') +
        `lease lost ${lost}${refused.length > 0 ? `, refused ${refused.length} (${refused[0].reason})` : ''}`,
      at: at(ports),
    },
  ]);
  return {
    applied: toApply.length,
    alreadyApplied,
    lost,
    refused: refused.length,
    waiting: traffic.notYet.size,
  };
}

/**
 * An instance whose action an attempt recorded before it died without saying what it sent
 * (the Lambda crashed between its writes). Not in any attempt's intent (`sending`): that attempt
 * died before the call: send now. In an intent, the call may or may not have gone out: the
 * action decides ({@link ActionModule.inDoubt}): send again, take it as sent, or unknown (which
 * the gate counts as an error).
 */
function resolveDoubt(
  action: ActionModule<ActionType>,
  ids: readonly string[],
  sending: ReadonlySet<string>,
  conditions: ReadonlyMap<string, InstanceCondition>,
): { send: string[]; sent: string[]; unknown: string[] } {
  const out = { send: [] as string[], sent: [] as string[], unknown: [] as string[] };
  for (const id of ids) out[sending.has(id) ? action.inDoubt(conditions.get(id)) : 'send'].push(id);
  return out;
}
