import type { ActionType, ChangeSpec } from './change-spec';
import type { Instance } from './fleet';
import type { FreezeDecision } from './freeze';
import { type AuditSink, checkFreeze, holdInstances, releaseHold } from './hold';
import { judge, judgeConfigSchema } from './judge/judge';
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
  readonly fleet: AuditSink & {
    listFreezes(): Promise<Freeze[]>;
    getServices(): Promise<ServicesFile>;
    listInstances(): Promise<Instance[]>;
  };
  readonly ec2: {
    reboot(ids: readonly string[]): Promise<void>;
    setTags(ids: readonly string[], tags: Readonly<Record<string, string>>): Promise<void>;
    conditions(ids: readonly string[]): Promise<Map<string, { state: string; health: string }>>;
  };
  readonly metrics: {
    samples(
      metric: { namespace: string; name: string; statistic: string },
      instanceIds: readonly string[],
      window: { start: Date; end: Date; periodSeconds: number },
    ): Promise<number[]>;
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
      instanceIds: wave.instances,
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
 * The health gate, recorded:
 * 1. instances of the wave that are not running or fail a status check count as errors; more
 *    than the spec's `errorThreshold` fails the wave;
 * 2. with metrics in the spec, the canary judge compares the wave's instances with untouched
 *    ones of the same services: pass goes on, marginal or fail fails, too few samples bakes
 *    longer (`extend`; the state machine does that at most three times, then asks a person).
 */
export async function gateWave(
  ports: RolloutPorts,
  state: RolloutState,
  extensions = 0,
): Promise<{
  verdict: 'pass' | 'fail' | 'extend';
  /** How many times the bake was extended for this wave, this one included. */
  extensions: number;
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
  let verdict: 'pass' | 'fail' | 'extend' = errors <= threshold ? 'pass' : 'fail';
  let reason = `wave ${state.wave}: ${errors} of ${wave.instances.length} unhealthy after the bake (threshold ${threshold})${
    unhealthy.length > 0 ? `: ${unhealthy.slice(0, 10).join(', ')}` : ''
  }`;
  if (verdict === 'pass' && spec.gates.metrics.length > 0) {
    const judgement = await judgeWave(ports, plan, spec, state);
    reason += `; judge: ${judgement.verdict} (score ${judgement.score}): ${judgement.reasons.join('; ')}`;
    // Marginal is not good enough to go on alone; too few samples bakes longer.
    verdict =
      judgement.verdict === 'pass' ? 'pass' : judgement.verdict === 'inconclusive' ? 'extend' : 'fail';
  }
  await ports.fleet.audit([
    {
      subject: `change:${state.changeId}`,
      actor: ports.actor,
      action: verdict === 'pass' ? 'gate.passed' : verdict === 'fail' ? 'gate.failed' : 'gate.inconclusive',
      reason,
      at: at(ports),
    },
  ]);
  return {
    verdict,
    extensions: extensions + (verdict === 'extend' ? 1 : 0),
    errors,
    threshold,
    reason,
    onFailure: spec.gates.onFailure,
  };
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
        : point === 'gate-inconclusive'
          ? `wave ${state.wave - 1} could not be judged: too few samples, even after longer bakes`
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

/**
 * The canary judge for a wave: each of the spec's metrics for the wave's instances against the
 * instances of the same services that the change has not touched yet, over the bake.
 */
async function judgeWave(ports: RolloutPorts, plan: Plan, spec: ChangeSpec, state: RolloutState) {
  const wave = plan.waves[state.wave];
  const services = new Set(Object.keys(wave.services));
  const serviceOf = new Map((await ports.fleet.listInstances()).map((i) => [i.id, i.service]));
  const baselineIds = plan.waves
    .slice(state.wave + 1)
    .flatMap((w) => w.instances)
    .filter((id) => services.has(serviceOf.get(id) ?? ''));
  const end = new Date(ports.now());
  const start = new Date(end.getTime() - Math.max(state.bakeSeconds, 300) * 1000);
  const window = { start, end, periodSeconds: 60 };
  const baseline: Record<string, number[]> = {};
  const canary: Record<string, number[]> = {};
  const metrics: Record<string, { direction: 'increase' | 'decrease' | 'either'; critical: boolean }> = {};
  for (const m of spec.gates.metrics) {
    const metric = { namespace: m.namespace, name: m.name, statistic: m.statistic };
    [baseline[m.name], canary[m.name]] = await Promise.all([
      ports.metrics.samples(metric, baselineIds, window),
      ports.metrics.samples(metric, wave.instances, window),
    ]);
    metrics[m.name] = { direction: m.direction, critical: m.critical };
  }
  return judge(baseline, canary, judgeConfigSchema.parse({ metrics }));
}
