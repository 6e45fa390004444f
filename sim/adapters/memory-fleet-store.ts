/**
 * The in-memory fleet store: the simulated account's instances, services, freezes, findings and
 * audit counts.
 */
import type { RolloutPorts } from '../../functions/core/change/rollout/rollout';
import type { Finding, FindingRecord } from '../../functions/core/events/findings';
import type { ServicesFile } from '../../functions/core/fleet/services';
import type { AuditRecord, Freeze } from '../../functions/core/ports/index';
import type { RemediationPorts } from '../../functions/core/remediation/remediate';
import type { IntakePorts, TriagePorts } from '../../functions/core/remediation/triage';
import type { SimWorld } from '../world/sim-world';

/** The fleet-store shapes the use cases ask for (inventory sync does not run in the simulation). */
type RolloutFleet = RolloutPorts['fleet'];
type RemediationFleet = RemediationPorts['fleet'];
type TriageFleet = TriagePorts['fleet'];
type IntakeFleet = IntakePorts['fleet'];

type OpenFinding = Finding & { readonly createdAt: number };
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

  constructor(
    private readonly world: SimWorld,
    private services: ServicesFile,
    freezes: readonly Freeze[] = [],
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
    this.open.delete(findingKey(finding));
  }

  async openFindings(): Promise<OpenFinding[]> {
    return [...this.open.values()];
  }
}
