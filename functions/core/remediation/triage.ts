/**
 * Finding intake: a finding from an event (triage) or from the inventory sweep (hand-over) is
 * recorded once, goes to its case (one per instance and problem, whatever the source), and that
 * case's execution is started once; every step is safe to repeat after a crash.
 */
import { type Finding, occurrenceOf } from '../events/findings';
import type { HandOverPorts, IntakePorts, TriagePorts } from '../ports/intake';
import { intakeTimingFor, timingFor } from './timing';

export type { CaseAttachment, IntakeCase } from '../ports/case-store';
export type { HandOverPorts, IntakePorts, TriagePorts } from '../ports/intake';
export type { RemediationInput } from '../ports/remediation-executions';
export { ACTIVE_CASE_STATUSES } from './case-status';

/** One finding that reported a case's problem, as the case records it. */
export interface CaseSource {
  readonly key: string;
  readonly source: string;
  readonly detail: string;
  readonly deadline?: string;
  /** When it reached the case (epoch milliseconds). */
  readonly at: number;
}

export function caseSourceOf(finding: Finding, now: number): CaseSource {
  return {
    key: finding.key,
    source: finding.source,
    detail: finding.detail,
    ...(finding.deadline === undefined ? {} : { deadline: finding.deadline }),
    at: now,
  };
}

export type TriageOutcome =
  | { readonly outcome: 'seen-before'; readonly caseId?: undefined }
  | {
      /** `joined`: the finding went to a case another finding opened, and started nothing. */
      readonly outcome: 'recorded' | 'started' | 'already-started' | 'joined';
      readonly caseId: string;
      readonly at: string;
    };

/**
 * One finding from an event, each step safe to repeat, so that a crash, a timeout or a Step
 * Functions error between any two of them, retried, still ends in one case and one execution:
 * 1. record the finding (by instance, kind and occurrence); one recorded before whose intake
 *    finished is `seen-before` (a replayed or duplicated event stops here), one whose intake did
 *    not finish goes on;
 * 2.–5. as `openCase`.
 */
export async function triageFinding(ports: TriagePorts, finding: Finding): Promise<TriageOutcome> {
  const recorded = await ports.fleet.recordFinding(finding, ports.now());
  if (recorded === 'settled') return { outcome: 'seen-before' };
  return openCase(ports, finding);
}

/**
 * Steps 2–5 for a finding already recorded (the inventory sweep records its findings itself):
 * 2. its case: the one it went to before, the case of its underlying event, the instance's
 *    active case of its kind (one case per instance and problem, whatever the source), or a new
 *    case with the time to act (now, or a quiet time before the event's deadline);
 * 3. a case still open whose execution is not recorded as started: a finding that only needs
 *    recording closes it with the reason; otherwise the execution named after the case starts,
 *    with the case's stored input (a repeat is the same execution), and the start is recorded on
 *    the case. A case started or moved on needs nothing more;
 * 4. the finding is audited (again, if a crash came between this and step 5: never silent);
 * 5. the finding is settled: a redelivery stops at step 1 from now on.
 */
export async function openCase(
  ports: IntakePorts,
  finding: Finding,
): Promise<Exclude<TriageOutcome, { outcome: 'seen-before' }>> {
  const now = ports.now();
  const { quiet, waitMinutes } = await intakeTimingFor(ports.fleet, finding, ports.accumulate);
  const { attachment, case: c } = await ports.cases.open(
    finding,
    timingFor(finding, now, quiet, waitMinutes).at,
    now,
  );
  // A finding joins only a case of its own instance and kind: the same quiet and accumulation windows.
  const timing = timingFor(c.finding, now, quiet, waitMinutes);
  const elsewhere = attachment === 'same-event' || attachment === 'joined';
  let outcome: Exclude<TriageOutcome, { outcome: 'seen-before' }>['outcome'];
  if (c.status !== 'open' || c.startedAt !== undefined) {
    outcome = elsewhere ? 'joined' : c.status === 'recorded' ? 'recorded' : 'already-started';
  } else if (timing.action === 'record-only') {
    await ports.cases.decide(
      c.id,
      { instanceId: c.finding.instanceId, action: 'record-only', at: c.at, reason: timing.reason },
      { status: 'recorded' },
      now,
    );
    outcome = 'recorded';
  } else {
    const { started } = await ports.executions.start(c.id, {
      state: { caseId: c.id, attempts: 0, polls: 0 },
      at: c.at,
    });
    await ports.cases.markStarted(c.id, now);
    outcome = started ? 'started' : elsewhere ? 'joined' : 'already-started';
  }
  await ports.fleet.audit([
    elsewhere
      ? {
          subject: `instance:${finding.instanceId}`,
          actor: ports.actor,
          action: 'finding.joined',
          reason: `${finding.kind} (${finding.detail}) from ${finding.source}: the same problem as case ${c.id} (${
            attachment === 'same-event'
              ? `the same event, at ${occurrenceOf(finding)}`
              : `the instance's active ${finding.kind} case`
          }, from ${c.finding.source}); no second case`,
          at: new Date(now).toISOString(),
        }
      : {
          subject: `instance:${finding.instanceId}`,
          actor: ports.actor,
          action: 'finding.recorded',
          reason: `${finding.kind} (${finding.detail}) from ${finding.source}: ${timing.reason}`,
          at: new Date(now).toISOString(),
        },
  ]);
  await ports.fleet.settleFinding(finding, c.id, now);
  return { outcome, caseId: c.id, at: c.at };
}

/**
 * A finding unsettled for longer than this was left behind: an intake in flight (a triage
 * invocation, at most its 1-minute timeout; a sweep, at most 5) is left to finish on its own.
 */
export const UNSETTLED_GRACE_MS = 5 * 60_000;

/** What the sweep's hand-over did with each finding. */
export interface HandOver {
  readonly cases: ReadonlyArray<{ readonly finding: Finding; readonly outcome: TriageOutcome }>;
  /** Findings whose intake failed: they stay unsettled, and the next sweep takes them up again. */
  readonly failed: ReadonlyArray<{ readonly finding: Finding; readonly reason: string }>;
}

/**
 * The sweep's findings into remediation, as triage takes an event's:
 * 1. the findings this sweep recorded, then every finding whose intake did not finish (an earlier
 *    sweep, or a triage invocation, that crashed or timed out between recording it and starting
 *    its case) and that was recorded more than `UNSETTLED_GRACE_MS` ago: one Query of the
 *    unsettled findings, normally empty;
 * 2. each through `openCase`, one at a time;
 * 3. a finding whose intake fails is reported and stays unsettled, for the next sweep.
 */
export async function handOverFindings(
  ports: HandOverPorts,
  recorded: readonly Finding[],
): Promise<HandOver> {
  const byKey = new Map<string, Finding>();
  const leftBehind = await ports.fleet.unsettledFindings(ports.now() - UNSETTLED_GRACE_MS);
  for (const f of [...recorded, ...leftBehind]) {
    const key = `${f.instanceId}|${f.kind}|${f.key}`;
    if (!byKey.has(key)) byKey.set(key, f);
  }
  const cases: Array<{ finding: Finding; outcome: TriageOutcome }> = [];
  const failed: Array<{ finding: Finding; reason: string }> = [];
  for (const finding of byKey.values()) {
    try {
      cases.push({ finding, outcome: await openCase(ports, finding) });
    } catch (error) {
      failed.push({
        finding,
        reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      });
    }
  }
  return { cases, failed };
}
