import type { TargetState } from '../../functions/core/ports/traffic';
import type { GroupLayout, ServiceTraffic, TargetGroupLayout } from './traffic-layout';

/**
 * The simulated account's load balancing and Auto Scaling: ELBv2 target groups with the health
 * of their targets, and Auto Scaling groups with their members' lifecycle, as AWS documents them
 * (and as moto does not model: draining, health checks, Standby deregistering, replacement).
 *
 * Target groups (ELB User Guide, "Target groups for your Application Load Balancers"):
 * - DeregisterTargets: the target is `draining` (Target.DeregistrationInProgress): no new
 *   requests, in-flight ones finish, for the group's deregistration delay (300 s by default),
 *   sooner when its connections end first (modelled: a share ends early), then it is gone
 *   (`unused`, Target.NotRegistered). A target that is not running has no connections: at once.
 *   Deregistering a target that is not registered succeeds and does nothing (API reference).
 * - RegisterTargets: `initial` (Elb.InitialHealthChecking) until HealthyThresholdCount
 *   consecutive checks HealthCheckIntervalSeconds apart pass, then `healthy`; a target whose
 *   instance fails its checks is `unhealthy` (Target.FailedHealthChecks), a stopped one `unused`
 *   (Target.InvalidState), and it takes healthy threshold × interval to be `healthy` again.
 *
 * Auto Scaling groups (EC2 Auto Scaling User Guide):
 * - EnterStandby with a decrement ("Temporarily remove instances from your Auto Scaling group"):
 *   refused when desired capacity would fall below the minimum (API reference: "as long as the
 *   desired capacity ... after the instances are placed into standby is equal to or greater than
 *   the minimum"); the member is `EnteringStandby` while the group deregisters it from its
 *   attached target groups (draining), then `Standby`. A Standby member is not health-checked
 *   and never replaced. ExitStandby adds the capacity back: `Pending`, then `InService` and
 *   registered again (`initial`, then `healthy`).
 * - Health checks ("Health checks for instances in an Auto Scaling group"): an `InService`
 *   member that is not running (stopped, stopping) is unhealthy at once, even within the grace
 *   period; one whose system status is impaired, or, for a group using ELB health checks, that
 *   is unhealthy in a target group, once past HealthCheckGracePeriod. The group then replaces it
 *   ("When Amazon EC2 Auto Scaling determines that an InService instance is unhealthy, it
 *   replaces it"): `Terminating`, deregistered (draining), terminated, and a new instance
 *   launched (`Pending`, then `InService` once it runs). This is what FleetOps must never cause.
 */

/** How soon a group acts on a member whose instance is not running (its EC2 health check). */
export const GROUP_CHECK_SECONDS = 10;
/** ExitStandby: `Pending` this long before `InService`. */
export const PENDING_SECONDS = 20;
/** Share of drainings whose connections end before the deregistration delay (uniformly within it). */
export const EARLY_DRAIN_SHARE = 0.3;

export interface Registration {
  state: TargetState;
  reason?: string;
  /** Bumped by every change: a transition scheduled before it does nothing. */
  epoch: number;
  readyScheduled: boolean;
}

export interface TargetGroupModel extends TargetGroupLayout {
  readonly service: string;
  readonly targets: Map<string, Registration>;
}

export interface Member {
  readonly group: GroupModel;
  lifecycle: string;
  healthy: boolean;
  /** When it last entered `InService` (the grace period counts from here). */
  inServiceAt: number;
  epoch: number;
  /** A pending health check's epoch (undefined: none pending). */
  check?: number;
  /** Terminating and drained: EC2 is terminating it. */
  gone?: boolean;
}

export interface GroupModel extends Omit<GroupLayout, 'max'> {
  readonly service: string;
  /** Raised by a scale-out that needs more room (the owner's UpdateAutoScalingGroup). */
  max: number;
  desired: number;
  readonly members: Map<string, Member>;
  readonly targetGroups: readonly TargetGroupModel[];
}

/** What the traffic world needs of the simulated account. */
export interface TrafficSlot {
  readonly instance: {
    readonly id: string;
    readonly service: string;
    state: string;
    health: string;
  };
  rebooting: boolean;
  fault?: { readonly kind: string };
  /** The target groups it is (or may be) registered in. */
  targetGroups: TargetGroupModel[];
  member?: Member;
}

export interface TrafficHost<S extends TrafficSlot> {
  now(): number;
  at(time: number, run: () => void): void;
  random(): number;
  slot(id: string): S | undefined;
  /** Applies a change to a slot and tells the listeners (never called from inside another change). */
  mutate(slot: S, change: () => void): void;
  /** EC2's part of terminating a member: shutting-down, then terminated; `done` after. */
  shutDown(slot: S, done: () => void): void;
  /** A new instance like this one, `pending`; `running` is called once it runs (the launch time later). */
  launch(like: S, running: (slot: S) => void): S;
  /**
   * The group decided to replace this member (its health check failed: the instance's `state`,
   * its system status `impaired`, or its target health with ELB checks); returns what to call once
   * the replacement runs.
   */
  replacing(slot: S, reason: string, cause: FailCause): ((replacement: S) => void) | undefined;
}

/** Which health check failed: the instance's state (EC2), its system status (EC2), its target health (ELB). */
export type FailCause = 'state' | 'impaired' | 'elb';

const STOPPED = new Set(['stopping', 'stopped', 'shutting-down', 'terminated']);

export const serving = (slot: TrafficSlot) =>
  slot.instance.state === 'running' && slot.instance.health === 'ok' && !slot.rebooting;

/** The target groups and Auto Scaling groups of the simulated account, and their transitions. */
export class TrafficWorld<S extends TrafficSlot> {
  readonly targetGroups = new Map<string, TargetGroupModel>();
  readonly groups = new Map<string, GroupModel>();
  private readonly byService = new Map<string, { tg?: TargetGroupModel; group?: GroupModel }>();
  /** What to call once a terminated member's replacement runs (a remediation's replace recovers its fault then). */
  private readonly onReplacement = new Map<Member, (slot: S) => void>();
  /** A member of each group, whose like the group launches. */
  private readonly templates = new Map<GroupModel, S>();
  /** Instances being scaled in outside any group: drained from their target groups, then shut down. */
  private readonly retiring = new Set<S>();
  /** Members the groups replaced after their health checks, with why. */
  readonly replacements: Array<{ id: string; group: string; at: number; reason: string; cause: FailCause }> =
    [];

  constructor(
    private readonly host: TrafficHost<S>,
    layout: ReadonlyMap<string, ServiceTraffic>,
  ) {
    for (const [service, l] of layout) {
      const tg = l.targetGroup ? { ...l.targetGroup, service, targets: new Map() } : undefined;
      if (tg) this.targetGroups.set(tg.arn, tg);
      const group = l.group
        ? { ...l.group, service, desired: 0, members: new Map(), targetGroups: tg ? [tg] : [] }
        : undefined;
      if (group) this.groups.set(group.name, group);
      this.byService.set(service, { ...(tg ? { tg } : {}), ...(group ? { group } : {}) });
    }
  }

  /** An instance of the starting fleet: registered in its service's target group, a member of its group. */
  place(slot: S): void {
    const where = this.byService.get(slot.instance.service);
    if (!where || slot.instance.state === 'terminated') return;
    if (where.tg) {
      slot.targetGroups.push(where.tg);
      where.tg.targets.set(slot.instance.id, this.initialRegistration(slot));
    }
    if (where.group) {
      slot.member = {
        group: where.group,
        lifecycle: 'InService',
        healthy: true,
        inServiceAt: this.host.now() - 86_400_000,
        epoch: 0,
      };
      where.group.members.set(slot.instance.id, slot.member);
      where.group.desired++;
      if (!this.templates.has(where.group)) this.templates.set(where.group, slot);
    }
  }

  private initialRegistration(slot: S): Registration {
    if (STOPPED.has(slot.instance.state))
      return { state: 'unused', reason: 'Target.InvalidState', epoch: 0, readyScheduled: false };
    if (!serving(slot))
      return { state: 'unhealthy', reason: 'Target.FailedHealthChecks', epoch: 0, readyScheduled: false };
    return { state: 'healthy', epoch: 0, readyScheduled: false };
  }

  // ── reactions to the instance's own state (inside the change that caused them) ─────────────

  /** After any change of the instance: its targets' health follows, and its group checks it. */
  afterChange(slot: S): void {
    const id = slot.instance.id;
    const up = serving(slot);
    for (const tg of slot.targetGroups) {
      const reg = tg.targets.get(id);
      if (!reg || reg.state === 'draining') continue;
      if (STOPPED.has(slot.instance.state)) {
        if (reg.state !== 'unused') set(reg, 'unused', 'Target.InvalidState');
      } else if (!up) {
        if (reg.state !== 'unhealthy' || reg.readyScheduled)
          set(reg, 'unhealthy', 'Target.FailedHealthChecks');
      } else if (reg.state !== 'healthy' && !reg.readyScheduled) {
        if (reg.state === 'unused') set(reg, 'initial', 'Elb.InitialHealthChecking');
        this.scheduleReady(slot, tg, reg);
      }
    }
    const m = slot.member;
    if (m?.lifecycle !== 'InService' || !m.healthy) return;
    // The group's checks go on periodically, not only when something changes: a member failing
    // one that its grace period defers is checked again once the grace period is over, and
    // replaced if it still fails then (nothing need change at that moment).
    const failing = this.failing(slot, true);
    if (failing === undefined) {
      if (m.check !== undefined) m.check = undefined;
      return;
    }
    if (m.check !== undefined) return;
    const check = ++m.epoch;
    m.check = check;
    const after = failing.immediate
      ? GROUP_CHECK_SECONDS
      : Math.max(
          GROUP_CHECK_SECONDS,
          ...m.group.targetGroups.map((t) => t.unhealthyThresholdCount * t.healthCheckIntervalSeconds),
        );
    const graceEnds = failing.immediate ? 0 : m.inServiceAt + m.group.graceSeconds * 1000;
    this.host.at(Math.max(this.host.now() + after * 1000, graceEnds), () => {
      if (m.check !== check || m.lifecycle !== 'InService' || slot.member !== m) return;
      const still = this.failing(slot);
      if (still === undefined) {
        m.check = undefined;
        return;
      }
      this.replace(slot, still.reason, still.cause);
    });
  }

  /**
   * Why the group's health check fails this `InService` member now (undefined: it passes);
   * `ignoringGrace`: what the checks the grace period defers would say of it already.
   */
  private failing(
    slot: S,
    ignoringGrace = false,
  ): { reason: string; immediate: boolean; cause: FailCause } | undefined {
    const m = slot.member!;
    if (STOPPED.has(slot.instance.state))
      return {
        reason: `instance ${slot.instance.state} (EC2 health check)`,
        immediate: true,
        cause: 'state',
      };
    const pastGrace = this.host.now() - m.inServiceAt >= m.group.graceSeconds * 1000;
    if (!pastGrace && !ignoringGrace) return undefined;
    if (slot.fault?.kind === 'system-status-check-failed' && slot.instance.health === 'impaired')
      return {
        reason: 'system status check impaired (EC2 health check)',
        immediate: false,
        cause: 'impaired',
      };
    if (m.group.healthCheckType === 'ELB') {
      const tg = m.group.targetGroups.find((t) => {
        const r = t.targets.get(slot.instance.id);
        return (
          r !== undefined &&
          (r.state === 'unhealthy' || (r.state === 'unused' && r.reason === 'Target.InvalidState'))
        );
      });
      if (tg)
        return {
          reason: `unhealthy in target group ${tg.service} (ELB health check)`,
          immediate: false,
          cause: 'elb',
        };
    }
    return undefined;
  }

  private scheduleReady(slot: S, tg: TargetGroupModel, reg: Registration): void {
    reg.readyScheduled = true;
    const epoch = reg.epoch;
    this.host.at(this.host.now() + tg.healthyThresholdCount * tg.healthCheckIntervalSeconds * 1000, () => {
      if (reg.epoch !== epoch || tg.targets.get(slot.instance.id) !== reg || !serving(slot)) return;
      this.host.mutate(slot, () => set(reg, 'healthy'));
    });
  }

  // ── ELBv2 ──────────────────────────────────────────────────────────────────────────────────

  /** DeregisterTargets for one instance in one target group (nothing when it is not registered). */
  deregister(arn: string, id: string): void {
    const tg = this.targetGroups.get(arn);
    const slot = this.host.slot(id);
    const reg = tg?.targets.get(id);
    if (!tg || !slot || !reg || reg.state === 'draining') return;
    this.host.mutate(slot, () => this.startDraining(slot, tg, reg));
  }

  private startDraining(slot: S, tg: TargetGroupModel, reg: Registration): void {
    const id = slot.instance.id;
    if (slot.instance.state !== 'running' || reg.state === 'unused') {
      tg.targets.delete(id);
      this.host.at(this.host.now(), () => this.drained(slot));
      return;
    }
    set(reg, 'draining', 'Target.DeregistrationInProgress');
    const epoch = reg.epoch;
    const full = tg.deregistrationDelaySeconds * 1000;
    // Whole seconds, so that a wave's drainings share instants.
    const ms =
      this.host.random() < EARLY_DRAIN_SHARE ? Math.round((full * this.host.random()) / 1000) * 1000 : full;
    this.host.at(this.host.now() + ms, () => {
      if (reg.epoch !== epoch || tg.targets.get(id) !== reg) return;
      this.host.mutate(slot, () => tg.targets.delete(id));
      this.drained(slot);
    });
  }

  /** RegisterTargets for one instance (registering a registered target changes nothing; a draining one is registered again). */
  register(arn: string, id: string): void {
    const tg = this.targetGroups.get(arn);
    const slot = this.host.slot(id);
    if (!tg || !slot || slot.instance.state === 'terminated') return;
    const reg = tg.targets.get(id);
    if (reg && reg.state !== 'draining') return;
    this.host.mutate(slot, () => {
      if (!slot.targetGroups.includes(tg)) slot.targetGroups.push(tg);
      if (reg) set(reg, 'initial', 'Elb.RegistrationInProgress');
      else
        tg.targets.set(id, {
          state: 'initial',
          reason: 'Elb.RegistrationInProgress',
          epoch: 0,
          readyScheduled: false,
        });
    });
  }

  /** DescribeTargetHealth's answer for one instance in one target group. */
  health(arn: string, id: string): { state: TargetState; reason?: string } {
    const reg = this.targetGroups.get(arn)?.targets.get(id);
    return reg
      ? { state: reg.state, ...(reg.reason ? { reason: reg.reason } : {}) }
      : { state: 'unused', reason: 'Target.NotRegistered' };
  }

  /** A member whose attached target groups no longer have it moves on (EnteringStandby → Standby, Terminating → terminated). */
  private drained(slot: S): void {
    const m = slot.member;
    const id = slot.instance.id;
    if (!m) {
      if (!this.retiring.has(slot) || slot.targetGroups.some((tg) => tg.targets.has(id))) return;
      this.retiring.delete(slot);
      this.host.shutDown(slot, () => {});
      return;
    }
    if (m.group.targetGroups.some((tg) => tg.targets.has(id))) return;
    if (m.lifecycle === 'EnteringStandby') {
      this.host.mutate(slot, () => {
        m.lifecycle = 'Standby';
      });
    } else if (m.lifecycle === 'Terminating' && !m.gone) {
      m.gone = true;
      const onReplacement = this.onReplacement.get(m);
      this.onReplacement.delete(m);
      this.host.shutDown(slot, () => {
        m.group.members.delete(id);
        slot.member = undefined;
        this.reconcile(m.group, onReplacement);
      });
    }
  }

  // ── Auto Scaling ───────────────────────────────────────────────────────────────────────────

  /** EnterStandby with ShouldDecrementDesiredCapacity: all or nothing, as the API validates. */
  enterStandby(name: string, ids: readonly string[]): void {
    const group = this.groupNamed(name);
    const members = ids.map((id) => this.memberOf(group, id));
    for (const [k, m] of members.entries())
      if (m.lifecycle !== 'InService')
        throw validation(`The instance ${ids[k]} is not in InService (it is ${m.lifecycle}).`);
    if (group.desired - ids.length < group.min)
      throw validation(
        `AutoScalingGroup ${name} has min-size=${group.min}, max-size=${group.max}, and desired-size=${group.desired}; ` +
          `moving ${ids.length} instance(s) to standby with a decrement would violate the group's minimum`,
      );
    group.desired -= ids.length;
    for (const id of ids) {
      const slot = this.host.slot(id)!;
      const m = slot.member!;
      this.host.mutate(slot, () => {
        m.lifecycle = 'EnteringStandby';
        m.epoch++;
        m.check = undefined;
        for (const tg of group.targetGroups) {
          const reg = tg.targets.get(id);
          if (reg && reg.state !== 'draining') this.startDraining(slot, tg, reg);
        }
      });
      this.host.at(this.host.now(), () => this.drained(slot));
    }
  }

  /** ExitStandby: desired capacity back up, `Pending`, then `InService` and registered with the attached target groups. */
  exitStandby(name: string, ids: readonly string[]): void {
    const group = this.groupNamed(name);
    const members = ids.map((id) => this.memberOf(group, id));
    for (const [k, m] of members.entries())
      if (m.lifecycle !== 'Standby')
        throw validation(`The instance ${ids[k]} is not in Standby (it is ${m.lifecycle}).`);
    if (group.desired + ids.length > group.max)
      throw validation(
        `ExitStandby would take ${name} to desired capacity ${group.desired + ids.length}, above its maximum ${group.max}`,
      );
    group.desired += ids.length;
    for (const id of ids) {
      const slot = this.host.slot(id)!;
      const m = slot.member!;
      const epoch = ++m.epoch;
      this.host.mutate(slot, () => {
        m.lifecycle = 'Pending';
      });
      this.host.at(this.host.now() + PENDING_SECONDS * 1000, () => {
        if (m.epoch !== epoch || slot.member !== m) return;
        this.inService(slot, m);
      });
    }
  }

  private inService(slot: S, m: Member): void {
    this.host.mutate(slot, () => {
      m.lifecycle = 'InService';
      m.healthy = true;
      m.inServiceAt = this.host.now();
    });
    for (const tg of m.group.targetGroups) this.register(tg.arn, slot.instance.id);
  }

  /**
   * TerminateInstanceInAutoScalingGroup: `Terminating`, deregistered from the attached target
   * groups (draining), terminated; the group launches a replacement unless capacity was decremented.
   */
  terminate(id: string, decrement: boolean, onReplacement?: (slot: S) => void): void {
    const slot = this.host.slot(id);
    const m = slot?.member;
    if (!slot || !m || m.lifecycle === 'Terminating') return;
    if (decrement) {
      if (m.group.desired - 1 < m.group.min)
        throw validation(
          `Terminating ${id} with a decrement would take ${m.group.name} below its minimum ${m.group.min}`,
        );
      m.group.desired--;
    }
    // A Standby member is outside desired capacity already: terminating it launches nothing.
    this.leave(slot, m, decrement ? undefined : onReplacement);
  }

  private replace(slot: S, reason: string, cause: FailCause): void {
    const m = slot.member!;
    this.replacements.push({ id: slot.instance.id, group: m.group.name, at: this.host.now(), reason, cause });
    this.leave(slot, m, this.host.replacing(slot, reason, cause));
  }

  private leave(slot: S, m: Member, onReplacement?: (slot: S) => void): void {
    if (onReplacement) this.onReplacement.set(m, onReplacement);
    this.host.mutate(slot, () => {
      m.lifecycle = 'Terminating';
      m.healthy = false;
      m.epoch++;
      m.check = undefined;
      for (const tg of m.group.targetGroups) {
        const reg = tg.targets.get(slot.instance.id);
        if (reg && reg.state !== 'draining') this.startDraining(slot, tg, reg);
      }
    });
    this.host.at(this.host.now(), () => this.drained(slot));
  }

  /** SetDesiredCapacity (manual scaling): AWS refuses a value outside MinSize..MaxSize. */
  setDesired(name: string, desired: number): void {
    const group = this.groupNamed(name);
    if (desired < group.min || desired > group.max)
      throw validation(
        `New SetDesiredCapacity value ${desired} is outside the bounds ${group.min}..${group.max} of ${name}`,
      );
    group.desired = desired;
    this.reconcile(group);
  }

  /** Launches members while fewer than desired are `Pending` or `InService`; scales in the newest otherwise. */
  private reconcile(group: GroupModel, onLaunched?: (slot: S) => void): void {
    let active = 0;
    let newest: S | undefined;
    for (const [id, m] of group.members)
      if (m.lifecycle === 'Pending' || m.lifecycle === 'InService') {
        active++;
        if (m.lifecycle === 'InService') newest = this.host.slot(id);
      }
    for (; active < group.desired; active++) {
      const like = this.templates.get(group);
      if (!like) return;
      this.launchMember(group, like, onLaunched);
      onLaunched = undefined;
    }
    if (active > group.desired && newest?.member) this.leave(newest, newest.member);
  }

  /** A new member like `like` (its zone, its launch template): `Pending`, then `InService` once it runs. */
  private launchMember(group: GroupModel, like: S, onLaunched?: (slot: S) => void): S {
    const fresh = this.host.launch(like, (running) => {
      const m = running.member;
      if (m && m.lifecycle === 'Pending') this.inService(running, m);
      onLaunched?.(running);
    });
    const m: Member = { group, lifecycle: 'Pending', healthy: true, inServiceAt: this.host.now(), epoch: 0 };
    fresh.member = m;
    group.members.set(fresh.instance.id, m);
    return fresh;
  }

  // ── scaling by the service's owner (churn) ────────────────────────────────────────────────

  /**
   * A scale-out of `like`'s service in `like`'s zone: a group member's group grows by one (its
   * maximum raised when it is at it, as the owner would) and launches a member like it; an
   * instance outside any group gets a sibling that registers with the service's target group
   * once it runs, as the owner's deployment tooling does.
   */
  scaleOut(like: S): S {
    const group = like.member?.group;
    if (group) {
      group.desired++;
      if (group.desired > group.max) group.max = group.desired;
      return this.launchMember(group, like);
    }
    const tg = this.byService.get(like.instance.service)?.tg;
    return this.host.launch(like, (running) => {
      if (tg) this.register(tg.arn, running.instance.id);
    });
  }

  /**
   * A scale-in of this instance; `undefined` when it is done, else why not. A group member is
   * terminated by its group with a decrement (only `InService` ones, never below the minimum, as
   * the group's own scale-in chooses); any other instance is drained from its target groups as
   * the group would, then shut down.
   */
  scaleIn(slot: S): string | undefined {
    const m = slot.member;
    if (m) {
      if (m.lifecycle !== 'InService') return `${m.lifecycle} in ${m.group.name}`;
      if (m.group.desired - 1 < m.group.min) return `${m.group.name} is at its minimum ${m.group.min}`;
      this.terminate(slot.instance.id, true);
      return undefined;
    }
    if (this.retiring.has(slot)) return 'already being scaled in';
    const id = slot.instance.id;
    this.retiring.add(slot);
    const registered = slot.targetGroups.filter((tg) => tg.targets.has(id));
    if (registered.length === 0) {
      this.host.at(this.host.now(), () => this.drained(slot));
      return undefined;
    }
    this.host.mutate(slot, () => {
      for (const tg of registered) {
        const reg = tg.targets.get(id)!;
        if (reg.state !== 'draining') this.startDraining(slot, tg, reg);
      }
    });
    return undefined;
  }

  private groupNamed(name: string): GroupModel {
    const group = this.groups.get(name);
    if (!group) throw validation(`AutoScalingGroup name not found - AutoScalingGroup ${name} not found`);
    return group;
  }

  private memberOf(group: GroupModel, id: string): Member {
    const m = group.members.get(id);
    if (!m) throw validation(`The instance ${id} is not part of Auto Scaling group ${group.name}.`);
    return m;
  }
}

function set(reg: Registration, state: TargetState, reason?: string): void {
  reg.state = state;
  reg.reason = reason;
  reg.epoch++;
  reg.readyScheduled = false;
}

function validation(message: string): Error {
  const error = new Error(message);
  error.name = 'ValidationError';
  return error;
}

/** Group layout for every service (the `autoScaling` option without traffic): EC2 health checks, no minimum. */
export function everyServiceInAGroup(
  services: Iterable<string>,
  sizes: ReadonlyMap<string, number>,
): Map<string, ServiceTraffic> {
  const out = new Map<string, ServiceTraffic>();
  for (const s of services) {
    const group: GroupLayout = {
      name: `asg-${s}`,
      min: 0,
      max: sizes.get(s) ?? 1,
      healthCheckType: 'EC2',
      graceSeconds: 300,
    };
    out.set(s, { group });
  }
  return out;
}
