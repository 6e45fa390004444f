import type { Finding } from '../findings';
import { type Instance, isInService } from '../fleet';
import { type AuditSink, checkFreeze, describeRefusal, holdInstances, releaseHold } from '../hold';
import type { AutoScalingPort, Ec2Port, Freeze, LeaseStore } from '../ports';
import { type BreakerThresholds, evaluateBreaker } from './breaker';
import { nextStep } from './ladder';
import { timingFor } from './timing';
import type { Decision, DecisionAction, LadderStep, OutcomeStats } from './types';

/**
 * The remediation of one finding, step by step: each function is one Task state of
 * state-machines/remediation.asl.json. The execution carries only the case id and counters;
 * the case (finding, decisions, steps tried) is in the table.
 */
export interface RemediationState {
  readonly caseId: string;
  readonly attempts: number;
  readonly polls: number;
}

interface CaseView {
  readonly id: string;
  readonly finding: Finding;
  readonly status: string;
  readonly tried: readonly LadderStep[];
  /** Every decision, in order; the case's reason is the last decision's, or the last verdict. */
  readonly decisions: readonly Decision[];
  readonly reason: string;
}

/** What Verify records about a step: also how a retried Decide or Verify knows it ran. */
const verdict = (step: string, recovered: boolean) =>
  `${step} ${recovered ? 'recovered the instance' : 'did not recover the instance'}`;

/**
 * The step this case decided and has not verified yet, if any: a Decide step Step Functions runs
 * again (its Lambda's response was lost) must answer the same, not escalate past a step that
 * was never tried.
 */
function undecidedRetry(c: CaseView): Decision | undefined {
  const last = c.decisions.at(-1);
  const step = c.tried.at(-1);
  if (!last || !step || c.status !== 'acting' || last.action !== step) return undefined;
  return c.reason === last.reason ? last : undefined;
}

export interface RemediationPorts {
  readonly cases: {
    get(id: string): Promise<CaseView | undefined>;
    decide(
      id: string,
      decision: Decision,
      patch: { status: CaseStatusWord; tried?: readonly LadderStep[] },
      now: number,
    ): Promise<void>;
    setStatus(id: string, status: CaseStatusWord, reason: string, now: number): Promise<void>;
    stats(): Promise<OutcomeStats>;
    recordOutcome(kind: Finding['kind'], step: LadderStep, recovered: boolean): Promise<void>;
    inFlight(): Promise<CaseView[]>;
    claimPage(scope: string, reason: string, now: number, cooldownMs: number): Promise<boolean>;
  };
  readonly leases: Pick<LeaseStore, 'acquire' | 'release' | 'recordAction' | 'heldBy'>;
  readonly fleet: AuditSink & {
    listInstances(): Promise<Instance[]>;
    listFreezes(): Promise<Freeze[]>;
    openFindings(): Promise<Array<Finding & { readonly createdAt: number }>>;
    closeFinding(
      finding: Pick<Finding, 'instanceId' | 'kind' | 'key'>,
      outcome: string,
      now: number,
    ): Promise<void>;
  };
  readonly ec2: Ec2Port;
  readonly autoscaling: AutoScalingPort;
  readonly notify: { publish(subject: string, message: string): Promise<void> };
  readonly now: () => number;
  readonly rng: () => number;
  readonly actor: string;
  /** The breaker's thresholds (deployment settings); the breaker's defaults otherwise. */
  readonly breaker?: BreakerThresholds;
}

export type CaseStatusWord =
  | 'open'
  | 'acting'
  | 'recovered'
  | 'paged'
  | 'skipped'
  | 'recorded'
  | 'drained'
  | 'failed';

/** A lease a remediation takes: long enough to act, wait and verify. */
const HOLD_MS = 45 * 60_000;
/** A breaker pages a person at most this often per scope. */
const PAGE_COOLDOWN_MS = 60 * 60_000;
/** The tag a drained instance carries, for load balancers and agents that watch it. */
export const DRAINING_TAG = 'fleetops:draining';

const iso = (ms: number) => new Date(ms).toISOString();
/** Running with both status checks `ok` (initializing checks have not proven anything yet). */
const healthy = isInService;

async function load(ports: RemediationPorts, caseId: string): Promise<CaseView> {
  const found = await ports.cases.get(caseId);
  if (!found) throw new Error(`no remediation case ${caseId}`);
  return found;
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
 *    (Thompson sampling over recorded outcomes; page when every step was tried).
 */
export async function decideRemediation(
  ports: RemediationPorts,
  state: RemediationState,
): Promise<{ action: DecisionAction; reason: string }> {
  const c = await load(ports, state.caseId);
  const replay = undecidedRetry(c);
  if (replay) return { action: replay.action, reason: replay.reason };
  const { finding } = c;
  const now = ports.now();
  const instances = await ports.fleet.listInstances();
  const target = instances.find((i) => i.id === finding.instanceId);
  const decide = async (action: DecisionAction, reason: string, status: CaseStatusWord, tried = c.tried) => {
    const decision: Decision = { instanceId: finding.instanceId, action, at: iso(now), reason };
    await ports.cases.decide(c.id, decision, { status, tried }, now);
    await ports.fleet.audit([
      {
        subject: `instance:${finding.instanceId}`,
        actor: ports.actor,
        action: `remediation.${action}`,
        reason,
        at: iso(now),
      },
    ]);
    return { action, reason };
  };

  if (!target || target.state === 'terminated') {
    await ports.fleet.closeFinding(finding, 'gone', now);
    return decide('record-only', 'the instance is gone (terminated or not in the inventory)', 'recorded');
  }
  const timing = timingFor(finding, now);
  if (timing.action === 'record-only') return decide('record-only', timing.reason, 'recorded');
  if (timing.action === 'drain') return decide('drain', timing.reason, 'acting');

  const failure =
    finding.kind === 'system-status-check-failed' || finding.kind === 'instance-status-check-failed';
  if (failure && c.tried.length === 0) {
    const condition = (await ports.ec2.conditions([target.id])).get(target.id);
    if (healthy(condition)) {
      await ports.fleet.closeFinding(finding, 'recovered on its own', now);
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
    inFlight: (await ports.cases.inFlight())
      .filter((x) => x.id !== c.id)
      .map((x) => ({ instanceId: x.finding.instanceId })),
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
  if (timing.action === 'reboot' || timing.action === 'stop-start' || timing.action === 'replace') {
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
      tried: c.tried,
      stats: await ports.cases.stats(),
      rng: ports.rng,
    });
    step = next.action;
    why = next.reason;
  }
  if (step === 'replace' && !(await ports.autoscaling.groupsOf([target.id])).has(target.id)) {
    // Only an Auto Scaling group brings a terminated instance back.
    step = 'page';
    why = `${why}; but replace needs an Auto Scaling group and ${target.id} is in none`;
  }
  if (step === 'page') {
    await page(ports, c, `every step was tried (${c.tried.join(', ') || 'none'}): ${why}`);
    return decide('page', `escalated to a person: ${why}`, 'paged');
  }
  return decide(step, why, 'acting', [...c.tried, step]);
}

async function page(ports: RemediationPorts, c: CaseView, why: string): Promise<void> {
  await ports.notify.publish(
    `FleetOps: ${c.finding.kind} on ${c.finding.instanceId} needs a person`,
    `${why}\ncase ${c.id}: ${c.finding.detail} (from ${c.finding.source})`,
  );
}

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
  const outcome = await holdInstances(
    { leases: ports.leases, audit: ports.fleet },
    {
      owner: c.id,
      instanceIds: [c.finding.instanceId],
      nonDisruptiveServices: new Set(),
      ttlMs: HOLD_MS,
      now: ports.now(),
    },
    ports.actor,
  );
  if (outcome.acquired)
    return { acquired: true, heldByOther: false, attempts: state.attempts + 1, reason: 'leased' };
  const holder = outcome.conflicts.find((x) => x.reason.startsWith('held by'));
  return {
    acquired: false,
    heldByOther: holder !== undefined,
    attempts: state.attempts + 1,
    reason: holder ? `waiting: ${holder.reason}` : `waiting for budget: ${describeRefusal(outcome)}`,
  };
}

/** Applies the decided step, at most once per case and step (recorded, fenced by the lease, first). */
export async function actRemediation(
  ports: RemediationPorts,
  state: RemediationState,
): Promise<{ acted: boolean; step: string }> {
  const c = await load(ports, state.caseId);
  const step = c.tried.at(-1);
  const id = c.finding.instanceId;
  const [lease] = await ports.leases.heldBy(c.id, [id], ports.now());
  if (!step || !lease) return { acted: false, step: step ?? 'none' };
  const recorded = await ports.leases.recordAction(
    lease,
    `${c.id}#${step}`,
    { action: step, case: c.id },
    ports.now(),
  );
  if (recorded !== 'recorded') return { acted: false, step };
  if (step === 'reboot') await ports.ec2.reboot([id]);
  else if (step === 'stop-start') await ports.ec2.stop([id]);
  else {
    const group = (await ports.autoscaling.groupsOf([id])).get(id);
    if (!group) throw new Error(`cannot replace ${id}: not in an Auto Scaling group`);
    await ports.autoscaling.terminateKeepingCapacity(id);
  }
  return { acted: true, step };
}

/** Drains a Spot instance about to be interrupted: tagged for load balancers and agents, recorded. */
export async function drainInstance(
  ports: RemediationPorts,
  state: RemediationState,
): Promise<{ drained: true }> {
  const c = await load(ports, state.caseId);
  await ports.ec2.setTags([c.finding.instanceId], { [DRAINING_TAG]: c.finding.deadline ?? iso(ports.now()) });
  await ports.cases.setStatus(c.id, 'drained', `tagged ${DRAINING_TAG}; ${c.finding.detail}`, ports.now());
  await ports.fleet.closeFinding(c.finding, 'drained', ports.now());
  return { drained: true };
}

/** Has the step finished? A stopped instance is started again (stop-start); replace: the group is whole. */
export async function remediationSettled(
  ports: RemediationPorts,
  state: RemediationState,
): Promise<{ done: boolean; polls: number }> {
  const c = await load(ports, state.caseId);
  const id = c.finding.instanceId;
  if (c.tried.at(-1) === 'replace') return { done: true, polls: state.polls + 1 };
  const condition = (await ports.ec2.conditions([id])).get(id);
  if (condition?.state === 'stopped') await ports.ec2.start([id]);
  return { done: condition?.state === 'running', polls: state.polls + 1 };
}

/**
 * After the step and a quiet period: recovered (running, status checks not failing) or not.
 * The outcome is added to the step's statistics for this failure kind (what the ladder learns
 * from) and the lease and budget are released (an instance still down keeps counting).
 */
export async function verifyRemediation(
  ports: RemediationPorts,
  state: RemediationState,
): Promise<{ recovered: boolean; reason: string }> {
  const c = await load(ports, state.caseId);
  const id = c.finding.instanceId;
  const step = c.tried.at(-1);
  // Run again after it ran (a lost response): the recorded verdict stands, counted once.
  const judged = step !== undefined && (c.status === 'recovered' || c.reason === verdict(step, false));
  let recovered: boolean;
  if (judged) {
    recovered = c.status === 'recovered';
  } else if (step === 'replace') {
    const group = (await ports.autoscaling.groupsOf([id])).get(id);
    recovered = group === undefined; // the instance left its group, which replaces it
  } else {
    recovered = healthy((await ports.ec2.conditions([id])).get(id));
  }
  const reason = step ? verdict(step, recovered) : 'no step to verify';
  if (!judged) {
    // The verdict first, then the statistics: a crash between the two loses one sample rather
    // than counting one twice.
    await ports.cases.setStatus(c.id, recovered ? 'recovered' : 'acting', reason, ports.now());
    if (step) await ports.cases.recordOutcome(c.finding.kind, step, recovered);
  }
  await releaseCase(ports, c, reason, !recovered && step !== 'replace');
  if (recovered) await ports.fleet.closeFinding(c.finding, `recovered by ${step}`, ports.now());
  return { recovered, reason };
}

/**
 * Releases the case's lease and budget, recorded; an instance still down keeps counting against
 * its budget (as observed) until inventory sync sees it again.
 */
async function releaseCase(ports: RemediationPorts, c: CaseView, reason: string, stillDown: boolean) {
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

/** Ends a case that could not continue (a step failed), recorded. */
export async function failRemediation(
  ports: RemediationPorts,
  state: RemediationState,
  reason: string,
): Promise<{ status: 'failed' }> {
  const c = await load(ports, state.caseId);
  await releaseCase(ports, c, reason, true);
  await ports.cases.setStatus(c.id, 'failed', reason, ports.now());
  await page(ports, c, `remediation failed: ${reason}`);
  return { status: 'failed' };
}
