/**
 * The local runtime's traffic model: what moto's ELBv2 and Auto Scaling do not do, in real
 * (short) time, wrapped around the handlers' own ports (every call still goes to moto):
 * - a deregistered target is `draining` for its target group's deregistration delay, then
 *   `unused` (moto removes it at once). AWS: "Elastic Load Balancing waits [the deregistration
 *   delay] before changing the state of a deregistering target from draining to unused";
 * - a registered target is `initial` (Elb.InitialHealthChecking) until it has passed its
 *   healthy threshold of health checks, one per interval, then `healthy` (moto: healthy at once);
 * - EnterStandby deregisters the member from its group's target groups, ExitStandby registers it
 *   again (AWS: "instances that are on standby ... do not actively handle load balancer
 *   traffic"; moto changes the lifecycle state only);
 * - a stopped `InService` member fails its group's EC2 health check and is replaced (AWS marks a
 *   stopped instance unhealthy at once, even in the grace period; moto's groups never check);
 * - EC2 posts console output shortly after an instance boots: a reboot or start is proven a few
 *   seconds after its request (moto's GetConsoleOutput always answers "now").
 * It also watches: a disruptive action that reaches an instance `healthy` or `draining` in its
 * target group, or `InService` in its group, is a violation; and it tells, at any moment, how
 * many of the service's instances serve (for the report's in-service series).
 */
import {
  DescribeAutoScalingGroupsCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { AutoScalingPort, Ec2Port } from '../../functions/core/ports/index';
import type { TargetHealth, TargetRef, TrafficPort } from '../../functions/core/ports/traffic';
import type { LocalRuntime } from './runtime';
import type { TrafficLayout } from './traffic-layout';

/** How long after a reboot or start request EC2 posts the boot's console output, in the model. */
const BOOT_MS = 2000;

/** What the model saw happen to an instance, and when (seconds on the run's clock). */
export interface TrafficEvent {
  readonly t: number;
  readonly kind: 'out' | 'act' | 'back';
  readonly ids: readonly string[];
}

/** The traffic service at one moment: its instances, those serving, and where the rest are. */
export interface TrafficCount {
  readonly targets: number;
  readonly inService: number;
  readonly standby: number;
  readonly draining: number;
  readonly initial: number;
}

export class TrafficModel {
  readonly violations: string[] = [];
  readonly replaced: string[] = [];
  readonly events: TrafficEvent[] = [];
  /** Disruptive actions per instance of the traffic service. */
  readonly acted = new Map<string, number>();
  private readonly drainingUntil = new Map<string, number>();
  private readonly initialUntil = new Map<string, number>();
  private readonly bootPending = new Map<string, number>();
  private readonly posted = new Map<string, number>();
  private readonly startedAt = Date.now();

  constructor(
    private readonly runtime: Pick<LocalRuntime, 'elbv2' | 'autoscaling'>,
    private readonly layout: TrafficLayout,
    private readonly elapsed: () => number,
  ) {}

  private key = (arn: string, id: string) => `${arn}|${id}`;

  private settings(arn: string) {
    return arn === this.layout.targetGroup.targetGroupArn ? this.layout.targetGroup : undefined;
  }

  private attached(group: string): string[] {
    return group === this.layout.group ? [this.layout.targetGroup.targetGroupArn] : [];
  }

  /** One target's health as AWS would report it: moto's, with draining and initial health checks. */
  private view(arn: string, id: string, real: TargetHealth | undefined, now = Date.now()): TargetHealth {
    if ((this.drainingUntil.get(this.key(arn, id)) ?? 0) > now)
      return { targetGroupArn: arn, state: 'draining', reason: 'Target.DeregistrationInProgress' };
    if (real?.state === 'healthy' && (this.initialUntil.get(this.key(arn, id)) ?? 0) > now)
      return { ...real, state: 'initial', reason: 'Elb.InitialHealthChecking' };
    return real ?? { targetGroupArn: arn, state: 'unused', reason: 'Target.NotRegistered' };
  }

  /** The traffic service's targets and members now (two requests: one per target group, one for the group). */
  async snapshot(): Promise<{ health: Map<string, TargetHealth>; lifecycle: Map<string, string> }> {
    const arn = this.layout.targetGroup.targetGroupArn;
    const [described, groups] = await Promise.all([
      this.runtime.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn })),
      this.runtime.autoscaling.send(
        new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [this.layout.group] }),
      ),
    ]);
    const lifecycle = new Map<string, string>();
    for (const m of groups.AutoScalingGroups?.[0]?.Instances ?? [])
      lifecycle.set(m.InstanceId ?? '', m.LifecycleState ?? '');
    const health = new Map<string, TargetHealth>();
    const now = Date.now();
    for (const d of described.TargetHealthDescriptions ?? []) {
      const id = d.Target?.Id ?? '';
      // moto keeps reporting a terminated instance healthy; AWS drops it: only members count.
      if (!lifecycle.has(id)) continue;
      const state = (d.TargetHealth?.State ?? 'unused') as TargetHealth['state'];
      health.set(id, this.view(arn, id, { targetGroupArn: arn, state, reason: d.TargetHealth?.Reason }, now));
    }
    for (const id of lifecycle.keys())
      if (!health.has(id)) health.set(id, this.view(arn, id, undefined, now));
    return { health, lifecycle };
  }

  /** How many of the service's instances serve now: `InService` and `healthy` in its target group. */
  async count(): Promise<TrafficCount> {
    const { health, lifecycle } = await this.snapshot();
    let inService = 0;
    let standby = 0;
    let draining = 0;
    let initial = 0;
    for (const [id, state] of lifecycle) {
      const h = health.get(id)?.state;
      if (state === 'InService' && h === 'healthy') inService++;
      if (state === 'Standby' || state === 'EnteringStandby') standby++;
      if (h === 'draining') draining++;
      if (h === 'initial') initial++;
    }
    return { targets: lifecycle.size, inService, standby, draining, initial };
  }

  /** At the moment of a disruptive action: is any of these instances still serving? */
  private async watch(what: string, ids: readonly string[]): Promise<Map<string, string>> {
    const { health, lifecycle } = await this.snapshot();
    const mine = ids.filter((id) => lifecycle.has(id));
    for (const id of mine) {
      this.acted.set(id, (this.acted.get(id) ?? 0) + 1);
      const h = health.get(id)?.state;
      if (h === 'healthy' || h === 'draining')
        this.violations.push(`${what} ${id} while ${h} in its target group`);
      if (lifecycle.get(id) === 'InService')
        this.violations.push(`${what} ${id} while InService in ${this.layout.group}`);
    }
    if (mine.length > 0) this.events.push({ t: this.elapsed(), kind: 'act', ids: mine });
    return lifecycle;
  }

  private adjust(
    real: Map<string, TargetHealth[]>,
    registrations: ReadonlyMap<string, readonly string[]>,
  ): Map<string, TargetHealth[]> {
    const out = new Map<string, TargetHealth[]>();
    const now = Date.now();
    for (const [arn, ids] of registrations)
      for (const id of ids) {
        const t = (real.get(id) ?? []).find((h) => h.targetGroupArn === arn);
        out.set(id, [...(out.get(id) ?? []), this.view(arn, id, t, now)]);
      }
    return out;
  }

  /** The handlers' ports with the model around ELB, Auto Scaling and EC2. */
  wrap<P extends { traffic: TrafficPort; autoscaling: AutoScalingPort; ec2: Ec2Port }>(ports: P): P {
    const inner = ports.traffic;
    const traffic: TrafficPort = {
      targetHealth: async (registrations) =>
        this.adjust(await inner.targetHealth(registrations), registrations),
      settings: (arns) => inner.settings(arns),
      listManaged: async () => {
        const real = await inner.listManaged();
        const registrations = new Map<string, string[]>();
        for (const [id, list] of real.targets)
          for (const t of list)
            registrations.set(t.targetGroupArn, [...(registrations.get(t.targetGroupArn) ?? []), id]);
        for (const [k, until] of this.drainingUntil) {
          const [arn, id] = k.split('|');
          if (until > Date.now() && !(registrations.get(arn) ?? []).includes(id))
            registrations.set(arn, [...(registrations.get(arn) ?? []), id]);
        }
        return { groups: real.groups, targets: this.adjust(real.targets, registrations) };
      },
      // The model's state first: a sample taken while the call is under way sees it draining
      // (or still in its initial health checks), as AWS would report it, not moto's instant state.
      deregister: async (targets) => {
        this.deregistered(targets);
        await inner.deregister(targets);
      },
      register: async (targets) => {
        this.registered(targets);
        await inner.register(targets);
      },
    };
    const asg = ports.autoscaling;
    const autoscaling: AutoScalingPort = {
      groupsOf: (ids) => asg.groupsOf(ids),
      terminateKeepingCapacity: (id) => asg.terminateKeepingCapacity(id),
      terminateDecrementingCapacity: (id) => asg.terminateDecrementingCapacity(id),
      setDesiredCapacity: (group, desired) => asg.setDesiredCapacity(group, desired),
      describeGroup: (group) => asg.describeGroup(group),
      lifecycleOf: (ids) => asg.lifecycleOf(ids),
      describeGroups: (names) => asg.describeGroups(names),
      health: (groups) => asg.health(groups),
      enterStandby: async (group, ids) => {
        await asg.enterStandby(group, ids);
        // AWS deregisters a member entering Standby from its group's target groups (moto does not).
        const refs = this.attached(group).flatMap((arn) =>
          ids.map((id) => ({ targetGroupArn: arn, instanceId: id })),
        );
        if (refs.length > 0) await traffic.deregister(refs);
      },
      exitStandby: async (group, ids) => {
        await asg.exitStandby(group, ids);
        // …and registers it again on ExitStandby.
        const refs = this.attached(group).flatMap((arn) =>
          ids.map((id) => ({ targetGroupArn: arn, instanceId: id })),
        );
        if (refs.length > 0) await traffic.register(refs);
      },
    };
    const ec2 = ports.ec2;
    const wrappedEc2: Ec2Port = {
      setTags: (ids, tags) => ec2.setTags(ids, tags),
      conditions: (ids) => ec2.conditions(ids),
      start: async (ids) => {
        await ec2.start(ids);
        for (const id of ids) this.bootPending.set(id, Date.now() + BOOT_MS);
      },
      reboot: async (ids) => {
        await this.watch('reboot', ids);
        await ec2.reboot(ids);
        for (const id of ids) this.bootPending.set(id, Date.now() + BOOT_MS);
      },
      stop: async (ids) => {
        const lifecycle = await this.watch('stop', ids);
        await ec2.stop(ids);
        for (const id of ids) {
          // A stopped InService member fails the group's EC2 health check at once: replaced.
          if (lifecycle.get(id) !== 'InService') continue;
          this.replaced.push(id);
          await this.runtime.autoscaling.send(
            new TerminateInstanceInAutoScalingGroupCommand({
              InstanceId: id,
              ShouldDecrementDesiredCapacity: false,
            }),
          );
        }
      },
      consoleOutputAt: async (ids) => {
        const now = Date.now();
        const out = new Map<string, number>();
        for (const id of ids) {
          const pending = this.bootPending.get(id);
          if (pending !== undefined && pending <= now) {
            this.posted.set(id, pending);
            this.bootPending.delete(id);
          }
          out.set(id, this.posted.get(id) ?? this.startedAt);
        }
        return out;
      },
    };
    return { ...ports, traffic, autoscaling, ec2: wrappedEc2 };
  }

  private deregistered(targets: ReadonlyArray<TargetRef & { instanceId: string }>): void {
    const now = Date.now();
    const ids: string[] = [];
    for (const t of targets) {
      const s = this.settings(t.targetGroupArn);
      if (!s) continue;
      this.drainingUntil.set(
        this.key(t.targetGroupArn, t.instanceId),
        now + s.deregistrationDelaySeconds * 1000,
      );
      this.initialUntil.delete(this.key(t.targetGroupArn, t.instanceId));
      ids.push(t.instanceId);
    }
    if (ids.length > 0) this.events.push({ t: this.elapsed(), kind: 'out', ids });
  }

  private registered(targets: ReadonlyArray<TargetRef & { instanceId: string }>): void {
    const now = Date.now();
    const ids: string[] = [];
    for (const t of targets) {
      const s = this.settings(t.targetGroupArn);
      if (!s) continue;
      this.drainingUntil.delete(this.key(t.targetGroupArn, t.instanceId));
      this.initialUntil.set(
        this.key(t.targetGroupArn, t.instanceId),
        now + s.healthyThresholdCount * s.healthCheckIntervalSeconds * 1000,
      );
      ids.push(t.instanceId);
    }
    if (ids.length > 0) this.events.push({ t: this.elapsed(), kind: 'back', ids });
  }
}
