/**
 * Freezes: which are in force, and whether they allow an action (or an emergency overrides them).
 */
import type { Freeze } from '../ports/index';

export type FreezeDecision =
  | { readonly allowed: true; readonly overridden: readonly Freeze[]; readonly reason: string }
  | { readonly allowed: false; readonly frozenBy: readonly Freeze[]; readonly reason: string };

/** Freezes in force at `now`: started, not yet over, not ended early. */
export function activeFreezes(freezes: readonly Freeze[], now: number): Freeze[] {
  return freezes.filter(
    (f) =>
      Date.parse(f.start) <= now &&
      now < Date.parse(f.end) &&
      (f.endedAt === undefined || now < Date.parse(f.endedAt)),
  );
}

/**
 * May a mutating action on these services run now?
 *
 * 1. Find the freezes in force that cover the account or one of the services.
 * 2. None: allowed.
 * 3. Some, and an emergency reason was given: allowed, and the override (with its reason) must
 *    be recorded by the caller.
 * 4. Otherwise: not allowed, naming the freezes.
 */
export function freezeDecision(
  freezes: readonly Freeze[],
  now: number,
  request: { readonly services: readonly string[]; readonly emergencyReason?: string },
): FreezeDecision {
  const scopes = new Set(['account', ...request.services.map((s) => `service:${s}`)]);
  const covering = activeFreezes(freezes, now).filter((f) => scopes.has(f.scope));
  if (covering.length === 0) return { allowed: true, overridden: [], reason: 'no freeze in force' };
  const names = covering.map((f) => `${f.id} (${f.scope}, until ${f.end}: ${f.reason})`).join('; ');
  const emergency = request.emergencyReason?.trim();
  if (emergency)
    return { allowed: true, overridden: covering, reason: `emergency override of ${names}: ${emergency}` };
  return { allowed: false, frozenBy: covering, reason: `frozen by ${names}` };
}
