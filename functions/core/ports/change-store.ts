import type { Plan } from '../change/plan/planner';
import type { ChangeSpec } from '../change/spec';
import type { ChangeStatus } from '../change/status';

/** A change's record as the rollout needs it. */
export interface ChangeRecordView {
  readonly status: string;
  readonly waves: number;
}

/** What a step wrote about a wave: what was sent (`apply#…`), who was skipped (`skipped#…`), how each came out (`result`). */
export interface WaveRecordView {
  readonly wave: number;
  readonly part: string;
  readonly body: Record<string, unknown>;
}

/**
 * Changes as the rollout keeps them (DynamoDB: dynamo-change-store; in memory: sim/adapters):
 * the spec, the plan (its digest verified on every read), the status, each wave's records, and
 * the task token of an approval waited for.
 */
export interface ChangeStore {
  get(id: string): Promise<ChangeRecordView | undefined>;
  save(spec: ChangeSpec, plan: Plan, actor: string, now: number): Promise<unknown>;
  /** The plan as it stands: the latest revision ({@link revisePlan}), or the plan as made. */
  loadPlan(id: string): Promise<Plan>;
  /**
   * Replaces the running change's plan with its next revision (`plan.revision` = `from` + 1),
   * only if the stored plan is still revision `from`: `revised`; `already` when this very
   * revision is stored (a retried step); any other revision stored meanwhile: an error.
   */
  revisePlan(id: string, from: number, plan: Plan, now: number): Promise<'revised' | 'already'>;
  loadSpec(id: string): Promise<ChangeSpec>;
  /** Moves the change on; a change that has ended keeps its status (see ../change/status.ts). */
  setStatus(
    id: string,
    status: Extract<
      ChangeStatus,
      'running' | 'rolling-back' | 'rolled-back' | 'completed' | 'failed' | 'aborted'
    >,
    reason: string,
    now: number,
  ): Promise<void>;
  recordWave(
    id: string,
    wave: number,
    part: string,
    body: Record<string, unknown>,
    now: number,
  ): Promise<void>;
  waveRecords(id: string, wave?: number): Promise<WaveRecordView[]>;
  awaitApproval(id: string, token: string, wave: number, reason: string, now: number): Promise<void>;
  /**
   * Claims the pending approval for a decision without consuming its token: a second claim
   * with the same decision (a retried `change approve`) gets the same token; another decision
   * gets nothing while the first is being answered.
   */
  claimApproval(
    id: string,
    decision: 'approve' | 'reject',
    reason: string,
    now: number,
  ): Promise<{ token: string; wave: number } | undefined>;
  /** The claimed approval was answered (sent, or found already closed): the token is dropped. */
  settleApproval(id: string, token: string, decision: 'approve' | 'reject', now: number): Promise<void>;
}
