import type { Finding } from '../findings';
import type { AuditSink } from '../hold';
import type { RemediationState } from './remediate';
import { timingFor } from './timing';
import type { Decision } from './types';

export interface TriagePorts {
  readonly fleet: AuditSink & {
    recordFindings(findings: readonly Finding[], now: number): Promise<Finding[]>;
  };
  readonly cases: {
    open(finding: Finding, at: string, now: number): Promise<{ created: boolean; case: { id: string } }>;
    decide(id: string, decision: Decision, patch: { status: 'recorded' }, now: number): Promise<void>;
  };
  /** Starts the remediation execution named after the case (a duplicate name starts nothing). */
  readonly executions: {
    start(name: string, input: { state: RemediationState; at: string }): Promise<{ started: boolean }>;
  };
  readonly now: () => number;
  readonly actor: string;
}

export type TriageOutcome =
  | { readonly outcome: 'seen-before'; readonly caseId?: undefined }
  | {
      readonly outcome: 'recorded' | 'started' | 'already-started';
      readonly caseId: string;
      readonly at: string;
    };

/**
 * One finding from an event:
 * 1. recorded once (by instance, kind and occurrence): a replayed or duplicated event stops here;
 * 2. a case opened (its id derived from the finding) with the time to act (now, or a quiet time
 *    before the event's deadline);
 * 3. findings that only need recording are closed with the reason; the others start the
 *    remediation execution named after the case, which waits until it is time, then decides.
 */
export async function triageFinding(ports: TriagePorts, finding: Finding): Promise<TriageOutcome> {
  const fresh = await ports.fleet.recordFindings([finding], ports.now());
  if (fresh.length === 0) return { outcome: 'seen-before' };
  return openCase(ports, finding);
}

/**
 * Steps 2 and 3 for a finding already recorded (once): the inventory sweep records the findings
 * it sees (impaired status checks, scheduled events) and hands the new ones here.
 */
export async function openCase(
  ports: Omit<TriagePorts, 'fleet'> & { fleet: AuditSink },
  finding: Finding,
): Promise<Exclude<TriageOutcome, { outcome: 'seen-before' }>> {
  const now = ports.now();
  const timing = timingFor(finding, now);
  const { case: opened } = await ports.cases.open(finding, timing.at, now);
  await ports.fleet.audit([
    {
      subject: `instance:${finding.instanceId}`,
      actor: ports.actor,
      action: 'finding.recorded',
      reason: `${finding.kind} (${finding.detail}) from ${finding.source}: ${timing.reason}`,
      at: new Date(now).toISOString(),
    },
  ]);
  if (timing.action === 'record-only') {
    await ports.cases.decide(
      opened.id,
      { instanceId: finding.instanceId, action: 'record-only', at: timing.at, reason: timing.reason },
      { status: 'recorded' },
      now,
    );
    return { outcome: 'recorded', caseId: opened.id, at: timing.at };
  }
  const { started } = await ports.executions.start(opened.id, {
    state: { caseId: opened.id, attempts: 0, polls: 0 },
    at: timing.at,
  });
  return { outcome: started ? 'started' : 'already-started', caseId: opened.id, at: timing.at };
}
