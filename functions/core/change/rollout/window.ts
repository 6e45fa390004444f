import type { RolloutPorts } from '../../ports/rollout-ports';
import type { FreezeDecision } from '../../safety/freeze';
import { checkFreeze } from '../../safety/hold';
import { windowDecision } from '../windows';
import { at, loadChange, type RolloutState } from './state';

/** The first step of every wave: may it act now (freezes, time windows), or wait, and how long. */

/**
 * While a freeze is in force, look again after 5 minutes, then twice as long each time up to 6
 * hours, never past the freeze's end: a freeze of a month costs about 130 looks, a year about 1,500
 * (each a handful of history events), far under Step Functions' 25,000.
 */
const FREEZE_RECHECK_FIRST_SECONDS = 300;
const FREEZE_RECHECK_MAX_SECONDS = 6 * 3600;

/**
 * May the current wave act now? Freezes (recorded when they block) and the spec's time windows.
 * `waits` is how many times this wave already waited for a freeze: the next look comes later
 * each time (see FREEZE_RECHECK_*), so a long freeze costs few history events.
 */
export async function checkWindow(
  ports: RolloutPorts,
  state: RolloutState,
  waits = 0,
): Promise<{ decision: 'go' | 'wait'; waitSeconds: number; waits: number; reason: string }> {
  const [plan, spec] = await loadChange(ports, state.changeId);
  const wave = plan.waves[state.wave];
  if (state.rollbackOf !== '') {
    // Undoing a change that failed is what a freeze or a window protects the fleet for.
    return {
      decision: 'go',
      waitSeconds: 0,
      waits,
      reason: 'a rollback: freezes and time windows do not hold it back',
    };
  }
  const freeze: FreezeDecision = await checkFreeze(
    { freezes: ports.fleet, audit: ports.fleet },
    {
      subject: `change:${state.changeId}`,
      services: Object.keys(wave.services),
      emergencyReason: spec.emergency?.reason,
    },
    ports.actor,
    ports.now(),
  );
  if (!freeze.allowed) {
    const untilEnd = Math.max(
      1,
      Math.ceil((Math.max(...freeze.frozenBy.map((f) => Date.parse(f.end))) - ports.now()) / 1000),
    );
    const next = Math.min(
      FREEZE_RECHECK_FIRST_SECONDS * 2 ** Math.min(waits, 16),
      FREEZE_RECHECK_MAX_SECONDS,
    );
    return {
      decision: 'wait',
      waitSeconds: Math.min(next, untilEnd),
      waits: waits + 1,
      reason: freeze.reason,
    };
  }
  const window = windowDecision(spec.windows, ports.now());
  if (!window.open) {
    await ports.fleet.audit([
      {
        subject: `change:${state.changeId}`,
        actor: ports.actor,
        action: 'wave.waiting',
        reason: `outside its time windows; next opens in ${window.waitSeconds} s`,
        at: at(ports),
      },
    ]);
    return { decision: 'wait', waitSeconds: window.waitSeconds, waits, reason: 'outside the time windows' };
  }
  return { decision: 'go', waitSeconds: 0, waits, reason: freeze.reason };
}
