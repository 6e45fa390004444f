import type { ActionModule } from './action';
import { instancesChecked, notInService, onInstance, skipGone } from './instance-actions';

/** `set-tag`: CreateTags; settled at once. Undone only by the spec's rollback action (other tags). */
export const setTag: ActionModule<'set-tag'> = {
  type: 'set-tag',
  minutes: 1,
  disruptiveByDefault: true,
  undo: 'spec-rollback',
  outOfTraffic: true,
  settleLimitSeconds: () => 0,
  preflight: skipGone,
  route: onInstance,
  // Setting a tag twice is setting it once.
  inDoubt: () => 'send',
  async apply(ports, action, ids) {
    await ports.ec2.setTags(ids, action.tags);
    return {};
  },
  finished: async (_ports, _sent, ids) => new Set(ids),
  outcomes: instancesChecked,
  stillUnavailable: notInService,
};
