import type { FindingKind } from '../../functions/core/events/findings';
import { type Instance, isUnavailable } from '../../functions/core/fleet/fleet';
import type { LadderStep } from '../../functions/core/remediation/types';
import { seededRandom } from '../kernel/random';
import type { VirtualClock } from '../kernel/virtual-clock';
import { REMEDIATION_SIM_PARAMETERS } from '../remediation-sim';
import type { ServiceTraffic } from './traffic-layout';
import {
  everyServiceInAGroup,
  type FailCause,
  type Member,
  type TargetGroupModel,
  type TrafficHost,
  TrafficWorld,
} from './traffic-world';

const MINUTE = 60_000;

/**
 * How long things take in the simulated account. EC2 keeps a rebooting instance `running` with
 * its status checks initializing (read as health `unknown`); a stop goes through `stopping`, a
 * start through `pending`; an Auto Scaling replacement launches once the old instance is gone.
 */
export const WORLD_MINUTES = {
  /** A failing status check becomes a FleetOps finding: two 1-minute alarm periods plus routing. */
  detect: 3,
  /** The longest restart of a reboot (see REBOOT_SECONDS). */
  reboot: 3,
  stop: 2,
  start: 3,
  terminate: 1,
  launch: 5,
  /** An SSM Run Command invocation runs this long. */
  ssmCommand: 4,
} as const;

/**
 * RebootInstances "only queues a request to reboot" (EC2 API reference): the instance keeps
 * running and serving until the restart begins (`queue`), then restarts (`restart`: its status
 * checks initializing, its targets unhealthy) and posts its console output once booted (the
 * GetConsoleOutput timestamp FleetOps reads as proof of the restart). Uniform within each range.
 */
export const REBOOT_SECONDS = { queue: [5, 45], restart: [60, 180] } as const;

export type FaultCause = 'hardware' | 'software';
export type FaultKind = Fault['kind'];
export type Recoverer = 'remediation' | 'change' | 'person';
/**
 * Who ended a fault: an actor, an Auto Scaling group that replaced the instance on its own health
 * check, or the fault itself (a scenario's fault with a duration: the zone or the host recovered).
 */
export type FaultRecoverer = Recoverer | 'group' | 'itself';

/** One instance fault: a hidden cause, the status check it fails, and whether each step would fix it. */
export interface Fault {
  readonly id: number;
  readonly instanceId: string;
  readonly cause: FaultCause;
  readonly kind: Extract<FindingKind, 'system-status-check-failed' | 'instance-status-check-failed'>;
  readonly at: number;
  /** One uniform per step: the step recovers the instance when its uniform is below the cause's probability. */
  readonly draws: Readonly<Record<LadderStep, number>>;
  recoveredAt?: number;
  recoveredBy?: FaultRecoverer;
}

/** A mutable inventory entry plus what only the simulated world knows about it. */
export interface Slot {
  readonly instance: Instance;
  /** Bumped by every action: a transition scheduled by an older action is stale and does nothing. */
  epoch: number;
  rebooting: boolean;
  fault?: Fault;
  /** The target groups it is (or may be) registered in (the traffic world's). */
  targetGroups: TargetGroupModel[];
  /** Its place in its Auto Scaling group, if it is in one. */
  member?: Member;
  /** When its console output was last posted (epoch ms): after every boot. */
  consoleAt: number;
  /** Its owner is scaling it in (churn): leaving traffic, then terminated, whatever FleetOps does. */
  scaledIn?: boolean;
}

/**
 * Unavailable as the inventory (and so the ledger) sees it. A terminated instance has left the
 * population: it spends no budget any more.
 */
export const inventoryDown = (instance: Instance) =>
  instance.state !== 'terminated' && isUnavailable(instance);

/** Down as EC2 tells it: not running, impaired, or in the middle of a reboot (traffic aside). */
export const ec2Down = (slot: Slot) =>
  slot.instance.state !== 'running' || slot.instance.health === 'impaired' || slot.rebooting;

/** Really not serving: unavailable as the inventory sees it (out of traffic included), or in the middle of a reboot. */
export const reallyDown = (slot: Slot) => inventoryDown(slot.instance) || slot.rebooting;

/**
 * Out of traffic: really down, or not `InService` in its group, or not `healthy` in one of its
 * target groups (draining, initial, unhealthy, unused or deregistered). A terminated instance has
 * left the population.
 */
export function outOfTraffic(slot: Slot): boolean {
  if (slot.instance.state === 'terminated') return false;
  if (reallyDown(slot)) return true;
  if (slot.member !== undefined && slot.member.lifecycle !== 'InService') return true;
  for (const tg of slot.targetGroups) if (tg.targets.get(slot.instance.id)?.state !== 'healthy') return true;
  return false;
}

export interface WorldListener {
  /** After any change of state, health, lifecycle or target health; `was` is what held before. */
  changed(
    slot: Slot,
    was: { readonly inventoryDown: boolean; readonly reallyDown: boolean; readonly outOfTraffic: boolean },
  ): void;
  added(slot: Slot): void;
  /** The instance's Auto Scaling group decided to replace it (its health check failed). */
  replaced?(slot: Slot, reason: string, cause: FailCause): void;
}

/** The account's load balancing and Auto Scaling, and the dice of its timings. */
export interface SimWorldOptions {
  /** Target groups and groups per service; absent: none (groups for every service with `autoScaling`). */
  readonly layout?: ReadonlyMap<string, ServiceTraffic>;
  /** The world's own dice (reboot timings, early drains). */
  readonly random?: () => number;
}

interface SsmRun {
  readonly instanceIds: readonly string[];
  readonly doneAt: number;
  failed?: Map<string, string>;
}

/**
 * The simulated account: every instance's true state, the faults, the target groups and Auto
 * Scaling groups (traffic-world.ts) and the Run Command invocations. The ports read and act on
 * it; the inventory (`instances`) is these very objects, their `targets` and `asg` kept as the
 * sweep records them, so the fleet store always sees the account as it is (an instant sweep).
 */
export class SimWorld {
  readonly instances: Instance[] = [];
  private readonly slots = new Map<string, Slot>();
  readonly traffic: TrafficWorld<Slot>;
  private readonly random: () => number;
  private readonly listeners: WorldListener[] = [];
  private readonly commands = new Map<string, SsmRun>();
  readonly faults: Fault[] = [];
  /** Faults that hit an instance already down (stopped, rebooting, impaired): nothing new breaks. */
  absorbedFaults = 0;
  private launched = 0;
  /** Instances not terminated, for draws over the fleet as it is now (swap-remove: O(1) both ways). */
  private readonly live: Slot[] = [];
  private readonly liveIndex = new Map<Slot, number>();
  /** Every instance of each service, terminated ones included (what a per-service sweep reads). */
  private readonly byService = new Map<string, Instance[]>();
  /**
   * The tags each instance was launched with: a scale-out or a replacement launches from the
   * launch template, which a change of tags on the running instances does not touch.
   */
  private readonly launchTags = new Map<string, Readonly<Record<string, string>>>();

  constructor(
    private readonly clock: VirtualClock,
    fleet: readonly Instance[],
    private readonly onDetected: (fault: Fault) => void,
    /** Without a layout: whether every service runs in an Auto Scaling group (one per service), so `replace` is possible. */
    autoScaling = false,
    options: SimWorldOptions = {},
  ) {
    this.random = options.random ?? seededRandom(0x5eed);
    let layout = options.layout;
    if (!layout && autoScaling) {
      const sizes = new Map<string, number>();
      for (const i of fleet)
        if (i.state !== 'terminated') sizes.set(i.service, (sizes.get(i.service) ?? 0) + 1);
      layout = everyServiceInAGroup(sizes.keys(), sizes);
    }
    this.traffic = new TrafficWorld(this.host(), layout ?? new Map());
    for (const i of fleet) {
      const slot = this.add({ ...i, tags: { ...i.tags } });
      this.traffic.place(slot);
      this.sync(slot);
    }
  }

  listen(listener: WorldListener): void {
    this.listeners.push(listener);
  }

  slot(id: string): Slot | undefined {
    return this.slots.get(id);
  }

  /** Instances not terminated. */
  get population(): number {
    return this.live.length;
  }

  /** One instance not terminated, drawn uniformly with `random`; undefined when none is left. */
  drawLive(random: () => number): Slot | undefined {
    return this.live.length === 0 ? undefined : this.live[Math.floor(random() * this.live.length)];
  }

  /** Every instance of a service the account ever had (terminated ones included). */
  instancesOf(service: string): readonly Instance[] {
    return this.byService.get(service) ?? [];
  }

  groupOf(id: string): string | undefined {
    return this.slots.get(id)?.member?.group.name;
  }

  /** A group's desired capacity, its members, and those `InService` and really serving. */
  groupHealth(name: string) {
    const group = this.traffic.groups.get(name);
    if (!group) return undefined;
    const members = [...group.members.keys()];
    const healthy = members.filter((id) => {
      const slot = this.slots.get(id)!;
      return slot.member?.lifecycle === 'InService' && !reallyDown(slot);
    });
    return { desired: group.desired, healthy, members };
  }

  // ── faults ──────────────────────────────────────────────────────────────────

  /**
   * Breaks a running, healthy instance (a fault on one already down, as EC2 tells it, changes
   * nothing). The cause and the check it fails are drawn as REMEDIATION_SIM_PARAMETERS says,
   * unless given (a scenario's fault); the draws are taken either way, so giving them shifts no
   * other dice.
   */
  injectFault(
    id: string,
    random: () => number,
    given: { readonly kind?: FaultKind; readonly cause?: FaultCause } = {},
  ): Fault | undefined {
    const slot = this.slots.get(id);
    if (!slot || slot.fault || ec2Down(slot)) {
      this.absorbedFaults++;
      return undefined;
    }
    const causes = REMEDIATION_SIM_PARAMETERS.causes;
    const drawnCause: FaultCause = random() < causes.hardware.share ? 'hardware' : 'software';
    const cause = given.cause ?? drawnCause;
    const drawnKind: FaultKind =
      random() < causes[cause].surfacesAsInstanceCheck
        ? 'instance-status-check-failed'
        : 'system-status-check-failed';
    const fault: Fault = {
      id: this.faults.length,
      instanceId: id,
      cause,
      kind: given.kind ?? drawnKind,
      at: this.clock.now(),
      draws: { reboot: random(), 'stop-start': random(), replace: random() },
    };
    this.faults.push(fault);
    this.mutate(slot, () => {
      slot.fault = fault;
      slot.instance.health = 'impaired';
    });
    this.clock.at(this.clock.now() + WORLD_MINUTES.detect * MINUTE, () => {
      if (slot.fault === fault) this.onDetected(fault);
    });
    return fault;
  }

  /**
   * The fault ends by itself (the host, or the zone, recovered), if it is still there: the
   * instance's checks pass again once it runs.
   */
  clearFault(fault: Fault): void {
    const slot = this.slots.get(fault.instanceId);
    if (!slot || slot.fault !== fault) return;
    this.mutate(slot, () => {
      if (slot.instance.health === 'impaired') slot.instance.health = 'ok';
      this.recover(slot, 'itself');
    });
  }

  /** A paged person fixes the instance (whatever it takes), if that fault is still there. */
  personRepairs(fault: Fault): void {
    const slot = this.slots.get(fault.instanceId);
    const state = slot?.instance.state;
    if (!slot || slot.fault !== fault || state === 'terminated' || state === 'shutting-down') return;
    this.mutate(slot, () => {
      slot.epoch++;
      slot.rebooting = false;
      slot.instance.state = 'running';
      slot.instance.health = 'ok';
      this.recover(slot, 'person');
    });
  }

  // ── EC2 actions ─────────────────────────────────────────────────────────────

  /** Queues a reboot (REBOOT_SECONDS): the instance restarts a little later, and is back once booted. */
  reboot(id: string, by: Recoverer): void {
    const slot = this.slots.get(id);
    if (slot?.instance.state !== 'running') return; // EC2: IncorrectInstanceState
    const epoch = ++slot.epoch;
    const [q0, q1] = REBOOT_SECONDS.queue;
    const [r0, r1] = REBOOT_SECONDS.restart;
    // Whole seconds: instances of one wave share instants (each instant costs the clock a turn).
    const queued = Math.round(q0 + (q1 - q0) * this.random()) / 60;
    const restart = Math.round(r0 + (r1 - r0) * this.random()) / 60;
    this.later(queued, slot, epoch, () => {
      slot.rebooting = true;
      slot.instance.health = 'unknown';
      this.later(restart, slot, epoch, () => {
        slot.rebooting = false;
        slot.consoleAt = this.clock.now();
        this.comeBack(slot, 'reboot', by);
      });
    });
  }

  stop(id: string): void {
    const slot = this.slots.get(id);
    if (!slot || (slot.instance.state !== 'running' && slot.instance.state !== 'pending')) return;
    const epoch = ++slot.epoch;
    this.mutate(slot, () => {
      slot.rebooting = false;
      slot.instance.state = 'stopping';
    });
    this.later(WORLD_MINUTES.stop, slot, epoch, () => {
      slot.instance.state = 'stopped';
      slot.instance.health = 'unknown';
    });
  }

  /** Starting an EBS-backed instance places it on other hardware. */
  start(id: string, by: Recoverer): void {
    const slot = this.slots.get(id);
    if (slot?.instance.state !== 'stopped') return;
    const epoch = ++slot.epoch;
    this.mutate(slot, () => {
      slot.instance.state = 'pending';
    });
    this.later(WORLD_MINUTES.start, slot, epoch, () => {
      slot.instance.state = 'running';
      slot.consoleAt = this.clock.now();
      this.comeBack(slot, 'stop-start', by);
    });
  }

  setTags(id: string, tags: Readonly<Record<string, string>>): void {
    const slot = this.slots.get(id);
    if (slot) Object.assign(slot.instance.tags, tags);
  }

  /**
   * Auto Scaling: terminate without decrementing capacity (the group drains it from its target
   * groups, terminates it and launches a replacement; its fault ends once the replacement runs),
   * or with a decrement (no replacement).
   */
  terminateInGroup(id: string, by: Recoverer, decrement = false): void {
    const slot = this.slots.get(id);
    if (!slot || slot.instance.state === 'terminated' || slot.instance.state === 'shutting-down') return;
    const fault = slot.fault;
    this.traffic.terminate(id, decrement, () => {
      if (fault && slot.fault === fault) this.recover(slot, by);
    });
  }

  // ── scaling by the owners (churn) ───────────────────────────────────────────

  /**
   * A scale-in of this instance (traffic-world.ts `scaleIn`); undefined when it began, else why
   * not. Only an instance in service is chosen, as a group's scale-in or an owner's would:
   * running, checks ok, `InService`, `healthy` in its target groups.
   */
  scaleIn(id: string): string | undefined {
    const slot = this.slots.get(id);
    if (!slot || slot.instance.state === 'terminated') return 'terminated';
    if (outOfTraffic(slot) || slot.instance.state !== 'running') return 'not in service';
    const refused = this.traffic.scaleIn(slot);
    if (refused === undefined) slot.scaledIn = true;
    return refused;
  }

  /** A scale-out like this instance (its service, zone and launch template): the new one, `pending`. */
  scaleOut(id: string): Slot | undefined {
    const like = this.slots.get(id);
    if (!like || like.instance.state === 'terminated') return undefined;
    return this.traffic.scaleOut(like);
  }

  // ── SSM Run Command ─────────────────────────────────────────────────────────

  sendCommand(commandId: string, ids: readonly string[]): void {
    const run: SsmRun = {
      instanceIds: [...ids],
      doneAt: this.clock.now() + WORLD_MINUTES.ssmCommand * MINUTE,
    };
    this.commands.set(commandId, run);
    this.clock.at(run.doneAt, () => {
      // An invocation succeeds on an instance that is serving when it runs.
      run.failed = new Map();
      for (const id of run.instanceIds) {
        const slot = this.slots.get(id);
        if (slot?.instance.state !== 'running') run.failed.set(id, 'Undeliverable');
        else if (ec2Down(slot)) run.failed.set(id, 'Failed');
      }
    });
  }

  commandState(commandId: string): 'pending' | 'success' | 'failed' {
    const run = this.commands.get(commandId);
    if (!run?.failed) return 'pending';
    return run.failed.size === 0 ? 'success' : 'failed';
  }

  commandFailures(commandId: string): Map<string, string> {
    return new Map(this.commands.get(commandId)?.failed ?? []);
  }

  // ── internals ───────────────────────────────────────────────────────────────

  private add(instance: Instance): Slot {
    const slot: Slot = {
      instance,
      epoch: 0,
      rebooting: false,
      targetGroups: [],
      consoleAt: this.clock.now() - 3_600_000,
    };
    this.instances.push(instance);
    this.slots.set(instance.id, slot);
    const ofService = this.byService.get(instance.service);
    if (ofService) ofService.push(instance);
    else this.byService.set(instance.service, [instance]);
    if (!this.launchTags.has(instance.id)) this.launchTags.set(instance.id, { ...instance.tags });
    if (instance.state !== 'terminated') {
      this.liveIndex.set(slot, this.live.length);
      this.live.push(slot);
    }
    return slot;
  }

  /** A terminated instance leaves the draws over the live fleet. */
  private died(slot: Slot): void {
    const at = this.liveIndex.get(slot);
    if (at === undefined) return;
    const last = this.live.pop()!;
    if (last !== slot) {
      this.live[at] = last;
      this.liveIndex.set(last, at);
    }
    this.liveIndex.delete(slot);
  }

  /** What the traffic world reaches of this account. */
  private host(): TrafficHost<Slot> {
    return {
      now: () => this.clock.now(),
      at: (time, run) => {
        this.clock.at(time, run);
      },
      random: () => this.random(),
      slot: (id) => this.slots.get(id),
      mutate: (slot, change) => this.mutate(slot, change),
      shutDown: (slot, done) => {
        const epoch = ++slot.epoch;
        this.mutate(slot, () => {
          slot.rebooting = false;
          slot.instance.state = 'shutting-down';
          slot.instance.health = 'unknown';
        });
        this.clock.at(this.clock.now() + WORLD_MINUTES.terminate * MINUTE, () => {
          if (slot.epoch !== epoch) return;
          this.mutate(slot, () => {
            slot.instance.state = 'terminated';
          });
          done();
        });
      },
      launch: (like, running) => {
        const slot = this.launch(like.instance);
        this.clock.at(this.clock.now() + WORLD_MINUTES.launch * MINUTE, () => {
          if (slot.epoch !== 0) return;
          this.mutate(slot, () => {
            slot.instance.state = 'running';
            slot.instance.health = 'ok';
            slot.consoleAt = this.clock.now();
          });
          running(slot);
        });
        return slot;
      },
      replacing: (slot, reason, cause) => {
        for (const l of this.listeners) l.replaced?.(slot, reason, cause);
        const fault = slot.fault;
        return fault
          ? () => {
              if (slot.fault === fault) this.recover(slot, 'group');
            }
          : undefined;
      },
    };
  }

  /**
   * The inventory's view of traffic, as the sweep records it (core/fleet/placement.ts): its
   * group's lifecycle state, its health in each target group, and `unused` /
   * `Target.NotRegistered` in one of its service's target groups that does not list it (its
   * group's attached one, or one FleetOps deregistered it from: out of traffic until it is back).
   */
  private sync(slot: Slot): void {
    const i = slot.instance;
    if (slot.targetGroups.length > 0) {
      // Rebuilt only when a registration changed (most changes are of EC2 state alone).
      const was = i.targets;
      let same = was !== undefined && was.length === slot.targetGroups.length;
      for (let k = 0; same && k < slot.targetGroups.length; k++) {
        const reg = slot.targetGroups[k].targets.get(i.id);
        const t = was![k];
        same = reg ? t.state === reg.state && t.reason === reg.reason : t.reason === 'Target.NotRegistered';
      }
      if (!same) {
        const targets: NonNullable<Instance['targets']> = [];
        for (const tg of slot.targetGroups) {
          const reg = tg.targets.get(i.id);
          // The group's deregistration delay and healthy threshold × interval, as the sweep records
          // them from DescribeTargetGroupAttributes and DescribeTargetGroups (the plan's prediction reads them).
          const times = {
            drainSeconds: tg.deregistrationDelaySeconds,
            readySeconds: tg.healthyThresholdCount * tg.healthCheckIntervalSeconds,
          };
          targets.push(
            reg
              ? {
                  targetGroupArn: tg.arn,
                  state: reg.state,
                  ...(reg.reason ? { reason: reg.reason } : {}),
                  ...times,
                }
              : { targetGroupArn: tg.arn, state: 'unused', reason: 'Target.NotRegistered', ...times },
          );
        }
        i.targets = targets;
      }
    }
    const m = slot.member;
    if (m) {
      if (i.asg?.lifecycle !== m.lifecycle || i.asg.name !== m.group.name)
        i.asg = { name: m.group.name, lifecycle: m.lifecycle };
    } else if (i.asg) i.asg = undefined;
  }

  private launch(like: Instance): Slot {
    const id = `i-${(0x20000000 + this.launched++).toString(16).padStart(17, '0')}`;
    this.launchTags.set(id, this.launchTags.get(like.id) ?? like.tags);
    const slot = this.add({
      id,
      service: like.service,
      zone: like.zone,
      ...(like.cell === undefined ? {} : { cell: like.cell }),
      state: 'pending',
      health: 'unknown',
      tags: { ...this.launchTags.get(id) },
      launchedAt: new Date(this.clock.now()).toISOString(),
    });
    for (const l of this.listeners) l.added(slot);
    return slot;
  }

  /** After a reboot or a start: healthy, unless a fault is there that this step does not fix. */
  private comeBack(slot: Slot, step: LadderStep, by: Recoverer): void {
    const fault = slot.fault;
    const fixed = !fault || fault.draws[step] < REMEDIATION_SIM_PARAMETERS.causes[fault.cause].recovers[step];
    slot.instance.health = fixed ? 'ok' : 'impaired';
    if (fault && fixed) this.recover(slot, by);
  }

  private recover(slot: Slot, by: FaultRecoverer): void {
    const fault = slot.fault;
    if (!fault) return;
    fault.recoveredAt = this.clock.now();
    fault.recoveredBy = by;
    slot.fault = undefined;
  }

  private later(minutes: number, slot: Slot, epoch: number, transition: () => void): void {
    this.clock.at(this.clock.now() + minutes * MINUTE, () => {
      if (slot.epoch === epoch) this.mutate(slot, transition);
    });
  }

  /** One change of a slot: its targets and group follow, the inventory's view is synced, then the listeners hear of it. */
  private mutate(slot: Slot, change: () => void): void {
    const was = {
      inventoryDown: inventoryDown(slot.instance),
      reallyDown: reallyDown(slot),
      outOfTraffic: outOfTraffic(slot),
    };
    change();
    if (slot.instance.state === 'terminated') this.died(slot);
    this.traffic.afterChange(slot);
    this.sync(slot);
    for (const l of this.listeners) l.changed(slot, was);
  }
}
