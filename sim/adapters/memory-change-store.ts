/** The in-memory change store: the DynamoDB change store's semantics over maps (for the simulator). */

import type { Plan } from '../../functions/core/change/plan/planner';
import type { ChangeSpec } from '../../functions/core/change/spec';
import { type ChangeStatus, isEnded } from '../../functions/core/change/status';
import type { ChangeStore } from '../../functions/core/ports/change-store';

interface ChangeRow {
  status: ChangeStatus;
  waves: number;
  reason: string;
  approval?: { token: string; wave: number; answer?: { decision: 'approve' | 'reject'; reason: string } };
}

/** Stored changes: spec, plan, status, wave records and the pending approval's token. */
export class MemoryChangeStore implements ChangeStore {
  private readonly rows = new Map<string, ChangeRow>();
  private readonly plans = new Map<string, Plan>();
  private readonly specs = new Map<string, ChangeSpec>();
  private readonly records = new Map<
    string,
    Map<number, Map<string, { at: number; body: Record<string, unknown> }>>
  >();

  async get(id: string): Promise<ChangeRow | undefined> {
    return this.rows.get(id);
  }

  /** Saving the same plan again is harmless; the same id with another plan is refused. */
  async save(spec: ChangeSpec, plan: Plan, _actor: string, _now: number): Promise<{ created: boolean }> {
    if (this.rows.has(spec.id)) {
      // The same plan is the same content (the DynamoDB store compares digests), not the same object.
      const stored = this.plans.get(spec.id);
      if (stored === plan || JSON.stringify(stored) === JSON.stringify(plan)) return { created: false };
      throw new Error(`change ${spec.id} already exists with another plan`);
    }
    this.plans.set(spec.id, plan);
    this.specs.set(spec.id, spec);
    this.rows.set(spec.id, { status: 'planned', waves: plan.waves.length, reason: 'planned' });
    return { created: true };
  }

  /** A change's status and why (for reports). */
  statusOf(id: string): { status: string; reason: string } {
    const row = this.rows.get(id);
    return row ? { status: row.status, reason: row.reason } : { status: 'unknown', reason: 'no such change' };
  }

  async loadPlan(id: string): Promise<Plan> {
    const plan = this.plans.get(id);
    if (!plan) throw new Error(`no change ${id}`);
    return plan;
  }

  /** Like the table's conditional update on the status record's revision. */
  async revisePlan(id: string, from: number, plan: Plan, _now: number): Promise<'revised' | 'already'> {
    const stored = this.plans.get(id);
    const row = this.rows.get(id);
    if (!stored || !row) throw new Error(`no change ${id}`);
    if ((plan.revision ?? 0) !== from + 1)
      throw new Error(`revision ${plan.revision ?? 0} of ${id} does not follow revision ${from}`);
    const current = stored.revision ?? 0;
    if (current !== from) {
      if (current === from + 1 && JSON.stringify(stored) === JSON.stringify(plan)) return 'already';
      throw new Error(`the plan of ${id} is at revision ${current}, not ${from}: revised meanwhile`);
    }
    this.plans.set(id, plan);
    row.waves = plan.waves.length;
    return 'revised';
  }

  async loadSpec(id: string): Promise<ChangeSpec> {
    const spec = this.specs.get(id);
    if (!spec) throw new Error(`no change ${id}`);
    return spec;
  }

  /** Like the table's conditional update: an ended change keeps its end (the same end again is harmless). */
  async setStatus(id: string, status: ChangeStatus, reason: string, _now: number): Promise<void> {
    const row = this.rows.get(id);
    if (!row) throw new Error(`no change ${id}`);
    if (isEnded(row.status) && row.status !== status)
      throw new Error(`change ${id} has ended (${row.status}); cannot become ${status}`);
    row.status = status;
    row.reason = reason;
  }

  async recordWave(id: string, wave: number, part: string, body: Record<string, unknown>, now: number) {
    let waves = this.records.get(id);
    if (!waves) {
      waves = new Map();
      this.records.set(id, waves);
    }
    let parts = waves.get(wave);
    if (!parts) {
      parts = new Map();
      waves.set(wave, parts);
    }
    parts.set(part, { at: now, body });
  }

  /** In wave order, then part order (the table's sort key order). */
  async waveRecords(id: string, wave?: number) {
    const waves = this.records.get(id);
    if (!waves) return [];
    const numbers = wave === undefined ? [...waves.keys()].sort((a, b) => a - b) : [wave];
    return numbers.flatMap((w) =>
      [...(waves.get(w) ?? new Map()).entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([part, r]) => ({ wave: w, part, at: r.at, body: r.body })),
    );
  }

  async awaitApproval(id: string, token: string, wave: number, reason: string, _now: number): Promise<void> {
    const row = this.rows.get(id);
    const replacing =
      row?.status === 'waiting-approval' &&
      (row.approval?.answer !== undefined || row.approval?.token === token);
    if (row?.status !== 'running' && !replacing)
      throw new Error(`change ${id} is not running (${row?.status ?? 'missing'})`);
    row!.status = 'waiting-approval';
    row!.reason = reason;
    row!.approval = { token, wave };
  }

  async claimApproval(id: string, decision: 'approve' | 'reject', reason: string, _now: number) {
    const row = this.rows.get(id);
    if (!row?.approval || row.status !== 'waiting-approval') return undefined;
    if (row.approval.answer !== undefined && row.approval.answer.decision !== decision) return undefined;
    row.approval = { ...row.approval, answer: { decision, reason } };
    return { token: row.approval.token, wave: row.approval.wave };
  }

  async settleApproval(id: string, token: string, decision: 'approve' | 'reject', _now: number) {
    const row = this.rows.get(id);
    if (row?.status !== 'waiting-approval' || row.approval?.token !== token) return;
    if (row.approval.answer?.decision !== decision) return;
    row.reason = row.approval.answer.reason;
    row.approval = undefined;
    row.status = decision === 'approve' ? 'running' : 'failed';
  }
}
