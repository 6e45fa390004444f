import type { VirtualClock } from '../kernel/virtual-clock';
import type { SimWorld, Slot } from './sim-world';

const HOUR = 3_600_000;
/** A scale-in draws this many instances at most before giving up on finding one in service. */
const DRAWS = 20;

/**
 * Churn: the services' owners scaling their fleets while a change runs. Scale-ins terminate an
 * instance in service (its group's scale-in, or the owner's tooling draining it first); scale-outs
 * launch one like an instance drawn from the fleet (so into services and zones in proportion to
 * their size), from its launch template: same service, zone, cell and launch tags. Both as
 * Poisson processes at `rate` per instance per hour (`run`), or as a scenario's events
 * (`scaleInOf`, `scaleOutLike`). The inventory, the ledgers and the monitor see it as they see
 * every change of the world; the simulation reconciles capacities as the sweep does.
 */
export class Churn {
  /** Scale-ins begun. */
  terminated = 0;
  /** Instances launched by scale-outs (not a group's replacements). */
  readonly launched = new Set<string>();
  /** Scale-ins that found no instance in service to take, by why. */
  readonly refused = new Map<string, number>();

  constructor(
    private readonly world: SimWorld,
    private readonly random: () => number,
  ) {}

  /** Both processes, at `rate` per live instance per hour, until `ended()`. */
  run(clock: VirtualClock, rate: number, ended: () => boolean): void {
    if (rate <= 0) return;
    const process = (step: () => void) => async () => {
      for (;;) {
        const perMs = (rate * this.world.population) / HOUR;
        if (perMs <= 0) return;
        await clock.sleep(-Math.log(1 - this.random()) / perMs);
        if (ended()) return;
        step();
      }
    };
    clock.spawn(process(() => this.scaleInAny()));
    clock.spawn(process(() => this.scaleOutAny()));
  }

  /** A scale-in of an instance drawn from the live fleet (drawn again while the one drawn is not in service). */
  scaleInAny(): boolean {
    let why = 'no instance left';
    for (let k = 0; k < DRAWS; k++) {
      const slot = this.world.drawLive(this.random);
      if (!slot) break;
      const refused = this.world.scaleIn(slot.instance.id);
      if (refused === undefined) {
        this.terminated++;
        return true;
      }
      why = refused;
    }
    this.refuse(why);
    return false;
  }

  /** A scale-out like an instance drawn from the live fleet. */
  scaleOutAny(): void {
    const like = this.world.drawLive(this.random);
    if (like) this.scaleOutLike(like);
  }

  /** Scale-ins of `count` of these (in a seeded order; those not in service passed over); how many began. */
  scaleInOf(candidates: readonly Slot[], count: number): number {
    const order = shuffled(candidates, this.random);
    let done = 0;
    let why: string | undefined;
    for (const slot of order) {
      if (done >= count) break;
      const refused = this.world.scaleIn(slot.instance.id);
      if (refused === undefined) done++;
      else why = refused;
    }
    this.terminated += done;
    if (done < count) this.refuse(why ?? 'no matching instance', count - done);
    return done;
  }

  scaleOutLike(like: Slot): Slot | undefined {
    const fresh = this.world.scaleOut(like.instance.id);
    if (fresh) this.launched.add(fresh.instance.id);
    return fresh;
  }

  private refuse(why: string, n = 1): void {
    // The reason's first words: "asg-svc-0001 is at its minimum 3" and the like, counted together.
    const key = why
      .replace(/^\S+ is at its minimum \d+$/, 'its group is at its minimum')
      .replace(/ in \S+$/, '');
    this.refused.set(key, (this.refused.get(key) ?? 0) + n);
  }
}

/** A seeded Fisher–Yates shuffle (a copy). */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
