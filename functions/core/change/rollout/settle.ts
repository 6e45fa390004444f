import type { RolloutPorts } from '../../ports/rollout-ports';
import {
  type ActionModule,
  actionModule,
  SETTLE_FIRST_WAIT_SECONDS,
  settleCapSeconds,
  settleLimitSeconds,
  settleWaitAfter,
  settleWaitFor,
} from '../actions/index';
import { applyWave } from './apply';
import { loadChange, type RolloutState, renewWave } from './state';
import { backWhenFinished } from './traffic';
import { readWave, recordFinished } from './wave-records';

/** The fourth step of every wave: has the action finished, or how long to wait before looking again. */

/** Settle looks after 15 s, then twice as long each time, up to a fiftieth of the limit (≥ 5 min). */
/** Registration and Standby calls take a little time of their own on top of the groups' bounds. */
const TRAFFIC_GRACE_SECONDS = 90;

/**
 * Has the action finished on every instance of the wave, and is every instance it took out of
 * traffic serving again? Each look moves the wave on:
 * 1. instances still leaving traffic take the action once drained (apply, again);
 * 2. the action says on which instances it has really finished ({@link ActionModule.finished}):
 *    reboot, proof of the restart then status checks concluded; stop-start, stopped ones started,
 *    then the same; ssm-command, its command ended; replace, every group at its desired capacity
 *    in service and healthy without the terminated instances; set-tag, at once;
 * 3. those are put back into traffic (ExitStandby / RegisterTargets) and done once `InService`
 *    and `healthy` in every target group, or late past their groups' readiness bound.
 * Waits as long as the action's own limit allows plus the wave's longest draining and readiness
 * bounds (counted from the wave's first step out of traffic or first apply), renewing the wave's
 * leases each time, and says how long to wait before the next look: growing (started over when
 * the wave moved on), never past the limit, and a few seconds past the next drain's end or
 * readiness the exits give when that comes sooner (actions/index.ts `settleWaitFor`). `expired`
 * when the limit has passed: the gate then judges what is there.
 */
export async function actionSettled(
  ports: RolloutPorts,
  state: RolloutState,
  polls: number,
): Promise<{ done: boolean; expired: boolean; polls: number; waitSeconds: number }> {
  const [plan, spec] = await loadChange(ports, state.changeId);
  let wave = await readWave(ports, plan, state);
  const settledIds = () =>
    new Set([...wave.sent.applied, ...wave.sent.unknown, ...wave.sent.refused.map((r) => r.id)]);
  let settled = settledIds();
  const exitsBefore = await ports.exits.of(wave.members);
  const leaving = wave.members.filter(
    (id) => !settled.has(id) && exitsBefore.get(id)?.owner === state.changeId,
  );
  if (leaving.length > 0) {
    await applyWave(ports, state);
    wave = await readWave(ports, plan, state);
    settled = settledIds();
  }
  const { sent, members } = wave;
  const member = new Set(members);
  const applied = sent.applied.filter((id) => member.has(id));
  // Seen finished before: recorded, not asked again (a reboot's proof costs a request per instance).
  const known = new Set(sent.finished);
  const fresh = await actionModule(spec.action).finished(
    ports,
    sent,
    applied.filter((id) => !known.has(id)),
  );
  await recordFinished(ports, state, [...fresh]);
  const finished = new Set([...applied.filter((id) => known.has(id)), ...fresh]);
  const back = await backWhenFinished(ports, state, [...finished]);
  const late = new Set(back.late.map((l) => l.id));
  const exits = await ports.exits.of(members);
  const mine = [...exits.values()].filter((e) => e.owner === state.changeId);
  const stillLeaving = members.filter((id) => !settled.has(id) && exits.get(id)?.owner === state.changeId);
  const done =
    stillLeaving.length === 0 &&
    applied.every((id) => finished.has(id) && (back.ready.has(id) || late.has(id)));
  const allowance =
    mine.length > 0
      ? Math.max(...mine.map((e) => e.drainSeconds)) +
        Math.max(...mine.map((e) => e.readySeconds)) +
        TRAFFIC_GRACE_SECONDS
      : 0;
  const module = actionModule(spec.action);
  // An action that checks one request per instance (a reboot's proof) needs a look per batch.
  const looks = module.readsPerLook ? Math.ceil(applied.length / module.readsPerLook) : 0;
  const limit = settleLimitSeconds(spec.action) + allowance + looks * 60;
  const from = wave.begunAt ?? sent.firstAt ?? ports.now();
  const elapsed = Math.max(0, (ports.now() - from) / 1000);
  const expired = !done && elapsed >= limit;
  const cap = settleCapSeconds(limit);
  // Progress this look and more to check (the action reads a bounded batch a look): look again soon.
  const more = module.readsPerLook !== undefined && fresh.size > 0 && finished.size < applied.length;
  // The next bound the exits give: a drain's end (then the action goes out), a readiness. One
  // past its grace (late: the gate judges it) is no bound any more, or a long action on the rest
  // of the wave would be looked at every 30 s.
  const leavingNow = new Set(stillLeaving);
  let dueAt: number | undefined;
  for (const e of mine) {
    const due =
      e.phase === 'returning'
        ? e.returnedAt !== undefined && !back.ready.has(e.instanceId) && !late.has(e.instanceId)
          ? e.returnedAt + e.readySeconds * 1000
          : undefined
        : leavingNow.has(e.instanceId)
          ? e.since + e.drainSeconds * 1000
          : undefined;
    if (due !== undefined && (dueAt === undefined || due < dueAt)) dueAt = due;
  }
  // The schedule starts over when the wave moved on (drained ones acted on, actions finished):
  // the next phase is looked at soon, not at the long waits the one before grew to.
  const progressed = fresh.size > 0 || stillLeaving.length < leaving.length;
  const since = progressed ? 0 : polls;
  const scheduled = more ? SETTLE_FIRST_WAIT_SECONDS : settleWaitAfter(since, cap);
  const waitSeconds = Math.max(
    1,
    Math.min(settleWaitFor(scheduled, ports.now(), dueAt), Math.ceil(limit - elapsed)),
  );
  if (!done && !expired) {
    // The wave settles, bakes and is judged under its leases: they must outlive the next look.
    await renewWave(ports, state, members, waitSeconds * 1000 + state.bakeSeconds * 1000);
  }
  return { done, expired, polls: since + 1, waitSeconds };
}

export type { ActionModule };
