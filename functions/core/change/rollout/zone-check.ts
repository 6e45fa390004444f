import { checksPending, isInService } from '../../fleet/fleet';
import type { RolloutPorts } from '../../ports/rollout-ports';
import { resolveQuantity } from '../../safety/quantity';
import { firingAlarms } from './gate';
import { at, loadChange, type RolloutState } from './state';

/**
 * After a zone's bake (`strategy.firstZoneBakeMinutes`, `zoneBakeMinutes`): is the zone the change
 * just finished still healthy, before the next zone is touched? As CodeDeploy's zonal deployments
 * watch their alarms through the monitor duration, the bake ends with a look at what it was for:
 * the spec's alarms, and the status checks of every instance the change changed in that zone
 * (instances gone since, a scale-in, are not counted; checks not concluded are not errors). More
 * unhealthy than the spec's `errorThreshold` (of the zone's changed instances) or an alarm firing
 * fails it, and the spec's `onFailure` decides as after a wave's gate.
 */
export async function checkBakedZone(
  ports: RolloutPorts,
  state: RolloutState,
): Promise<{
  verdict: 'pass' | 'fail';
  reason: string;
  onFailure: 'rollback' | 'pause';
  errors: number;
  threshold: number;
  extensions: number;
}> {
  const [plan, spec] = await loadChange(ports, state.changeId);
  const finished = plan.waves[state.wave - 1];
  const zone = finished.zone;
  const inZone = new Set(
    plan.waves.filter((w) => w.zone === zone && w.index < state.wave).flatMap((w) => w.instances),
  );
  const changed = (await ports.leases.actionsOf(state.changeId))
    .map((a) => a.instanceId)
    .filter((id) => inZone.has(id));
  const bad: string[] = [];
  if (spec.gates.statusChecks && changed.length > 0) {
    const conditions = await ports.ec2.conditions(changed);
    for (const id of changed) {
      const c = conditions.get(id);
      if (c === undefined || c.state === 'terminated' || isInService(c) || checksPending(c)) continue;
      bad.push(`${id} (${c.state}, status checks ${c.health})`);
    }
  }
  const threshold = resolveQuantity(spec.gates.errorThreshold, changed.length);
  let verdict: 'pass' | 'fail' = bad.length <= threshold ? 'pass' : 'fail';
  let reason = `zone ${zone} after its bake: ${bad.length} of ${changed.length} changed instances unhealthy (threshold ${threshold})${
    bad.length > 0 ? `: ${bad.slice(0, 10).join(', ')}` : ''
  }`;
  const alarms = await firingAlarms(ports, spec.gates.alarms);
  if (alarms) {
    verdict = 'fail';
    reason += `; ${alarms}`;
  }
  await ports.changes.recordWave(
    state.changeId,
    finished.index,
    'zone-bake',
    { verdict, reason, zone, changed: changed.length, unhealthy: bad.length },
    ports.now(),
  );
  await ports.fleet.audit([
    {
      subject: `change:${state.changeId}`,
      actor: ports.actor,
      action: verdict === 'pass' ? 'zone.passed' : 'zone.failed',
      reason,
      at: at(ports),
    },
  ]);
  if (verdict === 'fail') {
    await ports.notify.publish(
      `FleetOps: ${state.changeId} zone ${zone} failed after its bake`,
      `${reason}\n\nNext: ${spec.gates.onFailure === 'rollback' ? 'the change is rolled back automatically' : `the change waits for a person before the next zone: fleetops change approve ${state.changeId} --reason "…" to go on, or fleetops change reject ${state.changeId} --reason "…"`}.\nSee: fleetops change status ${state.changeId}`,
    );
  }
  return { verdict, reason, onFailure: spec.gates.onFailure, errors: bad.length, threshold, extensions: 0 };
}
