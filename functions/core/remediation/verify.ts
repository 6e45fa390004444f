/**
 * Settle and Verify: has the step finished (each poll renews the lease), and after a quiet
 * period, did it recover the instance? The verdict is recorded, counted in the ladder's
 * statistics once, and the case's lease and budget released.
 */

import { checksPending, type InstanceCondition, isInService } from '../fleet/fleet';
import type { RemediationPorts } from '../ports/remediation';
import type { RemediationState } from '../ports/remediation-executions';
import { actionKey, closeFindings, LeaseLostError, load, releaseCase, renewLease } from './case';
import { contextKeys } from './context';
import { LADDER_KINDS, lastRemediationOf } from './relapse';
import { inService, planOf, replacementOutcome, serving, terminateOnce } from './replace';
import { restoreForCase } from './traffic';

/**
 * Verifications that may find the status checks still initializing before the step is judged
 * not to have recovered the instance (the state machine waits a minute between them).
 */
export const MAX_PENDING_VERIFIES = 10;

/**
 * Polls (30 s apart) after which an instance whose checks report `impaired` after the action is
 * taken as finished (not recovered: Verify judges): right after a restart the checks may still
 * show the old result for a few minutes.
 */
export const IMPAIRED_POLLS = 10;

/** What Verify records about a step: also how a retried Decide or Verify knows it ran. */
const verdict = (step: string, recovered: boolean) =>
  `${step} ${recovered ? 'recovered the instance' : 'did not recover the instance'}`;

/** A status-check verdict: `ok` recovered, still initializing (or without data) pending, anything else not. */
const statusOf = (condition: InstanceCondition | undefined) =>
  isInService(condition) ? 'recovered' : checksPending(condition) ? 'pending' : 'not-recovered';

/**
 * Has the step finished? Each poll first renews the lease (a case that lost it stops acting):
 * 1. reboot: done once it is proven to have restarted (console output posted after the recorded
 *    request: RebootInstances only queues one, and the instance never stops `running`) and both
 *    checks are `ok` (or still `impaired` after `IMPAIRED_POLLS`: finished, Verify judges);
 *    stop-start: once seen stopped it is started (recorded first, once per case), then done when
 *    it runs with both checks `ok` (or `impaired`, as for a reboot);
 * 2. replace, launch first: once a member that was not in the group is in service (healthy, both
 *    checks `ok`, and `healthy` in every target group the group attaches), the instance is
 *    terminated decrementing capacity (once per case; its group deregisters it from those target
 *    groups and waits for draining before terminating it); done when it no longer serves;
 * 3. replace, terminate first: done when the instance has left and the group is whole again.
 */
export async function remediationSettled(
  ports: RemediationPorts,
  state: RemediationState,
): Promise<{ done: boolean; polls: number }> {
  const c = await load(ports, state.caseId);
  const id = c.finding.instanceId;
  const polls = state.polls + 1;
  const lease = await renewLease(ports, c);
  if (!lease) throw new LeaseLostError(c.id, id);
  if (c.tried.at(-1) === 'replace') {
    const plan = planOf(c);
    if (plan?.mode !== 'launch-first')
      return { done: (await replacementOutcome(ports, c)).seen !== 'not-recovered', polls };
    const group = await ports.autoscaling.describeGroup(plan.group);
    if (!serving(group, id)) return { done: true, polls };
    const fresh = await inService(ports, group!, (m) => m !== id && !plan.before.includes(m));
    if ((await servingInTargetGroups(ports, group!.targetGroupArns ?? [], fresh.ok)).length === 0)
      return { done: false, polls };
    await terminateOnce(ports, c, lease, plan.group, 'decrement');
    return { done: true, polls };
  }
  const condition = (await ports.ec2.conditions([id])).get(id);
  const finished = () =>
    isInService(condition) || (condition?.health === 'impaired' && polls >= IMPAIRED_POLLS);
  if (c.tried.at(-1) === 'reboot') {
    // RebootInstances only queues a request and the instance never leaves `running`: console
    // output posted after the recorded request is the proof that it restarted.
    const [requested] = await ports.leases.actionsOf(actionKey(c, 'reboot'));
    const posted = (await ports.ec2.consoleOutputAt([id])).get(id);
    const restarted = requested !== undefined && posted !== undefined && posted > requested.at;
    return { done: restarted && finished(), polls };
  }
  // Stop-start: seen stopped (and started, recorded once), then running with both checks ok.
  if (condition?.state === 'stopped') {
    const recorded = await ports.leases.recordAction(
      lease,
      actionKey(c, 'stop-start:start'),
      { action: 'stop-start', case: c.id },
      ports.now(),
    );
    if (recorded === 'fenced') throw new LeaseLostError(c.id, id);
    await ports.ec2.start([id]);
    return { done: false, polls };
  }
  const started = (await ports.leases.actionsOf(actionKey(c, 'stop-start:start'))).length > 0;
  return { done: started && condition?.state === 'running' && finished(), polls };
}

/**
 * Of these new members, those `healthy` in every target group their group attaches (all of them
 * when it attaches none): a replacement takes traffic before the instance it replaces goes.
 */
async function servingInTargetGroups(
  ports: RemediationPorts,
  targetGroupArns: readonly string[],
  ids: readonly string[],
): Promise<string[]> {
  if (targetGroupArns.length === 0 || ids.length === 0) return [...ids];
  const health = await ports.traffic.targetHealth(new Map(targetGroupArns.map((arn) => [arn, ids])));
  return ids.filter((m) =>
    targetGroupArns.every((arn) =>
      (health.get(m) ?? []).some((t) => t.targetGroupArn === arn && t.state === 'healthy'),
    ),
  );
}

/**
 * After the step and a quiet period, is the instance recovered? Healthy means running with both
 * status checks `ok` (for replace: the instance gone and its group whole with such members).
 * 1. checks still initializing (or without data) prove nothing yet: the case's lease is renewed,
 *    the wait recorded as the case's reason, and the answer is `pending` — the state machine
 *    waits and verifies again, at most `MAX_PENDING_VERIFIES` times, after which (or once the
 *    lease is lost) the step did not recover the instance;
 * 2. a recovered status-check case leaves the instance's ladder for a relapse (relapse.ts), the
 *    verdict is recorded, then added to the step's statistics for this failure kind (what
 *    the ladder learns from), then the lease and budget are released (an instance still down
 *    keeps counting) and a recovered instance's finding is closed.
 * Run again after it judged (a crash, a lost response), the recorded verdict stands and is not
 * counted again; a crash between the verdict and the statistics loses that one sample rather
 * than ever counting one twice.
 */
export async function verifyRemediation(
  ports: RemediationPorts,
  state: RemediationState,
): Promise<{ recovered: boolean; pending: boolean; checks: number; reason: string }> {
  const c = await load(ports, state.caseId);
  const id = c.finding.instanceId;
  const step = c.tried.at(-1);
  const checks = state.checks ?? 0;
  const judged =
    step !== undefined && (c.status === 'recovered' || c.reason.startsWith(verdict(step, false)));
  let recovered: boolean;
  let reason: string;
  if (judged) {
    recovered = c.status === 'recovered';
    reason = c.reason;
  } else {
    const observed =
      step === 'replace'
        ? await replacementOutcome(ports, c)
        : { seen: statusOf((await ports.ec2.conditions([id])).get(id)), why: '' };
    const { seen } = observed;
    let why = observed.why;
    if (seen === 'pending') {
      const waited = checks + 1;
      if (waited < MAX_PENDING_VERIFIES && (await renewLease(ports, c))) {
        const waiting = `${step}: status checks still initializing (verification ${waited} of ${MAX_PENDING_VERIFIES}); verifying again`;
        await ports.cases.setStatus(c.id, 'acting', waiting, ports.now());
        return { recovered: false, pending: true, checks: waited, reason: waiting };
      }
      why =
        waited < MAX_PENDING_VERIFIES
          ? ' (its status checks were still initializing when the case lost its lease)'
          : ` (its status checks were still initializing after ${MAX_PENDING_VERIFIES} verifications)`;
    }
    recovered = seen === 'recovered';
    reason = step ? `${verdict(step, recovered)}${why}` : 'no step to verify';
    // Before the verdict ends the case: a relapse finds the instance's ladder where this case left it.
    if (recovered && LADDER_KINDS.has(c.finding.kind)) {
      await ports.cases.rememberRemediation(
        lastRemediationOf(c, {
          status: 'recovered',
          endedAt: ports.now(),
          ...(step ? { recoveredBy: step } : {}),
        }),
      );
    }
    await ports.cases.setStatus(c.id, recovered ? 'recovered' : 'acting', reason, ports.now());
    if (step) {
      // Counted under the kind and under the context the step was chosen from (one write).
      const chosen = [...c.decisions].reverse().find((d) => d.action === step)?.context;
      await ports.cases.recordOutcome(
        c.finding.kind,
        step,
        recovered,
        chosen ? contextKeys({ kind: c.finding.kind, ...chosen }, step) : undefined,
      );
    }
  }
  // Recovered ends the case: anything still out of traffic goes back (normally back in service already).
  if (recovered) await restoreForCase(ports, c);
  await releaseCase(ports, c, reason, !recovered && step !== 'replace');
  if (recovered) await closeFindings(ports, c, `recovered by ${step}`, ports.now());
  return { recovered, pending: false, checks, reason };
}
