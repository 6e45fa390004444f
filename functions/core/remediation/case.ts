/**
 * A remediation case as every step handles it: loaded from the table, its findings closed, a
 * person paged, its lease renewed or released. `HOLD_MS` is the lease a case takes; a case that
 * lost its lease stops acting (`LeaseLostError`).
 */
import type { CaseView } from '../ports/case-store';
import type { Lease } from '../ports/lease-store';
import type { RemediationPorts } from '../ports/remediation';
import { releaseHold } from '../safety/hold';

/**
 * A lease a remediation takes, renewed by every settle and verify step for as long again: it
 * outlives act → settle → quiet wait → verify however long the checks take to initialize.
 */
export const HOLD_MS = 45 * 60_000;

export const iso = (ms: number) => new Date(ms).toISOString();

/** The case no longer holds its instance (the lease expired or was taken over): it must stop acting. */
export class LeaseLostError extends Error {
  constructor(caseId: string, instanceId: string) {
    super(
      `case ${caseId} no longer holds the lease on ${instanceId} (expired or taken over): it stops acting`,
    );
    this.name = 'LeaseLost';
  }
}

/** The case, or an error when there is none (a step run for a case that does not exist). */
export async function load(ports: RemediationPorts, caseId: string): Promise<CaseView> {
  const found = await ports.cases.get(caseId);
  if (!found) throw new Error(`no remediation case ${caseId}`);
  return found;
}

/** Closes the case's finding and every finding that joined it, so none stays open after the case. */
export async function closeFindings(ports: RemediationPorts, c: CaseView, outcome: string, now: number) {
  const keys = new Set([c.finding.key, ...(c.sources ?? []).map((x) => x.key)]);
  for (const key of keys) await ports.fleet.closeFinding({ ...c.finding, key }, outcome, now);
}

/** Pages a person about the case, with why and where the finding came from. */
export async function page(ports: RemediationPorts, c: CaseView, why: string): Promise<void> {
  await ports.notify.publish(
    `FleetOps: ${c.finding.kind} on ${c.finding.instanceId} needs a person`,
    `${why}\ncase ${c.id}: ${c.finding.detail} (from ${c.finding.source})`,
  );
}

/** The recorded action that makes a step's call happen once per case: `<case>#<step>[:<part>]`. */
export const actionKey = (c: CaseView, step: string) => `${c.id}#${step}`;

/**
 * Renews the case's lease for another `HOLD_MS` (and its budget reservation with it); the lease
 * when renewed, undefined when the case no longer holds it.
 */
export async function renewLease(ports: RemediationPorts, c: CaseView): Promise<Lease | undefined> {
  const now = ports.now();
  const held = await ports.leases.heldBy(c.id, [c.finding.instanceId], now);
  if (held.length === 0) return undefined;
  const [renewed] = await ports.leases.renew(held, HOLD_MS, now);
  return renewed;
}

/**
 * Releases the case's lease and budget, recorded; an instance still down keeps counting against
 * its budget (as observed) until inventory sync sees it again.
 */
export async function releaseCase(ports: RemediationPorts, c: CaseView, reason: string, stillDown: boolean) {
  const id = c.finding.instanceId;
  const leases = await ports.leases.heldBy(c.id, [id], ports.now());
  if (leases.length === 0) return;
  await releaseHold(
    { leases: ports.leases, audit: ports.fleet },
    c.id,
    leases,
    ports.actor,
    reason,
    ports.now(),
    stillDown ? new Set([id]) : new Set(),
  );
}
