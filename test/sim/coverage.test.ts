import type { Instance } from '../../functions/core/fleet/fleet';
import { serviceCatalog } from '../../functions/core/fleet/services';
import { resolveBudgets } from '../../functions/core/safety/budget';
import { MemoryTrafficExits } from '../../sim/adapters/memory-traffic-exits';
import { InvariantMonitor } from '../../sim/invariant-monitor';
import { VirtualClock } from '../../sim/kernel/virtual-clock';
import { SimWorld } from '../../sim/world/sim-world';

/**
 * The monitor's checks at a change's end (sim/invariant-monitor.ts): change-coverage (every
 * instance of the target eligible at the end got the change, is listed with why, or came up only
 * after the change's last look) and every-path-ends (an execution that ended left its change ended).
 */

const T0 = Date.parse('2026-01-05T00:00:00Z');
const MINUTE = 60_000;

const instance = (k: number): Instance => ({
  id: `i-${String(k).padStart(17, '0')}`,
  service: 'web',
  zone: 'us-east-1a',
  state: 'running',
  health: 'ok',
  tags: {},
});

function monitored() {
  const clock = new VirtualClock(T0);
  const fleet = Array.from({ length: 6 }, (_, k) => instance(k));
  fleet[5] = { ...fleet[5], state: 'stopped' };
  const world = new SimWorld(clock, fleet, () => {});
  const catalog = serviceCatalog({ services: {} });
  const monitor = new InvariantMonitor(
    clock,
    world,
    resolveBudgets(world.instances, catalog, 'reboot'),
    catalog,
    'reboot',
    T0,
  );
  return { clock, world, monitor };
}

describe('change-coverage', () => {
  it('passes what was changed, listed, not eligible or up only after the last look, and names the rest', async () => {
    // Prepare: 0 changed, 1 listed, 2 back only after the last look, 3 missed, 4 held by a case, 5 stopped.
    const { clock, world, monitor } = monitored();
    const ids = world.instances.map((i) => i.id);
    const two = world.slot(ids[2])!;
    two.instance.health = 'impaired';
    monitor.changed(two);
    clock.at(T0 + 90 * MINUTE, () => {
      two.instance.health = 'ok';
      monitor.changed(two);
    });
    await clock.run();

    // Act
    const coverage = monitor.checkCoverage({
      changeId: 'patch',
      targeted: world.instances,
      changed: new Set([ids[0]]),
      listed: new Map([[ids[1], 'held by case-1 at planning']]),
      whyNot: (i) =>
        i.id === ids[4]
          ? 'held by case-000002'
          : i.state !== 'running'
            ? `not running (state: ${i.state})`
            : undefined,
      lastLook: () => T0 + 60 * MINUTE,
    });

    // Assess
    expect(coverage).toEqual({
      targeted: 6,
      changed: 1,
      notEligible: { 'held by another owner': 1, 'not running': 1 },
      listed: 1,
      joinedAfterLastLook: 1,
      uncovered: 1,
    });
    expect(monitor.violationsBy['change-coverage']).toBe(1);
    expect(monitor.violations[0]).toMatchObject({
      invariant: 'change-coverage',
      subject: `instance:${ids[3]}`,
      detail: expect.stringContaining('yet no attempt changed it and neither a plan nor a wave lists it'),
    });
  });
});

describe('every-path-ends', () => {
  it('names a change its execution left running, and not one that ended', async () => {
    const { monitor } = monitored();
    const exits = new MemoryTrafficExits();

    await monitor.changeEnded('done', exits, { status: 'completed', reason: 'every wave passed its gate' });
    await monitor.changeEnded('stuck', exits, { status: 'running', reason: 'started: 31 waves' });

    expect(monitor.violations).toEqual([
      expect.objectContaining({
        invariant: 'every-path-ends',
        subject: 'change:stuck',
        detail: 'its execution ended with the change still running (started: 31 waves)',
      }),
    ]);
  });
});
