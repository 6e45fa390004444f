import type { Instance } from '../fleet/fleet';
import type { AuditSink } from '../ports/audit';
import type { AutoScalingGroupState, AutoScalingPort, InstanceLifecycle } from '../ports/autoscaling';
import type { Ec2Port } from '../ports/ec2';
import type { Notifier } from '../ports/notifier';
import type { TargetHealth, TargetRef, TrafficExit, TrafficExits, TrafficPort } from '../ports/traffic';

/**
 * # The traffic protocol
 *
 * Around every disruptive action, rollout and remediation alike (CodeDeploy's BlockTraffic /
 * AllowTraffic, SSM's AWSEC2-PatchLoadBalancerInstance and instance refresh do the same):
 *
 * 1. {@link takeOut}: the intent is recorded (`leaving`), then a group member enters Standby
 *    (desired capacity decremented, so the group launches no replacement: the disruption budget
 *    already counts the instance as out; ExitStandby adds the capacity back) and is deregistered
 *    from the target groups its group does not attach; an instance in no group is deregistered
 *    from every target group it is registered in. Then `out`.
 * 2. {@link drained}: waits until no target group still drains it (every registration `unused`)
 *    and a member is in `Standby`, never longer than its target groups' deregistration delay
 *    (after which ELB itself ends draining).
 * 3. The action, and proof that it finished (the action module says: a reboot, console output
 *    posted after the request, then both status checks `ok`).
 * 4. {@link bringBack}: the intent (`returning`), then ExitStandby / RegisterTargets.
 * 5. {@link backInService}: waits until `InService` and `healthy` in every target group, never
 *    longer than its groups' healthy threshold × interval (plus a minute for registration);
 *    then the exit is removed.
 *
 * An instance in no group and no target group goes straight to the action. Whatever happens
 * in between (a crash, an abort, a failed gate, a rollback, an owner that died), the exit kept
 * in the fleet table says what to undo: {@link restore} for an owner that is still alive, and
 * {@link restoreAbandoned} (the sweep) for one whose lease is gone.
 */

/** What the protocol reaches: ELB, Auto Scaling, EC2 (to start a stopped instance again) and the exits. */
export interface TrafficDeps {
  readonly traffic: TrafficPort;
  readonly autoscaling: AutoScalingPort;
  readonly exits: TrafficExits;
  readonly ec2: Pick<Ec2Port, 'conditions' | 'start'>;
  readonly now: () => number;
}

/** The protocol's deps out of a workflow's ports (the rollout's and the remediation's have them all). */
export const trafficDeps = (ports: TrafficDeps): TrafficDeps => ({
  traffic: ports.traffic,
  autoscaling: ports.autoscaling,
  exits: ports.exits,
  ec2: ports.ec2,
  now: ports.now,
});

/** Where an instance is in the protocol, as the steps report it. */
export interface Refusal {
  readonly id: string;
  readonly reason: string;
}

/** A member in these lifecycle states is held by its group or a lifecycle hook: never touched. */
const HELD_BY_GROUP = /Wait|Proceed|Pending|Terminat|Detach|Warmed|Entering/;

/** Grace past the deregistration delay before draining is taken as over (ELB's own timer is not exact). */
const DRAIN_GRACE_SECONDS = 30;
/** Grace past healthy threshold × interval before a returned instance is reported late (registration itself takes time). */
const READY_GRACE_SECONDS = 60;
/** EnterStandby and ExitStandby take at most 20 instances a request. */
const STANDBY_BATCH = 20;

/** The time the protocol adds around the action: draining (bounded) and readiness (bounded), in seconds. */
export function protocolSeconds(settings: {
  deregistrationDelaySeconds: number;
  healthyThresholdCount: number;
  healthCheckIntervalSeconds: number;
}): { drain: number; ready: number } {
  return {
    drain: settings.deregistrationDelaySeconds,
    ready: settings.healthyThresholdCount * settings.healthCheckIntervalSeconds,
  };
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

const registered = (t: TargetHealth) => !(t.state === 'unused' && t.reason === 'Target.NotRegistered');

/**
 * Takes the instances out of traffic (steps 1 of the protocol). Returns those now out (or on
 * their way: wait with {@link drained}), those with no traffic to take (`direct`: act at once),
 * those refused (another party holds them in Standby or a lifecycle hook, or another owner took
 * them out) and those that must wait (their group cannot lend more instances to Standby without
 * going below its minimum until others come back). Idempotent: an exit already recorded by
 * this owner is carried on, not taken again.
 */
export async function takeOut(
  deps: TrafficDeps,
  owner: string,
  instances: ReadonlyArray<Pick<Instance, 'id'> & Partial<Pick<Instance, 'targets'>>>,
): Promise<{ out: string[]; direct: string[]; refused: Refusal[]; waiting: Refusal[] }> {
  const result = {
    out: [] as string[],
    direct: [] as string[],
    refused: [] as Refusal[],
    waiting: [] as Refusal[],
  };
  if (instances.length === 0) return result;
  const ids = instances.map((i) => i.id);
  const existing = await deps.exits.of(ids);
  const fresh: Array<(typeof instances)[number]> = [];
  const resumed: TrafficExit[] = [];
  for (const instance of instances) {
    const exit = existing.get(instance.id);
    if (exit === undefined) fresh.push(instance);
    else if (exit.owner !== owner)
      result.refused.push({ id: instance.id, reason: `taken out of traffic by ${exit.owner}` });
    else if (exit.phase === 'leaving') resumed.push(exit);
    else result.out.push(instance.id);
  }
  const lifecycles = await deps.autoscaling.lifecycleOf([
    ...fresh.map((i) => i.id),
    ...resumed.map((e) => e.instanceId),
  ]);
  const planned: TrafficExit[] = [];
  if (fresh.length > 0) {
    const { placements, groups } = await placementsOf(deps, fresh, lifecycles);
    const room = standbyRoom(groups, placements);
    for (const p of placements) {
      if (p.refusal) {
        result.refused.push({ id: p.id, reason: p.refusal });
        continue;
      }
      if (p.group === undefined && p.targets.length === 0) {
        result.direct.push(p.id);
        continue;
      }
      if (p.group !== undefined) {
        const left = room.get(p.group.group) ?? 0;
        if (left <= 0) {
          const why = room.has(p.group.group)
            ? `${p.group.group} lends no more instances to Standby now (desired capacity would fall below its minimum); waits for others to return`
            : `${p.group.group} is at its minimum: Standby would need desired capacity below it (lower MinSize, or use replace)`;
          (room.has(p.group.group) && room.get(`${p.group.group}#max`)! > 0
            ? result.waiting
            : result.refused
          ).push({ id: p.id, reason: why });
          continue;
        }
        room.set(p.group.group, left - 1);
      }
      planned.push({
        instanceId: p.id,
        owner,
        ...(p.group !== undefined ? { standby: p.group.group } : {}),
        deregistered: p.targets.filter((t) => !p.attached.has(t.targetGroupArn)).map(refOf),
        targetGroups: [...new Set([...p.targets.map((t) => t.targetGroupArn), ...p.attached])],
        phase: 'leaving',
        since: deps.now(),
        drainSeconds: p.drainSeconds,
        readySeconds: p.readySeconds,
      });
    }
  }
  if (planned.length > 0) {
    // The intent, before any call: whoever finds it knows what may have been done.
    const foreign = new Set(await deps.exits.put(planned));
    for (const id of foreign)
      result.refused.push({ id, reason: 'taken out of traffic by another owner meanwhile' });
    resumed.push(...planned.filter((e) => !foreign.has(e.instanceId)));
  }
  if (resumed.length === 0) return result;
  const standby = new Map<string, string[]>();
  for (const e of resumed) {
    // A retry after a crash: already in Standby (or on its way) is left as it is.
    const now = lifecycles.get(e.instanceId)?.lifecycle;
    if (e.standby !== undefined && (now === undefined || now === 'InService'))
      pushTo(standby, e.standby, e.instanceId);
  }
  for (const [group, members] of standby)
    for (let k = 0; k < members.length; k += STANDBY_BATCH)
      await deps.autoscaling.enterStandby(group, members.slice(k, k + STANDBY_BATCH));
  const deregister = resumed.flatMap((e) => e.deregistered.map((t) => ({ ...t, instanceId: e.instanceId })));
  if (deregister.length > 0) await deps.traffic.deregister(deregister);
  await deps.exits.put(resumed.map((e) => ({ ...e, phase: 'out' as const })));
  result.out.push(...resumed.map((e) => e.instanceId));
  return result;
}

const refOf = (t: TargetRef): TargetRef => ({
  targetGroupArn: t.targetGroupArn,
  ...(t.port !== undefined ? { port: t.port } : {}),
});

interface Placement {
  readonly id: string;
  readonly group?: InstanceLifecycle;
  /** Live registrations (the inventory's target groups and the group's attached ones, confirmed). */
  readonly targets: TargetHealth[];
  readonly attached: ReadonlySet<string>;
  readonly drainSeconds: number;
  readonly readySeconds: number;
  readonly refusal?: string;
}

/** Each instance's group and live registrations, read with one request per target group. */
async function placementsOf(
  deps: TrafficDeps,
  instances: ReadonlyArray<Pick<Instance, 'id'> & Partial<Pick<Instance, 'targets'>>>,
  lifecycles: ReadonlyMap<string, InstanceLifecycle>,
): Promise<{ placements: Placement[]; groups: ReadonlyMap<string, AutoScalingGroupState> }> {
  const groupNames = [...new Set([...lifecycles.values()].map((l) => l.group))];
  const groups = new Map((await deps.autoscaling.describeGroups(groupNames)).map((g) => [g.name, g]));
  const asked = new Map<string, Set<string>>();
  const add = (arn: string, id: string) => {
    const ids = asked.get(arn) ?? new Set<string>();
    ids.add(id);
    asked.set(arn, ids);
  };
  for (const i of instances) {
    for (const t of i.targets ?? []) add(t.targetGroupArn, i.id);
    const l = lifecycles.get(i.id);
    for (const arn of (l && groups.get(l.group)?.targetGroupArns) ?? []) add(arn, i.id);
  }
  const ask = new Map([...asked].map(([arn, ids]) => [arn, [...ids]]));
  const health = ask.size > 0 ? await deps.traffic.targetHealth(ask) : new Map<string, TargetHealth[]>();
  const settings = ask.size > 0 ? await deps.traffic.settings([...ask.keys()]) : new Map();
  const placements = instances.map((i): Placement => {
    const l = lifecycles.get(i.id);
    const attached = new Set((l && groups.get(l.group)?.targetGroupArns) ?? []);
    const targets = (health.get(i.id) ?? []).filter(registered);
    const all = [...new Set([...targets.map((t) => t.targetGroupArn), ...attached])].map((arn) =>
      settings.get(arn),
    );
    const drainSeconds = Math.max(0, ...all.map((s) => s?.deregistrationDelaySeconds ?? 0));
    const readySeconds = Math.max(0, ...all.map((s) => (s ? protocolSeconds(s).ready : 0)));
    let refusal: string | undefined;
    if (l !== undefined && l.lifecycle === 'Standby')
      refusal = `in Standby in ${l.group}, held by another party`;
    else if (l !== undefined && l.lifecycle !== 'InService' && HELD_BY_GROUP.test(l.lifecycle))
      refusal = `${l.lifecycle} in ${l.group} (the group or a lifecycle hook holds it)`;
    return {
      id: i.id,
      ...(l ? { group: l } : {}),
      targets,
      attached,
      drainSeconds,
      readySeconds,
      ...(refusal ? { refusal } : {}),
    };
  });
  return { placements, groups };
}

/**
 * How many instances each group can lend to Standby now (desired − minimum, as EnterStandby with
 * a decrement allows), and under `<group>#max` how many it could lend at all (desired − minimum
 * with this owner's and everyone's Standby instances back).
 */
function standbyRoom(
  groups: ReadonlyMap<string, AutoScalingGroupState>,
  placements: readonly Placement[],
): Map<string, number> {
  const names = new Set(placements.flatMap((p) => (p.group && !p.refusal ? [p.group.group] : [])));
  const room = new Map<string, number>();
  for (const name of names) {
    const g = groups.get(name);
    if (g === undefined) continue;
    const inStandby = g.members.filter(
      (m) => m.lifecycle === 'Standby' || m.lifecycle === 'EnteringStandby',
    ).length;
    const max = g.desired + inStandby - g.min;
    if (max <= 0) continue; // no entry: refused outright
    room.set(g.name, Math.max(0, g.desired - g.min));
    room.set(`${g.name}#max`, max);
  }
  return room;
}

/**
 * Which of the owner's instances are out of traffic and drained (step 2): a Standby member is in
 * `Standby`, and no target group still has it registered (or draining); never waited for longer
 * than its deregistration delay (plus a grace), after which ELB has ended draining anyway.
 * An instance the owner never took out (`direct`) counts as drained.
 */
export async function drained(
  deps: TrafficDeps,
  owner: string,
  ids: readonly string[],
): Promise<{ drained: string[]; waiting: string[] }> {
  const exits = await deps.exits.of(ids);
  const mine = ids.map((id) => exits.get(id)).filter((e): e is TrafficExit => e?.owner === owner);
  const out = { drained: ids.filter((id) => exits.get(id)?.owner !== owner), waiting: [] as string[] };
  const pending = mine.filter((e) => e.phase !== 'returning');
  out.drained.push(...mine.filter((e) => e.phase === 'returning').map((e) => e.instanceId));
  if (pending.length === 0) return out;
  const lifecycles = await deps.autoscaling.lifecycleOf(
    pending.filter((e) => e.standby).map((e) => e.instanceId),
  );
  const health = await healthIn(deps, pending);
  for (const e of pending) {
    const overdue = deps.now() - e.since >= (e.drainSeconds + DRAIN_GRACE_SECONDS) * 1000;
    const standbyDone = e.standby === undefined || lifecycles.get(e.instanceId)?.lifecycle === 'Standby';
    const stillServing = (health.get(e.instanceId) ?? []).some(registered);
    const done = e.phase === 'out' && standbyDone && (!stillServing || overdue);
    (done ? out.drained : out.waiting).push(e.instanceId);
  }
  return out;
}

/** The health of exits' instances in every target group they serve in. */
async function healthIn(
  deps: TrafficDeps,
  exits: readonly TrafficExit[],
): Promise<Map<string, TargetHealth[]>> {
  const ask = new Map<string, string[]>();
  for (const e of exits)
    for (const arn of e.targetGroups) ask.set(arn, [...(ask.get(arn) ?? []), e.instanceId]);
  return ask.size > 0 ? deps.traffic.targetHealth(ask) : new Map();
}

/**
 * Puts the owner's instances back into traffic (step 4): the intent first (`returning`), then
 * ExitStandby and RegisterTargets. Called again for an instance already `returning` (every settle
 * look, a retry after a crash between the intent and the calls), it repeats only what did not
 * happen: ExitStandby for a member still in Standby, RegisterTargets where the instance is not
 * registered. Instances without an exit of the owner are left alone.
 */
export async function bringBack(deps: TrafficDeps, owner: string, ids: readonly string[]): Promise<string[]> {
  const exits = await deps.exits.of(ids);
  const mine = ids.map((id) => exits.get(id)).filter((e): e is TrafficExit => e?.owner === owner);
  if (mine.length === 0) return [];
  const fresh = mine.filter((e) => e.phase !== 'returning');
  const again = mine.filter((e) => e.phase === 'returning');
  const returning = fresh.map((e) => ({ ...e, phase: 'returning' as const, returnedAt: deps.now() }));
  if (returning.length > 0) await deps.exits.put(returning);
  const all = [...returning, ...again];
  const lifecycles = await deps.autoscaling.lifecycleOf(
    all.filter((e) => e.standby).map((e) => e.instanceId),
  );
  const standby = new Map<string, string[]>();
  for (const e of all)
    if (e.standby !== undefined && lifecycles.get(e.instanceId)?.lifecycle === 'Standby')
      pushTo(standby, e.standby, e.instanceId);
  for (const [group, members] of standby)
    for (let k = 0; k < members.length; k += STANDBY_BATCH) {
      try {
        await deps.autoscaling.exitStandby(group, members.slice(k, k + STANDBY_BATCH));
      } catch {
        // Refused (ExitStandby adds the capacity back: a group that scaled out meanwhile may be at its
        // MaxSize; a pending update of the group): the exits stay `returning`, the next look or the
        // sweep asks again, and until then they count as out of traffic, never as a crash.
      }
    }
  const register = returning.flatMap((e) => e.deregistered.map((t) => ({ ...t, instanceId: e.instanceId })));
  const pending = again.filter((e) => e.deregistered.length > 0);
  if (pending.length > 0) {
    const health = await healthIn(deps, pending);
    for (const e of pending)
      for (const t of e.deregistered) {
        const now = (health.get(e.instanceId) ?? []).find((h) => h.targetGroupArn === t.targetGroupArn);
        if (now === undefined || !registered(now) || now.state === 'draining')
          register.push({ ...t, instanceId: e.instanceId });
      }
  }
  if (register.length > 0) await deps.traffic.register(register);
  return all.map((e) => e.instanceId);
}

/**
 * Which of the owner's returned instances serve again (step 5): `InService` in their group and
 * `healthy` in every target group. Those are done (their exit removed). `late`: not there after
 * healthy threshold × interval (plus a minute): no longer waited for, with why (the gate judges).
 * Instances without an exit of the owner are `ready`.
 */
export async function backInService(
  deps: TrafficDeps,
  owner: string,
  ids: readonly string[],
): Promise<{ ready: string[]; waiting: string[]; late: Refusal[] }> {
  const exits = await deps.exits.of(ids);
  const mine = ids.map((id) => exits.get(id)).filter((e): e is TrafficExit => e?.owner === owner);
  const out = {
    ready: ids.filter((id) => exits.get(id)?.owner !== owner),
    waiting: [] as string[],
    late: [] as Refusal[],
  };
  if (mine.length === 0) return out;
  const lifecycles = await deps.autoscaling.lifecycleOf(
    mine.filter((e) => e.standby).map((e) => e.instanceId),
  );
  const health = await healthIn(deps, mine);
  const done: string[] = [];
  for (const e of mine) {
    const problems = servingProblems(e, lifecycles.get(e.instanceId), health.get(e.instanceId) ?? []);
    if (problems.length === 0 && e.phase === 'returning') {
      done.push(e.instanceId);
      continue;
    }
    const since = e.returnedAt ?? deps.now();
    const late =
      e.phase === 'returning' && deps.now() - since >= (e.readySeconds + READY_GRACE_SECONDS) * 1000;
    if (late) out.late.push({ id: e.instanceId, reason: problems.join('; ') });
    else out.waiting.push(e.instanceId);
  }
  if (done.length > 0) await deps.exits.remove(owner, done);
  out.ready.push(...done);
  return out;
}

/** Why an instance does not serve yet: its group's lifecycle state, or a target group that has it not `healthy`. */
export function servingProblems(
  exit: Pick<TrafficExit, 'standby' | 'targetGroups'>,
  lifecycle: InstanceLifecycle | undefined,
  health: readonly TargetHealth[],
): string[] {
  const problems: string[] = [];
  if (exit.standby !== undefined && lifecycle?.lifecycle !== 'InService')
    problems.push(`${lifecycle?.lifecycle ?? 'not listed'} in ${exit.standby}`);
  for (const arn of exit.targetGroups) {
    const t = health.find((h) => h.targetGroupArn === arn);
    if (t?.state !== 'healthy') problems.push(`${t?.state ?? 'not reported'} in ${shortArn(arn)}`);
  }
  return problems;
}

/** `targetgroup/web/0123…` → `web`, for reasons a person reads. */
export const shortArn = (arn: string) => arn.split('/').at(-2) ?? arn;

/**
 * Brings back what an owner took out, whatever the state it was left in (a failed gate, an
 * error, an abort, a rollback's start): a `leaving` or `out` instance that runs is put back
 * (ExitStandby / RegisterTargets); one that is stopped (a stop-start cut short) is started again
 * and put back by the sweep once it runs; one that is gone has its exit removed, and the
 * capacity its Standby took from the group given back. A `returning` one is back as far as
 * FleetOps can bring it: its exit is removed (the inventory counts it unavailable until healthy).
 * Returns what was brought back and what is stuck, with why (kept on the exit for the sweep).
 */
export async function restore(
  deps: TrafficDeps,
  owner: string,
  ids: readonly string[],
): Promise<{ restored: string[]; stuck: Refusal[] }> {
  const exits = await deps.exits.of(ids);
  const mine = ids.map((id) => exits.get(id)).filter((e): e is TrafficExit => e?.owner === owner);
  const result = { restored: [] as string[], stuck: [] as Refusal[] };
  if (mine.length === 0) return result;
  const conditions = await deps.ec2.conditions(mine.map((e) => e.instanceId));
  const back: string[] = [];
  const gone: TrafficExit[] = [];
  const stopped: TrafficExit[] = [];
  for (const e of mine) {
    const state = conditions.get(e.instanceId)?.state;
    if (state === undefined || state === 'terminated' || state === 'shutting-down') gone.push(e);
    else if (state === 'running' || e.phase === 'returning') back.push(e.instanceId);
    else stopped.push(e);
  }
  if (back.length > 0) {
    await bringBack(deps, owner, back);
    // ExitStandby refused (a group at its MaxSize after a scale-out, an update in progress): still
    // in Standby, so the exit stays, stuck, for the sweep to ask again and page — removing it would
    // leave the instance out of traffic with nothing to say so.
    const backIds = new Set(back);
    const standby = mine.filter((e) => e.standby !== undefined && backIds.has(e.instanceId));
    const lifecycles =
      standby.length > 0
        ? await deps.autoscaling.lifecycleOf(standby.map((e) => e.instanceId))
        : new Map<string, InstanceLifecycle>();
    const held = standby.filter((e) => lifecycles.get(e.instanceId)?.lifecycle === 'Standby');
    const heldIds = new Set(held.map((e) => e.instanceId));
    const done = back.filter((id) => !heldIds.has(id));
    if (done.length > 0) await deps.exits.remove(owner, done);
    result.restored.push(...done);
    if (held.length > 0) {
      const stuck = held.map((e) => ({
        ...e,
        phase: 'returning' as const,
        returnedAt: e.returnedAt ?? deps.now(),
        stuck: `still in Standby in ${e.standby} when ${owner} let go: ExitStandby refused; asked again by the sweep`,
      }));
      await deps.exits.put(stuck);
      result.stuck.push(...stuck.map((e) => ({ id: e.instanceId, reason: e.stuck })));
    }
  }
  for (const e of gone) {
    if (e.standby !== undefined) {
      // The group lent it with a decrement; it will not come back: give the group its capacity back.
      const g = await deps.autoscaling.describeGroup(e.standby);
      if (g !== undefined && g.desired < g.max)
        await deps.autoscaling.setDesiredCapacity(g.name, g.desired + 1);
    }
    await deps.exits.remove(owner, [e.instanceId]);
    result.restored.push(e.instanceId);
  }
  if (stopped.length > 0) {
    const startable = stopped.filter((e) => conditions.get(e.instanceId)?.state === 'stopped');
    if (startable.length > 0) await deps.ec2.start(startable.map((e) => e.instanceId));
    const stuck = stopped.map((e) => ({
      ...e,
      stuck: `${conditions.get(e.instanceId)?.state} when ${owner} let go: ${startable.includes(e) ? 'started again; ' : ''}put back once it runs`,
    }));
    await deps.exits.put(stuck);
    result.stuck.push(...stuck.map((e) => ({ id: e.instanceId, reason: e.stuck })));
  }
  return result;
}

/**
 * The sweep's part (the lease reclaimer's companion): every exit whose owner no longer holds a
 * live lease on the instance (it died, or let go without bringing it back) is restored; what
 * cannot be restored yet stays, and pages once per instance and reason.
 */
export async function restoreAbandoned(
  deps: TrafficDeps & {
    readonly leases: {
      activeLeases(now: number): Promise<ReadonlyArray<{ instanceId: string; owner: string }>>;
    };
    readonly audit: AuditSink;
    readonly notify?: Notifier;
    readonly actor: string;
  },
): Promise<{ restored: number; stuck: number }> {
  const exits = await deps.exits.all();
  if (exits.length === 0) return { restored: 0, stuck: 0 };
  const held = new Set((await deps.leases.activeLeases(deps.now())).map((l) => `${l.owner}|${l.instanceId}`));
  const abandoned = exits.filter((e) => !held.has(`${e.owner}|${e.instanceId}`));
  const byOwner = new Map<string, TrafficExit[]>();
  for (const e of abandoned) pushTo(byOwner, e.owner, e);
  let restored = 0;
  let stuck = 0;
  for (const [owner, list] of byOwner) {
    const r = await restore(
      deps,
      owner,
      list.map((e) => e.instanceId),
    );
    restored += r.restored.length;
    stuck += r.stuck.length;
    const before = new Map(list.map((e) => [e.instanceId, e.stuck]));
    const news = r.stuck.filter((s) => before.get(s.id) !== s.reason);
    await deps.audit.audit([
      ...r.restored.map((id) => ({
        subject: `instance:${id}`,
        actor: deps.actor,
        action: 'traffic.restored',
        reason: `back into traffic after ${owner} let go of it`,
        at: new Date(deps.now()).toISOString(),
      })),
      ...news.map((s) => ({
        subject: `instance:${s.id}`,
        actor: deps.actor,
        action: 'traffic.stuck',
        reason: s.reason,
        at: new Date(deps.now()).toISOString(),
      })),
    ]);
    if (news.length > 0 && deps.notify)
      await deps.notify.publish(
        `FleetOps: ${news.length} instance(s) left out of traffic by ${owner}`,
        news.map((s) => `${s.id}: ${s.reason}`).join('\n'),
      );
  }
  return { restored, stuck };
}

/** For each exit, why its instance does not serve yet (empty when it does): for the gate's outcomes. */
export async function whyNotServing(
  deps: TrafficDeps,
  exits: readonly TrafficExit[],
): Promise<Map<string, string[]>> {
  if (exits.length === 0) return new Map();
  const lifecycles = await deps.autoscaling.lifecycleOf(
    exits.filter((e) => e.standby).map((e) => e.instanceId),
  );
  const health = await healthIn(deps, exits);
  return new Map(
    exits.map((e) => [
      e.instanceId,
      servingProblems(e, lifecycles.get(e.instanceId), health.get(e.instanceId) ?? []),
    ]),
  );
}
