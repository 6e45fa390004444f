/**
 * A managed instance as FleetOps knows it (state, health, zone, service, tags, scheduled events),
 * and the health words every use case shares (`isInService`, `checksPending`, `isUnavailable`).
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
 * An instance is unavailable when it cannot serve: not running, or running but impaired.
 * Unavailable instances already spend their service's disruption budget.
 */
export function isUnavailable(instance: Pick<Instance, 'state' | 'health'>): boolean {
  return instance.state !== 'running' || instance.health === 'impaired';
}
