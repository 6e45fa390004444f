/**
 * Decide, the first step of a remediation: what to do about the case's finding now, recorded with
 * its reason whatever it is (doing nothing included).
 */
import { SCHEDULED_FINDING_KINDS } from '../events/findings';
import { isInService } from '../fleet/fleet';
import { quietWindowOf } from '../fleet/services';
import type { CaseView } from '../ports/case-store';
import type { RemediationPorts } from '../ports/remediation';
import type { RemediationState } from '../ports/remediation-executions';
import { checkFreeze } from '../safety/hold';
import { evaluateBreaker } from './breaker';
import { inFlightCaps } from './caps';
import { closeFindings, iso, load, page } from './case';
import type { CaseStatusWord } from './case-status';
import { nextStep } from './ladder';
import { timingFor } from './timing';
import { restoreForCase, stopStartGuard } from './traffic';
import type { Decision, DecisionAction, LadderStep } from './types';

/** A breaker pages a person at most this often per scope. */
const PAGE_COOLDOWN_MS = 60 * 60_000;

/**
 * The decision this round already recorded, if any: a Decide step Step Functions runs again (it
 * crashed after its last write, or its Lambda's response was lost) must answer the same, not
 * decide twice nor escalate past a step that was never tried. The decision is Decide's last
 * write and leaves the case's reason as its own; anything after it (a verdict, a failure, a
 * drain) changes the reason, and a new round starts only after a verdict.
 */
function decidedThisRound(c: CaseView): Decision | undefined {
  const last = c.decisions.at(-1);
  return last && c.status !== 'open' && c.reason === last.reason ? last : undefined;
}

/**
 * What to do now, recorded with its reason whatever it is:
 * 1. an instance that is gone, or a finding that only needs recording → record-only;
 * 2. a Spot interruption → drain (never repaired);
 * 3. a status-check finding whose instance is healthy again → record-only (recovered);
 * 4. a freeze over the instance's service → page (a person decides; the block is recorded);
 * 5. an open breaker (zone, service or account) → no action; the first case pages;
 * 6. otherwise the step: fixed for scheduled events (stop-start moves the instance off the
 *    retiring host; a reboot completes a scheduled reboot), the learning ladder for failures
 *    (Thompson sampling over recorded outcomes; page when every step was tried). Stop-start is
 *    skipped, with its reason, for an instance-store-backed or one-time Spot instance (the
 *    ladder goes on without it; a fixed stop-start becomes a replace, or a page outside a group).
 * A case that ends in a later round brings its instance back into traffic first.
 */
export async function decideRemediation(
  ports: RemediationPorts,
  state: RemediationState,
): Promise<{ action: DecisionAction; reason: string }> {
  const c = await load(ports, state.caseId);
  const replay = decidedThisRound(c);
  if (replay) return { action: replay.action, reason: replay.reason };
  const { finding } = c;
  const now = ports.now();
  const instances = await ports.fleet.listInstances();
  const target = instances.find((i) => i.id === finding.instanceId);
  // Every other write (finding closed, page, audit) comes before the decision, which is the last:
  // a Decide retried after a crash repeats those (a closed finding stays closed; an audit record
  // or a page may repeat, never go missing) and, once the decision is there, only answers it.
  const decide = async (action: DecisionAction, reason: string, status: CaseStatusWord, tried = c.tried) => {
    const caps =
      target && (action === 'reboot' || action === 'stop-start' || action === 'replace')
        ? inFlightCaps(target, instances.length, ports.breaker?.inFlight, ports.breaker?.maxInFlightPerScope)
        : undefined;
    const decision: Decision = {
      instanceId: finding.instanceId,
      action,
      at: iso(now),
      reason,
      ...(caps ? { caps } : {}),
    };
    // A case that ends here (paged, recorded, skipped) brings back what an earlier round kept out of traffic.
    if (status !== 'acting' && c.tried.length > 0) await restoreForCase(ports, c);
    await ports.fleet.audit([
      {
        subject: `instance:${finding.instanceId}`,
        actor: ports.actor,
        action: `remediation.${action}`,
        reason,
        at: iso(now),
      },
    ]);
    await ports.cases.decide(c.id, decision, { status, tried }, now);
    return { action, reason };
  };

  if (!target || target.state === 'terminated') {
    await closeFindings(ports, c, 'gone', now);
    return decide('record-only', 'the instance is gone (terminated or not in the inventory)', 'recorded');
  }
  const timing = timingFor(
    finding,
    now,
    SCHEDULED_FINDING_KINDS.has(finding.kind)
      ? quietWindowOf(await ports.fleet.getServices(), target.service)
      : undefined,
  );
  if (timing.action === 'record-only') return decide('record-only', timing.reason, 'recorded');
  if (timing.action === 'drain') return decide('drain', timing.reason, 'acting');

  const failure =
    finding.kind === 'system-status-check-failed' || finding.kind === 'instance-status-check-failed';
  if (failure && c.tried.length === 0) {
    const condition = (await ports.ec2.conditions([target.id])).get(target.id);
    if (isInService(condition)) {
      await closeFindings(ports, c, 'recovered on its own', now);
      return decide('record-only', 'recovered on its own before any action', 'recovered');
    }
  }

  const freeze = await checkFreeze(
    { freezes: ports.fleet, audit: ports.fleet },
    { subject: `remediation:${c.id}`, services: [target.service] },
    ports.actor,
    now,
  );
  if (!freeze.allowed) {
    await page(ports, c, `frozen: ${freeze.reason}; a person decides`);
    return decide('page', `frozen: ${freeze.reason}`, 'paged');
  }

  const breaker = evaluateBreaker({
    target,
    instances,
    recentFindings: (await ports.fleet.openFindings()).map((f) => ({
      instanceId: f.instanceId,
      at: f.createdAt,
    })),
    // Remediations in flight are capped per scope where they are taken, with the lease (caps.ts).
    inFlight: [],
    now,
    thresholds: ports.breaker,
  });
  if (breaker.open) {
    const claimed = await ports.cases.claimPage(breaker.scope, breaker.reason, now, PAGE_COOLDOWN_MS);
    if (claimed) {
      await ports.notify.publish(
        `FleetOps breaker open: ${breaker.scope}`,
        `${breaker.reason}. All automatic remediation in ${breaker.scope} has stopped; first case: ${c.id}.`,
      );
      return decide('page', `breaker open (${breaker.scope}): ${breaker.reason}; paged`, 'paged');
    }
    return decide(
      'record-only',
      `breaker open (${breaker.scope}): ${breaker.reason}; already paged`,
      'skipped',
    );
  }

  let step: LadderStep | 'page';
  let why: string;
  // Stop-start would harm some instances: the ladder skips it, with the reason recorded.
  const guard =
    !c.tried.includes('stop-start') && (timing.action === 'stop-start' || timing.action === 'ladder')
      ? stopStartGuard(target, (await ports.ec2.conditions([target.id])).get(target.id))
      : undefined;
  const skipped = guard ? `; stop-start skipped: ${guard}` : '';
  if (timing.action === 'stop-start' && guard) {
    // The fixed step cannot be taken: the next one that can (replace needs a group, checked below).
    step = 'replace';
    why = `${timing.reason}${skipped}; replace instead`;
  } else if (timing.action === 'reboot' || timing.action === 'stop-start' || timing.action === 'replace') {
    if (c.tried.includes(timing.action)) {
      step = 'page';
      why = `${timing.action} was tried and did not help`;
    } else {
      step = timing.action;
      why = timing.reason;
    }
  } else {
    const next = nextStep({
      kind: finding.kind,
      tried: guard ? [...c.tried, 'stop-start'] : c.tried,
      stats: await ports.cases.stats(),
      rng: ports.rng,
    });
    step = next.action;
    why = `${next.reason}${skipped}`;
  }
  if (step === 'replace' && !(await ports.autoscaling.groupsOf([target.id])).has(target.id)) {
    // Only an Auto Scaling group brings a terminated instance back.
    step = 'page';
    why = `${why}; but replace needs an Auto Scaling group and ${target.id} is in none`;
  }
  if (step === 'page') {
    // After a step, the case's reason is its verdict: the person reads what the last step left.
    const last = c.tried.length > 0 ? `; last: ${c.reason}` : '';
    await page(ports, c, `every step was tried (${c.tried.join(', ') || 'none'}): ${why}${last}`);
    return decide('page', `escalated to a person: ${why}`, 'paged');
  }
  return decide(step, why, 'acting', [...c.tried, step]);
}
