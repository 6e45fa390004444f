/**
 * A change's statuses, and which of them are ends: a change that has ended (completed, failed,
 * aborted, rolled back) never moves again. Both change stores (DynamoDB and in memory) enforce it
 * with this set; the rollout reads it to leave an ended change as it is.
 */

export const CHANGE_STATUSES = [
  'planned',
  'running',
  'waiting-approval',
  'paused',
  'rolling-back',
  'rolled-back',
  'completed',
  'failed',
  'aborted',
] as const;

export type ChangeStatus = (typeof CHANGE_STATUSES)[number];

/** Statuses a change never leaves. */
export const ENDED: ReadonlySet<string> = new Set<ChangeStatus>([
  'completed',
  'failed',
  'aborted',
  'rolled-back',
]);

/** Whether a change with this status has ended (and so keeps it). */
export const isEnded = (status: string): boolean => ENDED.has(status);
