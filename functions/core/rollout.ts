import type { ActionType, ChangeSpec } from './change-spec';
import type { FreezeDecision } from './freeze';
import { type AuditSink, checkFreeze, holdInstances, releaseHold } from './hold';
import { ACTION_MINUTES, type Plan } from './planner';
import type { Freeze, LeaseStore } from './ports';
import { resolveQuantity } from './quantity';
import { isDisruptive, type ServicesFile, serviceCatalog } from './services';
import { windowDecision } from './windows';

/**
 * The rollout, step by step: each function is one Task state of state-machines/rollout.asl.json.
 * The execution carries only this small state (the plan stays in the table), so the payload
 * stays far below Step Functions' 256 KB whatever the fleet size.
 */
export interface RolloutState {
  readonly changeId: string;
  /** The wave being worked on (0-based). */
  readonly wave: number;
  readonly waves: number;
  readonly bakeSeconds: number;
}

export interface RolloutPorts {
  readonly changes: {
    loadPlan(id: string): Promise<Plan>;
    loadSpec(id: string): Promise<ChangeSpec>;
    setStatus(
      id: string,
      status: 'running' | 'completed' | 'failed' | 'aborted',
      reason: string,
      now: number,
    ): Promise<void>;
    awaitApproval(id: string, token: string, wave: number, reason: string, now: number): Promise<void>;
    takeApproval(
      id: string,
      decision: 'approve' | 'reject',
      reason: string,
      now: number,
    ): Promise<{ token: string; wave: number } | undefined>;
  };
  readonly leases: Pick<LeaseStore, 'acquire' | 'release' | 'recordAction' | 'heldBy'>;
  readonly fleet: AuditSink & { listFreezes(): Promise<Freeze[]>; getServices(): Promise<ServicesFile> };
  readonly ec2: {
    reboot(ids: readonly string[]): Promise<void>;
    setTags(ids: readonly string[], tags: Readonly<Record<string, string>>): Promise<void>;
    conditions(ids: readonly string[]): Promise<Map<string, { state: string; health: string }>>;
  };
  readonly now: () => number;
  readonly actor: string;
}

/** The actions the rollout can apply so far; the others are refused when the change starts. */
const SUPPORTED: ReadonlySet<ActionType> = new Set(['reboot', 'set-tag']);
/** While a freeze is in force, look again this often. */
const FREEZE_RECHECK_SECONDS = 300;

const at = (ports: RolloutPorts) => new Date(ports.now()).toISOString();

/** Running and not failing a status check (an instance EC2 does not report is not healthy). */
const healthy = (c: { state: string; health: string } | undefined) =>
  c !== undefined && c.state === 'running' && c.health !== 'impaired';

/**
 * Starts the execution of a stored change.
 * 1. Load the plan (its digest is verified) and the spec; refuse actions not supported yet.
 * 2. Mark the change running and return the execution's state.
 */
export async function startRollout(ports: RolloutPorts, changeId: string): Promise<RolloutState> {
  const [plan, spec] = await Promise.all([
    ports.changes.loadPlan(changeId),
    ports.changes.loadSpec(changeId),
  ]);
  if (!SUPPORTED.has(spec.action.type)) {
    throw new Error(
      `action ${spec.action.type} is not supported by the rollout yet (supported: ${[...SUPPORTED].join(', ')})`,
    );
  }
  await ports.changes.setStatus(changeId, 'running', `started: ${plan.waves.length} waves`, ports.now());
  return {
    changeId,
    wave: 0,
    waves: plan.waves.length,
    bakeSeconds: Math.round(spec.strategy.bakeMinutes * 60),
  };
}

/** May the current wave act now? Freezes (recorded when they block) and the spec's time windows. */
export async function checkWindow(
  ports: RolloutPorts,
  state: RolloutState,
): Promise<{ decision: 'go' | 'wait'; waitSeconds: number; reason: string }> {
  const [plan, spec] = await Promise.all([
    ports.changes.loadPlan(state.changeId),
    ports.changes.loadSpec(state.changeId),
  ]);
  const wave = plan.waves[state.wave];
  const freeze: FreezeDecision = await checkFreeze(
    { freezes: ports.fleet, audit: ports.fleet },
    { subject: `change:${state.changeId}`, services: Object.keys(wave.services) },
    ports.actor,
    ports.now(),
  );
  if (!freeze.allowed)
    return { decision: 'wait', waitSeconds: FREEZE_RECHECK_SECONDS, reason: freeze.reason };
  const window = windowDecision(spec.windows, ports.now());
  if (!window.open) {
    await ports.fleet.audit([
      {
        subject: `change:${state.changeId}`,
        actor: ports.actor,
        action: 'wave.waiting',
        reason: `outside its time windows; next opens in ${window.waitSeconds} s`,
        at: at(ports),
      },
    ]);
    return { decision: 'wait', waitSeconds: window.waitSeconds, reason: 'outside the time windows' };
  }
  return { decision: 'go', waitSeconds: 0, reason: freeze.reason };
}

/** Leases the wave's instances and reserves their budgets, all or nothing; a refusal is recorded. */
export async function leaseWave(
  ports: RolloutPorts,
  state: RolloutState,
  attempts: number,
): Promise<{ acquired: boolean; attempts: number; reason: string }> {
  const [plan, spec, services] = await Promise.all([
    ports.changes.loadPlan(state.changeId),
    ports.changes.loadSpec(state.changeId),
    ports.fleet.getServices(),
  ]);
  const wave = plan.waves[state.wave];
  const catalog = serviceCatalog(services);
  const nonDisruptive = new Set(
    Object.keys(wave.services).filter((s) => !isDisruptive(catalog.budgetOf(s).budget, spec.action.type)),
  );
  const ttlMinutes = ACTION_MINUTES[spec.action.type] + spec.strategy.bakeMinutes + 30;
  const outcome = await holdInstances(
    { leases: ports.leases, audit: ports.fleet },
    {
      owner: state.changeId,
      instances: wave.instances.map((id) => ({ id, service: '', zone: '' })),
      nonDisruptiveServices: nonDisruptive,
      ttlMs: ttlMinutes * 60_000,
      now: ports.now(),
    },
    ports.actor,
  );
  return {
    acquired: outcome.acquired,
    attempts: attempts + 1,
    reason: outcome.acquired ? 'leased' : outcome.reason,
  };
}

/**
 * Applies the action to the wave, at most once per instance: each instance's action is
 * recorded (fenced by its lease) before it is applied, so a retried step skips what was done.
 */
export async function applyWave(
  ports: RolloutPorts,
  state: RolloutState,
): Promise<{ applied: number; alreadyApplied: number; lost: number }> {
  const [plan, spec] = await Promise.all([
    ports.changes.loadPlan(state.changeId),
    ports.changes.loadSpec(state.changeId),
  ]);
  const wave = plan.waves[state.wave];
  const leases = await ports.leases.heldBy(state.changeId, wave.instances, ports.now());
  const toApply: string[] = [];
  let alreadyApplied = 0;
  let lost = wave.instances.length - leases.length;
  for (const lease of leases) {
    const outcome = await ports.leases.recordAction(
      lease,
      state.changeId,
      { action: spec.action.type, wave: state.wave },
      ports.now(),
    );
    if (outcome === 'recorded') toApply.push(lease.instanceId);
    else if (outcome === 'duplicate') alreadyApplied++;
    else lost++;
  }
  if (spec.action.type === 'reboot') await ports.ec2.reboot(toApply);
  else if (spec.action.type === 'set-tag') await ports.ec2.setTags(toApply, spec.action.tags);
  await ports.fleet.audit([
    {
      subject: `change:${state.changeId}`,
      actor: ports.actor,
      action: 'wave.applied',
      reason: `wave ${state.wave}: ${spec.action.type} applied to ${toApply.length}, already applied ${alreadyApplied}, lease lost ${lost}`,
      at: at(ports),
    },
  ]);
  return { applied: toApply.length, alreadyApplied, lost };
}

/** Has the action finished on every instance of the wave? (A reboot: every instance running again.) */
export async function actionSettled(
  ports: RolloutPorts,
  state: RolloutState,
  polls: number,
): Promise<{ done: boolean; polls: number }> {
  const [plan, spec] = await Promise.all([
    ports.changes.loadPlan(state.changeId),
    ports.changes.loadSpec(state.changeId),
  ]);
  if (spec.action.type === 'set-tag') return { done: true, polls: polls + 1 };
  const conditions = await ports.ec2.conditions(plan.waves[state.wave].instances);
  const done = [...conditions.values()].every((c) => c.state === 'running');
  return { done, polls: polls + 1 };
}

/**
 * The health gate: instances of the wave that are not running or fail a status check count as
 * errors; more than the spec's `errorThreshold` fails the wave. The verdict is recorded.
 */
export async function gateWave(
  ports: RolloutPorts,
  state: RolloutState,
): Promise<{
  verdict: 'pass' | 'fail';
  errors: number;
  threshold: number;
  reason: string;
  onFailure: 'rollback' | 'pause';
}> {
  const [plan, spec] = await Promise.all([
    ports.changes.loadPlan(state.changeId),
    ports.changes.loadSpec(state.changeId),
  ]);
  const wave = plan.waves[state.wave];
  const threshold = resolveQuantity(spec.gates.errorThreshold, wave.instances.length);
  let errors = 0;
  const unhealthy: string[] = [];
  if (spec.gates.statusChecks) {
    const conditions = await ports.ec2.conditions(wave.instances);
    for (const id of wave.instances) if (!healthy(conditions.get(id))) unhealthy.push(id);
    errors = unhealthy.length;
  }
  const verdict = errors <= threshold ? 'pass' : 'fail';
  const reason = `wave ${state.wave}: ${errors} of ${wave.instances.length} unhealthy after the bake (threshold ${threshold})${
    unhealthy.length > 0 ? `: ${unhealthy.slice(0, 10).join(', ')}` : ''
  }`;
  await ports.fleet.audit([
    {
      subject: `change:${state.changeId}`,
      actor: ports.actor,
      action: `gate.${verdict === 'pass' ? 'passed' : 'failed'}`,
      reason,
      at: at(ports),
    },
  ]);
  return { verdict, errors, threshold, reason, onFailure: spec.gates.onFailure };
}

/**
 * Releases the wave's leases and budgets (instances still unhealthy keep counting) and moves on;
 * says whether a person must approve before the next wave (after the canary, at the risk
 * containment point), so nothing is held while the rollout waits for them.
 */
export async function releaseWave(
  ports: RolloutPorts,
  state: RolloutState,
): Promise<RolloutState & { more: boolean; approval: 'canary' | 'risk-containment' | 'none' }> {
  const plan = await ports.changes.loadPlan(state.changeId);
  const wave = plan.waves[state.wave];
  const leases = await ports.leases.heldBy(state.changeId, wave.instances, ports.now());
  const conditions = await ports.ec2.conditions(wave.instances);
  const stillUnavailable = new Set(wave.instances.filter((id) => !healthy(conditions.get(id))));
  await releaseHold(
    { leases: ports.leases, audit: ports.fleet },
    state.changeId,
    leases,
    ports.actor,
    `wave ${state.wave} done`,
    ports.now(),
    stillUnavailable,
  );
  const next = state.wave + 1;
  return { ...state, wave: next, more: next < state.waves, approval: wave.approvalAfter ?? 'none' };
}

/** Keeps the approval's task token with the change (the execution waits on it) and records the request. */
export async function requestApproval(
  ports: RolloutPorts,
  state: RolloutState,
  token: string,
  point: string,
): Promise<{ waiting: true }> {
  const why =
    point === 'canary'
      ? 'the canary passed'
      : point === 'risk-containment'
        ? 'risk containment reached'
        : `wave ${state.wave - 1} failed its health gate and the spec says pause`;
  const reason = `approval needed before wave ${state.wave}: ${why}`;
  await ports.changes.awaitApproval(state.changeId, token, state.wave, reason, ports.now());
  await ports.fleet.audit([
    {
      subject: `change:${state.changeId}`,
      actor: ports.actor,
      action: 'approval.requested',
      reason,
      at: at(ports),
    },
  ]);
  return { waiting: true };
}

/**
 * A person approves or rejects a waiting change: returns the task token to answer
 * (SendTaskSuccess / SendTaskFailure), once; the decision is recorded with its reason.
 */
export async function decideApproval(
  ports: Pick<RolloutPorts, 'changes' | 'fleet' | 'now'>,
  changeId: string,
  decision: 'approve' | 'reject',
  actor: string,
  reason: string,
): Promise<{ token: string; wave: number } | undefined> {
  const taken = await ports.changes.takeApproval(changeId, decision, reason, ports.now());
  if (taken) {
    await ports.fleet.audit([
      {
        subject: `change:${changeId}`,
        actor,
        action: decision === 'approve' ? 'approval.granted' : 'approval.rejected',
        reason: `before wave ${taken.wave}: ${reason}`,
        at: new Date(ports.now()).toISOString(),
      },
    ]);
  }
  return taken;
}

/** Ends the change: completed, or failed with the reason. */
export async function finishRollout(
  ports: RolloutPorts,
  state: Pick<RolloutState, 'changeId'>,
  outcome: 'completed' | 'failed',
  reason: string,
): Promise<{ status: 'completed' | 'failed'; reason: string }> {
  await ports.changes.setStatus(state.changeId, outcome, reason, ports.now());
  await ports.fleet.audit([
    {
      subject: `change:${state.changeId}`,
      actor: ports.actor,
      action: `change.${outcome}`,
      reason,
      at: at(ports),
    },
  ]);
  return { status: outcome, reason };
}

/**
 * Aborts a change: every lease and budget it holds is released (its instances keep counting as
 * unavailable until inventory sync sees them, since an action may be half done), and the change
 * ends as aborted. Stopping the execution is the caller's part (StopExecution).
 */
export async function abortRollout(
  ports: Pick<RolloutPorts, 'changes' | 'fleet' | 'now'> & {
    leases: Pick<LeaseStore, 'releaseAll' | 'activeLeases'>;
  },
  changeId: string,
  actor: string,
  reason: string,
): Promise<{ released: number }> {
  const held = (await ports.leases.activeLeases(ports.now())).filter((l) => l.owner === changeId);
  const released = await ports.leases.releaseAll(changeId, new Set(held.map((l) => l.instanceId)));
  await ports.changes.setStatus(changeId, 'aborted', reason, ports.now());
  await ports.fleet.audit([
    {
      subject: `change:${changeId}`,
      actor,
      action: 'change.aborted',
      reason: `${reason}; ${released} leases released`,
      at: new Date(ports.now()).toISOString(),
    },
  ]);
  return { released };
}
