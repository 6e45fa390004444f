import type { Instance } from '../../fleet/fleet';
import { isDisruptive, serviceCatalog } from '../../fleet/services';
import type { RolloutPorts } from '../../ports/rollout-ports';
import {
  backInService,
  bringBack,
  drained,
  type Refusal,
  restore,
  takeOut,
  trafficDeps,
} from '../../traffic/protocol';
import { actionModule } from '../actions/index';
import type { ChangeSpec } from '../spec';
import { at, type RolloutState } from './state';
import { recordTrafficBegun, type WaveView } from './wave-records';

/**
 * The rollout's side of the traffic protocol (core/traffic): which of a wave's instances go
 * around it (the action is disruptive for their service and the action module takes instances
 * out of traffic), and the three places the wave steps call it: apply (out and drained before
 * the action), settle (back once the action finished, then healthy) and release (whatever is
 * still out is brought back, whatever happened).
 */

export { trafficDeps } from '../../traffic/protocol';

/** The instances of `ids` whose action must go through the protocol (disruptive for their service). */
async function protocolMembers(
  ports: RolloutPorts,
  spec: ChangeSpec,
  ids: readonly string[],
): Promise<Instance[]> {
  if (!actionModule(spec.action).outOfTraffic || ids.length === 0) return [];
  const [instances, services] = await Promise.all([ports.fleet.getInstances(ids), ports.fleet.getServices()]);
  const catalog = serviceCatalog(services);
  return instances.filter((i) => isDisruptive(catalog.budgetOf(i.service).budget, spec.action.type));
}

/**
 * Before the action (apply): the leased instances not sent yet are taken out of traffic; those
 * drained (or with no traffic to take) may take the action now. Returns those that must wait
 * (draining, or their group lends no more to Standby yet) and those refused (another party holds
 * them in Standby or a lifecycle hook, or took them out of traffic): the wave skips those.
 */
export async function outOfTrafficFirst(
  ports: RolloutPorts,
  state: RolloutState,
  spec: ChangeSpec,
  wave: WaveView,
  ids: readonly string[],
): Promise<{ notYet: Set<string>; refused: Refusal[] }> {
  const members = await protocolMembers(ports, spec, ids);
  if (members.length === 0) return { notYet: new Set(), refused: [] };
  await recordTrafficBegun(ports, state, wave);
  const deps = trafficDeps(ports);
  const taken = await takeOut(deps, state.changeId, members);
  const { waiting } = await drained(deps, state.changeId, taken.out);
  const notYet = new Set([...waiting, ...taken.waiting.map((w) => w.id)]);
  if (taken.out.length > 0 || taken.waiting.length > 0) {
    await ports.fleet.audit([
      {
        subject: `change:${state.changeId}`,
        actor: ports.actor,
        action: 'wave.out-of-traffic',
        reason:
          `wave ${state.wave}: ${taken.out.length} out of traffic (${taken.out.length - waiting.length} drained), ` +
          `${taken.direct.length} with no traffic to take` +
          (taken.waiting.length > 0 ? `, ${taken.waiting.length} waiting (${taken.waiting[0].reason})` : ''),
        at: at(ports),
      },
    ]);
  }
  return { notYet, refused: taken.refused };
}

/**
 * After the action (settle): instances whose action finished are put back into traffic; returns
 * those serving again (or never taken out), those still on their way back, and those late (not
 * back within their target groups' readiness bound, with why: the gate judges them).
 */
export async function backWhenFinished(
  ports: RolloutPorts,
  state: RolloutState,
  finished: readonly string[],
): Promise<{ ready: Set<string>; late: Refusal[] }> {
  const deps = trafficDeps(ports);
  await bringBack(deps, state.changeId, finished);
  const back = await backInService(deps, state.changeId, finished);
  return { ready: new Set(back.ready), late: back.late };
}

/**
 * Whatever the wave left out of traffic is brought back (release, after a pass, a failed gate, an
 * error or a pause; the finish of a change that failed for good; an abort). Returns the instances
 * that could not be brought back yet (kept for the sweep, which retries and pages).
 */
export async function restoreTraffic(
  ports: Pick<RolloutPorts, 'traffic' | 'autoscaling' | 'exits' | 'ec2' | 'now' | 'fleet' | 'actor'>,
  owner: string,
  ids: readonly string[],
): Promise<Refusal[]> {
  const deps = {
    traffic: ports.traffic,
    autoscaling: ports.autoscaling,
    exits: ports.exits,
    ec2: ports.ec2,
    now: ports.now,
  };
  const { restored, stuck } = await restore(deps, owner, ids);
  if (restored.length > 0 || stuck.length > 0) {
    await ports.fleet.audit([
      {
        subject: `change:${owner}`,
        actor: ports.actor,
        action: 'traffic.restored',
        reason:
          `${restored.length} back into traffic` +
          (stuck.length > 0
            ? `; ${stuck.length} not yet: ${stuck
                .slice(0, 5)
                .map((s) => `${s.id} (${s.reason})`)
                .join(', ')}`
            : ''),
        at: new Date(ports.now()).toISOString(),
      },
    ]);
  }
  return stuck;
}
