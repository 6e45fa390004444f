import { checksPending, type Instance, isInService } from '../../fleet/fleet';
import { isDisruptive, type ServicesFile, serviceCatalog } from '../../fleet/services';
import type {
  AutoScalingPort,
  Ec2Port,
  Freeze,
  InstanceCondition,
  LeaseStore,
  SsmCommand,
} from '../../ports/index';
import type { FreezeDecision } from '../../safety/freeze';
import {
  type AuditSink,
  checkFreeze,
  describeRefusal,
  holdInstances,
  NOT_IN_INVENTORY,
  releaseHold,
  TERMINATED,
} from '../../safety/hold';
import { resolveQuantity } from '../../safety/quantity';
import { judge, judgeConfigSchema } from '../judge/judge';
import { ACTION_MINUTES, type Plan } from '../plan/planner';
import type { Action, ChangeSpec } from '../spec';
import { windowDecision } from '../windows';
import { planRollback, rollbackIdOf, rollbackSpec } from './rollback';

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
  /** Recorded, but whether the action was sent is unknown (a crash in between). */
  readonly unknown?: readonly string[];
  /** The intent written just before the call (replaced by the record once it returned). */
  readonly sending?: readonly string[];
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
    /**
     * Claims the pending approval for a decision without consuming its token: a second claim
     * with the same decision (a retried `change approve`) gets the same token; another decision
     * gets nothing while the first is being answered.
     */
    claimApproval(
      id: string,
      decision: 'approve' | 'reject',
      reason: string,
      now: number,
    ): Promise<{ token: string; wave: number } | undefined>;
    /** The claimed approval was answered (sent, or found already closed): the token is dropped. */
    settleApproval(id: string, token: string, decision: 'approve' | 'reject', now: number): Promise<void>;
  };
  readonly leases: Pick<
    LeaseStore,
    'acquire' | 'release' | 'recordAction' | 'heldBy' | 'actionsOf' | 'renew'
  >;
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
  /** The FleetOps topic: approvals waiting, gates failed, changes ended. */
  readonly notify: Notifier;
  readonly now: () => number;
  readonly actor: string;
}

export interface Notifier {
  publish(subject: string, message: string): Promise<void>;
}

/**
 * Answers a waiting task token (SendTaskSuccess / SendTaskFailure). `closed` when Step Functions
 * says the task is already closed or timed out (TaskTimedOut): a retried answer after a crash.
 */
export interface ApprovalAnswers {
  succeed(token: string, output: Record<string, unknown>): Promise<'sent' | 'closed'>;
  fail(token: string, error: string, cause: string): Promise<'sent' | 'closed'>;
}

/**
 * While a freeze is in force, look again after 5 minutes, then twice as long each time up to 6
 * hours, never past the freeze's end: a freeze of a month costs about 130 looks, a year about 1,500
 * (each a handful of history events), far under Step Functions' 25,000.
 */
const FREEZE_RECHECK_FIRST_SECONDS = 300;
const FREEZE_RECHECK_MAX_SECONDS = 6 * 3600;

/**
 * How long an action may take to finish on a wave before settle stops waiting and the gate
 * judges what is there. SSM: the command's own timeout, plus ten minutes for delivery.
 */
export function settleLimitSeconds(action: Action): number {
  switch (action.type) {
    case 'set-tag':
      return 0;
    case 'reboot':
      return 20 * 60;
    case 'stop-start':
      return 30 * 60;
    case 'replace':
      return 60 * 60;
    case 'ssm-command':
      return action.timeoutSeconds + 10 * 60;
  }
}
/** Settle looks after 15 s, then twice as long each time, up to a fiftieth of the limit (≥ 5 min). */
const SETTLE_FIRST_WAIT_SECONDS = 15;
/** Margin on every lease renewal: the next step (and its retries) runs before the lease can lapse. */
const LEASE_MARGIN_MS = 30 * 60_000;

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

const ENDED = new Set(['completed', 'failed', 'aborted', 'rolled-back']);

async function setUnlessEnded(
  ports: RolloutPorts,
  changeId: string,
  status: 'rolling-back' | 'rolled-back' | 'failed',
  reason: string,
): Promise<void> {
  const current = (await ports.changes.get(changeId))?.status;
  // A change that does not exist (one that could not be loaded) or has ended stays as it is.
  if (current === undefined || ENDED.has(current)) return;
  await ports.changes.setStatus(changeId, status, reason, ports.now());
}

/**
 * May the current wave act now? Freezes (recorded when they block) and the spec's time windows.
 * `waits` is how many times this wave already waited for a freeze: the next look comes later
 * each time (see FREEZE_RECHECK_*), so a long freeze costs few history events.
 */
export async function checkWindow(
  ports: RolloutPorts,
  state: RolloutState,
  waits = 0,
): Promise<{ decision: 'go' | 'wait'; waitSeconds: number; waits: number; reason: string }> {
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
      waits,
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
  if (!freeze.allowed) {
    const untilEnd = Math.max(
      1,
      Math.ceil((Math.max(...freeze.frozenBy.map((f) => Date.parse(f.end))) - ports.now()) / 1000),
    );
    const next = Math.min(
      FREEZE_RECHECK_FIRST_SECONDS * 2 ** Math.min(waits, 16),
      FREEZE_RECHECK_MAX_SECONDS,
    );
    return {
      decision: 'wait',
      waitSeconds: Math.min(next, untilEnd),
      waits: waits + 1,
      reason: freeze.reason,
    };
  }
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
    return { decision: 'wait', waitSeconds: window.waitSeconds, waits, reason: 'outside the time windows' };
  }
  return { decision: 'go', waitSeconds: 0, waits, reason: freeze.reason };
}

/**
 * Leases the wave's instances and reserves their budgets, all or nothing; a refusal is recorded.
 * 1. Lease every instance of the wave not skipped already.
 * 2. Refused because some instances became ineligible after planning (terminated, no longer in
 *    the inventory: an Auto Scaling scale-in during a long change): those are skipped, recorded
 *    with their reason, and the rest is leased at once; the wave goes on without them.
 * 3. Refused for budget or holders: the state machine waits and tries again.
 */
export async function leaseWave(
  ports: RolloutPorts,
  state: RolloutState,
  attempts: number,
): Promise<{ acquired: boolean; attempts: number; skipped: number; reason: string }> {
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
  const hold = (instanceIds: readonly string[]) =>
    holdInstances(
      { leases: ports.leases, audit: ports.fleet },
      {
        owner: state.changeId,
        instanceIds,
        nonDisruptiveServices: nonDisruptive,
        ttlMs: ttlMinutes * 60_000,
        now: ports.now(),
      },
      ports.actor,
    );
  const { members } = await readWave(ports, plan, state);
  let outcome = await hold(members);
  let skipped = 0;
  if (!outcome.acquired) {
    const gone = outcome.conflicts.filter((c) => INELIGIBLE.has(c.reason));
    if (gone.length > 0) {
      await recordSkipped(ports, state, gone);
      skipped = gone.length;
      const goneIds = new Set(gone.map((c) => c.id));
      outcome = await hold(members.filter((id) => !goneIds.has(id)));
    }
  }
  return {
    acquired: outcome.acquired,
    attempts: attempts + 1,
    skipped,
    reason: outcome.acquired
      ? `leased${skipped > 0 ? `; ${skipped} skipped: no longer eligible (terminated or gone)` : ''}`
      : describeRefusal(outcome),
  };
}

/** Why the lease stores refuse an instance that is simply not there any more. */
const INELIGIBLE = new Set([NOT_IN_INVENTORY, TERMINATED]);

/**
 * What the wave's records say, read once per step: the instances skipped since planning (with
 * why), the wave as it now stands (`members`: planned, less the skipped; what the action, the
 * gate and the release see), and everything its apply attempts sent, merged.
 */
async function readWave(ports: RolloutPorts, plan: Plan, state: RolloutState) {
  const records = await ports.changes.waveRecords(state.changeId, state.wave);
  const skipped = new Map<string, string>();
  for (const r of records) {
    if (!r.part.startsWith('skipped#')) continue;
    for (const x of (r.body.instances ?? []) as Array<{ id: string; reason: string }>)
      skipped.set(x.id, x.reason);
  }
  const parts = records.filter((r) => r.part.startsWith('apply#'));
  const applies = parts.map((r) => r.body as unknown as ApplyRecord);
  return {
    skipped,
    members: plan.waves[state.wave].instances.filter((id) => !skipped.has(id)),
    sent: {
      applied: applies.flatMap((r) => r.applied),
      commands: applies.flatMap((r) => r.commands ?? []),
      groups: Object.assign({}, ...applies.map((r) => r.groups ?? {})) as Record<string, string>,
      refused: applies.flatMap((r) => r.refused ?? []),
      unknown: applies.flatMap((r) => r.unknown ?? []),
      sending: applies.flatMap((r) => r.sending ?? []),
      /** When the first apply attempt was recorded (the part's name carries it). */
      firstAt:
        parts.length > 0 ? Math.min(...parts.map((r) => Number(r.part.slice('apply#'.length)))) : undefined,
    },
  };
}
type WaveView = Awaited<ReturnType<typeof readWave>>;

/** Records instances skipped from the wave (kept with the change, shown by `change status`), and audits it. */
async function recordSkipped(
  ports: RolloutPorts,
  state: RolloutState,
  instances: ReadonlyArray<{ id: string; reason: string }>,
): Promise<void> {
  await ports.changes.recordWave(
    state.changeId,
    state.wave,
    `skipped#${String(ports.now()).padStart(15, '0')}`,
    { instances: instances.map(({ id, reason }) => ({ id, reason })) },
    ports.now(),
  );
  await ports.fleet.audit([
    {
      subject: `change:${state.changeId}`,
      actor: ports.actor,
      action: 'wave.skipped',
      reason: `wave ${state.wave}: ${instances.length} no longer eligible, skipped: ${instances
        .slice(0, 10)
        .map((i) => `${i.id} (${i.reason})`)
        .join(', ')}`,
      at: at(ports),
    },
  ]);
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
  const wave = await readWave(ports, plan, state);
  let members = wave.members;
  let conditions = new Map<string, InstanceCondition>();
  if (spec.action.type !== 'replace') {
    // Terminated between the lease and now: one id EC2 no longer knows fails a whole batch.
    conditions = await ports.ec2.conditions(members);
    const gone = members
      .filter((id) => {
        const state = conditions.get(id)?.state;
        return state === undefined || state === 'terminated' || state === 'shutting-down';
      })
      .map((id) => ({
        id,
        reason: `${conditions.get(id)?.state ?? 'not reported by EC2'} before the action`,
      }));
    if (gone.length > 0) {
      await recordSkipped(ports, state, gone);
      const goneIds = new Set(gone.map((g) => g.id));
      members = members.filter((id) => !goneIds.has(id));
    }
  }
  let leases = await ports.leases.heldBy(state.changeId, members, ports.now());
  let lost = members.length - leases.length;
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
  const before = wave.sent;
  const settledBefore = new Set([...before.applied, ...before.unknown]);
  const toApply: string[] = [];
  const inDoubt: string[] = [];
  let alreadyApplied = 0;
  for (const lease of leases) {
    const outcome = await ports.leases.recordAction(
      lease,
      state.changeId,
      { action: spec.action.type, wave: state.wave },
      ports.now(),
    );
    if (outcome === 'recorded') toApply.push(lease.instanceId);
    else if (outcome === 'duplicate' && !settledBefore.has(lease.instanceId)) inDoubt.push(lease.instanceId);
    else if (outcome === 'duplicate') alreadyApplied++;
    else lost++;
  }
  // Recorded by an attempt that died before saying what it sent: sent or not?
  const doubt = resolveDoubt(spec.action, inDoubt, new Set(before.sending), conditions);
  toApply.push(...doubt.send);
  const applied = [...toApply, ...doubt.sent];
  const part = `apply#${String(ports.now()).padStart(15, '0')}`;
  const groupsOf = (ids: readonly string[]) =>
    Object.fromEntries(ids.filter((id) => groups.has(id)).map((id) => [id, groups.get(id)!]));
  if (toApply.length > 0) {
    // The intent, before the call: a retry after a crash before this line knows nothing was sent.
    await ports.changes.recordWave(
      state.changeId,
      state.wave,
      part,
      { applied: [], sending: toApply, groups: groupsOf(toApply) },
      ports.now(),
    );
  }
  const record: ApplyRecord = {
    applied,
    refused,
    ...(doubt.unknown.length > 0 ? { unknown: doubt.unknown } : {}),
    groups: groupsOf(applied),
    ...(toApply.length > 0 ? await apply(ports, spec.action, toApply, state) : {}),
  };
  await ports.changes.recordWave(state.changeId, state.wave, part, { ...record }, ports.now());
  await ports.fleet.audit([
    {
      subject: `change:${state.changeId}`,
      actor: ports.actor,
      action: 'wave.applied',
      reason:
        `wave ${state.wave}: ${spec.action.type} applied to ${toApply.length}, already applied ${alreadyApplied + doubt.sent.length}, ` +
        (doubt.unknown.length > 0 ? `outcome unknown ${doubt.unknown.length}, ` : '') +
        `lease lost ${lost}${refused.length > 0 ? `, refused ${refused.length} (${refused[0].reason})` : ''}`,
      at: at(ports),
    },
  ]);
  return { applied: toApply.length, alreadyApplied, lost, refused: refused.length };
}

/**
 * An instance whose action an attempt recorded before it died without saying what it sent
 * (the Lambda crashed between its writes). Exactly once where it can be known, at most once where
 * it cannot:
 * - not in any attempt's intent (`sending`): that attempt died before the call: send now;
 * - in an intent, the call may or may not have gone out:
 *   - `set-tag`: send again (setting a tag twice is setting it once);
 *   - `stop-start`: still running means not stopped (StopInstances moves it to `stopping` at
 *     once): send; otherwise it was sent;
 *   - `reboot`, `replace`: taken as sent (a second reboot or termination would be a second
 *     action; settle and the gate still judge the instance or its group);
 *   - `ssm-command`: the command id was lost with the attempt, so its outcome cannot be read:
 *     unknown, which the gate counts as an error.
 */
function resolveDoubt(
  action: Action,
  ids: readonly string[],
  sending: ReadonlySet<string>,
  conditions: ReadonlyMap<string, InstanceCondition>,
): { send: string[]; sent: string[]; unknown: string[] } {
  const out = { send: [] as string[], sent: [] as string[], unknown: [] as string[] };
  for (const id of ids) {
    if (!sending.has(id) || action.type === 'set-tag') out.send.push(id);
    else if (action.type === 'stop-start')
      (conditions.get(id)?.state === 'running' ? out.send : out.sent).push(id);
    else if (action.type === 'ssm-command') out.unknown.push(id);
    else out.sent.push(id);
  }
  return out;
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

/**
 * Has the action finished on every instance of the wave? Waits as long as the action's own
 * limit allows ({@link settleLimitSeconds}, counted from the first apply), renewing the wave's
 * leases each time, and says how long to wait before the next look (growing, never past the limit).
 * - reboot: every instance running again with its status checks concluded (not initializing);
 *   stop-start: stopped ones are started, then the same;
 * - ssm-command: every command has ended; replace: every group has its desired capacity in
 *   service and healthy, without the terminated instances; set-tag: at once.
 * `expired` when the limit has passed: the gate then judges what is there.
 */
export async function actionSettled(
  ports: RolloutPorts,
  state: RolloutState,
  polls: number,
): Promise<{ done: boolean; expired: boolean; polls: number; waitSeconds: number }> {
  const [plan, spec] = await Promise.all([
    ports.changes.loadPlan(state.changeId),
    ports.changes.loadSpec(state.changeId),
  ]);
  const { sent, members } = await readWave(ports, plan, state);
  const done = await settled(ports, spec.action, sent, members);
  const limit = settleLimitSeconds(spec.action);
  const elapsed = Math.max(0, (ports.now() - (sent.firstAt ?? ports.now())) / 1000);
  const expired = !done && elapsed >= limit;
  const cap = Math.max(300, Math.ceil(limit / 50));
  const waitSeconds = Math.max(
    1,
    Math.min(SETTLE_FIRST_WAIT_SECONDS * 2 ** Math.min(polls + 1, 16), cap, Math.ceil(limit - elapsed)),
  );
  if (!done && !expired) {
    // The wave settles, bakes and is judged under its leases: they must outlive the next look.
    await renewWave(ports, state, members, waitSeconds * 1000 + state.bakeSeconds * 1000);
  }
  return { done, expired, polls: polls + 1, waitSeconds };
}

async function settled(
  ports: RolloutPorts,
  action: Action,
  sent: WaveView['sent'],
  members: readonly string[],
): Promise<boolean> {
  switch (action.type) {
    case 'set-tag':
      return true;
    case 'ssm-command': {
      const states = await ports.ssm.states(sent.commands.map((c) => c.commandId));
      return [...states.values()].every((s) => s !== 'pending');
    }
    case 'replace': {
      const health = await ports.autoscaling.health([...new Set(Object.values(sent.groups))]);
      const gone = new Set(sent.applied);
      return [...health.values()].every(
        (g) => g.healthy.length >= g.desired && !g.members.some((m) => gone.has(m)),
      );
    }
    case 'stop-start': {
      const conditions = await ports.ec2.conditions(sent.applied);
      const stopped = sent.applied.filter((id) => conditions.get(id)?.state === 'stopped');
      if (stopped.length > 0) await ports.ec2.start(stopped);
      return sent.applied.every((id) => backFromAction(conditions.get(id)));
    }
    case 'reboot': {
      const conditions = await ports.ec2.conditions(members);
      return members.every((id) => conditions.get(id) === undefined || backFromAction(conditions.get(id)));
    }
  }
}

/** Running again, its status checks concluded (ok or failing): no longer worth waiting for. */
const backFromAction = (c: InstanceCondition | undefined) =>
  c !== undefined && c.state === 'running' && !checksPending(c);

/** Extends the wave's leases so they outlive what comes next (plus a margin). */
async function renewWave(
  ports: RolloutPorts,
  state: RolloutState,
  members: readonly string[],
  nextMs: number,
): Promise<void> {
  const leases = await ports.leases.heldBy(state.changeId, members, ports.now());
  if (leases.length > 0) await ports.leases.renew(leases, nextMs + LEASE_MARGIN_MS, ports.now());
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
  wave: WaveView,
): Promise<{ outcomes: Map<string, string>; judged: string[]; pending: string[] }> {
  const outcomes = new Map<string, string>();
  const { sent, members: instances } = wave;
  for (const r of sent.refused) outcomes.set(r.id, r.reason);
  for (const id of sent.unknown)
    outcomes.set(id, 'action outcome unknown: the step stopped between recording the action and sending it');
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
 * 2. instances whose status checks are still initializing are neither: the gate waits for them
 *    (`extend`, at most three times, then a person decides) rather than passing them;
 * 3. with metrics in the spec, the canary judge compares the wave's instances with a baseline
 *    ({@link judgeWave}): pass goes on, marginal or fail fails, too few samples bakes longer;
 * 4. a failed gate is published to the topic with the judge's reasons.
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
  const wave = await readWave(ports, plan, state);
  const { members } = wave;
  const threshold = resolveQuantity(spec.gates.errorThreshold, members.length);
  const { outcomes, judged, pending } = await waveOutcomes(ports, spec, wave);
  const bad = [...outcomes].filter(([, outcome]) => outcome !== 'ok' && !outcome.startsWith(PENDING_PREFIX));
  const errors = bad.length;
  let verdict: 'pass' | 'fail' | 'extend' = errors <= threshold ? 'pass' : 'fail';
  let reason = `wave ${state.wave}: ${errors} of ${members.length} unhealthy after the bake (threshold ${threshold})${
    bad.length > 0
      ? `: ${bad
          .slice(0, 10)
          .map(([id, why]) => `${id} (${why})`)
          .join(', ')}`
      : ''
  }`;
  if (verdict === 'pass' && pending.length > 0) {
    verdict = 'extend';
    reason += `; ${pending.length} with status checks not concluded yet (${pending.slice(0, 5).join(', ')}): waiting for them`;
  }
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
    const { judgement, baseline } = await judgeWave(ports, plan, spec, state, judged, wave.sent.firstAt);
    reason += `; judge: ${judgement.verdict} (score ${judgement.score}) against ${baseline}: ${judgement.reasons.join('; ')}`;
    // Marginal is not good enough to go on alone; too few samples bakes longer.
    verdict =
      judgement.verdict === 'pass' ? 'pass' : judgement.verdict === 'inconclusive' ? 'extend' : 'fail';
  }
  const rollbackAbove =
    spec.gates.rollbackThreshold === undefined
      ? Number.POSITIVE_INFINITY
      : resolveQuantity(spec.gates.rollbackThreshold, members.length);
  // A rollback's own spec pauses on failure and has no rollbackThreshold (rollbackSpec): it never
  // rolls itself back.
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
  if (verdict === 'extend') {
    // Bake again under the same leases.
    await renewWave(ports, state, members, state.bakeSeconds * 1000);
  }
  if (verdict === 'fail') {
    await ports.notify.publish(
      `FleetOps: ${state.changeId} wave ${state.wave} failed its health gate`,
      `${reason}\n\nNext: ${onFailure === 'rollback' ? 'the change is rolled back automatically' : `the change waits for a person: fleetops change approve ${state.changeId} --reason "…" to go on, or fleetops change reject ${state.changeId} --reason "…"`}.\nSee: fleetops change status ${state.changeId}`,
    );
  }
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
 * Releases the wave's leases and budgets (instances not back in service keep counting; a replaced
 * instance counts while its group misses capacity) and moves on; says whether a person must
 * approve before the next wave (after the canary, at the risk containment point), so nothing
 * is held while the rollout waits for them.
 */
export async function releaseWave(
  ports: RolloutPorts,
  state: RolloutState,
): Promise<{ state: RolloutState; more: boolean; approval: 'canary' | 'risk-containment' | 'none' }> {
  const [plan, spec] = await Promise.all([
    ports.changes.loadPlan(state.changeId),
    ports.changes.loadSpec(state.changeId),
  ]);
  const wave = plan.waves[state.wave];
  const { members, sent } = await readWave(ports, plan, state);
  // Every lease of the wave, skipped instances' too (one may have gone after it was leased).
  const leases = await ports.leases.heldBy(state.changeId, wave.instances, ports.now());
  const member = new Set(members);
  const stillUnavailable = new Set<string>(wave.instances.filter((id) => !member.has(id)));
  if (spec.action.type === 'replace') {
    const { groups } = sent;
    const health = await ports.autoscaling.health([...new Set(Object.values(groups))]);
    for (const [group, g] of health) {
      const missing = Math.max(0, g.desired - g.healthy.length);
      const replaced = Object.keys(groups).filter((id) => groups[id] === group);
      for (const id of replaced.slice(0, missing)) stillUnavailable.add(id);
    }
  } else {
    const conditions = await ports.ec2.conditions(members);
    for (const id of members) if (!isInService(conditions.get(id))) stillUnavailable.add(id);
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
  return {
    state: { ...state, wave: next },
    more: next < state.waves,
    approval: wave.approvalAfter ?? 'none',
  };
}

/**
 * Keeps the approval's task token with the change (the execution waits on it), records the
 * request and publishes it to the topic with the command to run. After a failed or unjudged
 * gate the request carries the gate's reasons; after the last wave, approving ends the change.
 */
export async function requestApproval(
  ports: RolloutPorts,
  state: RolloutState,
  token: string,
  point: string,
): Promise<{ waiting: true }> {
  const judged = state.wave - 1;
  const last = state.wave >= state.waves;
  const gate =
    point === 'gate-failed' || point === 'gate-inconclusive'
      ? (await ports.changes.waveRecords(state.changeId, judged)).find((r) => r.part === 'result')?.body
      : undefined;
  const why =
    point === 'canary'
      ? 'the canary passed'
      : point === 'risk-containment'
        ? 'risk containment reached'
        : point === 'gate-inconclusive'
          ? `wave ${judged} could not be judged, even after longer bakes`
          : `wave ${judged} failed its health gate and the spec says pause`;
  const next = last
    ? 'approving accepts it and ends the change'
    : `approving goes on with wave ${state.wave}`;
  const reason = `approval needed ${last ? 'after the last wave' : `before wave ${state.wave}`}: ${why}; ${next}`;
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
  await ports.notify.publish(
    `FleetOps: ${state.changeId} waits for approval`,
    [
      reason,
      ...(gate ? [`gate: ${String(gate.reason)}`] : []),
      '',
      `approve: fleetops change approve ${state.changeId} --reason "…"`,
      `reject:  fleetops change reject ${state.changeId} --reason "…"`,
      `status:  fleetops change status ${state.changeId}`,
    ].join('\n'),
  );
  return { waiting: true };
}

/**
 * A person approves or rejects a waiting change, exactly once whatever crashes in between:
 * 1. claim the pending approval for this decision (the token stays kept; a retried command
 *    with the same decision claims it again, another decision is refused meanwhile);
 * 2. answer the task token (SendTaskSuccess / SendTaskFailure); a token Step Functions already
 *    closed (the first attempt's answer got through) counts as answered;
 * 3. drop the token and record the decision with its reason.
 * `undefined` when the change is not waiting for an approval.
 */
export async function decideApproval(
  ports: Pick<RolloutPorts, 'changes' | 'fleet' | 'now'> & { answers: ApprovalAnswers },
  changeId: string,
  decision: 'approve' | 'reject',
  actor: string,
  reason: string,
): Promise<{ token: string; wave: number; answer: 'sent' | 'closed' } | undefined> {
  const claimed = await ports.changes.claimApproval(changeId, decision, reason, ports.now());
  if (!claimed) return undefined;
  const answer =
    decision === 'approve'
      ? await ports.answers.succeed(claimed.token, { approvedBy: actor, reason })
      : await ports.answers.fail(claimed.token, 'Rejected', reason);
  await ports.changes.settleApproval(changeId, claimed.token, decision, ports.now());
  await ports.fleet.audit([
    {
      subject: `change:${changeId}`,
      actor,
      action: decision === 'approve' ? 'approval.granted' : 'approval.rejected',
      reason: `before wave ${claimed.wave}: ${reason}`,
      at: new Date(ports.now()).toISOString(),
    },
  ]);
  return { ...claimed, answer };
}

/**
 * Ends the change: completed, or failed with the reason (and the step's error, when one ended
 * it). A rollback that completes marks the change it undid `rolled-back`; one that fails marks
 * it failed too. A change completed after a person accepted a failed or unjudged wave says so.
 * The end is published to the topic.
 */
export async function finishRollout(
  ports: RolloutPorts,
  state: Pick<RolloutState, 'changeId' | 'rollbackOf'> & { readonly wave?: number },
  outcome: 'completed' | 'failed',
  reason: string,
  error?: { Error?: string; Cause?: string },
): Promise<{ status: 'completed' | 'failed' | 'rolled-back'; reason: string }> {
  if (outcome === 'failed' && state.wave !== undefined) {
    // A step that failed for good may have left the wave leased (its release failed too):
    // the change lets go of it now; its instances keep counting until the next sweep.
    const wave = (await ports.changes.loadPlan(state.changeId)).waves[state.wave];
    const held = wave ? await ports.leases.heldBy(state.changeId, wave.instances, ports.now()) : [];
    if (held.length > 0)
      await releaseHold(
        { leases: ports.leases, audit: ports.fleet },
        state.changeId,
        held,
        ports.actor,
        `the change ended failed holding wave ${state.wave}`,
        ports.now(),
        new Set(held.map((l) => l.instanceId)),
      );
  }
  let why = error ? `${reason}: ${describeError(error)}` : reason;
  if (outcome === 'completed') {
    const accepted = (await ports.changes.waveRecords(state.changeId))
      .filter((r) => r.part === 'result' && r.body.verdict !== 'pass')
      .map((r) => r.wave);
    const distinct = [...new Set(accepted)];
    if (distinct.length > 0)
      why = `completed: a person accepted wave${distinct.length > 1 ? 's' : ''} ${distinct.join(', ')} after a failed or unjudged gate; the other waves passed`;
  }
  await ports.changes.setStatus(state.changeId, outcome, why, ports.now());
  await ports.fleet.audit([
    {
      subject: `change:${state.changeId}`,
      actor: ports.actor,
      action: `change.${outcome}`,
      reason: why,
      at: at(ports),
    },
  ]);
  if (state.rollbackOf === '') {
    await ports.notify.publish(
      `FleetOps: ${state.changeId} ${outcome}`,
      `${why}\nSee: fleetops change status ${state.changeId}`,
    );
    return { status: outcome, reason: why };
  }
  const status = outcome === 'completed' ? 'rolled-back' : 'failed';
  const original =
    outcome === 'completed'
      ? `rolled back by ${state.changeId}`
      : `its rollback ${state.changeId} failed: ${why}`;
  await setUnlessEnded(ports, state.rollbackOf, status, original);
  await ports.fleet.audit([
    {
      subject: `change:${state.rollbackOf}`,
      actor: ports.actor,
      action: outcome === 'completed' ? 'change.rolled-back' : 'rollback.failed',
      reason: original,
      at: at(ports),
    },
  ]);
  await ports.notify.publish(
    `FleetOps: ${state.rollbackOf} ${status}`,
    `${original}\nSee: fleetops change status ${state.rollbackOf} and fleetops change status ${state.changeId}`,
  );
  return { status, reason: original };
}

/**
 * The execution could not load the change (or plan its requested rollback): recorded on the
 * change when it exists and is not ended, and in its audit trail either way, so nothing is left
 * `running` by an error (invariant 9).
 */
export async function recordNotStarted(
  ports: RolloutPorts,
  input: { changeId: string; rollback?: unknown; error?: { Error?: string; Cause?: string } },
): Promise<{ recorded: true }> {
  const requestedRollback = input.rollback !== undefined;
  const subject = requestedRollback ? rollbackIdOf(input.changeId) : input.changeId;
  const why = `${requestedRollback ? 'the requested rollback could not be planned' : 'the change could not be loaded'}: ${describeError(input.error ?? {})}`;
  await setUnlessEnded(ports, subject, 'failed', why);
  await ports.fleet.audit([
    {
      subject: `change:${subject}`,
      actor: ports.actor,
      action: 'change.not-started',
      reason: why,
      at: at(ports),
    },
  ]);
  await ports.notify.publish(`FleetOps: ${subject} did not start`, why);
  return { recorded: true };
}

/** A Catch's `{ Error, Cause }`, short enough for a status reason. */
const describeError = (error: { Error?: string; Cause?: string }) =>
  `${error.Error ?? 'error'}${error.Cause ? ` (${String(error.Cause).slice(0, 300)})` : ''}`;

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
 * The canary judge for a wave: each of the spec's metrics for the wave's instances against a
 * baseline, over the bake. The baseline, first that exists:
 * 1. the instances of the same services the change has not touched yet (later waves);
 * 2. in the last waves, where none is left: the instances of the same services the change
 *    already changed in earlier waves, which passed their gates (so a healthy change completes,
 *    and a regression that only the last wave brings still fails);
 * 3. a change of one wave: the wave's own instances in the same length of time before the action.
 */
async function judgeWave(
  ports: RolloutPorts,
  plan: Plan,
  spec: ChangeSpec,
  state: RolloutState,
  canaryIds: readonly string[],
  /** When the wave's action was first applied (for the wave's own before-window). */
  appliedAt: number | undefined,
) {
  const wave = plan.waves[state.wave];
  const services = new Set(Object.keys(wave.services));
  const serviceOf = new Map((await ports.fleet.listInstances()).map((i) => [i.id, i.service]));
  const sameServices = (ids: readonly string[]) => ids.filter((id) => services.has(serviceOf.get(id) ?? ''));
  const end = new Date(ports.now());
  const length = Math.max(state.bakeSeconds, 300) * 1000;
  const window = { start: new Date(end.getTime() - length), end, periodSeconds: 60 };
  let baselineIds = sameServices(plan.waves.slice(state.wave + 1).flatMap((w) => w.instances));
  let baselineWindow = window;
  let baseline = 'untouched instances of the same services';
  if (baselineIds.length === 0) {
    const canary = new Set(canaryIds);
    baselineIds = sameServices(
      (await ports.leases.actionsOf(state.changeId))
        .filter((a) => a.wave < state.wave && !canary.has(a.instanceId))
        .map((a) => a.instanceId),
    );
    baseline = 'instances of the same services changed in earlier waves';
  }
  if (baselineIds.length === 0) {
    const firstAt = appliedAt ?? end.getTime();
    baselineIds = [...canaryIds];
    baselineWindow = { start: new Date(firstAt - length), end: new Date(firstAt), periodSeconds: 60 };
    baseline = 'the same instances before the action';
  }
  const samples: Record<string, number[]> = {};
  const canary: Record<string, number[]> = {};
  const metrics: Record<string, { direction: 'increase' | 'decrease' | 'either'; critical: boolean }> = {};
  for (const m of spec.gates.metrics) {
    const metric = { namespace: m.namespace, name: m.name, statistic: m.statistic };
    [samples[m.name], canary[m.name]] = await Promise.all([
      ports.metrics.samples(metric, baselineIds, baselineWindow),
      ports.metrics.samples(metric, canaryIds, window),
    ]);
    metrics[m.name] = { direction: m.direction, critical: m.critical };
  }
  return {
    judgement: judge(samples, canary, judgeConfigSchema.parse({ metrics })),
    baseline: `${baseline} (${baselineIds.length})`,
  };
}
