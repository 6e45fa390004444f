import type { ChangeRecord, WaveRecord } from '../functions/adapters/dynamo-change-store';
import type { Plan, PlanRevision, Wave } from '../functions/core/change/plan/planner';
import type { Estimate, Progress } from '../functions/core/change/plan/predict';
import { ENDED } from '../functions/core/change/status';
import { formatMinutes } from './render-plan';

/** Ids shown for one list (late joiners, revisits, a final wave's instances) before "and N more". */
const MAX_IDS_SHOWN = 10;

/** One line per wave: where it is and how it came out (what `change watch` and `status` show). */
export interface WaveProgress {
  readonly wave: number;
  readonly zone: string;
  readonly size: number;
  readonly applied: number;
  readonly refused: number;
  /** Instances that became ineligible after planning (terminated, gone), with why. */
  readonly skipped: ReadonlyArray<{ readonly id: string; readonly reason: string }>;
  /** Instances the live sizing moved from this wave to later ones (their budgets had no room). */
  readonly deferred: number;
  /** A final wave: who it is for (late joiners, revisits, or both). */
  readonly joiners?: Wave['joiners'];
  readonly verdict: 'pass' | 'fail' | 'extend' | null;
  readonly unhealthy: number;
  readonly state: 'pending' | 'applying' | 'baking' | 'passed' | 'failed' | 'inconclusive';
}

type Listed = { readonly id: string; readonly reason: string };
const listed = (r: WaveRecord) => (r.body.instances ?? []) as Listed[];

export function waveProgress(plan: Plan, records: readonly WaveRecord[]): WaveProgress[] {
  return plan.waves.map((wave) => {
    const mine = records.filter((r) => r.wave === wave.index);
    const applies = mine.filter((r) => r.part.startsWith('apply#'));
    const result = mine.find((r) => r.part === 'result');
    const applied = applies.reduce((n, r) => n + ((r.body.applied as unknown[] | undefined)?.length ?? 0), 0);
    const refused = applies.reduce((n, r) => n + ((r.body.refused as unknown[] | undefined)?.length ?? 0), 0);
    const skipped = mine.filter((r) => r.part.startsWith('skipped#')).flatMap(listed);
    // A retried lease step may defer the same instance again: count each once.
    const deferred = new Set(
      mine.filter((r) => r.part.startsWith('deferred#')).flatMap((r) => listed(r).map((i) => i.id)),
    ).size;
    const verdict = (result?.body.verdict as WaveProgress['verdict']) ?? null;
    const outcomes = Object.values((result?.body.outcomes ?? {}) as Record<string, string>);
    const state: WaveProgress['state'] =
      verdict === 'pass'
        ? 'passed'
        : verdict === 'fail'
          ? 'failed'
          : verdict === 'extend'
            ? 'inconclusive'
            : applies.length > 0
              ? 'baking'
              : 'pending';
    return {
      wave: wave.index,
      zone: wave.zone,
      size: wave.size,
      applied,
      refused,
      skipped,
      deferred,
      ...(wave.joiners ? { joiners: wave.joiners } : {}),
      verdict,
      unhealthy: outcomes.filter((o) => o !== 'ok' && !o.startsWith('pending: ')).length,
      state,
    };
  });
}

/** Statuses in which a change still has waves to go and an end to expect. */
const UNDER_WAY = new Set(['planned', 'running', 'waiting-approval', 'paused']);

/**
 * Where a change is, for the re-estimate of its end (functions/core/change/plan/predict.ts): the
 * wave a person is asked about, the wave under way (since its first record), or the next to begin.
 * Undefined when the change has ended or is being rolled back (that is its rollback's to say).
 */
export function progressOf(
  record: ChangeRecord,
  records: readonly WaveRecord[],
  waves: readonly WaveProgress[],
): Progress | undefined {
  if (!UNDER_WAY.has(record.status)) return undefined;
  const resultAt = (wave: number) => records.find((r) => r.wave === wave && r.part === 'result')?.at;
  if (record.status === 'waiting-approval' || record.status === 'paused') {
    const asked = [...waves].reverse().find((w) => w.verdict !== null);
    if (asked) {
      const since = record.updatedAt ?? resultAt(asked.wave) ?? record.createdAt;
      return { phase: 'waiting-approval', wave: asked.wave, since };
    }
  }
  const current = waves.find((w) => w.verdict !== 'pass');
  if (!current) return { phase: 'before', wave: waves.length === 0 ? 0 : waves[waves.length - 1].wave + 1 };
  const begun = records.filter((r) => r.wave === current.wave && r.part !== 'result').map((r) => r.at);
  if (begun.length > 0) return { phase: 'acting', wave: current.wave, since: Math.min(...begun) };
  const previous = resultAt(current.wave - 1);
  return {
    phase: 'before',
    wave: current.wave,
    ...(previous === undefined ? {} : { previousEndedAt: previous }),
  };
}

/** The expected end as `--json` shows it. */
export function expectedEndJson(estimate: Estimate | undefined) {
  if (!estimate) return null;
  return {
    at: new Date(estimate.endsAt).toISOString(),
    minutes: Math.round(estimate.minutes * 10) / 10,
    estimatedAt: new Date(estimate.now).toISOString(),
    fromWave: estimate.from,
    windowMinutes: Math.round(estimate.rest.windowMinutes * 10) / 10,
    approvalMinutes: Math.round(estimate.rest.approvalMinutes * 10) / 10,
    zoneBakeMinutes: Math.round(estimate.rest.zoneBakeMinutes * 10) / 10,
  };
}

/** The final waves (late joiners and revisits) as `--json` shows them. */
export function finalWavesOf(plan: Plan) {
  return plan.waves
    .filter((w) => w.joiners !== undefined)
    .map((w) => ({ wave: w.index, zone: w.zone, joiners: w.joiners, instances: w.instances }));
}

export interface ProgressExtras {
  /** The plan as it stands (its revisions and final waves are listed). */
  readonly plan?: Plan;
  readonly estimate?: Estimate;
}

export function renderProgress(
  record: ChangeRecord,
  waves: readonly WaveProgress[],
  extras: ProgressExtras = {},
): string[] {
  const done = waves.filter((w) => w.state === 'passed').length;
  const lines = [
    `${record.id}: ${record.status}${record.statusReason ? ` — ${record.statusReason}` : ''}`,
    `  ${done}/${waves.length} waves passed, ${waves.reduce((n, w) => n + w.applied, 0)} instances changed`,
  ];
  if (extras.estimate) lines.push(`  ${expectedEndLine(extras.estimate)}`);
  for (const w of waves) {
    if (w.state === 'pending') continue;
    lines.push(
      `  wave ${String(w.wave).padStart(3)}  ${w.zone.padEnd(14)} ${String(w.size).padStart(5)} planned  ` +
        `${String(w.applied).padStart(5)} applied  ${w.state}` +
        (w.unhealthy > 0 ? ` (${w.unhealthy} unhealthy)` : '') +
        (w.refused > 0 ? ` (${w.refused} refused)` : '') +
        (w.skipped.length > 0 ? ` (${w.skipped.length} skipped)` : '') +
        (w.deferred > 0 ? ` (${w.deferred} deferred to later waves)` : ''),
    );
    for (const s of w.skipped) lines.push(`      skipped ${s.id}: ${s.reason}`);
  }
  if (extras.plan)
    lines.push(...revisionLines(extras.plan.revisions ?? []), ...finalWaveLines(extras.plan, waves));
  return lines;
}

/** "expected end: 2026-03-04T02:10:00.000Z (in 7 h 5 min), re-estimated from wave 12". */
export function expectedEndLine(estimate: Estimate): string {
  const at = new Date(estimate.endsAt).toISOString();
  const minutes = Math.round(estimate.minutes);
  const waits: string[] = [];
  if (estimate.rest.windowMinutes > 0)
    waits.push(`${formatMinutes(Math.round(estimate.rest.windowMinutes))} for time windows`);
  if (estimate.rest.approvalMinutes > 0)
    waits.push(`${formatMinutes(Math.round(estimate.rest.approvalMinutes))} for approvals`);
  return (
    `expected end: ${at} (${minutes <= 0 ? 'now' : `in ${formatMinutes(minutes)}`})` +
    (waits.length > 0 ? `, of which ${waits.join(' and ')}` : '')
  );
}

function revisionLines(revisions: readonly PlanRevision[]): string[] {
  if (revisions.length === 0) return [];
  const lines = [`  plan revisions (${revisions.length}):`];
  for (const r of revisions) {
    lines.push(`    r${r.revision} at wave ${r.wave}, ${r.at}: ${r.reason} (${r.waves} waves after)`);
    if (r.lateCount) lines.push(`      late joiners (${r.lateCount}): ${ids(r.late ?? [], r.lateCount)}`);
    if (r.revisitCount)
      lines.push(`      revisited (${r.revisitCount}): ${ids(r.revisits ?? [], r.revisitCount)}`);
  }
  return lines;
}

const JOINERS: Record<NonNullable<Wave['joiners']>, string> = {
  late: 'launched after planning',
  revisit: 'skipped at first, back since',
  final: 'late joiners and revisits',
};

function finalWaveLines(plan: Plan, waves: readonly WaveProgress[]): string[] {
  const finals = plan.waves.filter((w) => w.joiners !== undefined);
  if (finals.length === 0) return [];
  const stateOf = new Map(waves.map((w) => [w.wave, w.state]));
  const lines = [`  final waves (${finals.length}):`];
  for (const w of finals) {
    lines.push(
      `    wave ${w.index} ${w.zone} ${w.size} ${JOINERS[w.joiners!]}, ${stateOf.get(w.index) ?? 'pending'}: ` +
        ids(w.instances, w.instances.length),
    );
  }
  return lines;
}

function ids(shown: readonly string[], count: number): string {
  const list = shown.slice(0, MAX_IDS_SHOWN).join(', ');
  const more = count - Math.min(shown.length, MAX_IDS_SHOWN);
  return more > 0 ? `${list} and ${more} more` : list;
}

export const hasEnded = (record: ChangeRecord) => ENDED.has(record.status);
