import type { RolloutPorts } from '../../ports/rollout-ports';
import { releaseHold } from '../../safety/hold';
import { actionModule } from '../actions/index';
import type { RolloutState } from './state';
import { loadChange } from './state';
import { restoreTraffic } from './traffic';
import { readWave } from './wave-records';

/** The last step of every wave: its leases and budgets let go, and the next wave (or an approval) ahead. */

/**
 * Brings back into traffic whatever the wave still has out (core/traffic: what cannot come back
 * yet is kept for the sweep and keeps counting), then releases the wave's leases and budgets (instances not back in service keep counting; a replaced
 * instance counts while its group misses capacity) and moves on; says whether a person must
 * approve before the next wave (after the canary, at the risk containment point), so nothing
 * is held while the rollout waits for them.
 */
export async function releaseWave(
  ports: RolloutPorts,
  state: RolloutState,
): Promise<{ state: RolloutState; more: boolean; approval: 'canary' | 'risk-containment' | 'none' }> {
  const [plan, spec] = await loadChange(ports, state.changeId);
  const wave = plan.waves[state.wave];
  const { members, sent } = await readWave(ports, plan, state);
  // Every lease of the wave, skipped instances' too (one may have gone after it was leased).
  const leases = await ports.leases.heldBy(state.changeId, wave.instances, ports.now());
  const member = new Set(members);
  const stillUnavailable = new Set<string>(wave.instances.filter((id) => !member.has(id)));
  for (const id of await actionModule(spec.action).stillUnavailable(ports, sent, members))
    stillUnavailable.add(id);
  // Whatever the wave still has out of traffic goes back first (a pass, a failed gate, an error, a pause).
  for (const s of await restoreTraffic(ports, state.changeId, wave.instances)) stillUnavailable.add(s.id);
  await releaseHold(
    { leases: ports.leases, audit: ports.fleet },
    state.changeId,
    leases,
    ports.actor,
    `wave ${state.wave} done`,
    ports.now(),
    stillUnavailable,
  );
  const next = state.wave + 1;
  return {
    state: { ...state, wave: next },
    more: next < state.waves,
    approval: wave.approvalAfter ?? 'none',
  };
}
