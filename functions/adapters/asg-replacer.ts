import {
  type AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
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

/** `replace` for instances in an Auto Scaling group: terminate without decrementing capacity. */
export class AsgReplacer {
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
