import type { RolloutPorts } from '../../ports/rollout-ports';
import { type ActionModule, actionModule, settleLimitSeconds } from '../actions/index';
import { loadChange, type RolloutState, renewWave } from './state';
import { readWave } from './wave-records';

/** The fourth step of every wave: has the action finished, or how long to wait before looking again. */

/** Settle looks after 15 s, then twice as long each time, up to a fiftieth of the limit (≥ 5 min). */
const SETTLE_FIRST_WAIT_SECONDS = 15;

/**
 * Has the action finished on every instance of the wave? Waits as long as the action's own
 * limit allows ({@link settleLimitSeconds}, counted from the first apply), renewing the wave's
 * leases each time, and says how long to wait before the next look (growing, never past the limit).
 * The action says when it has settled ({@link ActionModule.settled}): reboot, every instance
 * running again with its status checks concluded; stop-start, stopped ones started, then the
 * same; ssm-command, every command ended; replace, every group at its desired capacity in
 * service and healthy without the terminated instances; set-tag, at once.
 * `expired` when the limit has passed: the gate then judges what is there.
 */
export async function actionSettled(
  ports: RolloutPorts,
  state: RolloutState,
  polls: number,
): Promise<{ done: boolean; expired: boolean; polls: number; waitSeconds: number }> {
  const [plan, spec] = await loadChange(ports, state.changeId);
  const { sent, members } = await readWave(ports, plan, state);
  const done = await actionModule(spec.action).settled(ports, sent, members);
  const limit = settleLimitSeconds(spec.action);
  const elapsed = Math.max(0, (ports.now() - (sent.firstAt ?? ports.now())) / 1000);
  const expired = !done && elapsed >= limit;
  const cap = Math.max(300, Math.ceil(limit / 50));
  const waitSeconds = Math.max(
    1,
    Math.min(SETTLE_FIRST_WAIT_SECONDS * 2 ** Math.min(polls + 1, 16), cap, Math.ceil(limit - elapsed)),
  );
  if (!done && !expired) {
    // The wave settles, bakes and is judged under its leases: they must outlive the next look.
    await renewWave(ports, state, members, waitSeconds * 1000 + state.bakeSeconds * 1000);
  }
  return { done, expired, polls: polls + 1, waitSeconds };
}
