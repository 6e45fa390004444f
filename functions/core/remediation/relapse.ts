/**
 * The instance's ladder across cases: what its last remediation of a status-check failure left
 * (`LastRemediation`, one record per instance), and what that means for a new failure — a relapse
 * within the window continues the ladder where the last case left it, an instance that keeps
 * relapsing pages (it flaps), and a step that recovered it before, longer ago, is a hint.
 *
 * Why: a reboot that brings the checks back on a failing host "recovers" the instance until the
 * host fails it again. Treated as a fresh problem each time, the ladder would reboot it forever;
 * treated as the same problem, the next failure goes on to a stop-start (a new host).
 */
import { RELAPSE_FLAP_LIMIT, RELAPSE_WINDOW_MINUTES } from '../defaults';
import type { FindingKind } from '../events/findings';
import type { CaseStatusWord } from './case-status';
import { contextKeys } from './context';
import { LADDER, type LadderStep, type RecordedRelapse } from './types';

/** Finding kinds the escalation ladder repairs: their cases share the instance's ladder. */
export const LADDER_KINDS: ReadonlySet<FindingKind> = new Set<FindingKind>([
  'system-status-check-failed',
  'instance-status-check-failed',
]);

/** How the last remediation of an instance's status-check failure ended (one record per instance). */
export interface LastRemediation {
  readonly instanceId: string;
  readonly caseId: string;
  /** When the case was opened (epoch ms): a record only gives way to a later case's. */
  readonly openedAt: number;
  /** When it ended (epoch ms): the relapse window runs from here. */
  readonly endedAt: number;
  readonly kind: FindingKind;
  readonly status: CaseStatusWord;
  /** Every step tried for the problem, those the case inherited from earlier relapses first. */
  readonly tried: readonly LadderStep[];
  /** The step after which it was recovered (absent: it recovered on its own, or did not). */
  readonly recoveredBy?: LadderStep;
  /** How many relapses in a row led to this case (0: it was a fresh problem). */
  readonly relapses: number;
  /** What the ladder chose `recoveredBy` from (its outcome was counted under it: see `revisedOutcome`). */
  readonly context?: { readonly family?: string; readonly hostAgeDays?: number };
  /** The case whose relapse turned `recoveredBy`'s counted success into a failure (once). */
  readonly revisedBy?: string;
}

export interface RelapseSettings {
  /**
   * A failure within this many minutes of the last case's end is the same problem come back.
   * @default 1440 (core/defaults.ts RELAPSE_WINDOW_MINUTES)
   */
  readonly windowMinutes?: number;
  /**
   * Relapses in a row (each within the window of the last) after which a person is paged instead
   * of another automatic step: the instance flaps. @default 3 (core/defaults.ts RELAPSE_FLAP_LIMIT)
   */
  readonly flapLimit?: number;
}

/** What a new failure on the instance is, given its last remediation. */
export type Relapse =
  | {
      readonly relapse: false;
      /** The step that recovered this instance in its last case (outside the window): a hint. */
      readonly helpedBefore?: LadderStep;
    }
  | {
      readonly relapse: true;
      /** The case it relapsed from. */
      readonly of: string;
      /** Relapses in a row, this one included (1: the first). */
      readonly count: number;
      /** Steps already tried for the problem: the ladder goes on after them. */
      readonly inherited: readonly LadderStep[];
      /** `count` reached the flap limit: a person decides. */
      readonly flapping: boolean;
      readonly reason: string;
      /** The record it relapsed from. */
      readonly last: LastRemediation;
    };

export function relapseSettings(settings: RelapseSettings = {}): Required<RelapseSettings> {
  const windowMinutes = settings.windowMinutes ?? RELAPSE_WINDOW_MINUTES;
  const flapLimit = settings.flapLimit ?? RELAPSE_FLAP_LIMIT;
  if (!(windowMinutes >= 0 && Number.isFinite(windowMinutes))) {
    throw new Error(`expected the relapse window ≥ 0 minutes, found ${windowMinutes}`);
  }
  if (!(Number.isInteger(flapLimit) && flapLimit >= 1)) {
    throw new Error(`expected the flap limit to be a whole number ≥ 1, found ${flapLimit}`);
  }
  return { windowMinutes, flapLimit };
}

const hours = (minutes: number) =>
  minutes % 60 === 0 ? `${minutes / 60} h` : `${Math.round((minutes / 60) * 10) / 10} h`;

/**
 * A new failure of a ladder kind on an instance, given its last remediation:
 * 1. none, or one that ended longer ago than the window → a fresh problem; the step that
 *    recovered it then, if one did, is a hint for the ladder (`helpedBefore`);
 * 2. one that ended within the window → a relapse: the count goes on from that case's, the steps
 *    it tried (its inherited ones included) are inherited, so the ladder continues after them;
 * 3. a relapse whose count reaches the flap limit → flapping: a person decides.
 */
export function relapseOf(
  last: LastRemediation | undefined,
  now: number,
  settings: RelapseSettings = {},
): Relapse {
  const { windowMinutes, flapLimit } = relapseSettings(settings);
  if (!last) return { relapse: false };
  const since = now - last.endedAt;
  if (since > windowMinutes * 60_000) {
    return last.recoveredBy ? { relapse: false, helpedBefore: last.recoveredBy } : { relapse: false };
  }
  const count = last.relapses + 1;
  const inherited = LADDER.filter((step) => last.tried.includes(step));
  const after = last.recoveredBy
    ? `recovered by ${last.recoveredBy}`
    : last.status === 'recovered'
      ? 'recovered on its own'
      : `ended ${last.status}`;
  const minutes = Math.max(0, Math.round(since / 60_000));
  const flapping = count >= flapLimit;
  return {
    relapse: true,
    of: last.caseId,
    count,
    inherited,
    flapping,
    last,
    reason: `relapse ${count} in a row: failed again ${minutes} min after case ${last.caseId} (${after}), within the ${hours(windowMinutes)} window${
      flapping
        ? `; flapping (${count} relapses, limit ${flapLimit})`
        : inherited.length > 0
          ? `; the ladder continues after ${inherited.join(', ')}`
          : ''
    }`,
  };
}

/**
 * The record a case of a ladder kind leaves when it ends: every step tried for the problem (those
 * it inherited first, then its own), the step that recovered it (`recoveredBy`, given by Verify),
 * and its place in a run of relapses (from the decision that recorded the relapse).
 */
export function lastRemediationOf(
  c: {
    readonly id: string;
    readonly createdAt: number;
    readonly finding: { readonly instanceId: string; readonly kind: FindingKind };
    readonly tried: readonly LadderStep[];
    readonly decisions: ReadonlyArray<{
      readonly action: string;
      readonly relapse?: RecordedRelapse;
      readonly context?: LastRemediation['context'] & { readonly helpedBefore?: LadderStep };
    }>;
  },
  end: { readonly status: CaseStatusWord; readonly endedAt: number; readonly recoveredBy?: LadderStep },
): LastRemediation {
  const relapse = c.decisions.find((d) => d.relapse !== undefined)?.relapse;
  const inherited = (relapse?.inherited ?? []).filter((step) => !c.tried.includes(step));
  const chosen = end.recoveredBy
    ? [...c.decisions].reverse().find((d) => d.action === end.recoveredBy)?.context
    : undefined;
  const context =
    chosen && (chosen.family !== undefined || chosen.hostAgeDays !== undefined)
      ? {
          ...(chosen.family !== undefined ? { family: chosen.family } : {}),
          ...(chosen.hostAgeDays !== undefined ? { hostAgeDays: chosen.hostAgeDays } : {}),
        }
      : undefined;
  return {
    instanceId: c.finding.instanceId,
    caseId: c.id,
    openedAt: c.createdAt,
    endedAt: end.endedAt,
    kind: c.finding.kind,
    status: end.status,
    tried: [...inherited, ...c.tried],
    ...(end.recoveredBy ? { recoveredBy: end.recoveredBy } : {}),
    relapses: relapse?.count ?? 0,
    ...(context ? { context } : {}),
  };
}

/**
 * The outcome statistics a relapse corrects: the step that "recovered" the last case did not hold
 * (recovered means staying healthy, and the problem came back within the window), so the success
 * Verify counted for it, under the kind and the context it was chosen in, becomes a failure. The
 * keys to revise, or none (nothing recovered it, or its run is already revised).
 */
export function revisedOutcome(
  last: LastRemediation,
): { readonly step: LadderStep; readonly keys: readonly string[] } | undefined {
  if (!last.recoveredBy || last.revisedBy !== undefined) return undefined;
  return {
    step: last.recoveredBy,
    keys: contextKeys({ kind: last.kind, ...last.context }, last.recoveredBy),
  };
}
