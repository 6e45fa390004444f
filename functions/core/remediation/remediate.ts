import type { Finding } from '../events/findings';
import { checksPending, type Instance, isInService } from '../fleet/fleet';
import type {
  AutoScalingGroupState,
  AutoScalingPort,
  Ec2Port,
  Freeze,
  InstanceCondition,
  Lease,
  LeaseStore,
} from '../ports/index';
import { type AuditSink, checkFreeze, describeRefusal, holdInstances, releaseHold } from '../safety/hold';
import { type BreakerThresholds, evaluateBreaker } from './breaker';
import { nextStep } from './ladder';
import { timingFor } from './timing';
import type { Decision, DecisionAction, LadderStep, OutcomeStats, ReplacementPlan } from './types';

/**
 * The remediation of one finding, step by step: each function is one Task state of
 * state-machines/remediation.asl.json. The execution carries only the case id and counters;
 * the case (finding, decisions, steps tried) is in the table.
 */
export interface RemediationState {
  readonly caseId: string;
  readonly attempts: number;
  readonly polls: number;
  /** Verifications of this step that found the status checks still initializing (none: 0). */
  readonly checks?: number;
}

interface CaseView {
  readonly id: string;
  readonly finding: Finding;
  readonly status: string;
  readonly tried: readonly LadderStep[];
  /** Every decision, in order; the case's reason is the last decision's, or the last verdict. */
  readonly decisions: readonly Decision[];
  readonly reason: string;
  /** Every finding that reached the case (the first one, and those that joined it). */
  readonly sources?: ReadonlyArray<{ readonly key: string }>;
}

/** Closes the case's finding and every finding that joined it, so none stays open after the case. */
async function closeFindings(ports: RemediationPorts, c: CaseView, outcome: string, now: number) {
  const keys = new Set([c.finding.key, ...(c.sources ?? []).map((x) => x.key)]);
  for (const key of keys) await ports.fleet.closeFinding({ ...c.finding, key }, outcome, now);
}

/** What Verify records about a step: also how a retried Decide or Verify knows it ran. */
const verdict = (step: string, recovered: boolean) =>
  `${step} ${recovered ? 'recovered the instance' : 'did not recover the instance'}`;

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
  readonly leases: Pick<
    LeaseStore,
    'acquire' | 'renew' | 'release' | 'recordAction' | 'heldBy' | 'actionsOf'
  >;
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

/**
 * A lease a remediation takes, renewed by every settle and verify step for as long again: it
 * outlives act → settle → quiet wait → verify however long the checks take to initialize.
 */
export const HOLD_MS = 45 * 60_000;
/**
 * Verifications that may find the status checks still initializing before the step is judged
 * not to have recovered the instance (the state machine waits a minute between them).
 */
export const MAX_PENDING_VERIFIES = 10;
/** A breaker pages a person at most this often per scope. */
const PAGE_COOLDOWN_MS = 60 * 60_000;
/** The tag a drained instance carries, for load balancers and agents that watch it. */
export const DRAINING_TAG = 'fleetops:draining';

const iso = (ms: number) => new Date(ms).toISOString();

/** The case no longer holds its instance (the lease expired or was taken over): it must stop acting. */
export class LeaseLostError extends Error {
  constructor(caseId: string, instanceId: string) {
    super(
      `case ${caseId} no longer holds the lease on ${instanceId} (expired or taken over): it stops acting`,
    );
    this.name = 'LeaseLost';
  }
}

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
    const decision: Decision = { instanceId: finding.instanceId, action, at: iso(now), reason };
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
  const timing = timingFor(finding, now);
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
    // After a step, the case's reason is its verdict: the person reads what the last step left.
    const last = c.tried.length > 0 ? `; last: ${c.reason}` : '';
    await page(ports, c, `every step was tried (${c.tried.join(', ') || 'none'}): ${why}${last}`);
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

/** The recorded action that makes a step's call happen once per case: `<case>#<step>[:<part>]`. */
const actionKey = (c: CaseView, step: string) => `${c.id}#${step}`;

/**
 * Applies the decided step once per case and step: the intent is recorded first, fenced by the
 * lease (a stale owner records nothing and does nothing), then the call is made.
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

/** The replace plan this case recorded (a case tries replace at most once). */
const planOf = (c: CaseView): ReplacementPlan | undefined =>
  [...c.decisions].reverse().find((d) => d.replacement)?.replacement;

async function startReplacement(ports: RemediationPorts, c: CaseView, lease: Lease): Promise<boolean> {
  const id = c.finding.instanceId;
  const plan = planOf(c) ?? (await planReplacement(ports, c));
  if (plan.mode === 'terminate-first') return terminateOnce(ports, c, lease, plan.group, 'keep');
  const recorded = await ports.leases.recordAction(
    lease,
    actionKey(c, 'replace:scale-out'),
    { action: 'replace', case: c.id, group: plan.group, desired: plan.to },
    ports.now(),
  );
  if (recorded === 'fenced') return false;
  // Absolute, not +1: a retry after the raise finds the group at its target and leaves it.
  const group = await ports.autoscaling.describeGroup(plan.group);
  if (!group) throw new Error(`cannot replace ${id}: its Auto Scaling group ${plan.group} is gone`);
  if (group.desired >= plan.to) return false;
  await ports.autoscaling.setDesiredCapacity(plan.group, plan.to);
  return true;
}

/**
 * Reads the group once and records how the replace goes, with its reason: launch before
 * terminate where MaxSize leaves room for one more, else terminate first within the budget.
 */
async function planReplacement(ports: RemediationPorts, c: CaseView): Promise<ReplacementPlan> {
  const id = c.finding.instanceId;
  const name = (await ports.autoscaling.groupsOf([id])).get(id);
  if (!name) throw new Error(`cannot replace ${id}: not in an Auto Scaling group`);
  const group = await ports.autoscaling.describeGroup(name);
  if (!group) throw new Error(`cannot replace ${id}: its Auto Scaling group ${name} is gone`);
  const plan: ReplacementPlan =
    group.desired + 1 <= group.max
      ? {
          mode: 'launch-first',
          group: name,
          from: group.desired,
          to: group.desired + 1,
          max: group.max,
          before: group.members.map((m) => m.id),
        }
      : { mode: 'terminate-first', group: name, desired: group.desired, max: group.max };
  const reason =
    plan.mode === 'launch-first'
      ? `replace, launch before terminate: ${name} desired capacity ${plan.from} → ${plan.to} (max ${plan.max}); ${id} is terminated once a new member is in service`
      : `replace, terminate first: ${name} is at its maximum size (${plan.max}), so ${id} is terminated keeping capacity and the group launches its replacement; it is down meanwhile, within the budget its lease reserved`;
  const now = ports.now();
  await ports.fleet.audit([
    {
      subject: `instance:${id}`,
      actor: ports.actor,
      action: 'remediation.replace-plan',
      reason,
      at: iso(now),
    },
  ]);
  await ports.cases.decide(
    c.id,
    { instanceId: id, action: 'replace', at: iso(now), reason, replacement: plan },
    { status: 'acting' },
    now,
  );
  return plan;
}

/** Still serving in the group: in service (or in Standby), not pending or terminating. */
const serving = (group: AutoScalingGroupState | undefined, id: string) =>
  group?.members.some((m) => m.id === id && (m.lifecycle === 'InService' || m.lifecycle === 'Standby')) ??
  false;

/** Terminates the instance once per case: recorded first; a retry terminates only an instance still serving. */
async function terminateOnce(
  ports: RemediationPorts,
  c: CaseView,
  lease: Lease,
  group: string,
  capacity: 'keep' | 'decrement',
): Promise<boolean> {
  const id = c.finding.instanceId;
  const recorded = await ports.leases.recordAction(
    lease,
    actionKey(c, 'replace:terminate'),
    { action: 'replace', case: c.id, group, capacity },
    ports.now(),
  );
  if (recorded === 'fenced') throw new LeaseLostError(c.id, id);
  if (recorded === 'duplicate' && !serving(await ports.autoscaling.describeGroup(group), id)) return false;
  if (capacity === 'keep') await ports.autoscaling.terminateKeepingCapacity(id);
  else await ports.autoscaling.terminateDecrementingCapacity(id);
  return true;
}

/**
 * Where a replace stands: `recovered` once the instance has left its group (terminating or gone)
 * and the group has as many members in service, healthy in Auto Scaling and with both EC2 status
 * checks `ok`, as it desires; `pending` while some of those are only missing passed checks;
 * `not-recovered` otherwise (e.g. the instance still serves: no new member came into service).
 */
async function replacementOutcome(
  ports: RemediationPorts,
  c: CaseView,
): Promise<{ seen: 'recovered' | 'pending' | 'not-recovered'; why: string }> {
  const id = c.finding.instanceId;
  const plan = planOf(c);
  if (!plan) {
    // A case that replaced before plans were recorded: the instance left its group, which refills.
    const left = !(await ports.autoscaling.groupsOf([id])).has(id);
    return { seen: left ? 'recovered' : 'not-recovered', why: '' };
  }
  const group = await ports.autoscaling.describeGroup(plan.group);
  if (!group) return { seen: 'not-recovered', why: ` (its Auto Scaling group ${plan.group} is gone)` };
  if (serving(group, id)) {
    const raised =
      plan.mode === 'launch-first' && group.desired >= plan.to
        ? `; ${plan.group} was left at desired capacity ${group.desired} for a person to decide`
        : '';
    return { seen: 'not-recovered', why: ` (no new member came into service, so ${id} was kept${raised})` };
  }
  const { ok, pending } = await inService(ports, group, (m) => m !== id);
  if (ok.length >= group.desired) return { seen: 'recovered', why: '' };
  if (ok.length + pending.length >= group.desired) return { seen: 'pending', why: '' };
  return {
    seen: 'not-recovered',
    why: ` (${plan.group} has ${ok.length} of ${group.desired} members in service with passed checks)`,
  };
}

/** A status-check verdict: `ok` recovered, still initializing (or without data) pending, anything else not. */
const statusOf = (condition: InstanceCondition | undefined) =>
  isInService(condition) ? 'recovered' : checksPending(condition) ? 'pending' : 'not-recovered';

/** Members in service and healthy in the group, split by their EC2 status checks: `ok`, or still initializing. */
async function inService(
  ports: RemediationPorts,
  group: AutoScalingGroupState,
  include: (id: string) => boolean,
): Promise<{ ok: string[]; pending: string[] }> {
  const ids = group.members
    .filter((m) => include(m.id) && m.lifecycle === 'InService' && m.healthy)
    .map((m) => m.id);
  const conditions = ids.length > 0 ? await ports.ec2.conditions(ids) : new Map();
  return {
    ok: ids.filter((m) => isInService(conditions.get(m))),
    pending: ids.filter((m) => checksPending(conditions.get(m))),
  };
}

/** Drains a Spot instance about to be interrupted: tagged for load balancers and agents, recorded. */
export async function drainInstance(
  ports: RemediationPorts,
  state: RemediationState,
): Promise<{ drained: true }> {
  const c = await load(ports, state.caseId);
  // Retried after the case was marked drained: only the finding may still be open.
  if (c.status !== 'drained') {
    await ports.ec2.setTags([c.finding.instanceId], {
      [DRAINING_TAG]: c.finding.deadline ?? iso(ports.now()),
    });
    await ports.cases.setStatus(c.id, 'drained', `tagged ${DRAINING_TAG}; ${c.finding.detail}`, ports.now());
  }
  await closeFindings(ports, c, 'drained', ports.now());
  return { drained: true };
}

/**
 * Renews the case's lease for another `HOLD_MS` (and its budget reservation with it); the lease
 * when renewed, undefined when the case no longer holds it.
 */
async function renewLease(ports: RemediationPorts, c: CaseView): Promise<Lease | undefined> {
  const now = ports.now();
  const held = await ports.leases.heldBy(c.id, [c.finding.instanceId], now);
  if (held.length === 0) return undefined;
  const [renewed] = await ports.leases.renew(held, HOLD_MS, now);
  return renewed;
}

/**
 * Has the step finished? Each poll first renews the lease (a case that lost it stops acting):
 * 1. reboot, stop-start: done once the instance runs; a stopped one is started again;
 * 2. replace, launch first: once a member that was not in the group is in service (healthy, both
 *    checks `ok`), the instance is terminated decrementing capacity (once per case); done when it
 *    no longer serves;
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
    if (fresh.ok.length === 0) return { done: false, polls };
    await terminateOnce(ports, c, lease, plan.group, 'decrement');
    return { done: true, polls };
  }
  const condition = (await ports.ec2.conditions([id])).get(id);
  if (condition?.state === 'stopped') await ports.ec2.start([id]);
  return { done: condition?.state === 'running', polls };
}

/**
 * After the step and a quiet period, is the instance recovered? Healthy means running with both
 * status checks `ok` (for replace: the instance gone and its group whole with such members).
 * 1. checks still initializing (or without data) prove nothing yet: the case's lease is renewed,
 *    the wait recorded as the case's reason, and the answer is `pending` — the state machine
 *    waits and verifies again, at most `MAX_PENDING_VERIFIES` times, after which (or once the
 *    lease is lost) the step did not recover the instance;
 * 2. the verdict is recorded, then added to the step's statistics for this failure kind (what
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
    await ports.cases.setStatus(c.id, recovered ? 'recovered' : 'acting', reason, ports.now());
    if (step) await ports.cases.recordOutcome(c.finding.kind, step, recovered);
  }
  await releaseCase(ports, c, reason, !recovered && step !== 'replace');
  if (recovered) await closeFindings(ports, c, `recovered by ${step}`, ports.now());
  return { recovered, pending: false, checks, reason };
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
 * 1. its lease and budget released (the instance keeps counting: it may be down);
 * 2. a person paged with the reason;
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
  await releaseCase(ports, c, reason, true);
  await page(ports, c, `remediation failed: ${reason}`);
  await ports.cases.setStatus(c.id, 'failed', reason, ports.now());
  return { status: 'failed' };
}
