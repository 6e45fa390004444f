import type { Instance } from '../../functions/core/fleet/fleet';
import { serviceCatalog } from '../../functions/core/fleet/services';
import { resolveBudgets } from '../../functions/core/safety/budget';
import { InvariantMonitor } from '../../sim/invariant-monitor';
import { VirtualClock } from '../../sim/kernel/virtual-clock';
import { type Fault, SimWorld, WORLD_MINUTES } from '../../sim/world/sim-world';

/**
 * The monitor's breaker check (sim/invariant-monitor.ts, `breaker`): no remediation reboot, stop or
 * termination starts in a scope (the account, the instance's zone, its service) where more than 20%
 * of max(members, 5) fail a status check their alarm has reported. Counted from the world, not from
 * FleetOps' counts: a failure counts from its alarm (the information lag) until it is gone.
 */

const T0 = Date.parse('2026-01-05T00:00:00Z');
const MINUTE = 60_000;

/** Zone a: 10 instances (service web); zone b: 13 (web 10, tiny 3). */
function monitored() {
  const clock = new VirtualClock(T0);
  const fleet: Instance[] = [
    ...Array.from({ length: 10 }, (_, k) => ({ service: 'web', zone: 'us-east-1a', k })),
    ...Array.from({ length: 10 }, (_, k) => ({ service: 'web', zone: 'us-east-1b', k: 10 + k })),
    ...Array.from({ length: 3 }, (_, k) => ({ service: 'tiny', zone: 'us-east-1b', k: 20 + k })),
  ].map(({ service, zone, k }) => ({
    id: `i-${String(k).padStart(17, '0')}`,
    service,
    zone,
    state: 'running',
    health: 'ok',
    tags: {},
  }));
  let monitor: InvariantMonitor | undefined;
  // The status-check alarm fires WORLD_MINUTES.detect after the failure: the monitor counts it from then.
  const world = new SimWorld(clock, fleet, (fault) => monitor!.alarmed(fault));
  const catalog = serviceCatalog({ services: {} });
  monitor = new InvariantMonitor(
    clock,
    world,
    resolveBudgets(world.instances, catalog, 'reboot'),
    catalog,
    'reboot',
    T0,
  );
  const ids = world.instances.map((i) => i.id);
  const fail = (...ks: number[]) =>
    ks.map((k) => world.injectFault(ids[k], () => 0.5, { kind: 'system-status-check-failed' })!);
  /** Runs `act` at `minutes` after the start (the clock runs every event before it, alarms included). */
  const at = (minutes: number, act: () => void) => clock.at(T0 + minutes * MINUTE, act);
  const breakers = () => monitor!.violations.filter((v) => v.invariant === 'breaker');
  return { clock, world, monitor, ids, fail, at, breakers };
}

describe('the breaker invariant', () => {
  it('lets remediation act in a scope at 20% unhealthy, and flags it above, in the widest open scope', async () => {
    // Prepare: 2 of zone a's 10 failing (20%: the breaker stays closed), then a third.
    const { clock, monitor, ids, fail, at, breakers } = monitored();
    fail(0, 1);
    const seen: number[] = [];
    at(WORLD_MINUTES.detect, () => {
      monitor.acting('case-a', 'remediation', 'reboot', ids[5]);
      seen.push(breakers().length);
      fail(2);
    });
    at(2 * WORLD_MINUTES.detect + 1, () => monitor.acting('case-b', 'remediation', 'stop', ids[6]));

    // Act
    await clock.run();

    // Assess
    expect(seen).toEqual([0]);
    expect(breakers()).toHaveLength(1);
    expect(breakers()[0].subject).toBe('scope:zone:us-east-1a');
    expect(breakers()[0].detail).toMatch(
      /^case-b sent stop to i-0+6 while 3 of 10 instances of zone:us-east-1a failed a status check .*\(30% > 20%, over since minute 6\): its breaker is open$/,
    );
  });

  it('flags only remediation, and only its reboots, stops and terminations', async () => {
    // Prepare: 3 of zone a's 10 failing.
    const { clock, monitor, ids, fail, at, breakers } = monitored();
    fail(0, 1, 2);
    const seen: number[] = [];
    at(WORLD_MINUTES.detect, () => {
      // The change's reboot and Run Command, a stop-start's start: none is a remediation starting.
      monitor.acting('sim-reboot', 'change', 'reboot', ids[5]);
      monitor.acting('case-a', 'remediation', 'start', ids[6]);
      monitor.acting('sim-reboot', 'change', 'ssm', ids[7]);
      seen.push(breakers().length);
      monitor.acting('case-b', 'remediation', 'terminate', ids[8]);
    });

    // Act
    await clock.run();

    // Assess
    expect(seen).toEqual([0]);
    expect(breakers().map((v) => v.detail.split(' while')[0])).toEqual([
      'case-b sent terminate to i-00000000000000008',
    ]);
  });

  it('counts a failure from its alarm (what FleetOps can know), and no longer once it is gone', async () => {
    // Prepare: 3 of zone a's 10 fail at minute 0; their alarms fire at minute 3; one clears at 4.
    const { clock, world, monitor, ids, fail, at, breakers } = monitored();
    const faults: Fault[] = fail(0, 1, 2);
    const seen: number[] = [];
    const act = () => {
      monitor.acting('case-a', 'remediation', 'reboot', ids[5]);
      seen.push(breakers().length);
    };
    at(WORLD_MINUTES.detect - 1, act);
    at(WORLD_MINUTES.detect, act);
    at(WORLD_MINUTES.detect + 1, () => {
      world.clearFault(faults[0]);
      act();
    });

    // Act
    await clock.run();

    // Assess: nothing known before the alarms; 3 of 10 after; 2 of 10 once one is gone.
    expect(seen).toEqual([0, 1, 1]);
  });

  it('judges a scope smaller than 5 as 5: one bad box of a 3-instance service is a bad box, two are an outage', async () => {
    // Prepare: tiny has 3 instances (20, 21, 22) in zone b (13).
    const { clock, monitor, ids, fail, at, breakers } = monitored();
    fail(20);
    const seen: number[] = [];
    at(WORLD_MINUTES.detect, () => {
      monitor.acting('case-a', 'remediation', 'reboot', ids[20]);
      seen.push(breakers().length);
      fail(21);
    });
    at(2 * WORLD_MINUTES.detect + 1, () => monitor.acting('case-b', 'remediation', 'reboot', ids[21]));

    // Act
    await clock.run();

    // Assess: 1 of 5 = 20%, then 2 of 5 = 40% (zone b: 2 of 13).
    expect(seen).toEqual([0]);
    expect(breakers().map((v) => v.subject)).toEqual(['scope:service:tiny']);
  });

  it('divides by the members the last sweep saw when more than now (FleetOps counts against the sweep)', async () => {
    // Prepare: zone a swept with 10 members, then 5 terminated; 2 of the 5 left fail.
    const { clock, world, monitor, ids, fail, at, breakers } = monitored();
    monitor.swept();
    for (const k of [5, 6, 7, 8, 9]) {
      const slot = world.slot(ids[k])!;
      slot.instance.state = 'terminated';
      monitor.changed(slot);
    }
    fail(0, 1);
    const seen: number[] = [];
    at(WORLD_MINUTES.detect, () => {
      monitor.acting('case-a', 'remediation', 'reboot', ids[2]);
      seen.push(breakers().length);
      monitor.swept();
      monitor.acting('case-a', 'remediation', 'reboot', ids[2]);
      seen.push(breakers().length);
    });

    // Act
    await clock.run();

    // Assess: 2 of max(5 now, 10 swept) = 20%: closed; after a sweep that sees 5, 40%: open.
    expect(seen).toEqual([0, 1]);
  });
});
