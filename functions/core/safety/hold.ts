/**
 * Holds: leasing instances with their budget, releasing them, and checking freezes, each decision
 * recorded in the audit trail (changes and remediations both go through here).
 */
import type { AuditSink } from '../ports/audit';
import type { Freeze, Lease, LeaseOutcome, LeaseRequest, LeaseStore } from '../ports/index';
import { type FreezeDecision, freezeDecision } from './freeze';

export type { AuditSink } from '../ports/audit';

/** The lease stores' reasons for refusing an instance that is not there any more. */
export const NOT_IN_INVENTORY = 'not in the fleet inventory';
export const TERMINATED = 'terminated';

/**
 * Holds instances for a change or a remediation and records the decision either way.
 *
 * 1. Acquire every lease and reserve every budget, all or nothing.
 * 2. Record `hold.acquired`, or `hold.refused` with the reason and the first conflicts:
 *    a decision to do nothing is recorded like any other.
 */
export async function holdInstances(
  deps: { leases: Pick<LeaseStore, 'acquire'>; audit: AuditSink },
  request: LeaseRequest,
  actor: string,
): Promise<LeaseOutcome> {
  const outcome = await deps.leases.acquire(request);
  const at = new Date(request.now).toISOString();
  await deps.audit.audit([
    outcome.acquired
      ? {
          subject: `owner:${request.owner}`,
          actor,
          action: 'hold.acquired',
          reason: `${outcome.leases.length} instances leased until ${new Date(request.now + request.ttlMs).toISOString()}`,
          at,
        }
      : {
          subject: `owner:${request.owner}`,
          actor,
          action: 'hold.refused',
          reason: outcome.reason,
          at,
          details: { conflicts: outcome.conflicts.slice(0, 20), conflictCount: outcome.conflicts.length },
        },
  ]);
  return outcome;
}

/** A refused hold's reason with what refused it (the budgets or holders), so a wait says why. */
export function describeRefusal(outcome: {
  readonly reason: string;
  readonly conflicts: ReadonlyArray<{ readonly reason: string }>;
}): string {
  const distinct = [...new Set(outcome.conflicts.map((c) => c.reason))];
  if (distinct.length === 0) return outcome.reason;
  const more = distinct.length > 3 ? `; and ${distinct.length - 3} more` : '';
  return `${outcome.reason}: ${distinct.slice(0, 3).join('; ')}${more}`;
}

/** Releases a hold and records it. */
export async function releaseHold(
  deps: { leases: Pick<LeaseStore, 'release'>; audit: AuditSink },
  owner: string,
  leases: readonly Lease[],
  actor: string,
  reason: string,
  now: number,
  /** The instances the holder's action left unavailable: they keep counting (say so; no default). */
  stillUnavailable: ReadonlySet<string>,
): Promise<void> {
  await deps.leases.release(owner, leases, stillUnavailable);
  await deps.audit.audit([
    {
      subject: `owner:${owner}`,
      actor,
      action: 'hold.released',
      reason:
        stillUnavailable.size > 0
          ? `${reason}; ${stillUnavailable.size} still unavailable keep counting`
          : reason,
      at: new Date(now).toISOString(),
    },
  ]);
}

/**
 * Decides whether a mutating action may run under the freezes in force, and records a block or
 * an emergency override (with its reason) in the audit trail.
 */
export async function checkFreeze(
  deps: { freezes: { listFreezes(): Promise<Freeze[]> }; audit: AuditSink },
  request: { subject: string; services: readonly string[]; emergencyReason?: string },
  actor: string,
  now: number,
): Promise<FreezeDecision> {
  const decision = freezeDecision(await deps.freezes.listFreezes(), now, request);
  const involved = decision.allowed ? decision.overridden : decision.frozenBy;
  if (involved.length > 0) {
    await deps.audit.audit([
      {
        subject: request.subject,
        actor,
        action: decision.allowed ? 'freeze.overridden' : 'freeze.blocked',
        reason: decision.reason,
        at: new Date(now).toISOString(),
        details: { freezes: involved.map((f) => f.id), services: [...request.services] },
      },
    ]);
  }
  return decision;
}
