import type { ActionModule } from './action';
import { backFromAction, instancesChecked, notInService, onInstance, skipGone } from './instance-actions';

/** `reboot`: RebootInstances; settled when every instance runs again with its checks concluded. */
export const reboot: ActionModule<'reboot'> = {
  type: 'reboot',
  minutes: 5,
  disruptiveByDefault: true,
  undo: 'nothing',
  settleLimitSeconds: () => 20 * 60,
  preflight: skipGone,
  route: onInstance,
  // A second reboot would be a second action: taken as sent (settle and the gate still judge it).
  inDoubt: () => 'sent',
  async apply(ports, _action, ids) {
    await ports.ec2.reboot(ids);
    return {};
  },
  async settled(ports, _sent, members) {
    const conditions = await ports.ec2.conditions(members);
    return members.every((id) => conditions.get(id) === undefined || backFromAction(conditions.get(id)));
  },
  outcomes: instancesChecked,
  stillUnavailable: notInService,
};
