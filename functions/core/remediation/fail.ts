/**
 * Fail: the end of a case that could not continue (a step's error the state machine caught, or a
 * budget never freed): the reason from the error, the hold released, a person paged.
 */
import type { RemediationPorts } from '../ports/remediation';
import type { RemediationState } from '../ports/remediation-executions';
import { load, page, releaseCase } from './case';
import { LADDER_KINDS, lastRemediationOf } from './relapse';
import { restoreForCase } from './traffic';

/**
 * The reason a failed case records, from the error the state machine caught: its name and
 * message (Lambda's Cause is a JSON document with `errorMessage`; a Pass state's is plain text).
 */
export function failureReason(error: { readonly Error: string; readonly Cause?: string }): string {
  let message = error.Cause ?? '';
  try {
    const parsed = JSON.parse(message) as { errorMessage?: unknown };
    if (typeof parsed?.errorMessage === 'string') message = parsed.errorMessage;
  } catch {
    // Not JSON: the cause as it is.
  }
  const text = message.length > 300 ? `${message.slice(0, 299)}…` : message;
  return error.Error === 'BudgetNeverFreed'
    ? text
    : `a step failed (${error.Error}${text ? `: ${text}` : ''})`;
}

/**
 * Ends a case that could not continue, recorded:
 * 1. what it took out of traffic brought back (or recorded as stuck, for the sweep), then its
 *    lease and budget released (the instance keeps counting: it may be down);
 * 2. a status-check case leaves the instance's ladder (relapse.ts); a person paged with the reason;
 * 3. the case recorded `failed` — last, so a retried step finds it and stops there, and a crash
 *    before it pages again rather than not at all.
 */
export async function failRemediation(
  ports: RemediationPorts,
  state: RemediationState,
  reason: string,
): Promise<{ status: 'failed' }> {
  const c = await load(ports, state.caseId);
  if (c.status === 'failed') return { status: 'failed' };
  const traffic = await restoreForCase(ports, c);
  await releaseCase(ports, c, reason, true);
  if (LADDER_KINDS.has(c.finding.kind)) {
    await ports.cases.rememberRemediation(lastRemediationOf(c, { status: 'failed', endedAt: ports.now() }));
  }
  await page(ports, c, `remediation failed: ${reason}${traffic ? `; ${traffic}` : ''}`);
  await ports.cases.setStatus(c.id, 'failed', reason, ports.now());
  return { status: 'failed' };
}
