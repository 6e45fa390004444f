import type { InstanceCondition } from './fleet';
import type { ServicesFile } from './services';

/**
 * The ports the core needs from the outside world. Adapters implement them with the AWS SDK
 * (functions/adapters); simulations and tests may implement them in memory.
 */

/** What is holding an instance: a change or a remediation, with the lease's fencing token. */
export interface Lease {
  readonly instanceId: string;
  readonly owner: string;
  readonly token: number;
  /** Epoch milliseconds after which another owner may take the lease over. */
  readonly until: number;
  /** Whether a budget reservation covers the instance (false for non-disruptive actions). */
  readonly reserved?: boolean;
}

export interface LeaseRequest {
  /** The holder: a change id or a remediation case id. */
  readonly owner: string;
  /** The instances; their service and zone (the budgets they spend) are read from the inventory. */
  readonly instanceIds: readonly string[];
  /**
   * Services that declared the holder's action non-disruptive: their budget is not spent.
   * Every other service's is (disruptive is the safe default).
   */
  readonly nonDisruptiveServices: ReadonlySet<string>;
  readonly ttlMs: number;
  readonly now: number;
}

export type LeaseOutcome =
  | { readonly acquired: true; readonly leases: readonly Lease[] }
  | {
      readonly acquired: false;
      readonly reason: string;
      readonly conflicts: ReadonlyArray<{ id: string; reason: string }>;
    };

export interface RecordedAction {
  readonly instanceId: string;
  readonly wave: number;
  /** Epoch milliseconds when the action was recorded (just before it was applied). */
  readonly at: number;
}

export interface LeaseStore {
  /** All or nothing: every instance leased and every budget reserved, or nothing held. */
  acquire(request: LeaseRequest): Promise<LeaseOutcome>;
  renew(leases: readonly Lease[], ttlMs: number, now: number): Promise<Lease[]>;
  /**
   * Releases what the owner still holds; leases taken over by others are left alone. Instances
   * in `stillUnavailable` keep counting against their budget until inventory sync sees them.
   */
  release(owner: string, leases: readonly Lease[], stillUnavailable?: ReadonlySet<string>): Promise<void>;
  releaseAll(owner: string, stillUnavailable?: ReadonlySet<string>): Promise<number>;
  /** Fenced and at most once per instance per change: the only way an owner records an applied action. */
  recordAction(
    lease: Lease,
    changeId: string,
    result: Record<string, unknown>,
    now: number,
  ): Promise<'recorded' | 'duplicate' | 'fenced'>;
  activeLeases(now: number): Promise<Lease[]>;
  /** Every action recorded for a change: which instance, in which wave, when. */
  actionsOf(changeId: string): Promise<RecordedAction[]>;
  /** The live leases an owner holds on these instances. */
  heldBy(owner: string, instanceIds: readonly string[], now: number): Promise<Lease[]>;
}

export interface Freeze {
  readonly id: string;
  /** `account`, or `service:<name>`. */
  readonly scope: string;
  readonly start: string;
  readonly end: string;
  readonly reason: string;
  readonly createdBy: string;
  readonly endedAt?: string;
}

export interface AuditRecord {
  /** What the record is about: `change:<id>`, `instance:<id>`, `service:<name>`, `freeze:<id>`, `inventory`. */
  readonly subject: string;
  readonly actor: string;
  /** What happened or was decided, e.g. `lease.acquired`, `wave.skipped`, `freeze.override`. */
  readonly action: string;
  readonly reason: string;
  readonly at: string;
  readonly details?: Record<string, unknown>;
}

export interface ServiceStore {
  putServices(file: ServicesFile, actor: string, now: number): Promise<void>;
  getServices(): Promise<ServicesFile>;
}

export type { InstanceCondition } from './fleet';

/** The EC2 actions changes and remediations take (batched and paced by the adapter). */
export interface Ec2Port {
  reboot(ids: readonly string[]): Promise<void>;
  stop(ids: readonly string[]): Promise<void>;
  start(ids: readonly string[]): Promise<void>;
  setTags(ids: readonly string[], tags: Readonly<Record<string, string>>): Promise<void>;
  /** State and status-check health of each instance (instances EC2 does not report are absent). */
  conditions(ids: readonly string[]): Promise<Map<string, InstanceCondition>>;
}

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

/** An SSM Run Command a change sends. */
export interface SsmCommand {
  readonly document: string;
  readonly parameters: Readonly<Record<string, readonly string[]>>;
  readonly timeoutSeconds: number;
  readonly comment: string;
}
