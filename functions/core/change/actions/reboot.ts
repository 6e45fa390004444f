import type { ActionModule } from './action';
import { backFromAction, instancesChecked, notInService, onInstance, skipGone } from './instance-actions';

/**
 * `reboot`: RebootInstances, which only queues a reboot (EC2 performs a hard reboot if the
 * instance does not shut down cleanly within a few minutes) and never leaves `running`. Finished
 * on an instance once there is proof it restarted — its console output, which EC2 posts shortly
 * after a boot, a reboot or a stop, was posted after the request — and then its status checks
 * have concluded.
 */
/** GetConsoleOutput requests one settle look makes at most (one instance each, paced by EC2's bucket). */
const CONSOLE_READS_PER_LOOK = 200;

export const reboot: ActionModule<'reboot'> = {
  type: 'reboot',
  minutes: 5,
  disruptiveByDefault: true,
  undo: 'nothing',
  outOfTraffic: true,
  settleLimitSeconds: () => 20 * 60,
  readsPerLook: CONSOLE_READS_PER_LOOK,
  preflight: skipGone,
  route: onInstance,
  // A second reboot would be a second action: taken as sent (settle and the gate still judge it).
  inDoubt: () => 'sent',
  async apply(ports, _action, ids) {
    await ports.ec2.reboot(ids);
    return {};
  },
  async finished(ports, sent, ids) {
    const conditions = await ports.ec2.conditions(ids);
    // Gone meanwhile: nothing to wait for (the gate reports it).
    const gone = ids.filter((id) => conditions.get(id) === undefined);
    // GetConsoleOutput takes one instance a request: a bounded number per look (the rest next look).
    const concluded = ids.filter((id) => backFromAction(conditions.get(id))).slice(0, CONSOLE_READS_PER_LOOK);
    const posted =
      concluded.length > 0 ? await ports.ec2.consoleOutputAt(concluded) : new Map<string, number>();
    return new Set([...gone, ...concluded.filter((id) => (posted.get(id) ?? 0) > (sent.sentAt[id] ?? 0))]);
  },
  async outcomes(ports, sent, members, outcomes) {
    const checked = await instancesChecked(ports, sent, members);
    const proven = new Set(sent.finished ?? []);
    const applied = sent.applied.filter((id) => !outcomes.has(id) && !proven.has(id));
    // Settle proved the others; past its limit, a bounded number is read here and the rest has no proof.
    const read = applied.slice(0, CONSOLE_READS_PER_LOOK);
    const posted = read.length > 0 ? await ports.ec2.consoleOutputAt(read) : new Map<string, number>();
    for (const id of applied) {
      if ((posted.get(id) ?? 0) <= (sent.sentAt[id] ?? 0))
        outcomes.set(id, 'no proof it rebooted: no console output posted since the request');
    }
    return checked;
  },
  stillUnavailable: notInService,
};
