/** An Auto Scaling group as DescribeAutoScalingGroups tells it. */
export interface AutoScalingGroupState {
  readonly name: string;
  readonly desired: number;
  readonly min: number;
  readonly max: number;
  /** Target groups the group attaches (its members register and deregister with them). */
  readonly targetGroupArns?: readonly string[];
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
  /**
   * Each instance's group and lifecycle state (`InService`, `Standby`, `Pending:Wait`…) as
   * DescribeAutoScalingInstances tells it; instances in no group are absent.
   */
  lifecycleOf(ids: readonly string[]): Promise<Map<string, InstanceLifecycle>>;
  /**
   * EnterStandby, decrementing desired capacity (so the group launches no replacement; ExitStandby
   * adds it back). AWS refuses it when desired capacity would fall below the group's minimum.
   */
  enterStandby(group: string, ids: readonly string[]): Promise<void>;
  /** ExitStandby: back to `Pending` then `InService` (and registered with the group's target groups). */
  exitStandby(group: string, ids: readonly string[]): Promise<void>;
  /** Groups by name with sizes, members and attached target groups (the sweep: 100 a request). */
  describeGroups(names: readonly string[]): Promise<AutoScalingGroupState[]>;
  health(
    groups: readonly string[],
  ): Promise<Map<string, { desired: number; healthy: readonly string[]; members: readonly string[] }>>;
}

/** An instance's place in its Auto Scaling group. */
export interface InstanceLifecycle {
  readonly group: string;
  /** `InService`, `Standby`, `Pending`, `Pending:Wait`, `Terminating:Wait`, `EnteringStandby`… */
  readonly lifecycle: string;
  readonly healthy: boolean;
}
