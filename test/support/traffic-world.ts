/**
 * A fault model for what moto's ELBv2 and Auto Scaling do not do, wrapped around the real
 * adapters (everything else is moto's): a deregistered target drains for a few looks before it
 * is `unused`; a registered one is `initial` for a few looks before `healthy`; EnterStandby
 * deregisters the member from its group's target groups (draining) and ExitStandby registers
 * it again; a group replaces an `InService` member that is stopped (AWS marks it unhealthy at
 * once, even within the grace period); RebootInstances restarts the instance (console output
 * posted after the request). It also watches: at the moment of every reboot or stop it records a
 * violation when the instance is `healthy` in a target group or `InService` in its group, and
 * after every call it counts, per service, the instances out of traffic.
 */
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import {
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { RolloutPorts } from '../../functions/core/change/rollout/rollout';
import type { TargetHealth, TargetRef } from '../../functions/core/ports/traffic';

export interface TrafficWorldOptions {
  readonly region: string;
  /** Target groups of interest and which service's instances they hold. */
  readonly targetGroups: ReadonlyArray<{ arn: string; service: string }>;
  /** Auto Scaling groups of interest and their service. */
  readonly groups: ReadonlyArray<{ name: string; service: string }>;
  /** How many looks a deregistered target stays `draining`. */
  readonly drainLooks?: number;
  /** How many looks a registered target stays `initial`. */
  readonly initialLooks?: number;
  /** A deliberate defect: EnterStandby and DeregisterTargets silently do nothing. */
  readonly skipStandby?: boolean;
}

export function trafficWorld(o: TrafficWorldOptions) {
  const elb = new ElasticLoadBalancingV2Client({ region: o.region });
  const asg = new AutoScalingClient({ region: o.region });
  const draining = new Map<string, number>();
  const initial = new Map<string, number>();
  const rebootedAt = new Map<string, number>();
  const key = (arn: string, id: string) => `${arn}|${id}`;
  const world = {
    violations: [] as string[],
    /** Per service, the most instances out of traffic at once. */
    peakOut: new Map<string, number>(),
    /** Every disruptive call: instance → how many times. */
    actions: new Map<string, number>(),
    replaced: [] as string[],

    /** Live health of every target of interest, the fault model applied (without spending a look). */
    async health(): Promise<Map<string, TargetHealth[]>> {
      const out = new Map<string, TargetHealth[]>();
      for (const tg of o.targetGroups) {
        const got = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg.arn }));
        for (const d of got.TargetHealthDescriptions ?? []) {
          const id = d.Target!.Id!;
          let state = (d.TargetHealth?.State ?? 'unused') as TargetHealth['state'];
          if ((initial.get(key(tg.arn, id)) ?? 0) > 0 && state === 'healthy') state = 'initial';
          out.set(id, [...(out.get(id) ?? []), { targetGroupArn: tg.arn, state }]);
        }
        for (const [k, looks] of draining) {
          const [arn, id] = k.split('|');
          if (arn === tg.arn && looks > 0)
            out.set(id, [...(out.get(id) ?? []), { targetGroupArn: arn, state: 'draining' }]);
        }
      }
      return out;
    },
    async members(): Promise<Map<string, { group: string; lifecycle: string }>> {
      const got = await asg.send(
        new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: o.groups.map((g) => g.name) }),
      );
      const out = new Map<string, { group: string; lifecycle: string }>();
      for (const g of got.AutoScalingGroups ?? [])
        for (const m of g.Instances ?? [])
          out.set(m.InstanceId!, { group: g.AutoScalingGroupName!, lifecycle: m.LifecycleState! });
      return out;
    },
    /** Instances out of traffic now, per service: not healthy in a target group of theirs, or not InService. */
    async outOfTraffic(serviceOf: ReadonlyMap<string, string>): Promise<Map<string, Set<string>>> {
      const [health, members] = await Promise.all([world.health(), world.members()]);
      const out = new Map<string, Set<string>>();
      const add = (id: string) => {
        const s = serviceOf.get(id) ?? '?';
        out.set(s, new Set([...(out.get(s) ?? []), id]));
      };
      for (const tg of o.targetGroups)
        for (const [id, service] of serviceOf)
          if (service === tg.service) {
            const t = (health.get(id) ?? []).filter((h) => h.targetGroupArn === tg.arn);
            if (!t.some((h) => h.state === 'healthy') || t.some((h) => h.state === 'draining')) add(id);
          }
      for (const [id, m] of members) if (m.lifecycle !== 'InService') add(id);
      return out;
    },
    /** The real ports, wrapped in the fault model and the watcher. */
    wrap(ports: RolloutPorts, serviceOf: () => Promise<ReadonlyMap<string, string>>): RolloutPorts {
      const sample = async () => {
        for (const [service, ids] of await world.outOfTraffic(await serviceOf()))
          world.peakOut.set(service, Math.max(world.peakOut.get(service) ?? 0, ids.size));
      };
      const watchAction = async (what: string, ids: readonly string[]) => {
        const [health, members] = await Promise.all([world.health(), world.members()]);
        for (const id of ids) {
          world.actions.set(id, (world.actions.get(id) ?? 0) + 1);
          if ((health.get(id) ?? []).some((t) => t.state === 'healthy' || t.state === 'draining'))
            world.violations.push(`${what} ${id} while serving in a target group`);
          if (members.get(id)?.lifecycle === 'InService')
            world.violations.push(`${what} ${id} while InService in ${members.get(id)?.group}`);
        }
        return members;
      };
      const attached = async (group: string): Promise<string[]> => {
        const got = await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }));
        return got.AutoScalingGroups?.[0]?.TargetGroupARNs ?? [];
      };
      // The adapters are classes: every method is passed on by name (a spread would drop them).
      const traffic: RolloutPorts['traffic'] = {
        settings: (arns) => ports.traffic.settings(arns),
        listManaged: () => ports.traffic.listManaged(),
        targetHealth: async (registrations) => {
          const real = await ports.traffic.targetHealth(registrations);
          const out = new Map<string, TargetHealth[]>();
          for (const [arn, ids] of registrations)
            for (const id of ids) {
              const k = key(arn, id);
              const t = (real.get(id) ?? []).find((h) => h.targetGroupArn === arn);
              let health: TargetHealth = t ?? {
                targetGroupArn: arn,
                state: 'unused',
                reason: 'Target.NotRegistered',
              };
              if ((draining.get(k) ?? 0) > 0) {
                draining.set(k, draining.get(k)! - 1);
                health = { ...health, state: 'draining', reason: 'Target.DeregistrationInProgress' };
              } else if ((initial.get(k) ?? 0) > 0 && health.state === 'healthy') {
                initial.set(k, initial.get(k)! - 1);
                health = { ...health, state: 'initial', reason: 'Elb.InitialHealthChecking' };
              }
              out.set(id, [...(out.get(id) ?? []), health]);
            }
          return out;
        },
        deregister: async (targets) => {
          if (o.skipStandby) return;
          await ports.traffic.deregister(targets);
          for (const t of targets) draining.set(key(t.targetGroupArn, t.instanceId), o.drainLooks ?? 2);
          await sample();
        },
        register: async (targets) => {
          // Registering a target already registered (and not draining) changes nothing.
          const before = await world.health();
          await ports.traffic.register(targets);
          for (const t of targets) {
            const k = key(t.targetGroupArn, t.instanceId);
            const was = (before.get(t.instanceId) ?? []).find((h) => h.targetGroupArn === t.targetGroupArn);
            if (was && was.state !== 'draining' && !draining.has(k)) continue;
            draining.delete(k);
            initial.set(k, o.initialLooks ?? 2);
          }
          await sample();
        },
      };
      const autoscaling: RolloutPorts['autoscaling'] = {
        terminateKeepingCapacity: (id) => ports.autoscaling.terminateKeepingCapacity(id),
        terminateDecrementingCapacity: (id) => ports.autoscaling.terminateDecrementingCapacity(id),
        setDesiredCapacity: (group, desired) => ports.autoscaling.setDesiredCapacity(group, desired),
        lifecycleOf: (ids) => ports.autoscaling.lifecycleOf(ids),
        describeGroups: (names) => ports.autoscaling.describeGroups(names),
        describeGroup: (name) => ports.autoscaling.describeGroup(name),
        health: (groups) => ports.autoscaling.health(groups),
        groupsOf: (ids) => ports.autoscaling.groupsOf(ids),
        enterStandby: async (group, ids) => {
          if (o.skipStandby) return;
          await ports.autoscaling.enterStandby(group, ids);
          // AWS deregisters a member entering Standby from the group's target groups (moto does not).
          const refs: Array<TargetRef & { instanceId: string }> = [];
          for (const arn of await attached(group))
            for (const id of ids) refs.push({ targetGroupArn: arn, instanceId: id });
          if (refs.length > 0) await traffic.deregister(refs);
          await sample();
        },
        exitStandby: async (group, ids) => {
          await ports.autoscaling.exitStandby(group, ids);
          const refs: Array<TargetRef & { instanceId: string }> = [];
          for (const arn of await attached(group))
            for (const id of ids) refs.push({ targetGroupArn: arn, instanceId: id });
          if (refs.length > 0) await traffic.register(refs);
          await sample();
        },
      };
      const ec2: RolloutPorts['ec2'] = {
        conditions: (ids) => ports.ec2.conditions(ids),
        setTags: (ids, tags) => ports.ec2.setTags(ids, tags),
        start: (ids) => ports.ec2.start(ids),
        reboot: async (ids) => {
          await watchAction('reboot', ids);
          await ports.ec2.reboot(ids);
          for (const id of ids) rebootedAt.set(id, Date.now());
          await sample();
        },
        stop: async (ids) => {
          const members = await watchAction('stop', ids);
          await ports.ec2.stop(ids);
          for (const id of ids) {
            // A stopped InService member fails the group's EC2 health check at once: the group
            // replaces it (recorded, not done in moto: the test needs only to see that it would).
            if (members.get(id)?.lifecycle === 'InService') world.replaced.push(id);
          }
          await sample();
        },
        // Console output is posted shortly after a boot: after the reboot request once it has happened.
        consoleOutputAt: async (ids) => new Map(ids.map((id) => [id, (rebootedAt.get(id) ?? 0) + 1])),
      };
      return { ...ports, traffic, autoscaling, ec2 };
    },
  };
  return world;
}
