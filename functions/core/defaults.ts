/**
 * Every default FleetOps ships with, in one place: the tags that mark managed instances and name
 * their service, the prefix of the status-check alarms, the remediation breaker's thresholds,
 * the metric namespace, EC2 request rates and the AWS SDK's retry settings. The CDK context
 * (lib/settings.ts), the handlers' environment (functions/app/environment.ts), the adapters, the
 * CLI, the local runtime and the simulator all read them from here: a default is stated once.
 *
 * Plain values only (no imports): the core, the adapters and the infrastructure can all use it.
 */

/** Instances FleetOps manages carry this tag. */
export const MANAGED_TAG = { key: 'fleetops:managed', value: 'true' } as const;

/** The tag that names an instance's service. */
export const SERVICE_TAG_KEY = 'fleetops:service';

/** The tag that names an instance's cell, when it has one. */
export const CELL_TAG_KEY = 'fleetops:cell';

/** Alarms FleetOps creates for status checks are named with this prefix (and end in the instance id). */
export const STATUS_CHECK_ALARM_PREFIX = 'fleetops-status-';

/** The remediation breaker: more than this percentage of a scope unhealthy at once is an outage. */
export const BREAKER_MAX_UNHEALTHY_PERCENT = 20;

/** The remediation breaker: remediations in flight per scope that stop another from starting. */
export const BREAKER_MAX_IN_FLIGHT = 5;

/** A case an open breaker holds looks again this often (minutes)... */
export const BREAKER_RECHECK_MINUTES = 10;

/** ...for at most this long (minutes); then it ends `skipped`, left to the person the breaker paged. */
export const BREAKER_HOLD_MINUTES = 6 * 60;

/**
 * Minutes a status-check failure waits before its first automatic action, so that a zone-wide
 * event has its findings counted (and trips the breaker) before anything is touched, and an
 * instance that recovers by itself is left alone. A system check failure waits longer: EC2's own
 * simplified automatic recovery (on by default for supported instance types) gets its chance
 * before a stop-start could race it.
 */
export const ACCUMULATE_MINUTES = {
  'instance-status-check-failed': 5,
  'system-status-check-failed': 10,
} as const;

/**
 * A status-check failure within this many minutes of the end of the instance's last remediation is
 * that problem come back (a relapse): the ladder continues where the last case left it.
 */
export const RELAPSE_WINDOW_MINUTES = 24 * 60;

/** Relapses in a row after which the instance flaps: a person is paged instead of another step. */
export const RELAPSE_FLAP_LIMIT = 3;

/** The namespace of FleetOps' own CloudWatch metrics (the handlers write, the dashboard reads). */
export const METRIC_NAMESPACE = 'FleetOps';

/** The Powertools service name of every handler (logs and the metrics' `service` dimension). */
export const SERVICE_NAME = 'fleetops';

/** EC2 Describe* pacing: 15 requests per second, bursts of 15 (the account's bucket refills at ~20/s). */
export const EC2_DESCRIBE_RATE = { ratePerSecond: 15, capacity: 15 } as const;

/** EC2's mutating actions (tags, reboot, stop, start) have their own, smaller request bucket. */
export const EC2_ACTION_RATE = { ratePerSecond: 5, capacity: 10 } as const;

/**
 * ELBv2 Describe* pacing: 8 requests per second, bursts of 32. The account's bucket for ELB API
 * version 2's non-mutating actions holds 40 tokens and refills at 10 per second ("Request
 * throttling for the Elastic Load Balancing API", ELB user guide); FleetOps leaves the rest to
 * other tools, as it does for EC2.
 */
export const ELB_DESCRIBE_RATE = { ratePerSecond: 8, capacity: 32 } as const;

/**
 * ELBv2 RegisterTargets / DeregisterTargets pacing: 2 requests per second, bursts of 5. Mutating
 * actions have smaller buckets than Describe* (same page); this is a conservative share of them.
 * Each request carries many targets, so a wave needs few.
 */
export const ELB_REGISTRATION_RATE = { ratePerSecond: 2, capacity: 5 } as const;

/**
 * EC2 Auto Scaling pacing, every action alike: 5 requests per second, bursts of 10. All EC2 Auto
 * Scaling calls share one bucket per account and Region, its size unpublished (AWS knowledge
 * center, "autoscaling-api-calls-throttled"); adaptive retries absorb the rest.
 */
export const AUTOSCALING_RATE = { ratePerSecond: 5, capacity: 10 } as const;

/** The AWS SDK clients' retries: adaptive (client-side rate limiting under throttling), 8 attempts. */
export const SDK_RETRY = { retryMode: 'adaptive', maxAttempts: 8 } as const;
