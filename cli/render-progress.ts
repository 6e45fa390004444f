import type { ChangeRecord, WaveRecord } from '../functions/adapters/dynamo-change-store';
import type { Plan } from '../functions/core/change/plan/planner';
import { ENDED } from '../functions/core/change/status';

/** One line per wave: where it is and how it came out (what `change watch` and `status` show). */
export interface WaveProgress {
  readonly wave: number;
  readonly zone: string;
  readonly size: number;
  readonly applied: number;
  readonly refused: number;
  /** Instances that became ineligible after planning (terminated, gone), with why. */
  readonly skipped: ReadonlyArray<{ readonly id: string; readonly reason: string }>;
  readonly verdict: 'pass' | 'fail' | 'extend' | null;
  readonly unhealthy: number;
  readonly state: 'pending' | 'applying' | 'baking' | 'passed' | 'failed' | 'inconclusive';
}

export function waveProgress(plan: Plan, records: readonly WaveRecord[]): WaveProgress[] {
  return plan.waves.map((wave) => {
    const mine = records.filter((r) => r.wave === wave.index);
    const applies = mine.filter((r) => r.part.startsWith('apply#'));
    const result = mine.find((r) => r.part === 'result');
    const applied = applies.reduce((n, r) => n + ((r.body.applied as unknown[] | undefined)?.length ?? 0), 0);
    const refused = applies.reduce((n, r) => n + ((r.body.refused as unknown[] | undefined)?.length ?? 0), 0);
    const skipped = mine
      .filter((r) => r.part.startsWith('skipped#'))
      .flatMap((r) => (r.body.instances ?? []) as Array<{ id: string; reason: string }>);
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
      verdict,
      unhealthy: outcomes.filter((o) => o !== 'ok' && !o.startsWith('pending: ')).length,
      state,
    };
  });
}

export function renderProgress(record: ChangeRecord, waves: readonly WaveProgress[]): string[] {
  const done = waves.filter((w) => w.state === 'passed').length;
  const lines = [
    `${record.id}: ${record.status}${record.statusReason ? ` — ${record.statusReason}` : ''}`,
    `  ${done}/${waves.length} waves passed, ${waves.reduce((n, w) => n + w.applied, 0)} instances changed`,
  ];
  for (const w of waves) {
    if (w.state === 'pending') continue;
    lines.push(
      `  wave ${String(w.wave).padStart(3)}  ${w.zone.padEnd(14)} ${String(w.size).padStart(5)} planned  ` +
        `${String(w.applied).padStart(5)} applied  ${w.state}` +
        (w.unhealthy > 0 ? ` (${w.unhealthy} unhealthy)` : '') +
        (w.refused > 0 ? ` (${w.refused} refused)` : '') +
        (w.skipped.length > 0 ? ` (${w.skipped.length} skipped)` : ''),
    );
    for (const s of w.skipped) lines.push(`      skipped ${s.id}: ${s.reason}`);
  }
  return lines;
}

export const hasEnded = (record: ChangeRecord) => ENDED.has(record.status);
