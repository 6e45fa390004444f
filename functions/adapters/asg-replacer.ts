/**
 * The Auto Scaling port (`AutoScalingPort`) over the AWS SDK: group membership, lifecycle states,
 * sizes and health, Standby, terminate (keeping or decrementing capacity), set desired capacity.
 */
import {
  AutoScalingClient,
  type AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  EnterStandbyCommand,
  ExitStandbyCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { AUTOSCALING_RATE, SDK_RETRY } from '../core/defaults';
import type { AutoScalingGroupState, AutoScalingPort, InstanceLifecycle } from '../core/ports/index';
import { TokenBucket } from '../core/shared/token-bucket';
import { chunks } from './dynamo-client';

/** DescribeAutoScalingInstances takes at most 50 ids (MaxRecords 50); FleetOps asks groups 50 at a time too. */
const PER_DESCRIBE = 50;
/** DescribeAutoScalingGroups returns at most 100 groups a page (MaxRecords 1–100). */
const GROUPS_PER_PAGE = 100;
/** EnterStandby and ExitStandby take at most 20 instance ids a request. */
const PER_STANDBY = 20;

/**
 * An Auto Scaling client with adaptive retries whose every request (retries included) first
 * takes a token: all EC2 Auto Scaling calls share one bucket per account and Region.
 */
export function pacedAutoScalingClient(
  bucket = new TokenBucket(AUTOSCALING_RATE.ratePerSecond, AUTOSCALING_RATE.capacity),
  client = new AutoScalingClient({ ...SDK_RETRY }),
): AutoScalingClient {
  client.middlewareStack.add(
    (next) => async (args) => {
      await bucket.take();
      return next(args);
    },
    { step: 'finalizeRequest', name: 'fleetopsPacing', priority: 'high' },
  );
  return client;
}

/** A group as the port tells it. */
function groupState(g: AutoScalingGroup): AutoScalingGroupState {
  return {
    name: g.AutoScalingGroupName ?? '',
    desired: g.DesiredCapacity ?? 0,
    min: g.MinSize ?? 0,
    max: g.MaxSize ?? 0,
    targetGroupArns: [...(g.TargetGroupARNs ?? [])],
    members: (g.Instances ?? []).map((m) => ({
      id: m.InstanceId ?? '',
      lifecycle: m.LifecycleState ?? '',
      healthy: m.HealthStatus === 'Healthy',
    })),
  };
}

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
  /** Requests sent, by operation (for reports and the bench). */
  readonly requests = new Map<string, number>();

  constructor(private readonly autoscaling: AutoScalingClient) {}

  /** The group of each instance; instances in no group are absent. */
  async groupsOf(ids: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const batch of chunks(ids, PER_DESCRIBE)) {
      this.count('DescribeAutoScalingInstances');
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
    this.count('TerminateInstanceInAutoScalingGroup');
    await this.autoscaling.send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: id,
        ShouldDecrementDesiredCapacity: false,
      }),
    );
  }

  /** Lowers desired capacity with the termination: the group launches nothing in its place. */
  async terminateDecrementingCapacity(id: string): Promise<void> {
    this.count('TerminateInstanceInAutoScalingGroup');
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
    this.count('SetDesiredCapacity');
    await this.autoscaling.send(
      new SetDesiredCapacityCommand({
        AutoScalingGroupName: group,
        DesiredCapacity: desired,
        HonorCooldown: false,
      }),
    );
  }

  async describeGroup(group: string): Promise<AutoScalingGroupState | undefined> {
    this.count('DescribeAutoScalingGroups');
    const page = await this.autoscaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }),
    );
    const g = page.AutoScalingGroups?.find((x) => x.AutoScalingGroupName === group);
    return g ? groupState(g) : undefined;
  }

  /** DescribeAutoScalingInstances, 50 ids a request; instances in no group are absent. */
  async lifecycleOf(ids: readonly string[]): Promise<Map<string, InstanceLifecycle>> {
    const out = new Map<string, InstanceLifecycle>();
    for (const batch of chunks([...new Set(ids)], PER_DESCRIBE)) {
      this.count('DescribeAutoScalingInstances');
      const page = await this.autoscaling.send(
        new DescribeAutoScalingInstancesCommand({ InstanceIds: batch, MaxRecords: PER_DESCRIBE }),
      );
      for (const i of page.AutoScalingInstances ?? []) {
        if (!i.InstanceId || !i.AutoScalingGroupName) continue;
        out.set(i.InstanceId, {
          group: i.AutoScalingGroupName,
          lifecycle: i.LifecycleState ?? '',
          // DescribeAutoScalingInstances spells it in capitals (HEALTHY), DescribeAutoScalingGroups not.
          healthy: (i.HealthStatus ?? '').toLowerCase() === 'healthy',
        });
      }
    }
    return out;
  }

  /**
   * EnterStandby decrementing desired capacity (the group launches nothing in their place), 20
   * a request. AWS refuses it when desired capacity would fall below the group's minimum.
   */
  async enterStandby(group: string, ids: readonly string[]): Promise<void> {
    for (const batch of chunks(ids, PER_STANDBY)) {
      this.count('EnterStandby');
      await this.autoscaling.send(
        new EnterStandbyCommand({
          AutoScalingGroupName: group,
          InstanceIds: batch,
          ShouldDecrementDesiredCapacity: true,
        }),
      );
    }
  }

  /** ExitStandby, 20 a request: desired capacity goes back up by as many. */
  async exitStandby(group: string, ids: readonly string[]): Promise<void> {
    for (const batch of chunks(ids, PER_STANDBY)) {
      this.count('ExitStandby');
      await this.autoscaling.send(
        new ExitStandbyCommand({ AutoScalingGroupName: group, InstanceIds: batch }),
      );
    }
  }

  /** DescribeAutoScalingGroups by name, 100 a page; groups that do not exist are absent. */
  async describeGroups(names: readonly string[]): Promise<AutoScalingGroupState[]> {
    const out: AutoScalingGroupState[] = [];
    for (const batch of chunks([...new Set(names)], GROUPS_PER_PAGE)) {
      let NextToken: string | undefined;
      do {
        this.count('DescribeAutoScalingGroups');
        const page = await this.autoscaling.send(
          new DescribeAutoScalingGroupsCommand({
            AutoScalingGroupNames: batch,
            MaxRecords: GROUPS_PER_PAGE,
            NextToken,
          }),
        );
        out.push(...(page.AutoScalingGroups ?? []).map(groupState));
        NextToken = page.NextToken;
      } while (NextToken);
    }
    return out;
  }

  private count(operation: string): void {
    this.requests.set(operation, (this.requests.get(operation) ?? 0) + 1);
  }

  async health(groups: readonly string[]): Promise<Map<string, GroupHealth>> {
    const out = new Map<string, GroupHealth>();
    for (const batch of chunks(groups, PER_DESCRIBE)) {
      let NextToken: string | undefined;
      do {
        this.count('DescribeAutoScalingGroups');
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
