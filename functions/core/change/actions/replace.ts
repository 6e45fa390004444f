import type { ActionModule } from './action';

/**
 * `replace`: terminate through Auto Scaling without decrementing capacity and let the group
 * launch a fresh instance. Only a group brings a terminated instance back, so an instance
 * outside one is refused. The group stands for its terminated instances: settled when it has
 * its desired capacity in service and healthy without them; judged by its members and missing
 * capacity; one replaced instance keeps counting as unavailable per instance the group misses.
 */
export const replace: ActionModule<'replace'> = {
  type: 'replace',
  minutes: 15,
  disruptiveByDefault: true,
  undo: 'nothing',
  // Auto Scaling deregisters a member from its target groups, and waits for draining, as it terminates it.
  outOfTraffic: false,
  settleLimitSeconds: () => 60 * 60,
  // A terminated instance is what the action makes: nothing to check on EC2 first.
  preflight: async () => ({ gone: [], conditions: new Map() }),
  async route(ports, leased) {
    const groups = await ports.autoscaling.groupsOf(leased);
    const refused = leased
      .filter((id) => !groups.has(id))
      .map((id) => ({ id, reason: 'not in an Auto Scaling group' }));
    return { refused, groups };
  },
  // A second termination would be a second action: taken as sent (the gate judges the group).
  inDoubt: () => 'sent',
  async apply(ports, _action, ids) {
    for (const id of ids) await ports.autoscaling.terminateKeepingCapacity(id);
    return {};
  },
  async finished(ports, sent, ids) {
    const health = await ports.autoscaling.health([...new Set(Object.values(sent.groups))]);
    const gone = new Set(sent.applied);
    // The groups stand for their terminated instances: all finished once every group has refilled.
    const refilled = [...health.values()].every(
      (g) => g.healthy.length >= g.desired && !g.members.some((m) => gone.has(m)),
    );
    return new Set(refilled ? ids : []);
  },
  async outcomes(ports, sent, members, outcomes) {
    const replaced = new Set(Object.keys(sent.groups));
    const health = await ports.autoscaling.health([...new Set(Object.values(sent.groups))]);
    const checked = members.filter((id) => !replaced.has(id));
    for (const [group, g] of health) {
      for (const m of g.members) if (!replaced.has(m)) checked.push(m);
      const missing = g.desired - g.healthy.length;
      const stuck = g.members.filter((m) => replaced.has(m));
      for (const id of stuck) outcomes.set(id, `not replaced: still in ${group}`);
      for (let k = 0; k < missing; k++) {
        outcomes.set(
          `${group}#missing-${k + 1}`,
          `${group}: ${missing} of ${g.desired} not in service and healthy`,
        );
      }
    }
    return checked;
  },
  async stillUnavailable(ports, sent) {
    const { groups } = sent;
    const health = await ports.autoscaling.health([...new Set(Object.values(groups))]);
    const out: string[] = [];
    for (const [group, g] of health) {
      const missing = Math.max(0, g.desired - g.healthy.length);
      const replaced = Object.keys(groups).filter((id) => groups[id] === group);
      out.push(...replaced.slice(0, missing));
    }
    return out;
  },
};
