import type { ApplyRecord } from '../../ports/apply-record';
import type { RolloutPorts } from '../../ports/rollout-ports';
import type { Plan } from '../plan/planner';
import { at, type RolloutState } from './state';

/**
 * What the wave's records say, read once per step: the instances skipped since planning (with
 * why), the wave as it now stands (`members`: planned, less the skipped; what the action, the
 * gate and the release see), and everything its apply attempts sent, merged.
 */
export async function readWave(ports: RolloutPorts, plan: Plan, state: RolloutState) {
  const records = await ports.changes.waveRecords(state.changeId, state.wave);
  const skipped = skippedIn(records);
  const parts = records.filter((r) => r.part.startsWith('apply#'));
  const applies = parts.map((r) => r.body as unknown as ApplyRecord);
  const timeOf = (part: string) => Number(part.slice(part.indexOf('#') + 1));
  const sentAt: Record<string, number> = {};
  for (const r of parts) {
    const body = r.body as unknown as ApplyRecord;
    for (const id of [...(body.sending ?? []), ...body.applied])
      sentAt[id] = Math.min(sentAt[id] ?? Number.POSITIVE_INFINITY, timeOf(r.part));
  }
  // The wave's work began with its first apply attempt, or earlier when instances first had to leave traffic.
  const begun = records.filter((r) => r.part.startsWith('apply#') || r.part.startsWith('traffic#'));
  return {
    skipped,
    members: plan.waves[state.wave].instances.filter((id) => !skipped.has(id)),
    sent: {
      applied: applies.flatMap((r) => r.applied),
      commands: applies.flatMap((r) => r.commands ?? []),
      groups: Object.assign({}, ...applies.map((r) => r.groups ?? {})) as Record<string, string>,
      refused: applies.flatMap((r) => r.refused ?? []),
      unknown: applies.flatMap((r) => r.unknown ?? []),
      sending: applies.flatMap((r) => r.sending ?? []),
      sentAt,
      finished: records
        .filter((r) => r.part.startsWith('finished#'))
        .flatMap((r) => (r.body.instances ?? []) as string[]),
      /** When the first apply attempt was recorded (the part's name carries it). */
      firstAt: parts.length > 0 ? Math.min(...parts.map((r) => timeOf(r.part))) : undefined,
    },
    /** When the wave's work began: instances first taken out of traffic, or its first apply. */
    begunAt: begun.length > 0 ? Math.min(...begun.map((r) => timeOf(r.part))) : undefined,
  };
}
export type WaveView = Awaited<ReturnType<typeof readWave>>;

/** The instances these wave records say were skipped (`skipped#…` parts), with why: the last word wins. */
export function skippedIn(
  records: ReadonlyArray<{ readonly part: string; readonly body: Record<string, unknown> }>,
): Map<string, string> {
  const skipped = new Map<string, string>();
  for (const r of records) {
    if (!r.part.startsWith('skipped#')) continue;
    for (const x of (r.body.instances ?? []) as Array<{ id: string; reason: string }>)
      skipped.set(x.id, x.reason);
  }
  return skipped;
}

/** Records instances skipped from the wave (kept with the change, shown by `change status`), and audits it. */
export async function recordSkipped(
  ports: RolloutPorts,
  state: RolloutState,
  instances: ReadonlyArray<{ id: string; reason: string }>,
): Promise<void> {
  await ports.changes.recordWave(
    state.changeId,
    state.wave,
    `skipped#${String(ports.now()).padStart(15, '0')}`,
    { instances: instances.map(({ id, reason }) => ({ id, reason })) },
    ports.now(),
  );
  await ports.fleet.audit([
    {
      subject: `change:${state.changeId}`,
      actor: ports.actor,
      action: 'wave.skipped',
      reason: `wave ${state.wave}: ${instances.length} no longer eligible, skipped: ${instances
        .slice(0, 10)
        .map((i) => `${i.id} (${i.reason})`)
        .join(', ')}`,
      at: at(ports),
    },
  ]);
}

/** Records, once, that the wave began taking instances out of traffic (settle's limit counts from it). */
export async function recordTrafficBegun(
  ports: RolloutPorts,
  state: RolloutState,
  wave: WaveView,
): Promise<void> {
  if (wave.begunAt !== undefined) return;
  await ports.changes.recordWave(
    state.changeId,
    state.wave,
    `traffic#${String(ports.now()).padStart(15, '0')}`,
    {},
    ports.now(),
  );
}

/** Records instances the action was seen finished on (settle asks the action only about the others). */
export async function recordFinished(
  ports: RolloutPorts,
  state: RolloutState,
  ids: readonly string[],
): Promise<void> {
  if (ids.length === 0) return;
  await ports.changes.recordWave(
    state.changeId,
    state.wave,
    `finished#${String(ports.now()).padStart(15, '0')}`,
    { instances: [...ids] },
    ports.now(),
  );
}

/** Stores a revision of the plan (conditional on the revision it came from), then audits it with its reason. */
export async function storeRevision(
  ports: RolloutPorts,
  state: RolloutState,
  from: Plan,
  revised: Plan,
  reason: string,
) {
  await ports.changes.revisePlan(state.changeId, from.revision ?? 0, revised, ports.now());
  await ports.fleet.audit([
    {
      subject: `change:${state.changeId}`,
      actor: ports.actor,
      action: 'plan.revised',
      reason,
      at: at(ports),
    },
  ]);
}
