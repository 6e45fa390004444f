/**
 * Placement: where each observed instance sits in Auto Scaling and ELB — its group and lifecycle
 * state there (`asg`) and its target groups with its health in each (`targets`) — read with the
 * fewest requests a sweep can make, so `isUnavailable` can mean out of service.
 *
 * - The group's name is not asked for: EC2 Auto Scaling tags every instance it launches (or has
 *   attached) with `aws:autoscaling:groupName` = the group's name ("When you launch instances in an
 *   Auto Scaling group, Auto Scaling automatically tags each one with the group name. This tag can
 *   be identified by its key, aws:autoscaling:groupName"; tags with the `aws:` prefix cannot be
 *   edited or deleted: https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-tagging.html).
 *   DescribeInstances already returns it.
 * - The lifecycle states come from DescribeAutoScalingGroups over those names (the port's
 *   `describeGroups`: 100 groups a request, every member listed with its lifecycle state), not
 *   DescribeAutoScalingInstances (50 instance ids a request): 200 groups of 10,000 instances are
 *   2 requests instead of 200.
 * - Targets come from one pass over the managed target groups (`listManaged`: the groups listed
 *   400 a page, their tags 20 a request, one DescribeTargetHealth and one attribute request per
 *   group), not one request per instance.
 *
 * A member of a group whose attached target group is managed but lists no registration of it is
 * given `unused` / `Target.NotRegistered` there: it serves no traffic where its group says it
 * should (DescribeTargetHealth without targets lists registered targets only). So is an instance
 * a traffic exit says FleetOps deregistered from a managed target group that does not list it
 * (out of traffic until it is back, whoever took it out). An instance tagged
 * with a group that does not list it (a warm pool, a group being deleted) gets no `asg`.
 */
import type { AutoScalingGroupState, AutoScalingPort } from '../ports/autoscaling';
import type { TargetHealth, TrafficExit, TrafficPort } from '../ports/traffic';
import type { Instance } from './fleet';

/** The tag EC2 Auto Scaling puts on every instance of a group: the group's name. */
export const ASG_NAME_TAG = 'aws:autoscaling:groupName';

/** What placement reads; without a port its part is left out (the instances keep no `asg` / `targets`). */
export interface PlacementDeps {
  readonly traffic?: Pick<TrafficPort, 'listManaged'>;
  readonly autoscaling?: Pick<AutoScalingPort, 'describeGroups'>;
}

/** What the sweep read of Auto Scaling and ELB, as {@link applyPlacement} takes it. */
export interface PlacementView {
  /** The groups the instances' tags name (undefined: Auto Scaling not read). */
  readonly groups?: readonly AutoScalingGroupState[];
  /** The managed target groups and every registered instance's health (undefined: ELB not read). */
  readonly managed?: Awaited<ReturnType<TrafficPort['listManaged']>>;
  /** The traffic exits recorded (instances FleetOps took out of traffic and has not brought back). */
  readonly exits?: readonly Pick<TrafficExit, 'instanceId' | 'deregistered'>[];
}

/** The groups the live instances' tags name, sorted (terminated instances keep the tag; their group may be gone). */
export function groupNamesOf(instances: readonly Instance[]): string[] {
  const names = new Set<string>();
  for (const i of instances) {
    const name = i.tags[ASG_NAME_TAG];
    if (name && i.state !== 'terminated') names.add(name);
  }
  return [...names].sort();
}

/**
 * Reads the placement of these instances: the managed target groups (one pass) and the groups
 * their tags name (one DescribeAutoScalingGroups per 100), at the same time.
 */
export async function readPlacement(
  deps: PlacementDeps,
  instances: readonly Instance[],
): Promise<PlacementView> {
  const names = groupNamesOf(instances);
  const [managed, groups] = await Promise.all([
    deps.traffic?.listManaged(),
    deps.autoscaling ? (names.length > 0 ? deps.autoscaling.describeGroups(names) : []) : undefined,
  ]);
  return { ...(groups ? { groups } : {}), ...(managed ? { managed } : {}) };
}

/** Reads and applies placement (see the module comment). */
export async function placeInstances(
  deps: PlacementDeps,
  instances: readonly Instance[],
): Promise<Instance[]> {
  if (!deps.traffic && !deps.autoscaling) return [...instances];
  return applyPlacement(instances, await readPlacement(deps, instances));
}

/**
 * Each instance with its `asg` and `targets` as the view says (targets sorted by target group and
 * port, so the same placement is the same item). A part the view did not read is left as it was.
 */
export function applyPlacement(instances: readonly Instance[], view: PlacementView): Instance[] {
  const members = new Map<string, { group: AutoScalingGroupState; lifecycle: string }>();
  for (const group of view.groups ?? [])
    for (const m of group.members) members.set(m.id, { group, lifecycle: m.lifecycle });
  const managedArns = new Set((view.managed?.groups ?? []).map((g) => g.targetGroupArn));
  const settings = new Map((view.managed?.groups ?? []).map((g) => [g.targetGroupArn, g]));
  const targetOf = (t: TargetHealth): NonNullable<Instance['targets']>[number] => {
    const g = settings.get(t.targetGroupArn);
    return {
      targetGroupArn: t.targetGroupArn,
      ...(t.port !== undefined ? { port: t.port } : {}),
      state: t.state,
      ...(t.reason !== undefined ? { reason: t.reason } : {}),
      // What bounds the waits around an action on it (the plan's prediction reads them).
      ...(g
        ? {
            drainSeconds: g.deregistrationDelaySeconds,
            readySeconds: g.healthyThresholdCount * g.healthCheckIntervalSeconds,
          }
        : {}),
    };
  };
  const deregistered = new Map<string, string[]>();
  for (const e of view.exits ?? [])
    deregistered.set(e.instanceId, [
      ...(deregistered.get(e.instanceId) ?? []),
      ...e.deregistered.map((t) => t.targetGroupArn),
    ]);
  return instances.map((instance) => {
    const out: Instance = { ...instance };
    const member = view.groups ? members.get(instance.id) : undefined;
    if (view.groups) {
      delete out.asg;
      if (member && instance.tags[ASG_NAME_TAG] === member.group.name)
        out.asg = { name: member.group.name, lifecycle: member.lifecycle };
    }
    if (view.managed) delete out.targets;
    if (view.managed && instance.state !== 'terminated') {
      const targets: TargetHealth[] = [...(view.managed.targets.get(instance.id) ?? [])];
      const expected = [
        ...((member && out.asg && member.group.targetGroupArns) || []),
        ...(deregistered.get(instance.id) ?? []),
      ];
      for (const arn of expected) {
        if (managedArns.has(arn) && !targets.some((t) => t.targetGroupArn === arn))
          targets.push({ targetGroupArn: arn, state: 'unused', reason: 'Target.NotRegistered' });
      }
      if (targets.length > 0) out.targets = targets.map(targetOf).sort(byGroupAndPort);
    }
    return out;
  });
}

function byGroupAndPort(
  a: { targetGroupArn: string; port?: number },
  b: { targetGroupArn: string; port?: number },
): number {
  if (a.targetGroupArn !== b.targetGroupArn) return a.targetGroupArn < b.targetGroupArn ? -1 : 1;
  return (a.port ?? -1) - (b.port ?? -1);
}
