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
  settleLimitSeconds: () => 30 * 60,
  preflight: skipGone,
  route: onInstance,
  // Still running means not stopped (StopInstances moves it to `stopping` at once): send.
  inDoubt: (condition) => (condition?.state === 'running' ? 'send' : 'sent'),
  async apply(ports, _action, ids) {
    // Started again by settle once stopped.
    await ports.ec2.stop(ids);
    return {};
  },
  async settled(ports, sent) {
    const conditions = await ports.ec2.conditions(sent.applied);
    const stopped = sent.applied.filter((id) => conditions.get(id)?.state === 'stopped');
    if (stopped.length > 0) await ports.ec2.start(stopped);
    return sent.applied.every((id) => backFromAction(conditions.get(id)));
  },
  outcomes: instancesChecked,
  stillUnavailable: notInService,
};
