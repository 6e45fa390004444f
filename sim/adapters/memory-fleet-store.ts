/**
 * The in-memory fleet store: the simulated account's instances, services, freezes, findings and
 * audit counts.
 */
import type { RolloutPorts } from '../../functions/core/change/rollout/rollout';
import type { Finding, FindingRecord } from '../../functions/core/events/findings';
import type { ServicesFile } from '../../functions/core/fleet/services';
import type { AuditRecord, Freeze } from '../../functions/core/ports/index';
import type { RemediationPorts } from '../../functions/core/remediation/remediate';
import {
  isHealthFinding,
  populationOf,
  type ScopeCount,
  scopesOf,
} from '../../functions/core/remediation/scope-health';
import type { IntakePorts, TriagePorts } from '../../functions/core/remediation/triage';
import type { SimWorld } from '../world/sim-world';

/** The fleet-store shapes the use cases ask for (inventory sync does not run in the simulation). */
type RolloutFleet = RolloutPorts['fleet'];
type RemediationFleet = RemediationPorts['fleet'];
type TriageFleet = TriagePorts['fleet'];
type IntakeFleet = IntakePorts['fleet'];

type OpenFinding = Finding & { readonly createdAt: number };

/**
 * A deliberate defect, to prove the breaker check catches what it claims to catch:
 * `ignore-breaker`: the breaker's counts (`scopeHealth`) report every scope healthy (nothing
 * unavailable at the sweep, nothing flagged), as a store whose counters were never written would,
 * so the breaker never opens and no storm holds automatic remediation.
 */
export const FLEET_STORE_DEFECTS = ['ignore-breaker'] as const;
export type FleetStoreDefect = (typeof FLEET_STORE_DEFECTS)[number];
export const findingKey = (f: Pick<Finding, 'instanceId' | 'kind' | 'key'>) =>
  `${f.instanceId}|${f.kind}|${f.key}`;

/**
 * The fleet-state table's inventory side. `listInstances` hands out the account's own instance
 * objects (no copy: callers only read them), so a whole-fleet read costs nothing here; the
 * audit trail is kept as counts per action (every decision is still recorded, cheaply).
 */
export class MemoryFleetStore implements RolloutFleet, RemediationFleet, TriageFleet, IntakeFleet {
  readonly audited = new Map<string, number>();
  private readonly findings = new Set<string>();
  private readonly open = new Map<string, OpenFinding>();
  /** Recorded findings whose intake has not finished (the DynamoDB store's unsettled index). */
  private readonly unsettled = new Map<string, OpenFinding>();

  private readonly freezes: Freeze[];
  /** The breaker's counts as the DynamoDB store keeps them: the sweep's population, the findings' flags. */
  private population?: Map<string, { members: number; unavailable: number }>;
  /** Each instance's state and health at the last sweep, and when a sweep last saw them change. */
  private readonly swept = new Map<string, string>();
  private readonly writtenAt = new Map<string, number>();
  private readonly flagged = new Map<string, number>();
  /** The scopes each open health finding counted (its closing counts them down). */
  private readonly flaggedScopes = new Map<string, readonly string[]>();

  constructor(
    private readonly world: SimWorld,
    private services: ServicesFile,
    freezes: readonly Freeze[] = [],
    private readonly defect?: FleetStoreDefect,
  ) {
    this.freezes = [...freezes];
  }

  /** A freeze created now, as `fleetops freeze create` stores it. */
  addFreeze(freeze: Freeze): void {
    this.freezes.push(freeze);
  }

  async listInstances() {
    return this.world.instances;
  }

  async getInstances(ids: readonly string[]) {
    return ids.flatMap((id) => {
      const slot = this.world.slot(id);
      return slot ? [slot.instance] : [];
    });
  }

  async getServices(): Promise<ServicesFile> {
    return this.services;
  }

  /** The services file as `fleetops services put` stores it (a rehearsal's, a test's). */
  async putServices(file: ServicesFile): Promise<void> {
    this.services = file;
  }

  async listFreezes(): Promise<Freeze[]> {
    return [...this.freezes];
  }

  async audit(records: readonly AuditRecord[]): Promise<void> {
    for (const r of records) this.audited.set(r.action, (this.audited.get(r.action) ?? 0) + 1);
  }

  /** Records findings once each (by instance, kind and occurrence key); returns the new ones. */
  async recordFindings(findings: readonly Finding[], now: number): Promise<Finding[]> {
    const fresh: Finding[] = [];
    for (const f of findings) {
      const key = findingKey(f);
      if (this.findings.has(key)) continue;
      this.findings.add(key);
      this.open.set(key, { ...f, createdAt: now });
      if (isHealthFinding(f.kind)) {
        const slot = this.world.slot(f.instanceId);
        const scopes = slot && slot.instance.state !== 'terminated' ? scopesOf(slot.instance) : ['account'];
        this.flaggedScopes.set(key, scopes);
        for (const scope of scopes) this.flagged.set(scope, (this.flagged.get(scope) ?? 0) + 1);
      }
      this.unsettled.set(key, { ...f, createdAt: now });
      fresh.push(f);
    }
    return fresh;
  }

  /** Records one finding; a finding recorded before says whether its intake finished. */
  async recordFinding(finding: Finding, now: number): Promise<FindingRecord> {
    if ((await this.recordFindings([finding], now)).length > 0) return 'new';
    return this.unsettled.has(findingKey(finding)) ? 'unsettled' : 'settled';
  }

  async unsettledFindings(recordedBefore: number): Promise<Finding[]> {
    return [...this.unsettled.values()]
      .filter((f) => f.createdAt < recordedBefore)
      .map(({ createdAt: _, ...f }) => f);
  }

  async settleFinding(finding: Pick<Finding, 'instanceId' | 'kind' | 'key'>, _caseId: string, _now: number) {
    this.unsettled.delete(findingKey(finding));
  }

  async closeFinding(finding: Pick<Finding, 'instanceId' | 'kind' | 'key'>, _outcome: string, _now: number) {
    const key = findingKey(finding);
    this.open.delete(key);
    for (const scope of this.flaggedScopes.get(key) ?? [])
      this.flagged.set(scope, this.flagged.get(scope)! - 1);
    this.flaggedScopes.delete(key);
  }

  /**
   * The inventory sweep's part of the breaker's counts: members and unavailable per scope, from the
   * fleet now (`now`: the sweep's time, which the instances it saw change are written at).
   */
  sweepHealth(now?: number): void {
    // What a sweep writes: the instances whose state or health it saw change.
    for (const i of this.world.instances) {
      const seen = `${i.state}|${i.health}`;
      if (this.swept.get(i.id) === seen) continue;
      this.swept.set(i.id, seen);
      if (now !== undefined) this.writtenAt.set(i.id, now);
    }
    const flaggedIds = new Set<string>();
    for (const f of this.open.values()) if (isHealthFinding(f.kind)) flaggedIds.add(f.instanceId);
    this.population = populationOf(this.world.instances, flaggedIds);
  }

  async scopeHealth(target: { readonly zone: string; readonly service: string }): Promise<ScopeCount[]> {
    if (!this.population) this.sweepHealth();
    const blind = this.defect === 'ignore-breaker';
    return scopesOf(target).map((scope) => ({
      scope,
      members: this.population!.get(scope)?.members ?? 0,
      unavailable: blind ? 0 : (this.population!.get(scope)?.unavailable ?? 0),
      flagged: blind ? 0 : (this.flagged.get(scope) ?? 0),
    }));
  }

  async recordWrittenAt(instanceId: string): Promise<number | undefined> {
    return this.writtenAt.get(instanceId);
  }

  async openFindings(): Promise<OpenFinding[]> {
    return [...this.open.values()];
  }
}
