/**
 * The time the traffic protocol adds to each wave of a change, measured in the simulated world:
 * draining (from FleetOps' first EnterStandby / DeregisterTargets of an instance until no target
 * group still has it and its group has it in Standby) and readiness (from ExitStandby /
 * RegisterTargets until it is back in traffic: `InService`, `healthy` in every target group).
 * A wave waits for its slowest instance: a wave's figure is the longest of its instances'.
 */
import type { TrafficKind } from './adapters/common';
import type { VirtualClock } from './kernel/virtual-clock';
import { outOfTraffic, type Slot, type WorldListener } from './world/sim-world';

interface Pending {
  readonly wave: string;
  readonly at: number;
}

export class TrafficTimes implements WorldListener {
  private readonly leaving = new Map<string, Pending>();
  private readonly returning = new Map<string, Pending>();
  /** Per wave (`<change>#<wave>`): the longest draining and readiness, in seconds. */
  readonly drain = new Map<string, number>();
  readonly ready = new Map<string, number>();

  constructor(private readonly clock: VirtualClock) {}

  /** A change's traffic call for an instance (`wave` undefined: not a change's wave; not measured). */
  traffic(wave: string | undefined, kind: TrafficKind, slot: Slot): void {
    if (wave === undefined) return;
    const id = slot.instance.id;
    if (kind === 'standby' || kind === 'deregister') {
      if (!this.leaving.has(id)) this.leaving.set(id, { wave, at: this.clock.now() });
    } else {
      this.leaving.delete(id);
      if (!this.returning.has(id)) this.returning.set(id, { wave, at: this.clock.now() });
    }
    this.changed(slot);
  }

  changed(slot: Slot): void {
    const id = slot.instance.id;
    const l = this.leaving.get(id);
    if (l && drained(slot)) {
      this.leaving.delete(id);
      longest(this.drain, l.wave, (this.clock.now() - l.at) / 1000);
    }
    const r = this.returning.get(id);
    if (r && !outOfTraffic(slot)) {
      this.returning.delete(id);
      longest(this.ready, r.wave, (this.clock.now() - r.at) / 1000);
    }
  }

  added(): void {}
}

/** No target group has it registered (nor draining), and its group, if any, has it in Standby. */
function drained(slot: Slot): boolean {
  for (const tg of slot.targetGroups) if (tg.targets.has(slot.instance.id)) return false;
  const lifecycle = slot.member?.lifecycle;
  return lifecycle === undefined || lifecycle === 'Standby';
}

function longest(m: Map<string, number>, wave: string, seconds: number): void {
  m.set(wave, Math.max(m.get(wave) ?? 0, seconds));
}

/** The median of per-wave figures (null without any). */
export function median(values: Iterable<number>): number | null {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}
