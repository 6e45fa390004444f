/** The in-memory case store: remediation cases, outcome statistics and breaker pages, for the simulator. */

import { type Finding, occurrenceOf } from '../../functions/core/events/findings';
import type { CaseStore, IntakeCaseStore } from '../../functions/core/ports/case-store';
import type { LastRemediation } from '../../functions/core/remediation/relapse';
import type { CaseStatusWord } from '../../functions/core/remediation/remediate';
import {
  ACTIVE_CASE_STATUSES,
  type CaseAttachment,
  type CaseSource,
  caseSourceOf,
} from '../../functions/core/remediation/triage';
import {
  type Decision,
  type LadderStep,
  type OutcomeCount,
  statsKey,
} from '../../functions/core/remediation/types';
import { findingKey } from './memory-fleet-store';

export interface MemoryCase {
  readonly id: string;
  readonly finding: Finding;
  status: CaseStatusWord;
  tried: readonly LadderStep[];
  readonly decisions: Decision[];
  reason: string;
  readonly at: string;
  readonly sources: CaseSource[];
  startedAt?: number;
  readonly createdAt: number;
}

/**
 * Remediation cases (with an index of those acting), outcome statistics and breaker pages; one
 * case per instance and underlying event, as the DynamoDB store (`open`).
 */
export class MemoryRemediationStore implements CaseStore, IntakeCaseStore {
  readonly cases = new Map<string, MemoryCase>();
  /** The case each finding went to. */
  private readonly byFinding = new Map<string, string>();
  /** The case of each underlying event (instance, kind, occurrence). */
  private readonly byEvent = new Map<string, string>();
  /** The active case of each instance and kind (the DynamoDB store's `ACTIVECASE` pointer). */
  private readonly active = new Map<string, string>();
  private readonly acting = new Map<string, MemoryCase>();
  private readonly outcomes = new Map<string, OutcomeCount>();
  private readonly pagedAt = new Map<string, number>();

  /**
   * The finding's case: the one it went to before, its event's, the instance's active one of its
   * kind, or a new one. No await in between: atomic, as the DynamoDB store's transactions.
   */
  async open(
    finding: Finding,
    at: string,
    now: number,
  ): Promise<{ created: boolean; attachment: CaseAttachment; case: MemoryCase }> {
    const linked = this.byFinding.get(findingKey(finding));
    if (linked) return { created: false, attachment: 'attached-before', case: this.cases.get(linked)! };
    const event = `${finding.instanceId}|${finding.kind}|${occurrenceOf(finding)}`;
    const slot = `${finding.instanceId}|${finding.kind}`;
    const same = this.byEvent.get(event);
    const current = this.active.get(slot);
    const into =
      same ?? (current && ACTIVE_CASE_STATUSES.has(this.cases.get(current)!.status) ? current : undefined);
    if (into) {
      const c = this.cases.get(into)!;
      c.sources.push(caseSourceOf(finding, now));
      this.byFinding.set(findingKey(finding), into);
      return { created: false, attachment: same ? 'same-event' : 'joined', case: c };
    }
    const id = `case-${String(this.cases.size + 1).padStart(6, '0')}-${finding.instanceId}`;
    const c: MemoryCase = {
      id,
      finding,
      status: 'open',
      tried: [],
      decisions: [],
      reason: 'opened',
      at,
      sources: [caseSourceOf(finding, now)],
      createdAt: now,
    };
    this.cases.set(id, c);
    this.byFinding.set(findingKey(finding), id);
    this.byEvent.set(event, id);
    this.active.set(slot, id);
    return { created: true, attachment: 'opened', case: c };
  }

  async markStarted(id: string, now: number): Promise<void> {
    const c = this.must(id);
    c.startedAt ??= now;
  }

  async get(id: string): Promise<MemoryCase | undefined> {
    return this.cases.get(id);
  }

  async decide(
    id: string,
    decision: Decision,
    patch: { status: CaseStatusWord; tried?: readonly LadderStep[] },
    _now: number,
  ): Promise<void> {
    const c = this.must(id);
    c.decisions.push(decision);
    c.reason = decision.reason;
    if (patch.tried) c.tried = [...patch.tried];
    this.setStatusOf(c, patch.status);
  }

  async setStatus(id: string, status: CaseStatusWord, reason: string, _now: number): Promise<void> {
    const c = this.must(id);
    c.reason = reason;
    this.setStatusOf(c, status);
  }

  async stats(keys?: readonly string[]): Promise<ReadonlyMap<string, OutcomeCount>> {
    if (keys) return new Map(keys.flatMap((k) => (this.outcomes.has(k) ? [[k, this.outcomes.get(k)!]] : [])));
    return new Map(this.outcomes);
  }

  async recordOutcome(
    kind: Finding['kind'],
    step: LadderStep,
    recovered: boolean,
    keys: readonly string[] = [statsKey(kind, step)],
  ): Promise<void> {
    for (const key of new Set(keys)) {
      const { successes, failures } = this.outcomes.get(key) ?? { successes: 0, failures: 0 };
      this.outcomes.set(
        key,
        recovered ? { successes: successes + 1, failures } : { successes, failures: failures + 1 },
      );
    }
  }

  async inFlight(): Promise<MemoryCase[]> {
    return [...this.acting.values()];
  }

  /** True only for the caller that pages first in a storm: the scope's breaker closed, its last page past the cooldown. */
  async claimPage(scope: string, _reason: string, now: number, cooldownMs: number): Promise<boolean> {
    const last = this.pagedAt.get(scope);
    if (last !== undefined && (this.openScopes.has(scope) || last >= now - cooldownMs)) return false;
    this.pagedAt.set(scope, now);
    this.openScopes.add(scope);
    return true;
  }

  async closeBreakers(scopes: readonly string[], _now: number): Promise<void> {
    for (const scope of scopes) this.openScopes.delete(scope);
  }

  private readonly last = new Map<string, LastRemediation>();

  async lastRemediation(instanceId: string): Promise<LastRemediation | undefined> {
    return this.last.get(instanceId);
  }

  /** Kept unless a case opened later is kept already (as the DynamoDB store's condition). */
  async rememberRemediation(record: LastRemediation): Promise<void> {
    const kept = this.last.get(record.instanceId);
    if (kept && kept.caseId !== record.caseId && kept.openedAt > record.openedAt) return;
    this.last.set(record.instanceId, { ...record, tried: [...record.tried] });
  }

  async reviseOutcome(last: LastRemediation, byCase: string, keys: readonly string[]): Promise<boolean> {
    const kept = this.last.get(last.instanceId);
    if (!kept || kept.caseId !== last.caseId || kept.revisedBy !== undefined) return false;
    this.last.set(last.instanceId, { ...kept, revisedBy: byCase });
    const counts = [...new Set(keys)].map((k) => [k, this.outcomes.get(k)] as const);
    // All or none, as the DynamoDB store's transaction: a count with no success left is not touched.
    if (counts.some(([, c]) => !c || c.successes < 1)) return true;
    for (const [k, c] of counts)
      this.outcomes.set(k, { successes: c!.successes - 1, failures: c!.failures + 1 });
    return true;
  }

  /** Scopes whose breaker paged and has not closed since. */
  private readonly openScopes = new Set<string>();

  private setStatusOf(c: MemoryCase, status: CaseStatusWord): void {
    c.status = status;
    if (status === 'acting') this.acting.set(c.id, c);
    else this.acting.delete(c.id);
    const slot = `${c.finding.instanceId}|${c.finding.kind}`;
    if (!ACTIVE_CASE_STATUSES.has(status) && this.active.get(slot) === c.id) this.active.delete(slot);
  }

  private must(id: string): MemoryCase {
    const c = this.cases.get(id);
    if (!c) throw new Error(`no remediation case ${id}`);
    return c;
  }
}
