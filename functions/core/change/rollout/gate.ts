import { checksPending, isInService } from '../../fleet/fleet';
import type { RolloutPorts } from '../../ports/rollout-ports';
import { resolveQuantity } from '../../safety/quantity';
import { whyNotServing } from '../../traffic/protocol';
import { type ActionModule, actionModule } from '../actions/index';
import { judge, judgeConfigSchema } from '../judge/judge';
import type { Plan } from '../plan/planner';
import type { ChangeSpec } from '../spec';
import { at, loadChange, type RolloutState, renewWave } from './state';
import { trafficDeps } from './traffic';
import { readWave, type WaveView } from './wave-records';

/**
 * The fifth step of every wave: the health gate after the bake (each instance's outcome, the
 * spec's alarms, the canary judge against a baseline), its verdict recorded and, when it fails,
 * published.
 */

/**
 * Each instance's outcome after the wave: "ok" or why not. Instances the action could not be
 * applied to or whose outcome a crash lost, the action's own outcomes ({@link ActionModule.outcomes}:
 * SSM invocations that failed; for `replace`, the groups' members and missing capacity stand for
 * the terminated instances), status checks failing. Also returns the instances the judge should
 * look at.
 */
async function waveOutcomes(
  ports: RolloutPorts,
  state: RolloutState,
  spec: ChangeSpec,
  wave: WaveView,
): Promise<{ outcomes: Map<string, string>; judged: string[]; pending: string[] }> {
  const outcomes = new Map<string, string>();
  const { sent, members: instances } = wave;
  for (const r of sent.refused) outcomes.set(r.id, r.reason);
  for (const id of sent.unknown)
    outcomes.set(id, 'action outcome unknown: the step stopped between recording the action and sending it');
  const checked = await actionModule(spec.action).outcomes(ports, sent, instances, outcomes);
  await trafficOutcomes(ports, state, wave, outcomes);
  const pending: string[] = [];
  if (spec.gates.statusChecks) {
    const conditions = await ports.ec2.conditions(checked);
    for (const id of checked) {
      const c = conditions.get(id);
      if (outcomes.has(id) || isInService(c)) continue;
      if (checksPending(c)) {
        // Not failing, not proven healthy either: the gate waits for it (bounded) instead of passing it.
        pending.push(id);
        outcomes.set(id, `${PENDING_PREFIX}status checks ${c?.health}`);
      } else outcomes.set(id, c ? `${c.state}, status checks ${c.health}` : 'not reported by EC2');
    }
  }
  for (const id of checked) if (!outcomes.has(id)) outcomes.set(id, 'ok');
  return { outcomes, judged: checked, pending };
}

/**
 * The traffic protocol's outcomes: an instance the wave still has out of traffic did not take the
 * action (it was still leaving when settle stopped waiting) or is not serving again (in Standby,
 * or not `healthy` in one of its target groups): an error either way.
 */
async function trafficOutcomes(
  ports: RolloutPorts,
  state: RolloutState,
  wave: WaveView,
  outcomes: Map<string, string>,
): Promise<void> {
  const exits = [...(await ports.exits.of(wave.members)).values()].filter((e) => e.owner === state.changeId);
  if (exits.length === 0) return;
  const applied = new Set(wave.sent.applied);
  const problems = await whyNotServing(trafficDeps(ports), exits);
  for (const e of exits) {
    if (outcomes.has(e.instanceId)) continue;
    if (!applied.has(e.instanceId))
      outcomes.set(e.instanceId, 'not acted: still leaving traffic (draining) when settle stopped waiting');
    else if (e.phase !== 'returning')
      outcomes.set(e.instanceId, 'out of traffic: the action had not finished when settle stopped waiting');
    else if ((problems.get(e.instanceId) ?? []).length > 0)
      outcomes.set(e.instanceId, `not back in traffic: ${problems.get(e.instanceId)!.join('; ')}`);
  }
}

/**
 * The spec's alarms that fail a gate (in ALARM, or not existing: a typo cannot pass one), in
 * words (`alarms: x in ALARM, y does not exist`); undefined when none does or none is named.
 */
export async function firingAlarms(
  ports: Pick<RolloutPorts, 'metrics'>,
  names: readonly string[],
): Promise<string | undefined> {
  if (names.length === 0) return undefined;
  const states = await ports.metrics.alarmStates(names);
  const firing = [...states].filter(([, s]) => s === 'ALARM' || s === 'missing');
  if (firing.length === 0) return undefined;
  return `alarms: ${firing.map(([name, s]) => `${name} ${s === 'ALARM' ? 'in ALARM' : 'does not exist'}`).join(', ')}`;
}

/** An outcome that is neither ok nor an error yet (status checks still initializing). */
const PENDING_PREFIX = 'pending: ';

/**
 * The health gate, recorded (each instance's outcome is kept with the change):
 * 1. instances that are not running, fail a status check, or whose action failed count as
 *    errors; more than the spec's `errorThreshold` fails the wave, and more than its
 *    `rollbackThreshold` rolls back even when the spec says pause;
 * 2. instances whose status checks are still initializing are neither: the gate waits for them
 *    (`extend`, at most three times, then a person decides) rather than passing them;
 * 3. with metrics in the spec, the canary judge compares the wave's instances with a baseline
 *    ({@link judgeWave}): pass goes on, marginal or fail fails, too few samples bakes longer;
 * 4. a failed gate is published to the topic with the judge's reasons.
 */
export async function gateWave(
  ports: RolloutPorts,
  state: RolloutState,
  extensions = 0,
): Promise<{
  verdict: 'pass' | 'fail' | 'extend';
  /** How many times the bake was extended for this wave, this one included. */
  extensions: number;
  errors: number;
  threshold: number;
  reason: string;
  onFailure: 'rollback' | 'pause';
}> {
  const [plan, spec] = await loadChange(ports, state.changeId);
  const wave = await readWave(ports, plan, state);
  const { members } = wave;
  const threshold = resolveQuantity(spec.gates.errorThreshold, members.length);
  const { outcomes, judged, pending } = await waveOutcomes(ports, state, spec, wave);
  const bad = [...outcomes].filter(([, outcome]) => outcome !== 'ok' && !outcome.startsWith(PENDING_PREFIX));
  const errors = bad.length;
  let verdict: 'pass' | 'fail' | 'extend' = errors <= threshold ? 'pass' : 'fail';
  let reason = `wave ${state.wave}: ${errors} of ${members.length} unhealthy after the bake (threshold ${threshold})${
    bad.length > 0
      ? `: ${bad
          .slice(0, 10)
          .map(([id, why]) => `${id} (${why})`)
          .join(', ')}`
      : ''
  }`;
  if (verdict === 'pass' && pending.length > 0) {
    verdict = 'extend';
    reason += `; ${pending.length} with status checks not concluded yet (${pending.slice(0, 5).join(', ')}): waiting for them`;
  }
  // The spec's alarms watch the service as a whole: one firing (or missing) fails the wave.
  const alarms = await firingAlarms(ports, spec.gates.alarms);
  if (alarms) {
    verdict = 'fail';
    reason += `; ${alarms}`;
  }
  if (verdict === 'pass' && spec.gates.metrics.length > 0) {
    const { judgement, baseline } = await judgeWave(ports, plan, spec, state, judged, wave.sent.firstAt);
    reason += `; judge: ${judgement.verdict} (score ${judgement.score}) against ${baseline}: ${judgement.reasons.join('; ')}`;
    // Marginal is not good enough to go on alone; too few samples bakes longer.
    verdict =
      judgement.verdict === 'pass' ? 'pass' : judgement.verdict === 'inconclusive' ? 'extend' : 'fail';
  }
  const rollbackAbove =
    spec.gates.rollbackThreshold === undefined
      ? Number.POSITIVE_INFINITY
      : resolveQuantity(spec.gates.rollbackThreshold, members.length);
  // A rollback's own spec pauses on failure and has no rollbackThreshold (rollbackSpec): it never
  // rolls itself back.
  const onFailure =
    spec.gates.onFailure === 'pause' && errors > rollbackAbove ? 'rollback' : spec.gates.onFailure;
  if (verdict === 'fail' && onFailure !== spec.gates.onFailure) {
    reason += `; more than ${rollbackAbove} unhealthy: rolling back instead of pausing`;
  }
  await ports.changes.recordWave(
    state.changeId,
    state.wave,
    'result',
    { verdict, reason, outcomes: Object.fromEntries(outcomes) },
    ports.now(),
  );
  await ports.fleet.audit([
    {
      subject: `change:${state.changeId}`,
      actor: ports.actor,
      action: verdict === 'pass' ? 'gate.passed' : verdict === 'fail' ? 'gate.failed' : 'gate.inconclusive',
      reason,
      at: at(ports),
    },
  ]);
  if (verdict === 'extend') {
    // Bake again under the same leases.
    await renewWave(ports, state, members, state.bakeSeconds * 1000);
  }
  if (verdict === 'fail') {
    await ports.notify.publish(
      `FleetOps: ${state.changeId} wave ${state.wave} failed its health gate`,
      `${reason}\n\nNext: ${onFailure === 'rollback' ? 'the change is rolled back automatically' : `the change waits for a person: fleetops change approve ${state.changeId} --reason "…" to go on, or fleetops change reject ${state.changeId} --reason "…"`}.\nSee: fleetops change status ${state.changeId}`,
    );
  }
  return {
    verdict,
    extensions: extensions + (verdict === 'extend' ? 1 : 0),
    errors,
    threshold,
    reason,
    onFailure,
  };
}

/**
 * The canary judge for a wave: each of the spec's metrics for the wave's instances against a
 * baseline, over the bake. The baseline, first that exists:
 * 1. the instances of the same services the change has not touched yet (later waves);
 * 2. in the last waves, where none is left: the instances of the same services the change
 *    already changed in earlier waves, which passed their gates (so a healthy change completes,
 *    and a regression that only the last wave brings still fails);
 * 3. a change of one wave: the wave's own instances in the same length of time before the action.
 */
async function judgeWave(
  ports: RolloutPorts,
  plan: Plan,
  spec: ChangeSpec,
  state: RolloutState,
  canaryIds: readonly string[],
  /** When the wave's action was first applied (for the wave's own before-window). */
  appliedAt: number | undefined,
) {
  const wave = plan.waves[state.wave];
  const services = new Set(Object.keys(wave.services));
  const serviceOf = new Map((await ports.fleet.listInstances()).map((i) => [i.id, i.service]));
  const sameServices = (ids: readonly string[]) => ids.filter((id) => services.has(serviceOf.get(id) ?? ''));
  const end = new Date(ports.now());
  const length = Math.max(state.bakeSeconds, 300) * 1000;
  const window = { start: new Date(end.getTime() - length), end, periodSeconds: 60 };
  let baselineIds = sameServices(plan.waves.slice(state.wave + 1).flatMap((w) => w.instances));
  let baselineWindow = window;
  let baseline = 'untouched instances of the same services';
  if (baselineIds.length === 0) {
    const canary = new Set(canaryIds);
    baselineIds = sameServices(
      (await ports.leases.actionsOf(state.changeId))
        .filter((a) => a.wave < state.wave && !canary.has(a.instanceId))
        .map((a) => a.instanceId),
    );
    baseline = 'instances of the same services changed in earlier waves';
  }
  if (baselineIds.length === 0) {
    const firstAt = appliedAt ?? end.getTime();
    baselineIds = [...canaryIds];
    baselineWindow = { start: new Date(firstAt - length), end: new Date(firstAt), periodSeconds: 60 };
    baseline = 'the same instances before the action';
  }
  const samples: Record<string, number[]> = {};
  const canary: Record<string, number[]> = {};
  const metrics: Record<string, { direction: 'increase' | 'decrease' | 'either'; critical: boolean }> = {};
  for (const m of spec.gates.metrics) {
    const metric = { namespace: m.namespace, name: m.name, statistic: m.statistic };
    [samples[m.name], canary[m.name]] = await Promise.all([
      ports.metrics.samples(metric, baselineIds, baselineWindow),
      ports.metrics.samples(metric, canaryIds, window),
    ]);
    metrics[m.name] = { direction: m.direction, critical: m.critical };
  }
  return {
    judgement: judge(samples, canary, judgeConfigSchema.parse({ metrics })),
    baseline: `${baseline} (${baselineIds.length})`,
  };
}
