/**
 * Hold and Act: the case leases its instance (and reserves its service's budget), then applies
 * the decided step once per case and step, fenced by the lease.
 */
import type { RemediationPorts } from '../ports/remediation';
import type { RemediationState } from '../ports/remediation-executions';
import { describeRefusal, holdInstances } from '../safety/hold';
import { CAP_REACHED } from '../safety/ledger';
import { actionKey, HOLD_MS, load } from './case';
import { startReplacement } from './replace';

/**
 * Leases the instance and reserves its service's budget. Held by a change (or another case), or
 * no budget: not touched now; the state machine waits and tries again (the refusal, with who
 * holds the instance or which budget is spent, is in the audit trail), then pages a person. An
 * impaired instance a change holds is the change's to judge; once its wave lets go, the case
 * acts on it: dropping the case would leave the instance broken with its finding still open.
 */
export async function holdForRemediation(
  ports: RemediationPorts,
  state: RemediationState,
): Promise<{ acquired: boolean; heldByOther: boolean; attempts: number; reason: string }> {
  const c = await load(ports, state.caseId);
  // The caps its decision recorded: a case never has more company in its scopes than they allow.
  const caps = c.decisions.at(-1)?.caps;
  const outcome = await holdInstances(
    { leases: ports.leases, audit: ports.fleet },
    {
      owner: c.id,
      instanceIds: [c.finding.instanceId],
      nonDisruptiveServices: new Set(),
      ttlMs: HOLD_MS,
      now: ports.now(),
      ...(caps && caps.length > 0 ? { caps } : {}),
    },
    ports.actor,
  );
  if (outcome.acquired)
    return { acquired: true, heldByOther: false, attempts: state.attempts + 1, reason: 'leased' };
  const holder = outcome.conflicts.find((x) => x.reason.startsWith('held by'));
  if (outcome.reason === CAP_REACHED && state.attempts === 0) {
    // As many cases at work in a scope as its cap allows: a person hears of it once per scope and hour.
    const scope = outcome.conflicts[0].id;
    const why = describeRefusal(outcome);
    if (await ports.cases.claimPage(scope, why, ports.now(), 60 * 60_000))
      await ports.notify.publish(
        `FleetOps remediation at its in-flight cap: ${scope.slice('in-flight:'.length)}`,
        `${why}. Further cases there wait for a slot (first waiting: ${c.id}).`,
      );
  }
  return {
    acquired: false,
    heldByOther: holder !== undefined,
    attempts: state.attempts + 1,
    reason: holder
      ? `waiting: ${holder.reason}`
      : outcome.reason === CAP_REACHED
        ? `waiting for a slot: ${describeRefusal(outcome)}`
        : `waiting for budget: ${describeRefusal(outcome)}`,
  };
}

/**
 * Applies the decided step once per case and step: the intent is recorded first, fenced by the
 * lease (a stale owner records nothing and does nothing), then the call is made. A reboot or
 * stop-start reaches here only out of traffic and drained (traffic.ts; the state machine's take-out
 * and draining states come first); the recorded intent's time is what the settle step proves a
 * reboot against.
 * 1. reboot: recorded, rebooted, then marked sent; a retry after a crash reboots again only when
 *    the mark is missing (a reboot leaves nothing to observe: two in a row are harmless, a lost
 *    one would teach the ladder a false failure);
 * 2. stop-start: recorded, stopped; a retry stops only an instance still running;
 * 3. replace: the plan (launch first where MaxSize leaves room, else terminate first) is recorded
 *    as a decision, then its first call: desired capacity raised to the plan's target (a retry
 *    raises only a group still below it, never twice), or the instance terminated keeping
 *    capacity (a retry terminates only an instance still in service).
 */
export async function actRemediation(
  ports: RemediationPorts,
  state: RemediationState,
): Promise<{ acted: boolean; step: string }> {
  const c = await load(ports, state.caseId);
  const step = c.tried.at(-1);
  const id = c.finding.instanceId;
  const [lease] = await ports.leases.heldBy(c.id, [id], ports.now());
  if (!step || !lease) return { acted: false, step: step ?? 'none' };
  if (step === 'replace') return { acted: await startReplacement(ports, c, lease), step };
  const recorded = await ports.leases.recordAction(
    lease,
    actionKey(c, step),
    { action: step, case: c.id },
    ports.now(),
  );
  if (recorded === 'fenced') return { acted: false, step };
  if (step === 'reboot') {
    if (recorded === 'duplicate' && (await ports.leases.actionsOf(actionKey(c, 'reboot:sent'))).length > 0)
      return { acted: false, step };
    await ports.ec2.reboot([id]);
    await ports.leases.recordAction(
      lease,
      actionKey(c, 'reboot:sent'),
      { action: step, case: c.id },
      ports.now(),
    );
    return { acted: true, step };
  }
  if (recorded === 'duplicate' && (await ports.ec2.conditions([id])).get(id)?.state !== 'running')
    return { acted: false, step };
  await ports.ec2.stop([id]);
  return { acted: true, step };
}
