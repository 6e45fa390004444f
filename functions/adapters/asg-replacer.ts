/**
 * The Auto Scaling port (`AutoScalingPort`) over the AWS SDK: group membership, sizes and health,
 * terminate (keeping or decrementing capacity), set desired capacity.
 */
import {
  type AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import type { AutoScalingGroupState, AutoScalingPort } from '../core/ports/index';
import { chunks } from './dynamo-client';

/** DescribeAutoScalingInstances and DescribeAutoScalingGroups take at most 50 names or ids. */
const PER_DESCRIBE = 50;

export interface GroupHealth {
  readonly desired: number;
  /** Members in service and healthy. */
  readonly healthy: readonly string[];
  /** Every member the group still lists, whatever its state. */
  readonly members: readonly string[];
}

/**
 * `replace` for instances in an Auto Scaling group: terminate without decrementing capacity, or
 * raise desired capacity, wait for the new member and terminate decrementing (launch before
 * terminate).
 */
export class AsgReplacer implements AutoScalingPort {
  constructor(private readonly autoscaling: AutoScalingClient) {}

  /** The group of each instance; instances in no group are absent. */
  async groupsOf(ids: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const batch of chunks(ids, PER_DESCRIBE)) {
      const page = await this.autoscaling.send(
        new DescribeAutoScalingInstancesCommand({ InstanceIds: batch, MaxRecords: PER_DESCRIBE }),
      );
      for (const i of page.AutoScalingInstances ?? []) {
        if (i.InstanceId && i.AutoScalingGroupName) out.set(i.InstanceId, i.AutoScalingGroupName);
      }
    }
    return out;
  }

  /** The group launches a replacement; desired capacity stays as it is. */
  async terminateKeepingCapacity(id: string): Promise<void> {
    await this.autoscaling.send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: id,
        ShouldDecrementDesiredCapacity: false,
      }),
    );
  }

  /** Lowers desired capacity with the termination: the group launches nothing in its place. */
  async terminateDecrementingCapacity(id: string): Promise<void> {
    await this.autoscaling.send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: id,
        ShouldDecrementDesiredCapacity: true,
      }),
    );
  }

  /**
   * Manual scaling does not honour the group's cooldown (HonorCooldown defaults to false); a
   * value above MaxSize is refused by AWS (moto accepts it), so callers read `describeGroup` first.
   */
  async setDesiredCapacity(group: string, desired: number): Promise<void> {
    await this.autoscaling.send(
      new SetDesiredCapacityCommand({
        AutoScalingGroupName: group,
        DesiredCapacity: desired,
        HonorCooldown: false,
      }),
    );
  }

  async describeGroup(group: string): Promise<AutoScalingGroupState | undefined> {
    const page = await this.autoscaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }),
    );
    const g = page.AutoScalingGroups?.find((x) => x.AutoScalingGroupName === group);
    if (!g) return undefined;
    return {
      name: group,
      desired: g.DesiredCapacity ?? 0,
      min: g.MinSize ?? 0,
      max: g.MaxSize ?? 0,
      members: (g.Instances ?? []).map((m) => ({
        id: m.InstanceId ?? '',
        lifecycle: m.LifecycleState ?? '',
        healthy: m.HealthStatus === 'Healthy',
      })),
    };
  }

  async health(groups: readonly string[]): Promise<Map<string, GroupHealth>> {
    const out = new Map<string, GroupHealth>();
    for (const batch of chunks(groups, PER_DESCRIBE)) {
      let NextToken: string | undefined;
      do {
        const page = await this.autoscaling.send(
          new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: batch, NextToken }),
        );
        for (const g of page.AutoScalingGroups ?? []) {
          const members = g.Instances ?? [];
          out.set(g.AutoScalingGroupName ?? '', {
            desired: g.DesiredCapacity ?? 0,
            healthy: members
              .filter((m) => m.LifecycleState === 'InService' && m.HealthStatus === 'Healthy')
              .map((m) => m.InstanceId ?? ''),
            members: members.map((m) => m.InstanceId ?? ''),
          });
        }
        NextToken = page.NextToken;
      } while (NextToken);
    }
    return out;
  }
}
