/**
 * # Churn in the prediction
 *
 * A change of days meets a fleet that scales: instances launched from the old launch template
 * after planning match the target and get final waves at the end (rollout/release.ts), and those
 * launched during the first round of final waves get a second round. The planner expects them
 * from what the fleet did just before: the targeted instances launched in the day before the
 * inventory was read (EC2's LaunchTime, from the sweep) give a rate of launches an hour, which the
 * prediction assumes continues — each round's joiners are that rate times the time the waves
 * before them take, shared among services and zones as the target is, and their waves are what
 * every budget allows a wave (as the live waves size them), each at most the plan's largest.
 */

import type { Instance } from '../../fleet/fleet';
import type { ResolvedBudget } from '../../safety/budget';
import type { Wave } from './planner';

/** How far back the launches are counted: a day, so a daily scaling cycle counts whole. */
export const LAUNCH_WINDOW_HOURS = 24;

/** Rounds of final waves at most (each finds who joined during the one before; churn never ends). */
export const FINAL_ROUNDS = 2;

/**
 * The targeted instances launched in the {@link LAUNCH_WINDOW_HOURS} before `observedAt`, an hour
 * (0 without launch times).
 */
export function launchesPerHour(targeted: readonly Instance[], observedAt: number): number {
  const from = observedAt - LAUNCH_WINDOW_HOURS * 3_600_000;
  let n = 0;
  for (const i of targeted) {
    if (i.launchedAt === undefined || i.state === 'terminated') continue;
    const at = Date.parse(i.launchedAt);
    if (at > from && at <= observedAt) n++;
  }
  return n / LAUNCH_WINDOW_HOURS;
}

/**
 * The final waves expected for `expected` instances joining, spread over the services and zones
 * as `targeted` is: per zone in the plan's order, as many waves as the expected most constrained
 * service needs — the expected maximum over the zone's services of ⌈joiners ÷ room a wave⌉, the
 * joiners of each a Poisson count — and at least the zone's joiners ÷ `cap`. Each wave stands for
 * its zone's services with one instance of each (their target groups set the wave's draining and
 * readiness), and its size is the zone's share.
 */
export function expectedJoinerWaves(input: {
  readonly expected: number;
  readonly targeted: readonly Instance[];
  readonly budgets: ReadonlyMap<string, ResolvedBudget>;
  readonly zoneOrder: readonly string[];
  readonly cap: number;
  readonly firstIndex: number;
}): Wave[] {
  const { expected, targeted, budgets, cap } = input;
  const live = targeted.filter((i) => i.state !== 'terminated');
  if (expected <= 0 || live.length === 0) return [];
  const byZone = new Map<string, Map<string, Instance[]>>();
  for (const i of live) {
    let services = byZone.get(i.zone);
    if (!services) {
      services = new Map();
      byZone.set(i.zone, services);
    }
    const list = services.get(i.service);
    if (list) list.push(i);
    else services.set(i.service, [i]);
  }
  const rank = new Map(input.zoneOrder.map((z, k) => [z, k]));
  const zones = [...byZone.keys()].sort(
    (a, b) =>
      (rank.get(a) ?? input.zoneOrder.length) - (rank.get(b) ?? input.zoneOrder.length) ||
      (a < b ? -1 : a > b ? 1 : 0),
  );
  const out: Wave[] = [];
  for (const zone of zones) {
    const services = [...byZone.get(zone)!].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const counts = services.map(([service, list]) => {
      const b = budgets.get(service);
      const room = b?.disruptive
        ? Math.max(1, Math.min(b.maxUnavailable, b.zones.get(zone)?.maxUnavailable ?? b.maxUnavailable))
        : Number.POSITIVE_INFINITY;
      return { mean: (expected * list.length) / live.length, room };
    });
    const joiners = counts.reduce((n, c) => n + c.mean, 0);
    const waves = Math.round(Math.max(joiners / cap, expectedMaxWaves(counts)));
    if (waves <= 0) continue;
    const ids = services.map(([, list]) => list[0].id).sort();
    const size = Math.max(1, Math.round(joiners / waves));
    const perService = Object.fromEntries(services.map(([s]) => [s, 1]));
    for (let k = 0; k < waves; k++) {
      out.push({
        index: input.firstIndex + out.length,
        kind: 'rollout',
        zone,
        zones: [zone],
        size,
        limit: cap,
        bindingConstraint: 'final',
        services: perService,
        instances: ids,
        approvalAfter: null,
        joiners: 'late',
      });
    }
  }
  return out;
}

/**
 * E[max over services of ⌈X ÷ room⌉], X Poisson with the service's mean: Σ over m ≥ 1 of
 * P(some service needs m waves or more) = 1 − Π P(X ≤ (m − 1) · room).
 */
export function expectedMaxWaves(
  counts: ReadonlyArray<{ readonly mean: number; readonly room: number }>,
): number {
  let sum = 0;
  for (let m = 1; m < 100_000; m++) {
    let allBelow = 1;
    for (const c of counts) {
      if (c.mean <= 0 || !Number.isFinite(c.room)) {
        // Unbounded room: one wave if any joins.
        if (m === 1 && c.mean > 0) allBelow *= Math.exp(-c.mean);
        continue;
      }
      allBelow *= poissonCdf((m - 1) * c.room, c.mean);
      if (allBelow === 0) break;
    }
    const atLeast = 1 - allBelow;
    sum += atLeast;
    if (atLeast < 1e-6) break;
  }
  return sum;
}

/** P(X ≤ k) for X Poisson(mean), summed in log space (means of thousands stay finite). */
export function poissonCdf(k: number, mean: number): number {
  if (k < 0) return 0;
  let term = -mean; // log P(X = 0)
  let total = Math.exp(term);
  for (let j = 1; j <= k; j++) {
    term += Math.log(mean) - Math.log(j);
    total += Math.exp(term);
    if (j > mean && Math.exp(term) < 1e-15) break;
  }
  return Math.min(1, total);
}
