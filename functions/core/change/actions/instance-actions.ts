import { checksPending, type InstanceCondition, isInService } from '../../fleet/fleet';
import type { ActionPorts, Preflight } from './action';

/**
 * What the actions applied to the instance itself (reboot, stop-start, set-tag, SSM) share: the
 * instance is checked before the action, nothing is routed elsewhere, and it stays unavailable
 * after the wave until it is back in service.
 */

/** Terminated between the lease and now: one id EC2 no longer knows fails a whole batch. */
export async function skipGone(ports: ActionPorts, members: readonly string[]): Promise<Preflight> {
  const conditions = await ports.ec2.conditions(members);
  const gone = members
    .filter((id) => {
      const state = conditions.get(id)?.state;
      return state === undefined || state === 'terminated' || state === 'shutting-down';
    })
    .map((id) => ({
      id,
      reason: `${conditions.get(id)?.state ?? 'not reported by EC2'} before the action`,
    }));
  return { gone, conditions };
}

/** Every leased instance takes the action itself. */
export async function onInstance(): Promise<{
  refused: Array<{ id: string; reason: string }>;
  groups: ReadonlyMap<string, string>;
}> {
  return { refused: [], groups: new Map() };
}

/** The gate checks the wave's own instances; the action adds no outcome of its own. */
export async function instancesChecked(
  _ports: ActionPorts,
  _sent: unknown,
  members: readonly string[],
): Promise<string[]> {
  return [...members];
}

/** The members not back in service after the wave. */
export async function notInService(
  ports: ActionPorts,
  _sent: unknown,
  members: readonly string[],
): Promise<string[]> {
  const conditions = await ports.ec2.conditions(members);
  return members.filter((id) => !isInService(conditions.get(id)));
}

/** Those of `ids` whose condition says the action is over ({@link backFromAction}). */
export async function backInstances(ports: ActionPorts, ids: readonly string[]): Promise<Set<string>> {
  const conditions = await ports.ec2.conditions(ids);
  return new Set(ids.filter((id) => backFromAction(conditions.get(id))));
}

/** Running again, its status checks concluded (ok or failing): no longer worth waiting for. */
export const backFromAction = (c: InstanceCondition | undefined) =>
  c !== undefined && c.state === 'running' && !checksPending(c);
