import type { Instance, ScheduledEvent } from './fleet';

/** What remediation is asked to look at, and why. */
export type FindingKind =
  | 'system-status-check-failed'
  | 'instance-status-check-failed'
  | 'scheduled-retirement'
  | 'scheduled-reboot'
  | 'scheduled-maintenance'
  | 'scheduled-stop';

export interface Finding {
  readonly instanceId: string;
  readonly kind: FindingKind;
  /** Identifies the occurrence (an event id, a status transition), so a repeat is recorded once. */
  readonly key: string;
  readonly deadline?: string;
  readonly detail: string;
  readonly source: string;
}

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
 * 1. a status check that has just started failing (not one that was already failing when last
 *    seen), keyed by the time it was first seen, so a later relapse is a new finding;
 * 2. every scheduled event, keyed by its event id, with `NotBefore` as the deadline.
 */
export function findingsFor(
  observed: Instance,
  impairment: Impairment | undefined,
  previous: Instance | undefined,
  seenAt: string,
): Finding[] {
  const findings: Finding[] = [];
  if (observed.health === 'impaired' && previous?.health !== 'impaired' && observed.state === 'running') {
    const kind = impairment === 'instance' ? 'instance-status-check-failed' : 'system-status-check-failed';
    findings.push({
      instanceId: observed.id,
      kind,
      key: `since-${seenAt}`,
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
