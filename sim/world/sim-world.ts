import type { FindingKind } from '../../functions/core/events/findings';
import { type Instance, isUnavailable } from '../../functions/core/fleet/fleet';
import type { LadderStep } from '../../functions/core/remediation/types';
import type { VirtualClock } from '../kernel/virtual-clock';
import { REMEDIATION_SIM_PARAMETERS } from '../remediation-sim';

const MINUTE = 60_000;

/**
 * How long things take in the simulated account. EC2 keeps a rebooting instance `running` with
 * its status checks initializing (read as health `unknown`); a stop goes through `stopping`, a
 * start through `pending`; an Auto Scaling replacement launches once the old instance is gone.
 */
export const WORLD_MINUTES = {
  /** A failing status check becomes a FleetOps finding: two 1-minute alarm periods plus routing. */
  detect: 3,
  reboot: 3,
  stop: 2,
  start: 3,
  terminate: 1,
  launch: 5,
  /** An SSM Run Command invocation runs this long. */
  ssmCommand: 4,
} as const;

export type FaultCause = 'hardware' | 'software';
export type Recoverer = 'remediation' | 'change' | 'person';

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
  recoveredBy?: Recoverer;
}

/** A mutable inventory entry plus what only the simulated world knows about it. */
export interface Slot {
  readonly instance: Instance;
  /** Bumped by every action: a transition scheduled by an older action is stale and does nothing. */
  epoch: number;
  rebooting: boolean;
  fault?: Fault;
  readonly group: string;
}

/**
 * Unavailable as the inventory (and so the ledger) sees it. A terminated instance has left the
 * population: it spends no budget any more.
 */
export const inventoryDown = (instance: Instance) =>
  instance.state !== 'terminated' && isUnavailable(instance);

/** Really not serving: unavailable as the inventory sees it, or in the middle of a reboot. */
export const reallyDown = (slot: Slot) => inventoryDown(slot.instance) || slot.rebooting;

export interface WorldListener {
  /** After any change of state or health; `wasDown` is what `reallyDown` said before. */
  changed(slot: Slot, was: { readonly inventoryDown: boolean; readonly reallyDown: boolean }): void;
  added(slot: Slot): void;
}

interface SsmRun {
  readonly instanceIds: readonly string[];
  readonly doneAt: number;
  failed?: Map<string, string>;
}

/**
 * The simulated account: every instance's true state, the faults, the Auto Scaling groups (one
 * per service, when the account uses them) and the Run Command invocations. The ports read and act on it; the inventory
 * (`instances`) is these very objects, so the fleet store always sees the account as it is (an
 * instant inventory sweep).
 */
export class SimWorld {
  readonly instances: Instance[] = [];
  private readonly slots = new Map<string, Slot>();
  private readonly groups = new Map<string, { desired: number; members: Set<string> }>();
  private readonly listeners: WorldListener[] = [];
  private readonly commands = new Map<string, SsmRun>();
  readonly faults: Fault[] = [];
  /** Faults that hit an instance already down (stopped, rebooting, impaired): nothing new breaks. */
  absorbedFaults = 0;
  private launched = 0;

  constructor(
    private readonly clock: VirtualClock,
    fleet: readonly Instance[],
    private readonly onDetected: (fault: Fault) => void,
    /** Whether every service runs in an Auto Scaling group (one per service), so `replace` is possible. */
    private readonly autoScaling = false,
  ) {
    for (const i of fleet) this.add({ ...i, tags: { ...i.tags } });
    for (const g of this.groups.values()) g.desired = g.members.size;
  }

  listen(listener: WorldListener): void {
    this.listeners.push(listener);
  }

  slot(id: string): Slot | undefined {
    return this.slots.get(id);
  }

  groupOf(id: string): string | undefined {
    if (!this.autoScaling) return undefined;
    const slot = this.slots.get(id);
    return slot && this.groups.get(slot.group)?.members.has(id) ? slot.group : undefined;
  }

  groupHealth(name: string) {
    if (!this.autoScaling) return undefined;
    const group = this.groups.get(name);
    if (!group) return undefined;
    const members = [...group.members];
    const healthy = members.filter((id) => !reallyDown(this.slots.get(id)!));
    return { desired: group.desired, healthy, members };
  }

  // ── faults ──────────────────────────────────────────────────────────────────

  /** Breaks a running, healthy instance (a fault on one already down changes nothing). */
  injectFault(id: string, random: () => number): Fault | undefined {
    const slot = this.slots.get(id);
    if (!slot || slot.fault || reallyDown(slot)) {
      this.absorbedFaults++;
      return undefined;
    }
    const causes = REMEDIATION_SIM_PARAMETERS.causes;
    const cause: FaultCause = random() < causes.hardware.share ? 'hardware' : 'software';
    const fault: Fault = {
      id: this.faults.length,
      instanceId: id,
      cause,
      kind:
        random() < causes[cause].surfacesAsInstanceCheck
          ? 'instance-status-check-failed'
          : 'system-status-check-failed',
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

  reboot(id: string, by: Recoverer): void {
    const slot = this.slots.get(id);
    if (slot?.instance.state !== 'running') return; // EC2: IncorrectInstanceState
    const epoch = ++slot.epoch;
    this.mutate(slot, () => {
      slot.rebooting = true;
      slot.instance.health = 'unknown';
    });
    this.later(WORLD_MINUTES.reboot, slot, epoch, () => {
      slot.rebooting = false;
      this.comeBack(slot, 'reboot', by);
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
      this.comeBack(slot, 'stop-start', by);
    });
  }

  setTags(id: string, tags: Readonly<Record<string, string>>): void {
    const slot = this.slots.get(id);
    if (slot) Object.assign(slot.instance.tags, tags);
  }

  /** Auto Scaling: terminate without decrementing capacity; the group launches a replacement. */
  terminateInGroup(id: string, by: Recoverer): void {
    const slot = this.slots.get(id);
    if (!slot || slot.instance.state === 'terminated' || slot.instance.state === 'shutting-down') return;
    const epoch = ++slot.epoch;
    this.mutate(slot, () => {
      slot.rebooting = false;
      slot.instance.state = 'shutting-down';
      slot.instance.health = 'unknown';
    });
    this.later(WORLD_MINUTES.terminate, slot, epoch, () => {
      slot.instance.state = 'terminated';
      this.groups.get(slot.group)?.members.delete(id);
      const replacement = this.launch(slot.instance);
      const fault = slot.fault;
      this.later(WORLD_MINUTES.launch, replacement, replacement.epoch, () => {
        replacement.instance.state = 'running';
        replacement.instance.health = 'ok';
        if (fault && slot.fault === fault) this.recover(slot, by);
      });
    });
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
        else if (reallyDown(slot)) run.failed.set(id, 'Failed');
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
    const slot: Slot = { instance, epoch: 0, rebooting: false, group: `asg-${instance.service}` };
    this.instances.push(instance);
    this.slots.set(instance.id, slot);
    let group = this.groups.get(slot.group);
    if (!group) {
      group = { desired: 0, members: new Set() };
      this.groups.set(slot.group, group);
    }
    if (instance.state !== 'terminated') group.members.add(instance.id);
    return slot;
  }

  private launch(like: Instance): Slot {
    const id = `i-${(0x20000000 + this.launched++).toString(16).padStart(17, '0')}`;
    const slot = this.add({
      id,
      service: like.service,
      zone: like.zone,
      ...(like.cell === undefined ? {} : { cell: like.cell }),
      state: 'pending',
      health: 'unknown',
      tags: { ...like.tags },
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

  private recover(slot: Slot, by: Recoverer): void {
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

  private mutate(slot: Slot, change: () => void): void {
    const was = { inventoryDown: inventoryDown(slot.instance), reallyDown: reallyDown(slot) };
    change();
    for (const l of this.listeners) l.changed(slot, was);
  }
}
