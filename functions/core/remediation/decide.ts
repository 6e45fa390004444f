/**
 * Decide, the first step of a remediation: what to do about the case's finding now, recorded with
 * its reason whatever it is (doing nothing included).
 */
import { BREAKER_HOLD_MINUTES, BREAKER_RECHECK_MINUTES } from '../defaults';
import { SCHEDULED_FINDING_KINDS } from '../events/findings';
import { isInService } from '../fleet/fleet';
import { quietWindowOf } from '../fleet/services';
import type { CaseView } from '../ports/case-store';
import type { RemediationPorts } from '../ports/remediation';
import type { RemediationState } from '../ports/remediation-executions';
import { checkFreeze } from '../safety/hold';
import { breakerFromCounts } from './breaker';
import { inFlightCaps } from './caps';
import { closeFindings, iso, load, page } from './case';
import { ACTIVE_CASE_STATUSES, type CaseStatusWord } from './case-status';
import { contextKeys, hostAgeDays, instanceFamily } from './context';
import { nextStep } from './ladder';
import { LADDER_KINDS, lastRemediationOf, relapseOf, revisedOutcome } from './relapse';
import type { ScopeCount } from './scope-health';
import { timingFor } from './timing';
import { restoreForCase, stopStartGuard } from './traffic';
import { type Decision, type DecisionAction, LADDER, type LadderStep, type RecordedRelapse } from './types';

/** A breaker pages a person at most this often per scope. */
const PAGE_COOLDOWN_MS = 60 * 60_000;

/** How often a case held by an open breaker looks again, and for how long at most (then it ends `skipped`). */
function holdOf(ports: RemediationPorts): { recheckMinutes: number; holdMinutes: number } {
  const recheckMinutes = ports.breaker?.recheckMinutes ?? BREAKER_RECHECK_MINUTES;
  const holdMinutes = ports.breaker?.holdMinutes ?? BREAKER_HOLD_MINUTES;
  if (!(recheckMinutes > 0 && Number.isFinite(recheckMinutes))) {
    throw new Error(`expected the breaker's recheckMinutes > 0, found ${recheckMinutes}`);
  }
  if (!(holdMinutes >= 0 && Number.isFinite(holdMinutes))) {
    throw new Error(`expected the breaker's holdMinutes ≥ 0, found ${holdMinutes}`);
  }
  return { recheckMinutes, holdMinutes };
}

/** How many times in a row the breaker has held this case (its last decisions, all `defer`). */
function heldChecks(c: CaseView): number {
  let n = 0;
  for (let k = c.decisions.length - 1; k >= 0 && c.decisions[k].action === 'defer'; k--) n++;
  return n;
}

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
 *    (a status-check failure reads the instance's last remediation once per decision until the
 *    case acts — relapse.ts: within the window it is a relapse, recorded on every decision)
 * 3. an open breaker (zone, service or account, from its stored counts: a handful of items) →
 *    no action: the case is held (`defer`) and decides again in 10 minutes, for 6 hours at most
 *    (then `skipped`); the first case of the storm pages; a held case whose instance is back in
 *    service ends recovered (EC2 is asked only once the sweep no longer sees it impaired). A
 *    decision that finds every scope healthy closes the breakers a storm opened, so the next
 *    storm pages again;
 * 4. a relapse that reaches the flap limit → page (it keeps coming back, up or down now); a
 *    status-check finding whose instance is healthy again (EC2, now) → record-only (recovered);
 * 5. a freeze over the instance's service → page (a person decides; the block is recorded);
 * 6. otherwise the step: fixed for scheduled events (stop-start moves the instance off the
 *    retiring host; a reboot completes a scheduled reboot), the learning ladder for failures
 *    (Thompson sampling over recorded outcomes, with the instance's family, host age and what
 *    recovered it before; after a relapse, the steps its last case tried count as tried; page
 *    when every step was tried). Stop-start is
 *    skipped, with its reason, for an instance-store-backed or one-time Spot instance (the
 *    ladder goes on without it; a fixed stop-start becomes a replace, or a page outside a group).
 * A case that ends in a later round brings its instance back into traffic first.
 */
export async function decideRemediation(
  ports: RemediationPorts,
  state: RemediationState,
): Promise<{ action: DecisionAction; reason: string; at?: string }> {
  const c = await load(ports, state.caseId);
  const replay = decidedThisRound(c);
  if (replay) return { action: replay.action, reason: replay.reason };
  const { finding } = c;
  const now = ports.now();
  // The target alone, and later its scopes' counts: a decision reads a handful of items, not the fleet.
  const [target] = await ports.fleet.getInstances([finding.instanceId]);
  let counts: ScopeCount[] | undefined;
  // A status-check failure: the ladder's to repair, and the instance's ladder goes on across cases.
  const failure = LADDER_KINDS.has(finding.kind);
  /** The relapse this case is, once read: every decision until the case acts records it. */
  let recorded: RecordedRelapse | undefined;
  // Every other write (finding closed, page, audit) comes before the decision, which is the last:
  // a Decide retried after a crash repeats those (a closed finding stays closed; an audit record
  // or a page may repeat, never go missing) and, once the decision is there, only answers it.
  const decide = async (
    action: DecisionAction,
    reason: string,
    status: CaseStatusWord,
    {
      tried = c.tried,
      until = now,
      context,
      relapse = recorded,
    }: {
      tried?: readonly LadderStep[];
      /** When to decide again (a held case), else now. */
      until?: number;
      /** What the ladder chose from (recorded, so the outcome is counted under the same context). */
      context?: Decision['context'];
      /** The relapse this case is (the instance's ladder left by its last case). */
      relapse?: RecordedRelapse;
    } = {},
  ) => {
    const caps =
      target && (action === 'reboot' || action === 'stop-start' || action === 'replace')
        ? inFlightCaps(
            target,
            // The account's members at the last sweep (the breaker read them before any step).
            counts?.[0]?.members ?? 1,
            ports.breaker?.inFlight,
            ports.breaker?.maxInFlightPerScope,
          )
        : undefined;
    const decision: Decision = {
      instanceId: finding.instanceId,
      action,
      at: iso(until),
      reason,
      ...(caps ? { caps } : {}),
      ...(context && Object.keys(context).length > 0 ? { context } : {}),
      ...(relapse ? { relapse } : {}),
    };
    // A case that ends here (paged, recorded, skipped) brings back what an earlier round kept out of traffic.
    if (status !== 'acting' && status !== 'open' && c.tried.length > 0) await restoreForCase(ports, c);
    await ports.fleet.audit([
      {
        subject: `instance:${finding.instanceId}`,
        actor: ports.actor,
        action: `remediation.${action}`,
        reason,
        at: iso(now),
      },
    ]);
    // A status-check case that ends here leaves the instance's ladder for a relapse (relapse.ts);
    // not one the breaker held and that never acted: a zone's or service's event, not the instance's.
    const stormOnly = c.tried.length === 0 && heldChecks(c) > 0;
    if (failure && status !== 'recorded' && !ACTIVE_CASE_STATUSES.has(status) && !stormOnly) {
      await ports.cases.rememberRemediation(
        lastRemediationOf({ ...c, decisions: [...c.decisions, decision] }, { status, endedAt: now }),
      );
    }
    await ports.cases.decide(c.id, decision, { status, tried }, now);
    return action === 'defer' ? { action, reason, at: decision.at } : { action, reason };
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

  // A case the breaker holds looks again whether its instance is back, before the breaker: its
  // finding then stops counting against the scope. The inventory answers when it can: a sweep
  // still seeing the instance impaired or down, or a record a sweep wrote since the case opened (it
  // saw the instance change) running with its checks passing. EC2 is asked only when neither (an
  // instance healthy in a record older than its failure): a storm of thousands of held cases
  // looking again every 10 minutes, each asking EC2, would outrun EC2's request rate.
  const inServiceNow = async () => isInService((await ports.ec2.conditions([target.id])).get(target.id));
  const recoveredOnItsOwn = async (reason: string) => {
    await closeFindings(ports, c, 'recovered on its own', now);
    return decide('record-only', reason, 'recovered');
  };
  const held = heldChecks(c);
  const checked =
    failure && c.tried.length === 0 && held > 0 && target.state === 'running' && target.health !== 'impaired';
  if (checked) {
    const written = isInService(target) ? await ports.fleet.recordWrittenAt(target.id) : undefined;
    if (written !== undefined && written >= c.createdAt)
      return recoveredOnItsOwn(
        `recovered on its own while the breaker held it (the inventory sweep of ${iso(written)} saw it running, its checks passing)`,
      );
    if (await inServiceNow()) return recoveredOnItsOwn('recovered on its own while the breaker held it');
  }

  // Remediations in flight are capped per scope where they are taken, with the lease (caps.ts).
  counts = await ports.fleet.scopeHealth(target);
  const breaker = breakerFromCounts(counts, ports.breaker);
  if (breaker.open) {
    const claimed = await ports.cases.claimPage(breaker.scope, breaker.reason, now, PAGE_COOLDOWN_MS);
    if (claimed) {
      await ports.notify.publish(
        `FleetOps breaker open: ${breaker.scope}`,
        `${breaker.reason}. All automatic remediation in ${breaker.scope} has stopped; first case: ${c.id}. Held cases resume by themselves when the scope recovers.`,
      );
    }
    const paged = claimed ? 'paged' : 'already paged';
    const { recheckMinutes, holdMinutes } = holdOf(ports);
    if ((held + 1) * recheckMinutes <= holdMinutes) {
      // Held, not ended: the execution waits and decides again, so the case resumes when the breaker closes.
      return decide(
        'defer',
        `breaker open (${breaker.scope}): ${breaker.reason}; ${paged}; held, looking again in ${recheckMinutes} min`,
        'open',
        { until: now + recheckMinutes * 60_000 },
      );
    }
    return decide(
      'record-only',
      `breaker open (${breaker.scope}): ${breaker.reason}; ${paged}; held ${held * recheckMinutes} min (at most ${holdMinutes}): left to the person paged`,
      'skipped',
    );
  }
  // Every scope is healthy: a breaker a storm opened is closed, so the next storm pages again.
  await ports.cases.closeBreakers(
    counts.map((s) => s.scope),
    now,
  );

  // The instance's last problem come back? Read once per decision until the case acts (one item),
  // once the breaker is closed (a zone's event is not the instance's own relapse): the ladder then
  // continues after what the last case tried, and an instance that keeps coming back flaps (a
  // person decides). Every decision from here records it, so however the case ends, the
  // instance's record keeps the run of relapses going.
  const relapse =
    failure && c.tried.length === 0
      ? relapseOf(await ports.cases.lastRemediation(target.id), now, ports.relapse)
      : undefined;
  if (relapse?.relapse) {
    recorded = { of: relapse.of, count: relapse.count, inherited: relapse.inherited };
    // The step that "recovered" the last case did not hold: its counted success becomes a failure (once).
    const revise = revisedOutcome(relapse.last);
    if (revise) await ports.cases.reviseOutcome(relapse.last, c.id, revise.keys);
  }
  const inherited = recorded?.inherited ?? [];
  if (relapse?.relapse && relapse.flapping) {
    // Up or down now, it keeps coming back: another automatic round would only hide it.
    await page(ports, c, `${relapse.reason}; a person decides`);
    return decide('page', `escalated to a person: ${relapse.reason}`, 'paged');
  }
  if (failure && c.tried.length === 0 && !checked && (await inServiceNow())) {
    return recoveredOnItsOwn('recovered on its own before any action');
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

  let step: LadderStep | 'page';
  let why: string;
  let context: Decision['context'];
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
    // What the instance tells: its type's family and its host's age (a stop-start moves it to a new one).
    const family = instanceFamily(target.instanceType);
    const age = hostAgeDays(target.launchedAt, now);
    // What recovered the instance in its last case (read before the case's first step; the later
    // rounds of a case keep the hint its first decision recorded).
    const helpedBefore =
      relapse && !relapse.relapse
        ? relapse.helpedBefore
        : c.decisions.find((d) => d.context?.helpedBefore)?.context?.helpedBefore;
    context = {
      ...(family !== undefined ? { family } : {}),
      ...(age !== undefined ? { hostAgeDays: age } : {}),
      ...(helpedBefore !== undefined ? { helpedBefore } : {}),
    };
    // Only an Auto Scaling group brings a terminated instance back: outside one, replace is no step
    // to choose (nor to explore), and the ladder goes on without it.
    const grouped =
      c.tried.includes('replace') || (await ports.autoscaling.groupsOf([target.id])).has(target.id);
    const unavailable: LadderStep[] = [
      ...inherited,
      ...(guard ? (['stop-start'] as const) : []),
      ...(grouped ? [] : (['replace'] as const)),
    ];
    const next = nextStep({
      kind: finding.kind,
      tried: [...c.tried, ...new Set(unavailable.filter((s) => !c.tried.includes(s)))],
      stats: await ports.cases.stats(
        LADDER.flatMap((s) => contextKeys({ kind: finding.kind, ...context }, s)),
      ),
      rng: ports.rng,
      context,
    });
    step = next.action;
    why = `${relapse?.relapse ? `${relapse.reason}; ` : ''}${next.reason}${skipped}${grouped ? '' : `; replace left out: ${target.id} is in no Auto Scaling group`}`;
  }
  if (step === 'replace' && !(await ports.autoscaling.groupsOf([target.id])).has(target.id)) {
    // Only an Auto Scaling group brings a terminated instance back.
    step = 'page';
    why = `${why}; but replace needs an Auto Scaling group and ${target.id} is in none`;
  }
  if (step === 'page') {
    // After a step, the case's reason is its verdict: the person reads what the last step left.
    const last = c.tried.length > 0 ? `; last: ${c.reason}` : '';
    const all = [...inherited.filter((s) => !c.tried.includes(s)), ...c.tried];
    await page(ports, c, `every step was tried (${all.join(', ') || 'none'}): ${why}${last}`);
    return decide('page', `escalated to a person: ${why}`, 'paged');
  }
  return decide(step, why, 'acting', {
    tried: [...inherited.filter((s) => !c.tried.includes(s)), ...c.tried, step],
    context,
  });
}
