import { inFlightCaps } from '../functions/core/remediation/caps';
import { shuffled } from './world/churn';
import { ec2Down, type FaultCause, type FaultKind, type SimWorld, type Slot } from './world/sim-world';

/**
 * The default scenario's incidents (synthetic mode, `incidents`, on by default; `--storm` replaces
 * them): two things a fleet meets while a change of days runs, placed so that the change and
 * remediation meet and a default run exercises every invariant the monitor checks (each injected
 * defect is caught):
 *
 * 1. **Failing hosts under the canary**: as the change's first wave (its canary) is leased, hosts in
 *    the zone where it holds the most fail at once (a rack whose power shelf or top-of-rack switch
 *    is failing, a batch of bad hardware the first reboots in months bring to light): twice the
 *    zone's in-flight cap of instances (68 at 100,000 instances), never more than 5% of the zone
 *    (the breaker opens above 20%), all outside Auto Scaling groups (a group replaces its own
 *    impaired members within minutes; these only remediation repairs) and where their services have
 *    budget to spare (a failure spends one: budgets then do not stand between a case and its
 *    instance, leases and caps do). Only a stop-start (a move to other hardware) repairs them.
 *    - 2% of the canary's instances in that zone are among them (at least one, at most a quarter):
 *      their guest hangs as they reboot (the instance check); their cases want instances the change
 *      holds (one-actor);
 *    - the others fail their system check: more at once in one zone than the zone's cap lets act
 *      (in-flight-cap), while the change's waves reach that zone and share those services' budgets
 *      (disruption-budget).
 * 2. **A zone event** ({@link ZONE_EVENT_AT_MINUTE}): as many instances as 30% of one zone fail their
 *    system status check for 20 minutes (a power or network event in one of the zone's data
 *    centres, which AWS resolves), in a zone the change is not at work in (a storm under the change
 *    is `--storm`), all outside Auto Scaling groups (a group would replace its impaired members
 *    within minutes: launches, terminations and smaller budgets for the rest of the run, and the
 *    zone's count falling to the breaker's edge while the event lasts). More than the breaker's
 *    20% of the zone, so automatic remediation stops there (one page), the cases are held, then
 *    find their instances recovered on their own (breaker). Budgets alone would not stop it:
 *    services with a 10% or 20% budget and no per-zone cap have room for their failures.
 */

/** The failing hosts strike at the change's first wave leased from this minute on (0: its canary). */
export const FAILING_HOSTS_AFTER_MINUTE = 0;
/** How many instances fail, per unit of the zone's in-flight cap (caps.ts). */
const FAILING_HOSTS_PER_ZONE_CAP = 2;
/** At most this fraction of the zone fails: a rack, not a zone-wide event. */
const FAILING_HOSTS_MAX_ZONE_FRACTION = 0.05;
/** This fraction of the wave's instances in the zone is among them (at least one). */
const FAILING_HOSTS_WAVE_FRACTION = 0.02;

export const ZONE_EVENT_AT_MINUTE = 360;
export const ZONE_EVENT_MINUTES = 20;
const ZONE_EVENT_FRACTION = 0.3;

/** Instances to fail, how, and what to say about it. */
export interface IncidentFaults {
  readonly slots: readonly Slot[];
  /** The check each fails (by its place in `slots`); undefined: drawn as a random fault's. */
  readonly kind: (index: number) => FaultKind | undefined;
  /** What is wrong underneath; undefined: drawn as a random fault's. */
  readonly cause?: FaultCause;
  /** Clears by itself after this long (ms); absent: only an action or a person ends it. */
  readonly duration?: number;
  readonly what: string;
}

/** Can fail now: not terminated, running with its checks ok, not faulted, not rebooting. */
const failable = (slot: Slot) => slot.instance.state !== 'terminated' && !slot.fault && !ec2Down(slot);

/** Remediation's to repair: an Auto Scaling group replaces its impaired members itself, within minutes. */
const standalone = (slot: Slot) => slot.member === undefined;

/**
 * The failing hosts, given the instances a wave of the change has just leased: in the zone where
 * the wave holds the most (ties: the zone's name), some of the wave's and others of the zone.
 * `room` is the budget a service has left in a zone (overall and the zone's, the smaller).
 */
export function failingHosts(
  world: SimWorld,
  leased: readonly string[],
  random: () => number,
  room: (service: string, zone: string) => number,
): IncidentFaults | undefined {
  const waveByZone = new Map<string, Slot[]>();
  for (const id of leased) {
    const slot = world.slot(id);
    if (!slot || !failable(slot) || !standalone(slot)) continue;
    const list = waveByZone.get(slot.instance.zone) ?? [];
    list.push(slot);
    waveByZone.set(slot.instance.zone, list);
  }
  const zone = [...waveByZone].sort(([a, x], [b, y]) => y.length - x.length || (a < b ? -1 : 1))[0]?.[0];
  if (zone === undefined) return undefined;
  const wave = waveByZone.get(zone)!;
  const members = world.instances.filter((i) => i.zone === zone && i.state !== 'terminated');
  const zoneCap = inFlightCaps({ zone, service: '' }, world.population)[1].max;
  const n = Math.max(
    1,
    Math.min(
      FAILING_HOSTS_PER_ZONE_CAP * zoneCap,
      Math.floor(FAILING_HOSTS_MAX_ZONE_FRACTION * members.length),
    ),
  );
  const fromWave = Math.min(
    wave.length,
    n,
    Math.max(1, Math.min(Math.ceil(n / 4), Math.floor(FAILING_HOSTS_WAVE_FRACTION * wave.length))),
  );
  // Budget to spare: a failure spends one of its service's (in the zone and overall); a case on an
  // instance the change holds needs one more (the change's reservation covers it already).
  const left = new Map<string, number>();
  const spare = (x: Slot) => left.get(x.instance.service) ?? room(x.instance.service, zone);
  const chosen: Slot[] = [];
  for (const x of shuffled(wave, random)) {
    if (chosen.length >= fromWave) break;
    if (spare(x) < 1) continue;
    left.set(x.instance.service, spare(x) - 1);
    chosen.push(x);
  }
  const inWave = new Set(wave);
  const rest: Slot[] = [];
  for (const x of shuffled(
    members.map((i) => world.slot(i.id)!),
    random,
  )) {
    if (rest.length >= n - chosen.length) break;
    if (inWave.has(x) || !failable(x) || !standalone(x) || spare(x) < 1) continue;
    left.set(x.instance.service, spare(x) - 1);
    rest.push(x);
  }
  if (chosen.length + rest.length === 0) return undefined;
  const slots = [...chosen, ...rest];
  return {
    slots,
    // The wave's hang in their guest first (the failing host's memory or disk errors crash their
    // kernel as they reboot: the instance check); the others fail the system check.
    kind: (k) => (k < chosen.length ? 'instance-status-check-failed' : 'system-status-check-failed'),
    cause: 'hardware',
    what:
      `failing hosts in ${zone}: ${slots.length} instances (the zone's in-flight cap is ${zoneCap}): ` +
      `${chosen.length} of the change's wave just leased there (their instance check), ${rest.length} others (their system check)`,
  };
}

/**
 * The zone event: 30% of the instances of a zone where the change holds none now (the first
 * by name; if it holds some in every zone, the one where it holds the fewest), for 20 minutes.
 */
export function zoneEvent(
  world: SimWorld,
  heldByChange: ReadonlySet<string>,
  random: () => number,
): IncidentFaults | undefined {
  const byZone = new Map<string, { members: Slot[]; held: number }>();
  for (const i of world.instances) {
    if (i.state === 'terminated') continue;
    const z = byZone.get(i.zone) ?? { members: [], held: 0 };
    z.members.push(world.slot(i.id)!);
    if (heldByChange.has(i.id)) z.held++;
    byZone.set(i.zone, z);
  }
  const [zone, z] = [...byZone].sort(([a, x], [b, y]) => x.held - y.held || (a < b ? -1 : 1))[0] ?? [];
  if (zone === undefined || !z) return undefined;
  const n = Math.max(1, Math.round(ZONE_EVENT_FRACTION * z.members.length));
  const slots = shuffled(
    z.members.filter((x) => failable(x) && standalone(x)),
    random,
  ).slice(0, n);
  return {
    slots,
    kind: () => 'system-status-check-failed',
    duration: ZONE_EVENT_MINUTES * 60_000,
    what:
      `a zone event in ${zone}: ${slots.length} of its ${z.members.length} instances (outside Auto Scaling groups) fail ` +
      `their system check (the change held ${z.held} there), clearing by itself after ${ZONE_EVENT_MINUTES} min`,
  };
}
