import type { RolloutPorts } from '../../ports/rollout-ports';
import { isEnded } from '../status';

/**
 * The execution's state, and the small pieces every rollout step shares: the audit time, the
 * status move that leaves an ended change alone, a Catch's error in words, and lease renewal.
 */

/**
 * What the execution carries from step to step: only this (the plan stays in the table), so the
 * payload stays far below Step Functions' 256 KB whatever the fleet size.
 */
export interface RolloutState {
  readonly changeId: string;
  /** The wave being worked on (0-based). */
  readonly wave: number;
  readonly waves: number;
  readonly bakeSeconds: number;
  /** For the change that rolls another back: that change's id ("" for a rollout). */
  readonly rollbackOf: string;
}

/** Margin on every lease renewal: the next step (and its retries) runs before the lease can lapse. */
const LEASE_MARGIN_MS = 30 * 60_000;

export const at = (ports: Pick<RolloutPorts, 'now'>) => new Date(ports.now()).toISOString();

/** The change's stored plan and spec, read together (every wave step needs both). */
export const loadChange = (ports: Pick<RolloutPorts, 'changes'>, changeId: string) =>
  Promise.all([ports.changes.loadPlan(changeId), ports.changes.loadSpec(changeId)]);

export async function setUnlessEnded(
  ports: RolloutPorts,
  changeId: string,
  status: 'rolling-back' | 'rolled-back' | 'failed',
  reason: string,
): Promise<void> {
  const current = (await ports.changes.get(changeId))?.status;
  // A change that does not exist (one that could not be loaded) or has ended stays as it is.
  if (current === undefined || isEnded(current)) return;
  await ports.changes.setStatus(changeId, status, reason, ports.now());
}

/** A Catch's `{ Error, Cause }`, short enough for a status reason. */
export const describeError = (error: { Error?: string; Cause?: string }) =>
  `${error.Error ?? 'error'}${error.Cause ? ` (${String(error.Cause).slice(0, 300)})` : ''}`;

/** Extends the wave's leases so they outlive what comes next (plus a margin). */
export async function renewWave(
  ports: RolloutPorts,
  state: RolloutState,
  members: readonly string[],
  nextMs: number,
): Promise<void> {
  const leases = await ports.leases.heldBy(state.changeId, members, ports.now());
  if (leases.length > 0) await ports.leases.renew(leases, nextMs + LEASE_MARGIN_MS, ports.now());
}
