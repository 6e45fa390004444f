import type { ActionModule } from './action';
import { notInService, onInstance, skipGone } from './instance-actions';

/**
 * `ssm-command`: an SSM Run Command document; settled when every command has ended, judged by
 * each invocation's status. Undone only by the spec's rollback action.
 */
export const ssmCommand: ActionModule<'ssm-command'> = {
  type: 'ssm-command',
  minutes: 5,
  disruptiveByDefault: true,
  undo: 'spec-rollback',
  outOfTraffic: true,
  // The command's own timeout, plus ten minutes for delivery.
  settleLimitSeconds: (action) => action.timeoutSeconds + 10 * 60,
  preflight: skipGone,
  route: onInstance,
  // The command id was lost with the attempt, so its outcome cannot be read.
  inDoubt: () => 'unknown',
  async apply(ports, action, ids, { changeId, wave }) {
    const commands = await ports.ssm.send(ids, {
      document: action.document,
      parameters: action.parameters,
      timeoutSeconds: action.timeoutSeconds,
      comment: `fleetops ${changeId} wave ${wave}`,
    });
    return { commands };
  },
  async finished(ports, sent, ids) {
    const states = await ports.ssm.states(sent.commands.map((c) => c.commandId));
    const running = new Set(
      sent.commands.filter((c) => states.get(c.commandId) === 'pending').flatMap((c) => c.instanceIds),
    );
    return new Set(ids.filter((id) => !running.has(id)));
  },
  async outcomes(ports, sent, members, outcomes) {
    const inCommand = new Set(sent.commands.flatMap((c) => c.instanceIds));
    for (const id of sent.applied) {
      if (!inCommand.has(id)) outcomes.set(id, 'command outcome unknown (the step stopped after sending it)');
    }
    const states = await ports.ssm.states(sent.commands.map((c) => c.commandId));
    for (const c of sent.commands) {
      if (states.get(c.commandId) === 'success') continue;
      if (states.get(c.commandId) === 'pending') {
        for (const id of c.instanceIds) outcomes.set(id, 'command still running after the bake');
        continue;
      }
      for (const [id, status] of await ports.ssm.failedInstances(c.commandId))
        outcomes.set(id, `command ${status}`);
    }
    return [...members];
  },
  stillUnavailable: notInService,
};
