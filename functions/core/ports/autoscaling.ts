/** An Auto Scaling group as DescribeAutoScalingGroups tells it. */
export interface AutoScalingGroupState {
  readonly name: string;
  readonly desired: number;
  readonly min: number;
  readonly max: number;
  /** Every member the group lists: its lifecycle state (`InService`, `Pending`, `Terminating`…) and health. */
  readonly members: ReadonlyArray<{
    readonly id: string;
    readonly lifecycle: string;
    readonly healthy: boolean;
  }>;
}

/**
 * `replace` through Auto Scaling: terminate without decrementing and watch the group refill (a
 * change's wave), or launch before terminate (a remediation, where the group's maximum allows).
 */
export interface AutoScalingPort {
  groupsOf(ids: readonly string[]): Promise<Map<string, string>>;
  terminateKeepingCapacity(id: string): Promise<void>;
  /** Terminates and lowers desired capacity by one: the last step of launch-before-terminate. */
  terminateDecrementingCapacity(id: string): Promise<void>;
  /** Manual scaling (no cooldown); AWS refuses a value outside the group's MinSize..MaxSize. */
  setDesiredCapacity(group: string, desired: number): Promise<void>;
  /** The group's sizes and members; undefined when there is no such group. */
  describeGroup(group: string): Promise<AutoScalingGroupState | undefined>;
  health(
    groups: readonly string[],
  ): Promise<Map<string, { desired: number; healthy: readonly string[]; members: readonly string[] }>>;
}
