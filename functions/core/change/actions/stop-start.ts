import type { InstanceCondition } from '../../fleet/fleet';
import type { ActionModule } from './action';
import { backFromAction, instancesChecked, notInService, onInstance, skipGone } from './instance-actions';

/**
 * `stop-start`: StopInstances, then settle starts each instance once it has stopped, so it
 * comes back on other hardware; settled when every one runs again with its checks concluded.
 */
export const stopStart: ActionModule<'stop-start'> = {
  type: 'stop-start',
  minutes: 10,
  disruptiveByDefault: true,
  undo: 'nothing',
  outOfTraffic: true,
  settleLimitSeconds: () => 30 * 60,
  async preflight(ports, members) {
    const { gone, conditions } = await skipGone(ports, members);
    const goneIds = new Set(gone.map((g) => g.id));
    // A stop loses an instance store's data, and a one-time Spot instance cannot be stopped.
    for (const id of members) {
      if (goneIds.has(id)) continue;
      const why = unstoppable(conditions.get(id));
      if (why) gone.push({ id, reason: why });
    }
    return { gone, conditions };
  },
  route: onInstance,
  // Still running means not stopped (StopInstances moves it to `stopping` at once): send.
  inDoubt: (condition) => (condition?.state === 'running' ? 'send' : 'sent'),
  async apply(ports, _action, ids) {
    // Started again by settle once stopped.
    await ports.ec2.stop(ids);
    return {};
  },
  async finished(ports, _sent, ids) {
    const conditions = await ports.ec2.conditions(ids);
    const stopped = ids.filter((id) => conditions.get(id)?.state === 'stopped');
    if (stopped.length > 0) await ports.ec2.start(stopped);
    return new Set(
      ids.filter((id) => conditions.get(id) === undefined || backFromAction(conditions.get(id))),
    );
  },
  outcomes: instancesChecked,
  stillUnavailable: notInService,
};

/**
 * Why an instance must not be stopped: an instance-store root device loses its data (EC2 cannot
 * stop such an instance), and a one-time Spot instance cannot be stopped (only one from a
 * persistent request can). The ladder skips stop-start for the same reasons.
 */
export function unstoppable(
  c: Pick<InstanceCondition, 'rootDevice' | 'spot'> | undefined,
): string | undefined {
  if (c?.rootDevice === 'instance-store') return 'instance-store root device: a stop would lose its data';
  if (c?.spot === 'one-time') return 'one-time Spot instance: it cannot be stopped';
  return undefined;
}
