import type { Finding } from '../events/findings';
import type { CaseStatusWord } from '../remediation/case-status';
import type { LastRemediation } from '../remediation/relapse';
import type { Decision, LadderStep, OutcomeStats } from '../remediation/types';

/**
 * Remediation cases, as the remediation steps (`CaseStore`) and the finding intake
 * (`IntakeCaseStore`) see them; one store implements both (DynamoDB: dynamo-remediation-store;
 * in memory: sim/adapters).
 */

/** A case as the remediation steps read it. */
export interface CaseView {
  readonly id: string;
  readonly finding: Finding;
  readonly status: string;
  readonly tried: readonly LadderStep[];
  /** Every decision, in order; the case's reason is the last decision's, or the last verdict. */
  readonly decisions: readonly Decision[];
  readonly reason: string;
  /** Every finding that reached the case (the first one, and those that joined it). */
  readonly sources?: ReadonlyArray<{ readonly key: string }>;
  /** When the case was opened (epoch ms). */
  readonly createdAt: number;
}

/** The cases, their outcome statistics (what the ladder learns from) and the breaker's pages. */
export interface CaseStore {
  get(id: string): Promise<CaseView | undefined>;
  decide(
    id: string,
    decision: Decision,
    patch: { status: CaseStatusWord; tried?: readonly LadderStep[] },
    now: number,
  ): Promise<void>;
  setStatus(id: string, status: CaseStatusWord, reason: string, now: number): Promise<void>;
  /** The outcome counts: those of these keys (a decision reads only its own), else all of them. */
  stats(keys?: readonly string[]): Promise<OutcomeStats>;
  /**
   * One more outcome of `step` for `kind`, under `keys` when given (context.ts `contextKeys`: the
   * kind's own key first, then the finer ones), all at once.
   */
  recordOutcome(
    kind: Finding['kind'],
    step: LadderStep,
    recovered: boolean,
    keys?: readonly string[],
  ): Promise<void>;
  inFlight(): Promise<CaseView[]>;
  /**
   * Whether this case may page for the scope: once per storm (the scope's breaker is marked open
   * and pages no more until `closeBreakers` closed it), and at most once per `cooldownMs` (a
   * breaker flapping at its threshold is one storm).
   */
  claimPage(scope: string, reason: string, now: number, cooldownMs: number): Promise<boolean>;
  /** These scopes' breakers are closed (their scopes are healthy): the next storm there pages again. */
  closeBreakers(scopes: readonly string[], now: number): Promise<void>;
  /** How the instance's last remediation of a status-check failure ended (relapse.ts), if it had one. */
  lastRemediation(instanceId: string): Promise<LastRemediation | undefined>;
  /**
   * Keeps `record` as the instance's last remediation, unless one of a case opened later is kept
   * already (a retried step of an older case never replaces a newer case's record). Idempotent.
   */
  rememberRemediation(record: LastRemediation): Promise<void>;
  /**
   * A relapse of `last`'s instance, seen by case `byCase`: the success counted for the step that
   * recovered `last` becomes a failure under each of `keys` (relapse.ts `revisedOutcome`), at most
   * once per `last` (marked `revisedBy`, in the same transaction). A count with no success left to
   * revise (its sample was lost to a crash) is only marked. False when it was revised before.
   */
  reviseOutcome(last: LastRemediation, byCase: string, keys: readonly string[]): Promise<boolean>;
}

/**
 * How a finding came to its case: it opened it; the case of its underlying event existed (the
 * same scheduled event from another source); it joined the instance's active case of its kind; or
 * it had been attached before (a retried intake).
 */
export type CaseAttachment = 'opened' | 'same-event' | 'joined' | 'attached-before';

/** What intake reads of a case. */
export interface IntakeCase {
  readonly id: string;
  /** The finding that opened the case. */
  readonly finding: Finding;
  readonly status: string;
  /** When to act: fixed when the case opened, so every start of its execution sends the same input. */
  readonly at: string;
  /** When the case's execution was recorded as started. */
  readonly startedAt?: number;
}

/** The cases as the finding intake opens them and starts their executions. */
export interface IntakeCaseStore {
  /** The finding's case: attached before, its event's, the instance's active one of its kind, or new. */
  open(finding: Finding, at: string, now: number): Promise<{ attachment: CaseAttachment; case: IntakeCase }>;
  markStarted(id: string, now: number): Promise<void>;
  decide(id: string, decision: Decision, patch: { status: 'recorded' }, now: number): Promise<void>;
}
