import type { Action, ChangeSpec } from './change-spec';
import { checksPending, type Instance, isInService } from './fleet';
import type { FreezeDecision } from './freeze';
import { type AuditSink, checkFreeze, describeRefusal, holdInstances, releaseHold } from './hold';
import { judge, judgeConfigSchema } from './judge/judge';
import { ACTION_MINUTES, type Plan } from './planner';
import type { AutoScalingPort, Ec2Port, Freeze, LeaseStore, SsmCommand } from './ports';
import { resolveQuantity } from './quantity';
import { planRollback, rollbackIdOf, rollbackSpec } from './rollback';
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
  /** For the change that rolls another back: that change's id ("" for a rollout). */
  readonly rollbackOf: string;
}

/** A change's record as the rollout needs it. */
interface ChangeRecordView {
  readonly status: string;
  readonly waves: number;
}

/** What an apply attempt sent for a wave (kept with the change, read by settle and the gate). */
interface ApplyRecord {
  readonly applied: readonly string[];
  readonly commands?: ReadonlyArray<{ commandId: string; instanceIds: string[] }>;
  readonly groups?: Readonly<Record<string, string>>;
  readonly refused?: ReadonlyArray<{ id: string; reason: string }>;
}

export interface RolloutPorts {
  readonly changes: {
    get(id: string): Promise<ChangeRecordView | undefined>;
    save(spec: ChangeSpec, plan: Plan, actor: string, now: number): Promise<unknown>;
    loadPlan(id: string): Promise<Plan>;
    loadSpec(id: string): Promise<ChangeSpec>;
    setStatus(
      id: string,
      status: 'running' | 'rolling-back' | 'rolled-back' | 'completed' | 'failed' | 'aborted',
      reason: string,
      now: number,
    ): Promise<void>;
    recordWave(
      id: string,
      wave: number,
      part: string,
      body: Record<string, unknown>,
      now: number,
    ): Promise<void>;
    waveRecords(
      id: string,
      wave?: number,
    ): Promise<Array<{ wave: number; part: string; body: Record<string, unknown> }>>;
    awaitApproval(id: string, token: string, wave: number, reason: string, now: number): Promise<void>;
    takeApproval(
      id: string,
      decision: 'approve' | 'reject',
      reason: string,
      now: number,
    ): Promise<{ token: string; wave: number } | undefined>;
  };
  readonly leases: Pick<LeaseStore, 'acquire' | 'release' | 'recordAction' | 'heldBy' | 'actionsOf'>;
  readonly fleet: AuditSink & {
    listFreezes(): Promise<Freeze[]>;
    getServices(): Promise<ServicesFile>;
    listInstances(): Promise<Instance[]>;
  };
  readonly ec2: Ec2Port;
  readonly ssm: {
    send(
      ids: readonly string[],
      command: SsmCommand,
    ): Promise<Array<{ commandId: string; instanceIds: string[] }>>;
    states(commandIds: readonly string[]): Promise<Map<string, 'pending' | 'success' | 'failed'>>;
    failedInstances(commandId: string): Promise<Map<string, string>>;
  };
  readonly autoscaling: AutoScalingPort;
  readonly metrics: {
    alarmStates(names: readonly string[]): Promise<Map<string, string>>;
    samples(
      metric: { namespace: string; name: string; statistic: string },
      instanceIds: readonly string[],
      window: { start: Date; end: Date; periodSeconds: number },
    ): Promise<number[]>;
  };
  readonly now: () => number;
  readonly actor: string;
}

/** While a freeze is in force, look again this often. */
const FREEZE_RECHECK_SECONDS = 300;

const at = (ports: RolloutPorts) => new Date(ports.now()).toISOString();

/**
 * Starts the execution of a stored change: loads the plan (its digest is verified) and the
 * spec, marks the change running and returns the execution's state.
 */
export async function startRollout(ports: RolloutPorts, changeId: string): Promise<RolloutState> {
  const [plan, spec] = await Promise.all([
    ports.changes.loadPlan(changeId),
    ports.changes.loadSpec(changeId),
  ]);
  await ports.changes.setStatus(changeId, 'running', `started: ${plan.waves.length} waves`, ports.now());
  return {
    changeId,
    wave: 0,
    waves: plan.waves.length,
    bakeSeconds: Math.round(spec.strategy.bakeMinutes * 60),
    rollbackOf: '',
  };
}

/**
 * Begins undoing a change (its gate failed, or an operator aborted it with --rollback): plans
 * the rollback from the actions recorded for it (newest first, larger waves, budgets kept),
 * saves it as the change `<id>-rollback` and returns that change's state, which the same
 * state machine then runs wave by wave. Planned once: a retried step reuses the saved plan.
 * `rollback: false` (with the reason) when there is nothing to undo or no way to undo it.
 */
export async function beginRollback(
  ports: RolloutPorts,
  changeId: string,
  why: string,
): Promise<{ rollback: boolean; reason: string; state: RolloutState }> {
  const rollbackId = rollbackIdOf(changeId);
  const stay = (reason: string) => ({
    rollback: false,
    reason: `${why}; ${reason}`,
    state: { changeId, wave: 0, waves: 0, bakeSeconds: 0, rollbackOf: '' },
  });
  const spec = await ports.changes.loadSpec(changeId);
  if (!spec.rollback) {
    return stay(
      spec.action.type === 'reboot' || spec.action.type === 'stop-start' || spec.action.type === 'replace'
        ? `nothing to undo: ${spec.action.type} leaves no change behind`
        : 'not rolled back: the spec declares no rollback action, so the changed instances keep the change',
    );
  }
  const existing = await ports.changes.get(rollbackId);
  let waves: number;
  if (existing) {
    if (
      existing.status !== 'planned' &&
      existing.status !== 'running' &&
      existing.status !== 'waiting-approval'
    )
      return stay(`the rollback ${rollbackId} has already ended (${existing.status})`);
    waves = existing.waves;
  } else {
    const changed = await ports.leases.actionsOf(changeId);
    const undo = rollbackSpec(
      spec,
      changed.map((c) => c.instanceId),
    );
    if (!undo) return stay('nothing to undo: no instance was changed');
    const [instances, services, original] = await Promise.all([
      ports.fleet.listInstances(),
      ports.fleet.getServices(),
      ports.changes.loadPlan(changeId),
    ]);
    const plan = planRollback({
      spec: undo,
      original,
      changed,
      instances,
      catalog: serviceCatalog(services),
      waveFactor: spec.rollback.waveFactor,
    });
    if (plan.waves.length === 0) return stay('nothing to undo: every changed instance is gone');
    await ports.changes.save(undo, plan, ports.actor, ports.now());
    waves = plan.waves.length;
  }
  const reason = `rolling back (${waves} waves, as ${rollbackId}): ${why}`;
  // An aborted change stays aborted; its rollback is its own change.
  await setUnlessEnded(ports, changeId, 'rolling-back', reason);
  await ports.changes.setStatus(rollbackId, 'running', `rolling back ${changeId}: ${why}`, ports.now());
  await ports.fleet.audit([
    { subject: `change:${changeId}`, actor: ports.actor, action: 'rollback.started', reason, at: at(ports) },
  ]);
  return {
    rollback: true,
    reason,
    state: {
      changeId: rollbackId,
      wave: 0,
      waves,
      bakeSeconds: Math.round(Math.min(spec.strategy.bakeMinutes, 2) * 60),
      rollbackOf: changeId,
    },
  };
}

async function setUnlessEnded(
  ports: RolloutPorts,
  changeId: string,
  status: 'rolling-back' | 'rolled-back' | 'failed',
  reason: string,
): Promise<void> {
  const current = (await ports.changes.get(changeId))?.status;
  if (current === 'completed' || current === 'failed' || current === 'aborted' || current === 'rolled-back')
    return;
  await ports.changes.setStatus(changeId, status, reason, ports.now());
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
  if (state.rollbackOf !== '') {
    // Undoing a change that failed is what a freeze or a window protects the fleet for.
    return {
      decision: 'go',
      waitSeconds: 0,
      reason: 'a rollback: freezes and time windows do not hold it back',
    };
  }
  const freeze: FreezeDecision = await checkFreeze(
    { freezes: ports.fleet, audit: ports.fleet },
    {
      subject: `change:${state.changeId}`,
      services: Object.keys(wave.services),
      emergencyReason: spec.emergency?.reason,
    },
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
    reason: outcome.acquired ? 'leased' : describeRefusal(outcome),
  };
}

/**
 * Applies the action to the wave, at most once per instance: each instance's action is
 * recorded (fenced by its lease) before it is applied, so a retried step skips what was done,
 * even when the step crashed between applying and saying so. What was sent (SSM command ids,
 * Auto Scaling groups, instances refused) is kept with the change for settle and the gate.
 */
export async function applyWave(
  ports: RolloutPorts,
  state: RolloutState,
): Promise<{ applied: number; alreadyApplied: number; lost: number; refused: number }> {
  const [plan, spec] = await Promise.all([
    ports.changes.loadPlan(state.changeId),
    ports.changes.loadSpec(state.changeId),
  ]);
  const wave = plan.waves[state.wave];
  let leases = await ports.leases.heldBy(state.changeId, wave.instances, ports.now());
  let lost = wave.instances.length - leases.length;
  const refused: Array<{ id: string; reason: string }> = [];
  let groups = new Map<string, string>();
  if (spec.action.type === 'replace') {
    // Only an Auto Scaling group brings a terminated instance back.
    groups = await ports.autoscaling.groupsOf(leases.map((l) => l.instanceId));
    for (const l of leases) {
      if (!groups.has(l.instanceId))
        refused.push({ id: l.instanceId, reason: 'not in an Auto Scaling group' });
    }
    leases = leases.filter((l) => groups.has(l.instanceId));
  }
  const toApply: string[] = [];
  let alreadyApplied = 0;
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
  const record: ApplyRecord = {
    applied: toApply,
    refused,
    groups: Object.fromEntries(toApply.filter((id) => groups.has(id)).map((id) => [id, groups.get(id)!])),
    ...(toApply.length > 0 ? await apply(ports, spec.action, toApply, state) : {}),
  };
  await ports.changes.recordWave(
    state.changeId,
    state.wave,
    `apply#${String(ports.now()).padStart(15, '0')}`,
    { ...record },
    ports.now(),
  );
  await ports.fleet.audit([
    {
      subject: `change:${state.changeId}`,
      actor: ports.actor,
      action: 'wave.applied',
      reason:
        `wave ${state.wave}: ${spec.action.type} applied to ${toApply.length}, already applied ${alreadyApplied}, ` +
        `lease lost ${lost}${refused.length > 0 ? `, refused ${refused.length} (${refused[0].reason})` : ''}`,
      at: at(ports),
    },
  ]);
  return { applied: toApply.length, alreadyApplied, lost, refused: refused.length };
}

/** Sends the action for the instances (already recorded); returns what settle must follow. */
async function apply(
  ports: RolloutPorts,
  action: Action,
  ids: readonly string[],
  state: RolloutState,
): Promise<Pick<ApplyRecord, 'commands'>> {
  switch (action.type) {
    case 'reboot':
      await ports.ec2.reboot(ids);
      return {};
    case 'stop-start':
      // Started again by settle once stopped: the instance comes back on other hardware.
      await ports.ec2.stop(ids);
      return {};
    case 'set-tag':
      await ports.ec2.setTags(ids, action.tags);
      return {};
    case 'replace':
      for (const id of ids) await ports.autoscaling.terminateKeepingCapacity(id);
      return {};
    case 'ssm-command': {
      const commands = await ports.ssm.send(ids, {
        document: action.document,
        parameters: action.parameters,
        timeoutSeconds: action.timeoutSeconds,
        comment: `fleetops ${state.changeId} wave ${state.wave}`,
      });
      return { commands };
    }
  }
}

/** Everything the wave's apply attempts sent, merged. */
async function appliedTo(ports: RolloutPorts, state: RolloutState) {
  const records = (await ports.changes.waveRecords(state.changeId, state.wave))
    .filter((r) => r.part.startsWith('apply#'))
    .map((r) => r.body as unknown as ApplyRecord);
  return {
    applied: records.flatMap((r) => r.applied),
    commands: records.flatMap((r) => r.commands ?? []),
    groups: Object.assign({}, ...records.map((r) => r.groups ?? {})) as Record<string, string>,
    refused: records.flatMap((r) => r.refused ?? []),
  };
}

/**
 * Has the action finished on every instance of the wave?
 * - reboot: every instance running again; stop-start: stopped ones are started, then the same;
 * - ssm-command: every command has ended; replace: every group has its desired capacity in
 *   service and healthy, without the terminated instances; set-tag: at once.
 */
export async function actionSettled(
  ports: RolloutPorts,
  state: RolloutState,
  polls: number,
): Promise<{ done: boolean; polls: number }> {
  const [plan, spec] = await Promise.all([
    ports.changes.loadPlan(state.changeId),
    ports.changes.loadSpec(state.changeId),
  ]);
  const next = (done: boolean) => ({ done, polls: polls + 1 });
  switch (spec.action.type) {
    case 'set-tag':
      return next(true);
    case 'ssm-command': {
      const { commands } = await appliedTo(ports, state);
      const states = await ports.ssm.states(commands.map((c) => c.commandId));
      return next([...states.values()].every((s) => s !== 'pending'));
    }
    case 'replace': {
      const { applied, groups } = await appliedTo(ports, state);
      const health = await ports.autoscaling.health([...new Set(Object.values(groups))]);
      const gone = new Set(applied);
      return next(
        [...health.values()].every(
          (g) => g.healthy.length >= g.desired && !g.members.some((m) => gone.has(m)),
        ),
      );
    }
    case 'stop-start': {
      const { applied } = await appliedTo(ports, state);
      const conditions = await ports.ec2.conditions(applied);
      const stopped = applied.filter((id) => conditions.get(id)?.state === 'stopped');
      if (stopped.length > 0) await ports.ec2.start(stopped);
      return next(applied.every((id) => conditions.get(id)?.state === 'running'));
    }
    case 'reboot': {
      const conditions = await ports.ec2.conditions(plan.waves[state.wave].instances);
      return next([...conditions.values()].every((c) => c.state === 'running'));
    }
  }
}

/**
 * Each instance's outcome after the wave: "ok" or why not. Instances the action could not be
 * applied to, SSM invocations that failed (or whose command was lost by a crash), status
 * checks failing; for `replace`, the groups' members, and missing capacity, stand for the
 * terminated instances. Also returns the instances the judge should look at.
 */
async function waveOutcomes(
  ports: RolloutPorts,
  spec: ChangeSpec,
  state: RolloutState,
  instances: readonly string[],
): Promise<{ outcomes: Map<string, string>; judged: string[]; pending: string[] }> {
  const outcomes = new Map<string, string>();
  const sent = await appliedTo(ports, state);
  for (const r of sent.refused) outcomes.set(r.id, r.reason);
  if (spec.action.type === 'ssm-command') {
    const inCommand = new Set(sent.commands.flatMap((c) => c.instanceIds));
    for (const id of sent.applied) {
      if (!inCommand.has(id)) outcomes.set(id, 'command outcome unknown (the step stopped after sending it)');
    }
    const states = await ports.ssm.states(sent.commands.map((c) => c.commandId));
    for (const c of sent.commands) {
      if (states.get(c.commandId) === 'success') continue;
      if (states.get(c.commandId) === 'pending') {
        for (const id of c.instanceIds) outcomes.set(id, 'command still running after the bake');
        continue;
      }
      for (const [id, status] of await ports.ssm.failedInstances(c.commandId))
        outcomes.set(id, `command ${status}`);
    }
  }
  let checked: string[] = [...instances];
  if (spec.action.type === 'replace') {
    const replaced = new Set(Object.keys(sent.groups));
    const health = await ports.autoscaling.health([...new Set(Object.values(sent.groups))]);
    checked = instances.filter((id) => !replaced.has(id));
    for (const [group, g] of health) {
      for (const m of g.members) if (!replaced.has(m)) checked.push(m);
      const missing = g.desired - g.healthy.length;
      const stuck = g.members.filter((m) => replaced.has(m));
      for (const id of stuck) outcomes.set(id, `not replaced: still in ${group}`);
      for (let k = 0; k < missing; k++) {
        outcomes.set(
          `${group}#missing-${k + 1}`,
          `${group}: ${missing} of ${g.desired} not in service and healthy`,
        );
      }
    }
  }
  const pending: string[] = [];
  if (spec.gates.statusChecks) {
    const conditions = await ports.ec2.conditions(checked);
    for (const id of checked) {
      const c = conditions.get(id);
      if (outcomes.has(id) || isInService(c)) continue;
      if (checksPending(c)) {
        // Not failing, not proven healthy either: the gate waits for it (bounded) instead of passing it.
        pending.push(id);
        outcomes.set(id, `${PENDING_PREFIX}status checks ${c?.health}`);
      } else outcomes.set(id, c ? `${c.state}, status checks ${c.health}` : 'not reported by EC2');
    }
  }
  for (const id of checked) if (!outcomes.has(id)) outcomes.set(id, 'ok');
  return { outcomes, judged: checked, pending };
}

/** An outcome that is neither ok nor an error yet (status checks still initializing). */
const PENDING_PREFIX = 'pending: ';

/**
 * The health gate, recorded (each instance's outcome is kept with the change):
 * 1. instances that are not running, fail a status check, or whose action failed count as
 *    errors; more than the spec's `errorThreshold` fails the wave, and more than its
 *    `rollbackThreshold` rolls back even when the spec says pause;
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
  const { outcomes, judged } = await waveOutcomes(ports, spec, state, wave.instances);
  const bad = [...outcomes].filter(([, outcome]) => outcome !== 'ok');
  const errors = bad.length;
  let verdict: 'pass' | 'fail' | 'extend' = errors <= threshold ? 'pass' : 'fail';
  let reason = `wave ${state.wave}: ${errors} of ${wave.instances.length} unhealthy after the bake (threshold ${threshold})${
    bad.length > 0
      ? `: ${bad
          .slice(0, 10)
          .map(([id, why]) => `${id} (${why})`)
          .join(', ')}`
      : ''
  }`;
  if (spec.gates.alarms.length > 0) {
    // The spec's alarms watch the service as a whole: one firing (or missing) fails the wave.
    const states = await ports.metrics.alarmStates(spec.gates.alarms);
    const firing = [...states].filter(([, state]) => state === 'ALARM' || state === 'missing');
    if (firing.length > 0) {
      verdict = 'fail';
      reason += `; alarms: ${firing.map(([name, state]) => `${name} ${state === 'ALARM' ? 'in ALARM' : 'does not exist'}`).join(', ')}`;
    }
  }
  if (verdict === 'pass' && spec.gates.metrics.length > 0) {
    const judgement = await judgeWave(ports, plan, spec, state, judged);
    reason += `; judge: ${judgement.verdict} (score ${judgement.score}): ${judgement.reasons.join('; ')}`;
    // Marginal is not good enough to go on alone; too few samples bakes longer.
    verdict =
      judgement.verdict === 'pass' ? 'pass' : judgement.verdict === 'inconclusive' ? 'extend' : 'fail';
  }
  const rollbackAbove =
    spec.gates.rollbackThreshold === undefined
      ? Number.POSITIVE_INFINITY
      : resolveQuantity(spec.gates.rollbackThreshold, wave.instances.length);
  const onFailure =
    spec.gates.onFailure === 'pause' && errors > rollbackAbove ? 'rollback' : spec.gates.onFailure;
  if (verdict === 'fail' && onFailure !== spec.gates.onFailure) {
    reason += `; more than ${rollbackAbove} unhealthy: rolling back instead of pausing`;
  }
  await ports.changes.recordWave(
    state.changeId,
    state.wave,
    'result',
    { verdict, reason, outcomes: Object.fromEntries(outcomes) },
    ports.now(),
  );
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
    onFailure,
  };
}

/**
 * Releases the wave's leases and budgets (instances still unhealthy keep counting; a replaced
 * instance counts while its group misses capacity) and moves on; says whether a person must
 * approve before the next wave (after the canary, at the risk containment point), so nothing
 * is held while the rollout waits for them.
 */
export async function releaseWave(
  ports: RolloutPorts,
  state: RolloutState,
): Promise<RolloutState & { more: boolean; approval: 'canary' | 'risk-containment' | 'none' }> {
  const [plan, spec] = await Promise.all([
    ports.changes.loadPlan(state.changeId),
    ports.changes.loadSpec(state.changeId),
  ]);
  const wave = plan.waves[state.wave];
  const leases = await ports.leases.heldBy(state.changeId, wave.instances, ports.now());
  const stillUnavailable = new Set<string>();
  if (spec.action.type === 'replace') {
    const { groups } = await appliedTo(ports, state);
    const health = await ports.autoscaling.health([...new Set(Object.values(groups))]);
    for (const [group, g] of health) {
      const missing = Math.max(0, g.desired - g.healthy.length);
      const replaced = Object.keys(groups).filter((id) => groups[id] === group);
      for (const id of replaced.slice(0, missing)) stillUnavailable.add(id);
    }
  } else {
    const conditions = await ports.ec2.conditions(wave.instances);
    for (const id of wave.instances) if (!isInService(conditions.get(id))) stillUnavailable.add(id);
  }
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

/**
 * Ends the change: completed, or failed with the reason. A rollback that completes marks the
 * change it undid `rolled-back`; one that fails marks it failed too.
 */
export async function finishRollout(
  ports: RolloutPorts,
  state: Pick<RolloutState, 'changeId' | 'rollbackOf'>,
  outcome: 'completed' | 'failed',
  reason: string,
): Promise<{ status: 'completed' | 'failed' | 'rolled-back'; reason: string }> {
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
  if (state.rollbackOf === '') return { status: outcome, reason };
  const status = outcome === 'completed' ? 'rolled-back' : 'failed';
  const why =
    outcome === 'completed'
      ? `rolled back by ${state.changeId}`
      : `its rollback ${state.changeId} failed: ${reason}`;
  await setUnlessEnded(ports, state.rollbackOf, status, why);
  await ports.fleet.audit([
    {
      subject: `change:${state.rollbackOf}`,
      actor: ports.actor,
      action: outcome === 'completed' ? 'change.rolled-back' : 'rollback.failed',
      reason: why,
      at: at(ports),
    },
  ]);
  return { status, reason: why };
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
async function judgeWave(
  ports: RolloutPorts,
  plan: Plan,
  spec: ChangeSpec,
  state: RolloutState,
  canaryIds: readonly string[],
) {
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
      ports.metrics.samples(metric, canaryIds, window),
    ]);
    metrics[m.name] = { direction: m.direction, critical: m.critical };
  }
  return judge(baseline, canary, judgeConfigSchema.parse({ metrics }));
}
