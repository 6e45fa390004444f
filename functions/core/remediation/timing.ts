/**
 * When to act on a finding: now, a quiet time before a scheduled event's deadline, drain for a
 * Spot interruption, or only record it; and the fixed step a scheduled event calls for.
 */
import type { ChangeSpec } from '../change/spec';
import { windowDecision } from '../change/windows';
import { type Finding, type FindingKind, SCHEDULED_FINDING_KINDS } from '../events/findings';
import type { Instance } from '../fleet/fleet';
import { quietWindowOf } from '../fleet/services';
import type { QuietWindowSource } from '../ports/intake';
import type { DecisionAction } from './types';

/** When a service prefers disruption (local time, like a change's time window). */
export interface QuietWindow {
  /** Days the window starts on ('mon' … 'sun'). @default every day */
  readonly days?: readonly string[];
  /** 'HH:MM' (24-hour); a window whose end is not after its start runs across midnight. */
  readonly start: string;
  readonly end: string;
  /** An IANA time zone such as 'Europe/Berlin'. */
  readonly timezone: string;
}

/**
 * What to do, or 'ladder': a failing status check is repaired by the escalation ladder, whose next
 * step depends on the case's history and the outcome statistics (`nextStep` in ladder.ts). Timing
 * decides when, the ladder decides which step; 'ladder' is not a `DecisionAction`, so it cannot be
 * recorded or executed by mistake before the ladder has resolved it.
 */
export type TimedAction = DecisionAction | 'ladder';

export interface Timing {
  /**
   * Which rule placed the action: 'now' (urgent, or nothing better fits), 'before-deadline' (the
   * first quiet time ahead of a scheduled event), 'record-only' (nothing to do), 'drain' (the
   * instance is going away: take it out of service).
   */
  readonly mode: 'now' | 'before-deadline' | 'record-only' | 'drain';
  /** When to act (ISO 8601); always meaningful, so a caller schedules `at` whatever the mode. */
  readonly at: string;
  readonly action: TimedAction;
  readonly reason: string;
}

/**
 * A scheduled event is handled at least this long before its NotBefore, so a failed stop-start or
 * reboot leaves time for the ladder's next step (or a person) before AWS acts.
 */
export const SAFETY_MARGIN_MINUTES = 60;

const DAY_NAMES = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const CLOCK = /^([01]\d|2[0-3]):[0-5]\d$/;
const MINUTE = 60_000;

type Window = ChangeSpec['windows'][number];

/** The quiet window as windows.ts reads it, after checking what it cannot check itself. */
function asWindow(quiet: QuietWindow): Window {
  const days = quiet.days ?? DAY_NAMES;
  const unknown = days.filter((d) => !(DAY_NAMES as readonly string[]).includes(d));
  if (days.length === 0 || unknown.length > 0) {
    throw new Error(
      `expected quiet window days among ${DAY_NAMES.join(', ')} (at least one), found [${days.join(', ')}]`,
    );
  }
  for (const [name, value] of [
    ['start', quiet.start],
    ['end', quiet.end],
  ] as const) {
    if (!CLOCK.test(value))
      throw new Error(`expected quiet window ${name} as "HH:MM" (24-hour), found "${value}"`);
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: quiet.timezone });
  } catch {
    throw new Error(`expected an IANA time zone for the quiet window, found "${quiet.timezone}"`);
  }
  return { days: [...days] as Window['days'], start: quiet.start, end: quiet.end, timezone: quiet.timezone };
}

const iso = (ms: number) => new Date(ms).toISOString();
const quietLabel = (q: QuietWindow) =>
  `${q.days ? `${q.days.join(',')} ` : ''}${q.start}–${q.end} ${q.timezone}`;

/**
 * Act ahead of a scheduled event, at a quiet time if one fits:
 * 1. no deadline, or one already past → now;
 * 2. the deadline is closer than the safety margin → now;
 * 3. no quiet window configured → now (early beats late: a failure leaves time to escalate);
 * 4. otherwise the first quiet time from now (now itself when the window is open) if it starts at
 *    least the margin before the deadline — the earliest one, not the latest, because the host
 *    is degraded (retirement, stop) and an early attempt that fails leaves the later quiet windows
 *    for the next step; none fits → now.
 */
function beforeDeadline(
  finding: Finding,
  now: number,
  quiet: QuietWindow | undefined,
  action: 'stop-start' | 'reboot',
  why: string,
): Timing {
  const act = (reason: string): Timing => ({
    mode: 'now',
    at: iso(now),
    action,
    reason: `${why}; ${reason}`,
  });
  if (finding.deadline === undefined) return act(`no deadline given: ${action} now`);
  const deadline = Date.parse(finding.deadline);
  if (Number.isNaN(deadline)) {
    throw new Error(`expected an ISO 8601 deadline on finding ${finding.key}, found "${finding.deadline}"`);
  }
  if (deadline <= now) return act(`deadline ${finding.deadline} already passed: ${action} now`);
  const latest = deadline - SAFETY_MARGIN_MINUTES * MINUTE;
  if (latest <= now) {
    const left = Math.floor((deadline - now) / MINUTE);
    return act(
      `deadline ${finding.deadline} is ${left} min away, within the ${SAFETY_MARGIN_MINUTES}-min safety margin: ${action} now`,
    );
  }
  if (quiet === undefined)
    return act(`no quiet window configured: ${action} now, ahead of ${finding.deadline}`);
  const window = windowDecision([asWindow(quiet)], now);
  // windowDecision counts whole seconds up to a minute boundary; the window opens on that minute.
  const at = window.open ? now : Math.floor((now + window.waitSeconds * 1000) / MINUTE) * MINUTE;
  if (at > latest) {
    return act(
      `no quiet time (${quietLabel(quiet)}) before ${finding.deadline} less the ${SAFETY_MARGIN_MINUTES}-min margin: ${action} now`,
    );
  }
  return {
    mode: 'before-deadline',
    at: iso(at),
    action,
    reason: `${why}; ${action} ${window.open ? 'now, inside' : 'at the first'} quiet time (${quietLabel(quiet)}), ahead of ${finding.deadline} with at least ${SAFETY_MARGIN_MINUTES} min to spare`,
  };
}

/**
 * When (and in what way) to act on a finding:
 * 1. a failing status check (system or instance) → after `waitMinutes` (the accumulation window:
 *    core/defaults.ts ACCUMULATE_MINUTES where deployed), step chosen by the ladder ('ladder');
 * 2. scheduled retirement or stop → stop-start ahead of NotBefore (an EBS-backed instance moves
 *    to new hardware, so the event does not happen), at a quiet time if one fits;
 * 3. scheduled reboot → reboot ahead of NotBefore at a quiet time (a reboot of our own completes
 *    an instance-reboot; for a system-reboot EC2 attempts reboot migration and clears the event
 *    when it succeeds — if it does not, the event stays and a later sync finds it again);
 * 4. scheduled maintenance → record only (nothing FleetOps does avoids it);
 * 5. degraded hardware (an issue, no schedule) → stop-start now;
 * 6. Spot interruption → drain now (the instance goes in two minutes; never repaired);
 * 7. rebalance recommendation → replace now: a replacement is launched before the instance is
 *    taken away, so capacity never dips (draining would give up capacity on a mere risk signal);
 * 8. unexpected stop or termination → record only (an Auto Scaling group or a person handles it;
 *    the instance already counts against the budget through inventory).
 * Rules 2–3 act now instead when the deadline has passed, is within the safety margin, or no
 * quiet time fits before it (see `beforeDeadline`).
 */
export function timingFor(
  finding: Finding,
  now: number,
  quiet?: QuietWindow,
  /** Minutes a failure waits before its first action (an accumulation window; 0: at once). */
  waitMinutes = 0,
): Timing {
  const at = iso(now);
  const kind: FindingKind = finding.kind;
  if (!(waitMinutes >= 0 && Number.isFinite(waitMinutes))) {
    throw new Error(`expected an accumulation window ≥ 0 minutes, found ${waitMinutes}`);
  }
  switch (kind) {
    case 'system-status-check-failed':
    case 'instance-status-check-failed':
      return waitMinutes > 0
        ? {
            mode: 'now',
            at: iso(now + waitMinutes * 60_000),
            action: 'ladder',
            reason: `${kind}: repair after a ${waitMinutes}-min accumulation window (a storm is counted before anything is touched; an instance that recovers, by EC2's automatic recovery or by itself, is left alone); the escalation ladder chooses the step`,
          }
        : {
            mode: 'now',
            at,
            action: 'ladder',
            reason: `${kind}: repair now; the escalation ladder chooses the step`,
          };
    case 'scheduled-retirement':
    case 'scheduled-stop':
      return beforeDeadline(
        finding,
        now,
        quiet,
        'stop-start',
        `${kind}: a stop-start moves the instance to new hardware before AWS acts`,
      );
    case 'scheduled-reboot':
      return beforeDeadline(
        finding,
        now,
        quiet,
        'reboot',
        `${kind}: a reboot of our own completes the maintenance`,
      );
    case 'scheduled-maintenance':
      return { mode: 'record-only', at, action: 'record-only', reason: `${kind}: nothing we do avoids it` };
    case 'degraded-hardware':
      return {
        mode: 'now',
        at,
        action: 'stop-start',
        reason: `${kind}: stop-start now to leave the degraded host`,
      };
    case 'spot-interruption':
      return {
        mode: 'drain',
        at,
        action: 'drain',
        reason: `${kind}: the instance goes in about two minutes; drain it, do not repair`,
      };
    case 'rebalance-recommendation':
      return {
        mode: 'now',
        at,
        action: 'replace',
        reason: `${kind}: replace now, a new instance in service before this one is taken away`,
      };
    case 'unexpected-stop':
    case 'unexpected-termination':
      return {
        mode: 'record-only',
        at,
        action: 'record-only',
        reason: `${kind}: left to its Auto Scaling group or a person; counted against the budget through inventory`,
      };
    default: {
      const unknown: never = kind;
      throw new Error(`unknown finding kind "${unknown}"`);
    }
  }
}

/**
 * Whether EC2's simplified automatic recovery may act on this instance's system status check
 * failure: its MaintenanceOptions.AutoRecovery is not `disabled` (`default`, EC2's own default, is
 * on for the instance types that support it) and it is not a Spot instance (EC2 recovers instances
 * of default — On-Demand — or dedicated tenancy). An instance the inventory does not know: maybe.
 * ("Configure simplified automatic recovery", EC2 user guide.)
 */
export function ec2MayRecover(instance: Pick<Instance, 'autoRecovery' | 'spot'> | undefined): boolean {
  return instance?.autoRecovery !== 'disabled' && instance?.spot === undefined;
}

/**
 * Minutes a finding waits before its case's first action (the accumulation window), from the
 * settings per kind: a system check failure waits the longer window that gives EC2's automatic
 * recovery its chance only where EC2 may recover the instance (`ec2MayRecover`); elsewhere it
 * waits no longer than an instance check failure (the storm's window alone).
 */
export function accumulationMinutes(
  kind: FindingKind,
  instance: Pick<Instance, 'autoRecovery' | 'spot'> | undefined,
  accumulate: Readonly<Partial<Record<FindingKind, number>>> | undefined,
): number {
  const minutes = accumulate?.[kind] ?? 0;
  if (kind !== 'system-status-check-failed' || ec2MayRecover(instance)) return minutes;
  return Math.min(minutes, accumulate?.['instance-status-check-failed'] ?? minutes);
}

/** When intake's case acts: the quiet window (scheduled events) and the accumulation window (failures). */
export interface IntakeTiming {
  readonly quiet?: QuietWindow;
  readonly waitMinutes: number;
}

/**
 * What intake needs to time a finding's case, reading only what that kind needs:
 * - a scheduled event: its instance's service's quiet window (`quietWindow` in the services file),
 *   else the file's `defaults`' — the account's (an instance the inventory does not know yet gets
 *   the account's);
 * - a system check failure: the instance, for whether EC2 may recover it (`accumulationMinutes`);
 * - anything else: nothing.
 */
export async function intakeTimingFor(
  source: QuietWindowSource,
  finding: Pick<Finding, 'instanceId' | 'kind'>,
  accumulate: Readonly<Partial<Record<FindingKind, number>>> | undefined,
): Promise<IntakeTiming> {
  if (SCHEDULED_FINDING_KINDS.has(finding.kind)) {
    const [[instance], file] = await Promise.all([
      source.getInstances([finding.instanceId]),
      source.getServices(),
    ]);
    const quiet = quietWindowOf(file, instance?.service);
    return { ...(quiet ? { quiet } : {}), waitMinutes: 0 };
  }
  const instance =
    finding.kind === 'system-status-check-failed'
      ? (await source.getInstances([finding.instanceId]))[0]
      : undefined;
  return { waitMinutes: accumulationMinutes(finding.kind, instance, accumulate) };
}
