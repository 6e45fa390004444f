import type { Instance } from '../../functions/core/fleet/fleet';
import { VirtualClock } from '../../sim/kernel/virtual-clock';
import { REBOOT_SECONDS, SimWorld, type Slot, WORLD_MINUTES } from '../../sim/world/sim-world';
import type { ServiceTraffic } from '../../sim/world/traffic-layout';
import { GROUP_CHECK_SECONDS, PENDING_SECONDS } from '../../sim/world/traffic-world';

/**
 * The simulated account's load balancing and Auto Scaling (sim/world/traffic-world.ts): draining,
 * readiness, Standby, the groups' replacement of unhealthy members, queued reboots.
 */

const T0 = Date.parse('2026-01-05T00:00:00Z');
const S = 1000;
const TG = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/50000000000000';

const instance = (k: number): Instance => ({
  id: `i-${String(k).padStart(17, '0')}`,
  service: 'web',
  zone: 'us-east-1a',
  state: 'running',
  health: 'ok',
  tags: {},
});

function world(
  options: {
    group?: Partial<NonNullable<ServiceTraffic['group']>>;
    tg?: boolean;
    size?: number;
    random?: () => number;
  } = {},
) {
  const clock = new VirtualClock(T0);
  const size = options.size ?? 4;
  const layout = new Map<string, ServiceTraffic>([
    [
      'web',
      {
        ...(options.tg === false
          ? {}
          : {
              targetGroup: {
                arn: TG,
                deregistrationDelaySeconds: 120,
                healthCheckIntervalSeconds: 10,
                healthyThresholdCount: 3,
                unhealthyThresholdCount: 2,
              },
            }),
        ...(options.group
          ? {
              group: {
                name: 'asg-web',
                min: 1,
                max: size,
                healthCheckType: 'EC2' as const,
                graceSeconds: 300,
                ...options.group,
              },
            }
          : {}),
      },
    ],
  ]);
  const fleet = Array.from({ length: size }, (_, k) => instance(k));
  const w = new SimWorld(clock, fleet, () => {}, false, { layout, random: options.random ?? (() => 0.99) });
  const replaced: string[] = [];
  w.listen({ changed: () => {}, added: () => {}, replaced: (slot) => replaced.push(slot.instance.id) });
  /** Records `probe()` at each of these seconds after T0, then runs the clock out. */
  const at = async <T>(seconds: readonly number[], probe: () => T): Promise<T[]> => {
    const out: T[] = [];
    for (const s of seconds) clock.at(T0 + s * S, () => out.push(probe()));
    await clock.run();
    return out;
  };
  return { clock, w, fleet, replaced, at };
}

const lifecycle = (slot: Slot | undefined) => slot?.member?.lifecycle;

describe('target groups', () => {
  it('drains a deregistered target for the deregistration delay, then it is not registered', async () => {
    const { w, fleet, at } = world();
    const id = fleet[0].id;
    w.traffic.deregister(TG, id);

    const seen = await at([1, 119, 120], () => w.traffic.health(TG, id));

    expect(seen).toEqual([
      { state: 'draining', reason: 'Target.DeregistrationInProgress' },
      { state: 'draining', reason: 'Target.DeregistrationInProgress' },
      { state: 'unused', reason: 'Target.NotRegistered' },
    ]);
    // The inventory sees what the sweep would record: not registered where its service's target group is.
    expect(w.slot(id)!.instance.targets).toEqual([
      {
        targetGroupArn: TG,
        state: 'unused',
        reason: 'Target.NotRegistered',
        drainSeconds: 120,
        readySeconds: 30,
      },
    ]);
  });

  it('ends draining early when the connections end first, and at once for an instance that is not running', async () => {
    // Prepare: the dice say "early" (< 0.3), at 0.1 of the delay.
    const { w, fleet, at } = world({ random: () => 0.1 });
    w.stop(fleet[1].id);
    await at([WORLD_MINUTES.stop * 60 + 1], () => undefined);
    w.traffic.deregister(TG, fleet[0].id);
    w.traffic.deregister(TG, fleet[1].id);
    const start = (WORLD_MINUTES.stop * 60 + 1) * S;

    const seen = await at([start / S + 11, start / S + 12], () => [
      w.traffic.health(TG, fleet[0].id).state,
      w.traffic.health(TG, fleet[1].id).state,
    ]);

    expect(seen).toEqual([
      ['draining', 'unused'],
      ['unused', 'unused'],
    ]);
  });

  it('reports a registered target initial until healthy threshold × interval have passed, then healthy', async () => {
    const { w, fleet, at } = world();
    const id = fleet[0].id;
    w.traffic.deregister(TG, id);
    await at([120], () => undefined);
    w.traffic.register(TG, id);

    // 3 checks 10 s apart.
    const seen = await at([121, 149, 150], () => w.traffic.health(TG, id).state);

    expect(seen).toEqual(['initial', 'initial', 'healthy']);
  });

  it('reports a stopped instance unused (Target.InvalidState) and an impaired one unhealthy', async () => {
    const { w, fleet, at } = world();
    w.stop(fleet[0].id);
    w.injectFault(fleet[1].id, () => 0.5);

    const [[stopped, impaired]] = await at([WORLD_MINUTES.stop * 60], () => [
      w.traffic.health(TG, fleet[0].id),
      w.traffic.health(TG, fleet[1].id),
    ]);

    expect(stopped).toEqual({ state: 'unused', reason: 'Target.InvalidState' });
    expect(impaired).toEqual({ state: 'unhealthy', reason: 'Target.FailedHealthChecks' });
  });
});

describe('reboots', () => {
  it('queue: the instance restarts later, its targets unhealthy meanwhile, and posts console output only once it restarted', async () => {
    const { w, fleet, at, clock } = world();
    const id = fleet[0].id;
    const slot = w.slot(id)!;
    const before = slot.consoleAt;
    const asked = clock.now();
    w.reboot(id, 'change');
    const [q0] = REBOOT_SECONDS.queue;
    const maxEnd = REBOOT_SECONDS.queue[1] + REBOOT_SECONDS.restart[1];

    const seen = await at([q0 - 1, maxEnd + 1, maxEnd + 31], () => ({
      console: slot.consoleAt > asked,
      health: slot.instance.health,
      target: w.traffic.health(TG, id).state,
    }));

    expect(before).toBeLessThan(asked);
    // Before the restart: still serving, no proof of a reboot yet.
    expect(seen[0]).toEqual({ console: false, health: 'ok', target: 'healthy' });
    // Restarted: console output posted after the request, checks ok; the target passes its checks again.
    expect(seen[1].console).toBe(true);
    expect(seen[1].health).toBe('ok');
    expect(seen[2].target).toBe('healthy');
  });

  it('takes the status checks to initializing and the target to unhealthy during the restart', async () => {
    // The dice at 0.99: the restart begins after ~45 s and lasts ~180 s.
    const { w, fleet, at } = world();
    const id = fleet[0].id;
    w.reboot(id, 'change');

    const [during] = await at([100], () => ({
      health: w.slot(id)!.instance.health,
      target: w.traffic.health(TG, id),
    }));

    expect(during).toEqual({
      health: 'unknown',
      target: { state: 'unhealthy', reason: 'Target.FailedHealthChecks' },
    });
  });
});

describe('Auto Scaling groups', () => {
  it('replaces a stopped InService member: terminated, and a new instance launched InService and healthy', async () => {
    const { w, fleet, replaced, at } = world({ group: {} });
    const id = fleet[0].id;
    w.stop(id);

    const seen = await at([GROUP_CHECK_SECONDS + 1, 30 * 60], () => ({
      old: lifecycle(w.slot(id)) ?? w.slot(id)!.instance.state,
      members: w.groupHealth('asg-web')!.members.length,
    }));

    expect(replaced).toEqual([id]);
    expect(seen[0].old).toBe('Terminating');
    expect(seen[1].old).toBe('terminated');
    const fresh = w.groupHealth('asg-web')!.members.filter((m) => !fleet.some((f) => f.id === m));
    expect(fresh).toHaveLength(1);
    expect(lifecycle(w.slot(fresh[0]))).toBe('InService');
    expect(w.traffic.health(TG, fresh[0]).state).toBe('healthy');
    expect(w.groupHealth('asg-web')!.desired).toBe(4);
    expect(w.traffic.replacements[0]).toMatchObject({ id, cause: 'state' });
  });

  it('never health-checks nor replaces a Standby member; ExitStandby brings it back Pending, InService, then healthy', async () => {
    const { w, fleet, replaced, at } = world({ group: {} });
    const id = fleet[0].id;
    w.traffic.enterStandby('asg-web', [id]);

    const entering = await at([1, 121], () => ({
      lifecycle: lifecycle(w.slot(id)),
      target: w.traffic.health(TG, id).state,
      desired: w.groupHealth('asg-web')!.desired,
    }));
    w.stop(id);
    await at([121 + WORLD_MINUTES.stop * 60 + 60], () => undefined);
    w.start(id, 'change');
    const back = 121 + WORLD_MINUTES.stop * 60 + 60 + WORLD_MINUTES.start * 60 + 1;
    await at([back], () => undefined);
    w.traffic.exitStandby('asg-web', [id]);
    const exiting = await at([back + 1, back + PENDING_SECONDS + 1, back + PENDING_SECONDS + 31], () => ({
      lifecycle: lifecycle(w.slot(id)),
      target: w.traffic.health(TG, id).state,
    }));

    // EnteringStandby while the group drains it from its target group (120 s), then Standby; desired decremented.
    expect(entering).toEqual([
      { lifecycle: 'EnteringStandby', target: 'draining', desired: 3 },
      { lifecycle: 'Standby', target: 'unused', desired: 3 },
    ]);
    expect(replaced).toEqual([]);
    expect(exiting).toEqual([
      { lifecycle: 'Pending', target: 'unused' },
      { lifecycle: 'InService', target: 'initial' },
      { lifecycle: 'InService', target: 'healthy' },
    ]);
    expect(w.groupHealth('asg-web')!.desired).toBe(4);
  });

  it('refuses EnterStandby with a decrement below the group minimum, and ExitStandby of a member not in Standby', () => {
    const { w, fleet } = world({ group: { min: 3 } });

    expect(() => w.traffic.enterStandby('asg-web', [fleet[0].id, fleet[1].id])).toThrow(
      /min-size=3.*would violate the group's minimum/,
    );
    expect(() => w.traffic.exitStandby('asg-web', [fleet[0].id])).toThrow(/not in Standby/);
    expect(w.groupHealth('asg-web')!.desired).toBe(4);
    expect(lifecycle(w.slot(fleet[0].id))).toBe('InService');
  });

  it('with ELB health checks, replaces an InService member whose reboot leaves it unhealthy past the grace period', async () => {
    const { w, fleet, replaced, at } = world({ group: { healthCheckType: 'ELB' } });
    w.reboot(fleet[0].id, 'change');

    await at([10 * 60], () => undefined);

    expect(replaced).toEqual([fleet[0].id]);
    expect(w.traffic.replacements[0].cause).toBe('elb');
  });

  it('with EC2 health checks, leaves a rebooting member alone (it never stops running)', async () => {
    const { w, fleet, replaced, at } = world({ group: {} });
    w.reboot(fleet[0].id, 'change');

    const [after] = await at([10 * 60], () => lifecycle(w.slot(fleet[0].id)));

    expect(replaced).toEqual([]);
    expect(after).toBe('InService');
    expect(w.traffic.health(TG, fleet[0].id).state).toBe('healthy');
  });
});
