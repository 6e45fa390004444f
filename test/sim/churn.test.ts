import type { Instance } from '../../functions/core/fleet/fleet';
import { ledgerObservations } from '../../functions/core/fleet/inventory';
import { serviceCatalog } from '../../functions/core/fleet/services';
import { MemoryLeaseStore } from '../../sim/adapters';
import { type FleetSimReport, simulateFleet } from '../../sim/fleet-sim';
import { seededRandom } from '../../sim/kernel/random';
import { VirtualClock } from '../../sim/kernel/virtual-clock';
import { Churn } from '../../sim/world/churn';
import { SimWorld } from '../../sim/world/sim-world';
import type { ServiceTraffic } from '../../sim/world/traffic-layout';

/**
 * Churn (sim/world/churn.ts): owners scaling their services in and out while a change runs, as
 * a group's scale-in and scale-out would, with the inventory, the ledgers and the invariant
 * checks following.
 */

const T0 = Date.parse('2026-01-05T00:00:00Z');
const TG = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/50000000000000';

const instance = (k: number, service: string, zone = 'us-east-1a'): Instance => ({
  id: `i-${String(k).padStart(17, '0')}`,
  service,
  zone,
  cell: `${service}-cell-0`,
  state: 'running',
  health: 'ok',
  tags: { team: service },
});

/** web: 4 members of asg-web behind a target group; api: 3 instances behind the same kind of group, in no Auto Scaling group. */
function world() {
  const clock = new VirtualClock(T0);
  const tg = (arn: string) => ({
    arn,
    deregistrationDelaySeconds: 60,
    healthCheckIntervalSeconds: 10,
    healthyThresholdCount: 3,
    unhealthyThresholdCount: 2,
  });
  const layout = new Map<string, ServiceTraffic>([
    [
      'web',
      {
        targetGroup: tg(TG),
        group: { name: 'asg-web', min: 2, max: 4, healthCheckType: 'EC2', graceSeconds: 300 },
      },
    ],
    ['api', { targetGroup: tg(TG.replace('/web/', '/api/')) }],
  ]);
  const fleet = [0, 1, 2, 3]
    .map((k) => instance(k, 'web'))
    .concat([4, 5, 6].map((k) => instance(k, 'api', 'us-east-1b')));
  const w = new SimWorld(clock, fleet, () => {}, false, { layout, random: () => 0.99 });
  return { clock, w, fleet };
}

describe('scale-ins and scale-outs in the simulated account', () => {
  it('scales a group member in as its group would: capacity down, drained, terminated, never below the minimum', async () => {
    // Prepare
    const { clock, w } = world();
    const group = w.traffic.groups.get('asg-web')!;

    // Act
    const first = w.scaleIn('i-00000000000000000');
    const second = w.scaleIn('i-00000000000000001');
    const third = w.scaleIn('i-00000000000000002');
    const draining = w.slot('i-00000000000000000')!.instance.targets?.[0]?.state;
    await clock.run();

    // Assess
    expect([first, second, third]).toEqual([undefined, undefined, 'asg-web is at its minimum 2']);
    expect(draining).toBe('draining');
    expect(group.desired).toBe(2);
    expect(w.slot('i-00000000000000000')!.instance.state).toBe('terminated');
    expect(w.slot('i-00000000000000002')!.instance.state).toBe('running');
    expect(w.population).toBe(5);
    // No replacement: the group was scaled in, not told to replace.
    expect(w.instances).toHaveLength(7);
  });

  it('drains an instance in no group from its target groups before shutting it down, and takes none out of service', async () => {
    // Prepare
    const { clock, w } = world();
    const api = w.slot('i-00000000000000004')!;
    const seen: Array<{ s: number; state: string; target: string | undefined }> = [];
    w.listen({
      changed: (slot) => {
        if (slot === api)
          seen.push({
            s: (clock.now() - T0) / 1000,
            state: slot.instance.state,
            target: slot.instance.targets?.[0]?.state,
          });
      },
      added: () => {},
    });
    w.slot('i-00000000000000005')!.instance.health = 'impaired';

    // Act
    const refused = w.scaleIn('i-00000000000000005');
    const done = w.scaleIn('i-00000000000000004');
    await clock.run();

    // Assess
    expect(refused).toBe('not in service');
    expect(done).toBeUndefined();
    expect(api.instance.state).toBe('terminated');
    expect(api.scaledIn).toBe(true);
    // Running while it drained (the group's 60 s delay), shut down only then: no request was cut off.
    expect(seen[0]).toEqual({ s: 0, state: 'running', target: 'draining' });
    const down = seen.find((x) => x.state === 'shutting-down')!;
    expect(down.s).toBeGreaterThanOrEqual(60);
    expect(seen.filter((x) => x.s < down.s).every((x) => x.state === 'running')).toBe(true);
    expect(seen.at(-1)?.state).toBe('terminated');
  });

  it('launches like an instance: same service, zone, cell and launch tags, into its group or its target group', async () => {
    // Prepare: a change retagged the running instances; the launch template still has the old tags.
    const { clock, w } = world();
    w.setTags('i-00000000000000000', { patched: 'yes' });
    const group = w.traffic.groups.get('asg-web')!;

    // Act
    const member = w.scaleOut('i-00000000000000000')!;
    const sibling = w.scaleOut('i-00000000000000004')!;
    await clock.run();

    // Assess
    expect(member.instance).toMatchObject({
      service: 'web',
      zone: 'us-east-1a',
      cell: 'web-cell-0',
      state: 'running',
      health: 'ok',
      tags: { team: 'web' },
      asg: { name: 'asg-web', lifecycle: 'InService' },
    });
    expect(member.instance.tags).not.toHaveProperty('patched');
    // At its maximum, the owner's scale-out raises it.
    expect(group.desired).toBe(5);
    expect(group.max).toBe(5);
    expect(sibling.instance).toMatchObject({ service: 'api', zone: 'us-east-1b', state: 'running' });
    expect(sibling.instance.asg).toBeUndefined();
    expect(sibling.instance.targets).toEqual([expect.objectContaining({ state: 'healthy' })]);
    expect(w.population).toBe(9);
  });

  it('runs both Poisson processes at the rate given, until told the change ended', async () => {
    // Prepare
    const { clock, w } = world();
    const churn = new Churn(w, seededRandom(7));
    let ended = false;
    clock.at(T0 + 10 * 3_600_000, () => {
      ended = true;
    });

    // Act: 7 instances at 0.2 an hour each: about 14 of each kind in 10 hours.
    churn.run(clock, 0.2, () => ended);
    await clock.run();

    // Assess
    expect(churn.launched.size).toBeGreaterThan(3);
    expect(churn.terminated + [...churn.refused.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(3);
    expect(w.population).toBe(7 + churn.launched.size - churn.terminated);
  });

  it('reconciles ledger capacities to the population as the sweep does, keeping what it observes', () => {
    // Prepare: web 10% of 20 → 2; one instance down.
    const clock = new VirtualClock(T0);
    const fleet = Array.from({ length: 20 }, (_, k) => instance(k, 'web'));
    fleet[0] = { ...fleet[0], state: 'stopped' };
    const w = new SimWorld(clock, fleet, () => {});
    const catalog = serviceCatalog({
      services: { web: { maxUnavailable: { kind: 'percent', value: 10 }, impact: {} } },
    });
    const leases = new MemoryLeaseStore(w, ledgerObservations(w.instances, catalog, new Set()));
    for (let k = 0; k < 10; k++) w.scaleOut(`i-${String(1 + k).padStart(17, '0')}`);

    // Act
    const before = leases.ledger('web');
    leases.reconcileCapacities(ledgerObservations(w.instances, catalog, new Set()));

    // Assess: 30 instances now (10 pending, counted as unavailable), 10% → 3.
    expect(before).toEqual({ used: 11, capacity: 2 });
    expect(leases.ledger('web')).toEqual({ used: 11, capacity: 3 });
  });
});

describe('a change under churn (simulateFleet --churn-rate)', () => {
  const options = {
    instances: 2000,
    zones: 3,
    services: 50,
    faultRate: 0.0005,
    churnRate: 0.002,
    seed: 4,
  } as const;
  let r: FleetSimReport;
  beforeAll(async () => {
    r = await simulateFleet(options);
  });

  it('keeps every invariant while instances come and go, and changes most of those launched into its target', () => {
    expect(r.invariants.list).toEqual([]);
    expect(r.invariants.violations).toBe(0);
    expect(r.invariants.checked).toEqual(
      expect.arrayContaining(['disruption-budget', 'at-most-once', 'change-coverage']),
    );
    expect(r.churn).toBeDefined();
    const churn = r.churn!;
    expect(churn.rate).toBe(0.002);
    expect(churn.terminated).toBeGreaterThan(50);
    expect(churn.launched).toBeGreaterThan(50);
    expect(churn.launchedTargeted).toBeLessThanOrEqual(churn.launched);
    // Final waves take the instances launched after planning.
    expect(churn.launchedChanged).toBeGreaterThan(churn.launchedTargeted / 2);
    expect(r.parameters.churnRate).toBe(0.002);
    expect(r.simulation.sweepErrors).toBe(0);
  });

  it('gives the same report for the same seed, and another for another seed', async () => {
    const same = await simulateFleet(options);
    const other = await simulateFleet({ ...options, seed: 5 });

    const strip = (x: FleetSimReport) => JSON.stringify({ ...x, wallClock: undefined });
    expect(strip(same)).toBe(strip(r));
    expect(strip(other)).not.toBe(strip(r));
  });

  it('reports no churn when there is none', async () => {
    const none = await simulateFleet({ ...options, instances: 500, services: 10, churnRate: 0 });

    expect(none.churn).toBeUndefined();
    expect(none.parameters.churnRate).toBe(0);
  });
});
