/**
 * How long a change takes, and when it ends: its waves walked in order on a timeline, each with
 * what the rollout state machine spends on it (state-machines/rollout.asl.json):
 *
 * 1. the wait for the spec's time windows (`windowDecision` is the check before every wave);
 * 2. draining and readiness (the traffic protocol: out of traffic before the action, back after);
 * 3. the action and the bake (`strategy.bakeMinutes`): the action's estimate, and draining and
 *    readiness with it, rounded up to settle's next look at the wave (it sees the action finished
 *    only when it looks: 15 s, then twice as long each time);
 * 4. after the wave, when more follow: the expected approval wait if it waits for one
 *    (`approval.expectedWaitMinutes`), then the zone's bake if the next wave is in another zone
 *    (`strategy.firstZoneBakeMinutes` after the first zone, `zoneBakeMinutes` after the others).
 *
 * Pure: the same waves, spec, fleet and start give the same prediction. Without windows the
 * durations do not depend on the start.
 */

import { EC2_DESCRIBE_RATE, ELB_DESCRIBE_RATE } from '../../defaults';
import type { Instance } from '../../fleet/fleet';
import { isDisruptive, type ServiceCatalog } from '../../fleet/services';
import {
  actionModule,
  SETTLE_FIRST_WAIT_SECONDS,
  settleCapSeconds,
  settleLimitSeconds,
  settleWaitAfter,
  settleWaitFor,
} from '../actions/index';
import { type ChangeSpec, expectedApprovalWaitMinutes, zoneBakeSecondsAfter } from '../spec';
import { windowDecision } from '../windows';
import type { Wave } from './planner';

const MINUTE = 60_000;

/**
 * The start a prediction assumes when it is not told one (Monday 2024-01-01 00:00 UTC): fixed,
 * so that a plan is the same bytes for the same inputs; it matters only to a spec with windows.
 */
export const PREDICTION_EPOCH = Date.UTC(2024, 0, 1);

export interface PredictInput {
  readonly waves: readonly Wave[];
  readonly spec: ChangeSpec;
  /** The fleet (for the waves' target groups: draining and readiness); missing ones add nothing. */
  readonly instances: readonly Instance[];
  readonly catalog: ServiceCatalog;
  /**
   * The index of the first wave to predict (default 0); the waves before it only count the zone
   * changes, so the bake after the first zone stays the first zone's when re-estimating later.
   */
  readonly from?: number;
  /** When that wave may start (epoch ms; default {@link PREDICTION_EPOCH}). */
  readonly startAt?: number;
}

export interface WavePrediction {
  readonly wave: number;
  /** Waited for a time window before the wave starts. */
  readonly windowWaitMinutes: number;
  readonly startsAt: number;
  /** The action's estimate and the bake. */
  readonly actionMinutes: number;
  /** Draining before the action and readiness after it. */
  readonly trafficMinutes: number;
  /** When the wave has passed its gate. */
  readonly endsAt: number;
  /** After the wave: the expected wait for a person's approval. */
  readonly approvalMinutes: number;
  /** After the wave (and its approval): the bake of the zone it finished. */
  readonly zoneBakeMinutes: number;
}

export interface Prediction {
  readonly startAt: number;
  /** When the last wave predicted has passed its gate (`startAt` when there is none). */
  readonly endsAt: number;
  /** `endsAt − startAt`, and the parts it is made of. */
  readonly minutes: number;
  readonly actionMinutes: number;
  readonly trafficMinutes: number;
  readonly windowMinutes: number;
  readonly approvalMinutes: number;
  readonly zoneBakeMinutes: number;
  readonly perWave: readonly WavePrediction[];
}

/** Walks the waves from `from` on a timeline from `startAt`. */
export function predictWaves(input: PredictInput): Prediction {
  return walk(input, phasesOf(input), { from: input.from ?? 0, startAt: input.startAt ?? PREDICTION_EPOCH });
}

/**
 * The timeline from wave `from` (through wave `to`, default the last) starting at `startAt`;
 * `started`: the first of them is under way, past its window check.
 */
function walk(
  input: PredictInput,
  phases: (wave: Wave) => Phases,
  span: { from: number; to?: number; startAt: number; started?: boolean },
): Prediction {
  const { waves, spec } = input;
  const { from, to = Number.POSITIVE_INFINITY, startAt, started = false } = span;
  const estimate = actionModule(spec.action).minutes;
  const cap = settleCapSeconds(settleLimitSeconds(spec.action));
  // Settle looks at the wave on a schedule (15 s, then doubling, started over when the wave moves
  // on, and a few seconds past each drain's end and readiness): the rollout sees each phase done
  // at a look. FleetOps' own requests go into the work too, at its pacing: once per wave (a
  // reboot's proof), and at every look while instances are out of traffic (their groups' health).
  const requests = requestsOf(input);
  const act = (wave: Wave, { drain, ready }: Phases) => {
    const r = requests(wave);
    const seen = seenDone({
      drain,
      action: estimate * 60 + r.once,
      ready,
      perLook: r.perLook,
      cap,
    });
    return seen / 60 - (drain + ready) / 60 + spec.strategy.bakeMinutes;
  };
  const approvalWait = expectedApprovalWaitMinutes(spec.approval);
  const perWave: WavePrediction[] = [];
  let zoneChanges = 0;
  let t = startAt;
  for (let i = 0; i < waves.length; i++) {
    const wave = waves[i];
    const next = waves[i + 1];
    const changesZone = next !== undefined && next.zone !== wave.zone;
    if (wave.index > to) break;
    if (wave.index >= from) {
      // A wave under way is past its window check.
      const wait = started && perWave.length === 0 ? 0 : windowDecision(spec.windows, t).waitSeconds;
      const startsAt = t + wait * 1000;
      const phase = phases(wave);
      const trafficMinutes = (phase.drain + phase.ready) / 60;
      const actionMinutes = act(wave, phase);
      const endsAt = startsAt + ms(actionMinutes + trafficMinutes);
      const approvalMinutes = next !== undefined && wave.approvalAfter !== null ? approvalWait : 0;
      const zoneBakeMinutes = changesZone ? zoneBakeSecondsAfter(spec.strategy, zoneChanges) / 60 : 0;
      perWave.push({
        wave: wave.index,
        windowWaitMinutes: wait / 60,
        startsAt,
        actionMinutes,
        trafficMinutes,
        endsAt,
        approvalMinutes,
        zoneBakeMinutes,
      });
      t = endsAt + ms(approvalMinutes + zoneBakeMinutes);
    }
    if (changesZone) zoneChanges++;
  }
  const endsAt = perWave.length > 0 ? perWave[perWave.length - 1].endsAt : startAt;
  const sum = (f: (w: WavePrediction) => number) => perWave.reduce((n, w) => n + f(w), 0);
  return {
    startAt,
    endsAt,
    minutes: (endsAt - startAt) / MINUTE,
    actionMinutes: sum((w) => w.actionMinutes),
    trafficMinutes: sum((w) => w.trafficMinutes),
    windowMinutes: sum((w) => w.windowWaitMinutes),
    // After the last wave there is nothing to wait for: neither counts.
    approvalMinutes: sum((w) => w.approvalMinutes),
    zoneBakeMinutes: sum((w) => w.zoneBakeMinutes),
    perWave,
  };
}

const ms = (minutes: number) => Math.round(minutes * MINUTE);

/**
 * When settle sees a wave done, its looks emulated (rollout/settle.ts): the instances drain for
 * `drain` s from the apply, take the action at the first look after (none to drain: at the apply),
 * finish it `action` s later, are put back at the look that sees it and are ready `ready` s after.
 * The looks come 15 s after the apply, then by the schedule (twice as long each time, at most
 * `capSeconds`; started over when the wave moves on), or a few seconds past the drain's end and
 * the readiness when those come sooner; each look spends `perLook` s on requests.
 */
function seenDone(p: {
  readonly drain: number;
  readonly action: number;
  readonly ready: number;
  readonly perLook: number;
  readonly cap: number;
}): number {
  let t = SETTLE_FIRST_WAIT_SECONDS;
  let polls = 0;
  let actedAt: number | undefined = p.drain > 0 ? undefined : 0;
  let returnedAt: number | undefined;
  for (let looks = 1; looks < 100_000; looks++) {
    t += p.perLook;
    let progressed = false;
    if (actedAt === undefined && t >= p.drain) {
      actedAt = t;
      progressed = true;
    }
    if (actedAt !== undefined && returnedAt === undefined && t >= actedAt + p.action) {
      returnedAt = t;
      progressed = true;
    }
    if (returnedAt !== undefined && (p.ready === 0 || t >= returnedAt + p.ready)) return t;
    const dueAt =
      actedAt === undefined ? p.drain : returnedAt !== undefined ? returnedAt + p.ready : undefined;
    const since = progressed ? 0 : polls;
    t += settleWaitFor(
      settleWaitAfter(since, p.cap),
      t * 1000,
      dueAt === undefined ? undefined : dueAt * 1000,
    );
    polls = since + 1;
  }
  return t;
}

/**
 * The time FleetOps' own requests take a wave at its pacing (core/defaults.ts): a reboot's proof
 * reads each instance's console output once (EC2's Describe bucket, 15/s), and every settle look
 * while instances are out of traffic asks each of their target groups for its targets' health
 * (DescribeTargetHealth, one request a group, 8/s). Negligible for small waves; minutes for a wave
 * of thousands over hundreds of target groups.
 */
function requestsOf({
  instances,
  catalog,
  spec,
}: PredictInput): (wave: Wave) => { once: number; perLook: number } {
  const module = actionModule(spec.action);
  const byId = new Map(instances.map((i) => [i.id, i]));
  return (wave) => {
    const once = module.readsPerLook ? wave.instances.length / EC2_DESCRIBE_RATE.ratePerSecond : 0;
    if (!module.outOfTraffic) return { once, perLook: 0 };
    const groups = new Set<string>();
    for (const id of wave.instances) {
      const i = byId.get(id);
      if (!i?.targets || !isDisruptive(catalog.budgetOf(i.service).budget, spec.action.type)) continue;
      for (const t of i.targets) groups.add(t.targetGroupArn);
    }
    return { once, perLook: groups.size / ELB_DESCRIBE_RATE.ratePerSecond };
  };
}

/**
 * What the traffic protocol adds to a wave (core/traffic): its instances drain before the action
 * (at most the longest deregistration delay of their target groups) and are healthy again after
 * it (at most the longest healthy threshold × interval), all at once within a wave; only for the
 * services the action disrupts, and nothing for an action that keeps instances in traffic.
 */
type Phases = { readonly drain: number; readonly ready: number };

/** A wave's longest draining and readiness, in seconds (their sum is its `trafficMinutes`). */
function phasesOf({ instances, catalog, spec }: PredictInput): (wave: Wave) => Phases {
  if (!actionModule(spec.action).outOfTraffic) return () => ({ drain: 0, ready: 0 });
  const byId = new Map(instances.map((i) => [i.id, i]));
  return (wave) => {
    let drain = 0;
    let ready = 0;
    for (const id of wave.instances) {
      const i = byId.get(id);
      if (!i?.targets || !isDisruptive(catalog.budgetOf(i.service).budget, spec.action.type)) continue;
      for (const t of i.targets) {
        drain = Math.max(drain, t.drainSeconds ?? 0);
        ready = Math.max(ready, t.readySeconds ?? 0);
      }
    }
    return { drain, ready };
  };
}

/**
 * Where a running change is, as its records tell (see {@link expectedEnd}):
 * - `before`: `wave` has not begun; the wave before it passed its gate at `previousEndedAt`;
 * - `acting`: `wave` began at `since` (its first record) and has no verdict yet;
 * - `waiting-approval`: the change waits for a person after `wave` (its gate passed, failed or
 *   could not judge) since `since`.
 */
export type Progress =
  | { readonly phase: 'before'; readonly wave: number; readonly previousEndedAt?: number }
  | { readonly phase: 'acting'; readonly wave: number; readonly since: number }
  | { readonly phase: 'waiting-approval'; readonly wave: number; readonly since: number };

export interface Estimate {
  readonly now: number;
  /** When the change is expected to end (never before `now`). */
  readonly endsAt: number;
  /** From now to then. */
  readonly minutes: number;
  /** The first wave predicted from its start (the waves before it have begun or are done). */
  readonly from: number;
  /** The waves from `from`, predicted from when what is under way now ends. */
  readonly rest: Prediction;
}

/**
 * The expected end of a running change, re-estimated from where it is now: what is left of the
 * wave or the wait under way (never less than nothing: a wave that overran ends now at the
 * earliest), then {@link predictWaves} over the rest of its plan as it stands.
 */
export function expectedEnd(
  input: Omit<PredictInput, 'from' | 'startAt'> & { readonly progress: Progress; readonly now: number },
): Estimate {
  const { waves, spec, progress, now } = input;
  const phases = phasesOf(input);
  const position = waves.findIndex((w) => w.index === progress.wave);
  const wave = waves[position];
  // One wave on its own: its length, and what follows it (its approval, then its zone's bake).
  const alone = (w: Wave, startAt: number) =>
    walk(input, phases, { from: w.index, to: w.index, startAt, started: true });
  let resumeAt = now;
  let from = progress.wave;
  if (wave === undefined) {
    from = waves.length === 0 ? 0 : waves[waves.length - 1].index + 1;
  } else if (progress.phase === 'acting') {
    const current = alone(wave, progress.since);
    resumeAt = Math.max(now, current.endsAt) + ms(current.approvalMinutes + current.zoneBakeMinutes);
    from = wave.index + 1;
  } else if (progress.phase === 'waiting-approval') {
    // Whatever the person is asked (a planned point, a paused or unjudged gate, even after the
    // last wave), the expected wait is the same; the zone's bake comes after the answer.
    const waited = now - progress.since;
    const left = Math.max(0, ms(expectedApprovalWaitMinutes(spec.approval)) - waited);
    resumeAt = now + left + ms(alone(wave, 0).zoneBakeMinutes);
    from = wave.index + 1;
  } else if (position > 0 && progress.previousEndedAt !== undefined) {
    // The zone's bake may be under way: it began when the wave before passed (or was approved).
    resumeAt = Math.max(now, progress.previousEndedAt + ms(alone(waves[position - 1], 0).zoneBakeMinutes));
  }
  const rest = walk(input, phases, { from, startAt: resumeAt });
  const endsAt = Math.max(now, rest.perWave.length > 0 ? rest.endsAt : resumeAt);
  return { now, endsAt, minutes: (endsAt - now) / MINUTE, from, rest };
}
