/**
 * A finding: what remediation is asked to look at (kind, instance, occurrence, deadline), and the
 * findings inventory sync derives from an observed instance.
 */
import type { Instance, ScheduledEvent } from '../fleet/fleet';
import type { ObservedInstance } from '../ports/ec2-inventory';

/** What remediation is asked to look at, and why. */
export const FINDING_KINDS = [
  /** A system status check fails (the host: hardware, network, power). */
  'system-status-check-failed',
  /** An instance status check fails (the guest: kernel, OS, memory, file system). */
  'instance-status-check-failed',
  /** AWS retires the instance (degraded host): stop-start before NotBefore moves it. */
  'scheduled-retirement',
  /** AWS reboots the instance (or its host) for maintenance at NotBefore. */
  'scheduled-reboot',
  /** AWS maintains the host at NotBefore (network, power). */
  'scheduled-maintenance',
  /** AWS stops the instance at NotBefore. */
  'scheduled-stop',
  /** AWS Health reports degraded hardware under the instance (an issue, no schedule). */
  'degraded-hardware',
  /** A Spot interruption warning: the instance goes in about two minutes. Drain, do not repair. */
  'spot-interruption',
  /** A Spot rebalance recommendation: elevated risk of interruption. Replace ahead of it. */
  'rebalance-recommendation',
  /** The instance stopped and nobody (no change, no remediation) asked for it. */
  'unexpected-stop',
  /** The instance terminated and nobody asked for it. */
  'unexpected-termination',
] as const;
export type FindingKind = (typeof FINDING_KINDS)[number];

export interface Finding {
  readonly instanceId: string;
  readonly kind: FindingKind;
  /** Identifies the occurrence (an event id, a status transition), so a repeat is recorded once. */
  readonly key: string;
  readonly deadline?: string;
  readonly detail: string;
  readonly source: string;
}

/** Kinds that happen at a time AWS sets: AWS Health's `startTime`, EC2's `NotBefore` (the finding's deadline). */
export const SCHEDULED_FINDING_KINDS: ReadonlySet<FindingKind> = new Set<FindingKind>([
  'scheduled-retirement',
  'scheduled-reboot',
  'scheduled-maintenance',
  'scheduled-stop',
]);

/**
 * The underlying event a finding reports, whatever reported it; with the instance and the kind it
 * identifies the event's remediation case. One scheduled event reaches FleetOps twice, under two
 * keys that share nothing: AWS Health keys it by event ARN and status, the sweep by EC2's
 * instance event id. What both carry is the time AWS acts (Health's `startTime` is the event's
 * start, EC2's `NotBefore` its earliest start): a scheduled event is its instance, kind and
 * deadline to the minute (AWS announces these times to the minute; seconds would make a
 * rounding difference between two APIs a second stop-start). Any other finding is its own
 * occurrence: the two sources of a failing status check (an alarm's state change, the sweep's
 * `ImpairedSince`) share no time, so those meet on the instance's active case instead (see
 * `openCase` in remediation/triage.ts).
 */
export function occurrenceOf(finding: Pick<Finding, 'kind' | 'key' | 'deadline'>): string {
  if (!SCHEDULED_FINDING_KINDS.has(finding.kind) || finding.deadline === undefined) return finding.key;
  const at = Date.parse(finding.deadline);
  if (Number.isNaN(at)) return finding.key;
  return `at-${new Date(Math.floor(at / 60_000) * 60_000).toISOString().slice(0, 16)}Z`;
}

/**
 * What recording a finding found: never seen before; recorded before but its intake never
 * finished (a crash, a timeout or a Step Functions error between the finding and its case's
 * execution), so it is taken up again; or settled (its case started, joined or recorded).
 */
export type FindingRecord = 'new' | 'unsettled' | 'settled';

/** Which status check failed, as DescribeInstanceStatus tells it. */
export type Impairment = 'system' | 'instance' | 'both';

const SCHEDULED_KIND: Record<ScheduledEvent['code'], FindingKind> = {
  'instance-retirement': 'scheduled-retirement',
  'instance-reboot': 'scheduled-reboot',
  'system-reboot': 'scheduled-reboot',
  'system-maintenance': 'scheduled-maintenance',
  'instance-stop': 'scheduled-stop',
};

/**
 * Findings from one inventory observation of an instance:
 * 1. a failing status check, keyed by when it started failing (EC2's `ImpairedSince`), so every
 *    sync that sees it records it once and a later relapse is a new finding; when EC2 does not
 *    say since when, only a check that has just started failing, keyed by when it was seen;
 * 2. every scheduled event, keyed by its event id, with `NotBefore` as the deadline.
 */
export function findingsFor(
  observedInstance: ObservedInstance,
  previous: Instance | undefined,
  seenAt: string,
): Finding[] {
  const { instance: observed, impairment, impairedSince } = observedInstance;
  const findings: Finding[] = [];
  const impaired = observed.health === 'impaired' && observed.state === 'running';
  if (impaired && (impairedSince !== undefined || previous?.health !== 'impaired')) {
    const kind = impairment === 'instance' ? 'instance-status-check-failed' : 'system-status-check-failed';
    findings.push({
      instanceId: observed.id,
      kind,
      key: `since-${impairedSince ?? seenAt}`,
      detail: `${impairment ?? 'system'} status check impaired`,
      source: 'inventory-sync',
    });
  }
  for (const event of observed.scheduledEvents ?? []) {
    findings.push({
      instanceId: observed.id,
      kind: SCHEDULED_KIND[event.code],
      key: event.id,
      deadline: event.notBefore,
      detail: `${event.code}${event.description ? `: ${event.description}` : ''}`,
      source: 'inventory-sync',
    });
  }
  return findings;
}
