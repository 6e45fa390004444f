/**
 * Load balancer traffic: ELBv2 target groups, the health of their targets, and registering and
 * deregistering instances (AWS: adapters/elbv2-traffic; in memory: sim/adapters).
 */

/**
 * A target's state as DescribeTargetHealth reports it. Only `healthy` receives new requests;
 * `draining` still finishes in-flight ones (until the group's deregistration delay), `initial`
 * has not passed its first health checks, `unused` is not registered (or not used by a load
 * balancer), `unavailable` has health checks disabled.
 */
export const TARGET_STATES = [
  'initial',
  'healthy',
  'unhealthy',
  'unused',
  'draining',
  'unavailable',
] as const;
export type TargetState = (typeof TARGET_STATES)[number];

/** An instance's registration in one target group (a port, for groups that register one). */
export interface TargetRef {
  readonly targetGroupArn: string;
  readonly port?: number;
}

export interface TargetHealth extends TargetRef {
  readonly state: TargetState;
  /** EC2's reason code: `Target.NotRegistered`, `Target.NotInUse`, `Elb.InitialHealthChecking`… */
  readonly reason?: string;
}

/** What bounds the waits around an action: draining and readiness (DescribeTargetGroups / …Attributes). */
export interface TargetGroupSettings {
  readonly targetGroupArn: string;
  /** `deregistration_delay.timeout_seconds` (300 by default): how long draining may last. */
  readonly deregistrationDelaySeconds: number;
  readonly healthCheckIntervalSeconds: number;
  /** Consecutive successful checks before a target is `healthy` again. */
  readonly healthyThresholdCount: number;
}

export interface TrafficPort {
  /**
   * The health of these instances in these target groups (one DescribeTargetHealth per group,
   * naming the instances); an instance not registered in a group is reported `unused`
   * (`Target.NotRegistered`).
   */
  targetHealth(registrations: ReadonlyMap<string, readonly string[]>): Promise<Map<string, TargetHealth[]>>;
  /** Draining and readiness settings of these target groups. */
  settings(targetGroupArns: readonly string[]): Promise<Map<string, TargetGroupSettings>>;
  /** DeregisterTargets, grouped per target group: new requests stop, in-flight ones drain. */
  deregister(targets: ReadonlyArray<TargetRef & { readonly instanceId: string }>): Promise<void>;
  /** RegisterTargets, grouped per target group: the target is `initial` until its checks pass. */
  register(targets: ReadonlyArray<TargetRef & { readonly instanceId: string }>): Promise<void>;
  /**
   * The sweep's view: every target group tagged managed, with its settings, and every
   * registered instance's health in it (the fewest requests: listed 400 a page, tags 20 a
   * request, one health and one attribute request per group).
   */
  listManaged(): Promise<{
    groups: TargetGroupSettings[];
    targets: Map<string, TargetHealth[]>;
  }>;
}

/**
 * An instance FleetOps took out of traffic, kept until it is back (the fleet table's
 * `TRAFFIC#<instance>`): the intent is recorded before each call, so whoever finds it —
 * the owner's next step, its release after an error, an abort, or the sweep for a dead owner —
 * knows what to undo.
 */
export interface TrafficExit {
  readonly instanceId: string;
  /** The change id or remediation case id that took it out. */
  readonly owner: string;
  /** Moved to Standby in this Auto Scaling group (desired capacity decremented; ExitStandby restores it). */
  readonly standby?: string;
  /** Deregistered from these target groups (those its group does not attach, or all without a group). */
  readonly deregistered: readonly TargetRef[];
  /** Every target group it serves in (the group's attached ones included): where it must be healthy again. */
  readonly targetGroups: readonly string[];
  /** `leaving`: intent recorded, calls may not have gone out; `out`: out of traffic; `returning`: ExitStandby / RegisterTargets sent. */
  readonly phase: 'leaving' | 'out' | 'returning';
  /** Epoch ms the intent to leave was recorded (draining is bounded from here). */
  readonly since: number;
  /** Epoch ms the return was sent (readiness is bounded from here). */
  readonly returnedAt?: number;
  /** Longest deregistration delay of its target groups. */
  readonly drainSeconds: number;
  /** Longest healthy threshold × interval of its target groups. */
  readonly readySeconds: number;
  /** Why it could not be brought back yet (kept, retried by the sweep, paged once). */
  readonly stuck?: string;
}

/** Where the exits are kept (DynamoDB: adapters/fleet-store/traffic-exits; in memory: sim/adapters). */
export interface TrafficExits {
  /**
   * Records (or moves on) exits. Conditional per instance: an exit another owner recorded is
   * never replaced; returns the instances whose exit belongs to someone else.
   */
  put(exits: readonly TrafficExit[]): Promise<string[]>;
  /** Removes the owner's exits of these instances (another owner's are left alone). */
  remove(owner: string, instanceIds: readonly string[]): Promise<void>;
  /** The exits of these instances, whoever owns them. */
  of(instanceIds: readonly string[]): Promise<Map<string, TrafficExit>>;
  /** Every exit (the sweep brings back those whose owner no longer holds the instance). */
  all(): Promise<TrafficExit[]>;
}
