/**
 * The case lifecycle: the statuses a remediation case goes through, and which of them are still
 * active. A case opens `open`; Decide moves it to `acting` (a step to take), or ends it `recorded`,
 * `recovered`, `paged` or `skipped`; Verify ends it `recovered` or leaves it `acting` for the next
 * step; a Spot interruption ends it `drained`; a step that could not continue ends it `failed`.
 * An ended case never becomes active again.
 */
export type CaseStatusWord =
  | 'open'
  | 'acting'
  | 'recovered'
  | 'paged'
  | 'skipped'
  | 'recorded'
  | 'drained'
  | 'failed';

/**
 * Statuses of a case that is still being worked on: a finding of the same instance and kind joins
 * it rather than opening another. Every other status has ended the case; an ended case never
 * becomes active again, so a new finding after it opens a new case (a relapse).
 */
export const ACTIVE_CASE_STATUSES: ReadonlySet<CaseStatusWord> = new Set<CaseStatusWord>(['open', 'acting']);
