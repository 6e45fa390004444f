import { isDisruptive, serviceCatalog } from '../../fleet/services';
import type { RolloutPorts } from '../../ports/rollout-ports';
import { describeRefusal, holdInstances, NOT_IN_INVENTORY, TERMINATED } from '../../safety/hold';
import { actionModule } from '../actions/index';
import type { RolloutState } from './state';
import { loadChange } from './state';
import { readWave, recordSkipped } from './wave-records';

/** The second step of every wave: its instances leased and their budgets reserved, all or nothing. */

/**
 * Leases the wave's instances and reserves their budgets, all or nothing; a refusal is recorded.
 * 1. Lease every instance of the wave not skipped already.
 * 2. Refused because some instances became ineligible after planning (terminated, no longer in
 *    the inventory: an Auto Scaling scale-in during a long change): those are skipped, recorded
 *    with their reason, and the rest is leased at once; the wave goes on without them.
 * 3. Refused for budget or holders: the state machine waits and tries again.
 */
export async function leaseWave(
  ports: RolloutPorts,
  state: RolloutState,
  attempts: number,
): Promise<{ acquired: boolean; attempts: number; skipped: number; reason: string }> {
  const [[plan, spec], services] = await Promise.all([
    loadChange(ports, state.changeId),
    ports.fleet.getServices(),
  ]);
  const wave = plan.waves[state.wave];
  const catalog = serviceCatalog(services);
  const nonDisruptive = new Set(
    Object.keys(wave.services).filter((s) => !isDisruptive(catalog.budgetOf(s).budget, spec.action.type)),
  );
  const ttlMinutes = actionModule(spec.action).minutes + spec.strategy.bakeMinutes + 30;
  const hold = (instanceIds: readonly string[]) =>
    holdInstances(
      { leases: ports.leases, audit: ports.fleet },
      {
        owner: state.changeId,
        instanceIds,
        nonDisruptiveServices: nonDisruptive,
        ttlMs: ttlMinutes * 60_000,
        now: ports.now(),
      },
      ports.actor,
    );
  const { members } = await readWave(ports, plan, state);
  let outcome = await hold(members);
  let skipped = 0;
  if (!outcome.acquired) {
    const gone = outcome.conflicts.filter((c) => INELIGIBLE.has(c.reason));
    if (gone.length > 0) {
      await recordSkipped(ports, state, gone);
      skipped = gone.length;
      const goneIds = new Set(gone.map((c) => c.id));
      outcome = await hold(members.filter((id) => !goneIds.has(id)));
    }
  }
  return {
    acquired: outcome.acquired,
    attempts: attempts + 1,
    skipped,
    reason: outcome.acquired
      ? `leased${skipped > 0 ? `; ${skipped} skipped: no longer eligible (terminated or gone)` : ''}`
      : describeRefusal(outcome),
  };
}

/** Why the lease stores refuse an instance that is simply not there any more. */
const INELIGIBLE = new Set([NOT_IN_INVENTORY, TERMINATED]);
