/**
 * A managed instance as FleetOps knows it (state, health, zone, service, tags, scheduled events),
 * and the health words every use case shares (`isInService`, `checksPending`, `isUnavailable`:
 * out of service, traffic and Auto Scaling group included).
 */
import * as z from 'zod';

/** EC2 instance states, as DescribeInstances reports them. */
export const INSTANCE_STATES = [
  'pending',
  'running',
  'stopping',
  'stopped',
  'shutting-down',
  'terminated',
] as const;
export type InstanceState = (typeof INSTANCE_STATES)[number];

/**
 * Status-check health as DescribeInstanceStatus tells it: `ok` (both checks pass), `impaired`
 * (either fails), `initializing` (either is still running its first checks, e.g. just after a
 * start or a reboot), `unknown` (`insufficient-data`, `not-applicable`, or not reported).
 */
export const HEALTH_VALUES = ['ok', 'impaired', 'initializing', 'unknown'] as const;
export type Health = (typeof HEALTH_VALUES)[number];

/** What the gates and verifications read of an instance. */
export interface InstanceCondition {
  readonly state: string;
  readonly health: string;
  /** `instance-store`: its data is lost on stop (stop-start is refused). */
  readonly rootDevice?: 'ebs' | 'instance-store';
  /** A Spot instance and its request type (a one-time Spot instance cannot be stopped). */
  readonly spot?: 'one-time' | 'persistent';
}

/**
 * In service: running with both status checks `ok`. An instance whose checks are still
 * initializing, or have no data, has not been proven healthy yet (invariant 8): a gate or a
 * verification waits for it rather than passing it.
 */
export function isInService(c: InstanceCondition | undefined): boolean {
  return c !== undefined && c.state === 'running' && c.health === 'ok';
}

/** Running, not failing a check, but not proven healthy yet: worth waiting for (bounded). */
export function checksPending(c: InstanceCondition | undefined): boolean {
  return c !== undefined && c.state === 'running' && (c.health === 'initializing' || c.health === 'unknown');
}

/** Maps DescribeInstanceStatus's two check statuses to one health value. */
export function healthOfChecks(system: string | undefined, instance: string | undefined): Health {
  if (system === 'impaired' || instance === 'impaired') return 'impaired';
  if (system === 'ok' && instance === 'ok') return 'ok';
  if (system === 'initializing' || instance === 'initializing') return 'initializing';
  return 'unknown';
}

const instanceIdSchema = z
  .string()
  .regex(/^i-[0-9a-f]{8,17}$/, { error: 'expected an EC2 instance id such as "i-0123456789abcdef0"' });

/** An EC2 scheduled event (retirement, reboot, maintenance) as DescribeInstanceStatus reports it. */
export const scheduledEventSchema = z.strictObject({
  id: z.string().min(1),
  code: z.enum([
    'instance-reboot',
    'system-reboot',
    'system-maintenance',
    'instance-retirement',
    'instance-stop',
  ]),
  notBefore: z.iso.datetime({ offset: true }),
  notAfter: z.iso.datetime({ offset: true }).optional(),
  description: z.string().default(''),
});
export type ScheduledEvent = z.infer<typeof scheduledEventSchema>;

export const instanceSchema = z.strictObject({
  id: instanceIdSchema,
  service: z.string().min(1, { error: 'expected a non-empty service name' }),
  zone: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, { error: 'expected an availability zone such as "us-east-1a"' }),
  cell: z.string().min(1).optional(),
  state: z.enum(INSTANCE_STATES),
  health: z.enum(HEALTH_VALUES),
  tags: z.record(z.string(), z.string()).default({}),
  scheduledEvents: z.array(scheduledEventSchema).optional(),
  /** Its Auto Scaling group and lifecycle state there (`InService`, `Standby`, `Pending:Wait`…), from the sweep. */
  asg: z.strictObject({ name: z.string().min(1), lifecycle: z.string().min(1) }).optional(),
  /** Its ELBv2 target groups (managed ones) and its health in each, from the sweep. */
  targets: z
    .array(
      z.strictObject({
        targetGroupArn: z.string().min(1),
        port: z.number().int().optional(),
        state: z.enum(['initial', 'healthy', 'unhealthy', 'unused', 'draining', 'unavailable']),
        reason: z.string().optional(),
        /** The group's deregistration delay: how long draining may last. */
        drainSeconds: z.number().int().min(0).optional(),
        /** The group's healthy threshold × interval: how long a registered target takes to be healthy. */
        readySeconds: z.number().int().min(0).optional(),
      }),
    )
    .optional(),
  rootDevice: z.enum(['ebs', 'instance-store']).optional(),
  /** EC2's LaunchTime, from the sweep: the planner estimates the target's scale-outs from it. */
  launchedAt: z.iso.datetime({ offset: true }).optional(),
  /** EC2's InstanceType (`m7g.large`), from the sweep. */
  instanceType: z.string().min(1).optional(),
  spot: z.enum(['one-time', 'persistent']).optional(),
  /**
   * EC2's simplified automatic recovery setting (DescribeInstances' MaintenanceOptions.AutoRecovery),
   * from the sweep: `default` (on, for the instance types that support it) or `disabled`.
   */
  autoRecovery: z.enum(['default', 'disabled']).optional(),
});

export type Instance = z.infer<typeof instanceSchema>;

export const fleetSchema = z
  .strictObject({ instances: z.array(instanceSchema) })
  .superRefine((fleet, ctx) => {
    const seen = new Map<string, number>();
    fleet.instances.forEach((instance, index) => {
      const first = seen.get(instance.id);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['instances', index, 'id'],
          message: `duplicate instance id (first seen at instances[${first}])`,
        });
      } else {
        seen.set(instance.id, index);
      }
    });
  });

export type Fleet = z.infer<typeof fleetSchema>;

/**
 * Whether a target carries (or may carry) its share of traffic: `healthy`; or a state that says
 * nothing against the instance itself. `unused` with `Target.NotInUse`: the target group is not
 * used by any load balancer (or not in the target's zone), so it routes no traffic to anyone and
 * a target there serves as much as it can; `unavailable`: health checks are disabled, ELB routes
 * to the target without judging it. Every other state takes it out of service: `initial` (not
 * yet passed its checks), `unhealthy`, `draining` (deregistering), `unused` for any other reason
 * (`Target.NotRegistered`: not registered where it should be; `Target.InvalidState`: stopped).
 * (DescribeTargetHealth's TargetHealth reason codes:
 * https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html)
 */
export function servesInTargetGroup(t: { readonly state: string; readonly reason?: string }): boolean {
  return (
    t.state === 'healthy' ||
    t.state === 'unavailable' ||
    (t.state === 'unused' && t.reason === 'Target.NotInUse')
  );
}

/**
 * An instance is unavailable when it is out of service, as a service owner means it (issue 14):
 * - not running, or running but impaired (a status check fails);
 * - in its Auto Scaling group in any lifecycle state but `InService` (`Standby`, `Pending`,
 *   `Pending:Wait`, `Terminating`, `EnteringStandby`…): the group does not count it as serving;
 * - not {@link servesInTargetGroup serving} in at least one of its (managed) target groups:
 *   `draining`, `initial`, `unhealthy`, `unused` (but `Target.NotInUse`, a group that carries
 *   no traffic at all, and `unavailable`, health checks disabled, do not count against it).
 *
 * Unavailable instances already spend their service's disruption budget. An instance held by a
 * wave or a case is counted by its lease's reservation instead (the ledger's `observed` leaves
 * leased instances out; the planner's budgets count held ones), whatever this says.
 * Without `asg` and `targets` (the sweep ran without the traffic ports, or the instance is in no
 * group or target group) only state and health decide.
 */
export function isUnavailable(
  instance: Pick<Instance, 'state' | 'health'> & Partial<Pick<Instance, 'asg' | 'targets'>>,
): boolean {
  if (instance.state !== 'running' || instance.health === 'impaired') return true;
  if (instance.asg !== undefined && instance.asg.lifecycle !== 'InService') return true;
  return (instance.targets ?? []).some((t) => !servesInTargetGroup(t));
}
