import type { Instance } from '../../functions/core/fleet/fleet';
import { VirtualClock } from '../../sim/kernel/virtual-clock';
import { SimWorld } from '../../sim/world/sim-world';
import type { ServiceTraffic } from '../../sim/world/traffic-layout';
import { PENDING_SECONDS } from '../../sim/world/traffic-world';

/**
 * A storm that strikes a member its group has just put back InService (after a change's reboot:
 * EnterStandby, reboot, ExitStandby), within the group's health check grace period. Auto Scaling
 * health checks go on periodically: once the grace period is over, a member still failing them
 * is replaced then, while its fault is there — not hours later, when the fault has cleared and
 * only its target, on its way back to healthy, is still reported unhealthy (which the invariant
 * monitor rightly counts as a replacement FleetOps caused).
 */

const T0 = Date.parse('2026-01-05T00:00:00Z');
const S = 1000;
const TG = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/50000000000000';
const GRACE = 300;
const DRAIN = 120;
const STORM = 120 * 60;

function world(healthCheckType: 'ELB' | 'EC2') {
  const clock = new VirtualClock(T0);
  const layout = new Map<string, ServiceTraffic>([
    [
      'web',
      {
        targetGroup: {
          arn: TG,
          deregistrationDelaySeconds: DRAIN,
          healthCheckIntervalSeconds: 10,
          healthyThresholdCount: 5,
          unhealthyThresholdCount: 2,
        },
        group: { name: 'asg-web', min: 1, max: 4, healthCheckType, graceSeconds: GRACE },
      },
    ],
  ]);
  const fleet: Instance[] = Array.from({ length: 4 }, (_, k) => ({
    id: `i-${String(k).padStart(17, '0')}`,
    service: 'web',
    zone: 'us-east-1a',
    state: 'running',
    health: 'ok',
    tags: {},
  }));
  const w = new SimWorld(clock, fleet, () => {}, false, { layout, random: () => 0.99 });
  const replaced: Array<{ id: string; second: number; cause: string; withFault: boolean }> = [];
  w.listen({
    changed: () => {},
    added: () => {},
    replaced: (slot, _reason, cause) =>
      replaced.push({
        id: slot.instance.id,
        second: (clock.now() - T0) / S,
        cause,
        withFault: slot.fault !== undefined,
      }),
  });
  const id = fleet[0].id;
  // The change's protocol: Standby (drained for the deregistration delay), then back.
  w.traffic.enterStandby('asg-web', [id]);
  clock.at(T0 + (DRAIN + 1) * S, () => w.traffic.exitStandby('asg-web', [id]));
  const inServiceAt = DRAIN + 1 + PENDING_SECONDS;
  return { clock, w, id, replaced, inServiceAt };
}

/** The storm's fault at `second`, clearing by itself `lasts` seconds later. */
function storm(t: ReturnType<typeof world>, second: number, lasts: number) {
  t.clock.at(T0 + second * S, () => {
    const fault = t.w.injectFault(t.id, () => 0.5, { kind: 'system-status-check-failed' });
    expect(fault).toBeDefined();
    t.clock.at(T0 + (second + lasts) * S, () => t.w.clearFault(fault!));
  });
}

describe('a storm within the grace period after ExitStandby', () => {
  it.each(['ELB', 'EC2'] as const)(
    'with %s health checks, the group replaces the impaired member once the grace period is over, its fault still there',
    async (type) => {
      const t = world(type);
      storm(t, t.inServiceAt + 9, STORM);
      const lifecycles: Array<string | undefined> = [];
      for (const s of [t.inServiceAt + GRACE - 1, t.inServiceAt + GRACE + 1])
        t.clock.at(T0 + s * S, () => lifecycles.push(t.w.slot(t.id)?.member?.lifecycle));

      await t.clock.run();

      expect(lifecycles).toEqual(['InService', 'Terminating']);
      expect(t.replaced).toEqual([
        { id: t.id, second: t.inServiceAt + GRACE, cause: 'impaired', withFault: true },
      ]);
    },
  );

  it('leaves alone a member whose fault clears and whose target is healthy again before the grace period ends', async () => {
    const t = world('ELB');
    storm(t, t.inServiceAt + 9, 60);

    await t.clock.run();

    expect(t.replaced).toEqual([]);
    expect(t.w.slot(t.id)?.member?.lifecycle).toBe('InService');
    expect(t.w.traffic.health(TG, t.id).state).toBe('healthy');
  });

  it('still replaces, past the grace period, a member whose target stays unhealthy after its fault cleared', async () => {
    // Cleared at grace end − 10 s: its target needs 5 × 10 s of passing checks, so it is still
    // unhealthy when the grace period ends; ELB health checks then replace it (no fault left).
    const t = world('ELB');
    storm(t, t.inServiceAt + 9, GRACE - 19);

    await t.clock.run();

    expect(t.replaced).toEqual([{ id: t.id, second: t.inServiceAt + GRACE, cause: 'elb', withFault: false }]);
  });
});
