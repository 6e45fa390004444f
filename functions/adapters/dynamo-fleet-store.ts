/**
 * The DynamoDB fleet store: instances, services and budgets, the ledgers' observed side,
 * findings, freezes and the audit trail (the items are listed in docs/store.md).
 */
import { randomUUID } from 'node:crypto';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { RolloutPorts } from '../core/change/rollout/rollout';
import type { Finding, FindingRecord } from '../core/events/findings';
import type { Instance } from '../core/fleet/fleet';
import type { LedgerObservation } from '../core/fleet/inventory';
import type { DisruptionBudget, ServicesFile } from '../core/fleet/services';
import type { InventoryStore } from '../core/fleet/sync-inventory';
import type { AuditRecord, Freeze } from '../core/ports/index';
import type { RemediationPorts } from '../core/remediation/remediate';
import type { ScopeCount } from '../core/remediation/scope-health';
import type { IntakePorts, TriagePorts } from '../core/remediation/triage';
import {
  batchGetAll,
  batchWriteAll,
  type DocumentClient,
  isConditionFailure,
  listFleetItems,
  mapLimit,
  queryAll,
} from './dynamo-client';
import { FindingRecords } from './fleet-store/findings';
import { budgetFromItem, budgetToItem, pick, toFreeze, toInstance } from './fleet-store/items';
import { ledgerUpdate } from './fleet-store/ledgers';
import { indexKeys, keys, partitions, SERVICES_COLLECTION } from './keys';

/** The fleet-store shapes the use cases ask for. */
type RolloutFleet = RolloutPorts['fleet'];
type RemediationFleet = RemediationPorts['fleet'];
type TriageFleet = TriagePorts['fleet'];
type IntakeFleet = IntakePorts['fleet'];

/**
 * Instances, services and budgets, ledgers' observed side, freezes, findings and the audit trail
 * in the fleet-state table.
 */
export class DynamoFleetStore
  implements InventoryStore, RolloutFleet, RemediationFleet, TriageFleet, IntakeFleet
{
  private readonly findings: FindingRecords;

  constructor(
    private readonly db: DocumentClient,
    private readonly table: string,
  ) {
    this.findings = new FindingRecords(db, table);
  }

  // ── instances ──────────────────────────────────────────────────────────────

  async listInstances(): Promise<Instance[]> {
    const items = await listFleetItems(this.db, this.table, indexKeys.shardInstances);
    return items.map(toInstance).sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** These instances (BatchGetItem, 100 keys a request); those the table does not hold are absent. */
  async getInstances(ids: readonly string[]): Promise<Instance[]> {
    if (ids.length === 0) return [];
    const found = await batchGetAll(
      this.db,
      this.table,
      [...new Set(ids)].map((id) => keys.instance(id)),
    );
    return [...found.values()].map(toInstance).sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** Writes instances (whole items, with their index keys); at most 25 per request. */
  async putInstances(instances: readonly Instance[], now: number): Promise<number> {
    const requests = instances.map((instance) => ({
      PutRequest: {
        Item: {
          ...keys.instance(instance.id),
          type: 'instance',
          ...pick(instance),
          updatedAt: now,
          ...indexKeys.instance(instance),
        },
      },
    }));
    await batchWriteAll(this.db, this.table, requests);
    return requests.length;
  }

  // ── services and budgets ───────────────────────────────────────────────────

  /** Stores the declared budgets; services no longer declared are removed. */
  async putServices(file: ServicesFile, actor: string, now: number): Promise<void> {
    const existing = await this.queryAll({
      IndexName: 'gsi2',
      KeyConditionExpression: 'gsi2pk = :c',
      ExpressionAttributeValues: { ':c': SERVICES_COLLECTION },
    });
    const declared = new Set(Object.keys(file.services));
    const writes: Array<Record<string, unknown>> = Object.entries(file.services).map(([name, budget]) => ({
      PutRequest: {
        Item: {
          ...keys.budget(name),
          type: 'budget',
          service: name,
          budget: budgetToItem(budget),
          updatedAt: now,
          updatedBy: actor,
          ...indexKeys.budget(name),
        },
      },
    }));
    for (const item of existing) {
      if (!declared.has(String(item.service)))
        writes.push({ DeleteRequest: { Key: { pk: item.pk, sk: item.sk } } });
    }
    writes.push(
      file.defaults
        ? {
            PutRequest: {
              Item: { ...keys.serviceDefaults(), budget: budgetToItem(file.defaults), updatedAt: now },
            },
          }
        : { DeleteRequest: { Key: keys.serviceDefaults() } },
    );
    await batchWriteAll(this.db, this.table, writes);
  }

  async getServices(): Promise<ServicesFile> {
    const [items, defaults] = await Promise.all([
      this.queryAll({
        IndexName: 'gsi2',
        KeyConditionExpression: 'gsi2pk = :c',
        ExpressionAttributeValues: { ':c': SERVICES_COLLECTION },
      }),
      this.db.send(
        new GetCommand({ TableName: this.table, Key: keys.serviceDefaults(), ConsistentRead: true }),
      ),
    ]);
    const services: Record<string, DisruptionBudget> = {};
    for (const item of items) services[String(item.service)] = budgetFromItem(item.budget);
    return {
      services,
      ...(defaults.Item ? { defaults: budgetFromItem(defaults.Item.budget) } : {}),
    } as ServicesFile;
  }

  // ── ledgers (the observed side; reservations live in DynamoLeaseStore) ─────

  /** Reconciles one service's ledger (see {@link reconcileLedgers}). */
  async reconcileLedger(observation: LedgerObservation): Promise<void> {
    await this.reconcileLedgers([observation]);
  }

  /**
   * Sets each service's ledger capacity and the unavailable instances observed outside any
   * lease, moving `used` by the change in `observed` (overall and per zone) in one conditional
   * update. Ledgers are read in batches; a ledger that already agrees is not written.
   * Returns how many ledgers were written.
   */
  async reconcileLedgers(observations: readonly LedgerObservation[]): Promise<number> {
    const current = await this.batchGetLedgers(observations.map((o) => o.service));
    const written = await mapLimit(observations, 8, async (observation): Promise<number> => {
      let item = current.get(observation.service) ?? {};
      for (let attempt = 0; attempt < 5; attempt++) {
        const update = ledgerUpdate(observation, item);
        if (!update) return 0;
        try {
          await this.db.send(
            new UpdateCommand({ TableName: this.table, Key: keys.ledger(observation.service), ...update }),
          );
          return 1;
        } catch (error) {
          if (!isConditionFailure(error)) throw error;
          // Another writer moved it meanwhile: read it again and retry.
          item =
            (
              await this.db.send(
                new GetCommand({
                  TableName: this.table,
                  Key: keys.ledger(observation.service),
                  ConsistentRead: true,
                }),
              )
            ).Item ?? {};
        }
      }
      throw new Error(
        `ledger of ${observation.service}: could not reconcile after 5 attempts (concurrent updates)`,
      );
    });
    return written.reduce((a, b) => a + b, 0);
  }

  private async batchGetLedgers(services: readonly string[]): Promise<Map<string, Record<string, unknown>>> {
    const found = await batchGetAll(
      this.db,
      this.table,
      services.map((s) => keys.ledger(s)),
    );
    return new Map([...found.values()].map((item) => [String(item.service), item]));
  }

  /** The ledgers of these services, by service (those that have one). */
  getLedgers(services: readonly string[]): Promise<Map<string, Record<string, unknown>>> {
    return this.batchGetLedgers(services);
  }

  // ── findings (fleet-store/findings.ts) ─────────────────────────────────────

  /** Records findings once each (by instance, kind and occurrence key); returns the new ones. */
  recordFindings(findings: readonly Finding[], now: number): Promise<Finding[]> {
    return this.findings.recordFindings(findings, now);
  }

  /** Records one finding; a finding recorded before says whether its intake finished. */
  recordFinding(finding: Finding, now: number): Promise<FindingRecord> {
    return this.findings.recordFinding(finding, now);
  }

  /** Findings recorded before `recordedBefore` whose intake has not finished, oldest first. */
  unsettledFindings(recordedBefore: number): Promise<Finding[]> {
    return this.findings.unsettledFindings(recordedBefore);
  }

  /** The finding's intake has finished: its case (`caseId`) started, took it in, or recorded it. */
  settleFinding(finding: Pick<Finding, 'instanceId' | 'kind' | 'key'>, caseId: string, now: number) {
    return this.findings.settleFinding(finding, caseId, now);
  }

  /** Closes a finding once its case has ended: the breaker and every later decision stop counting it. */
  closeFinding(finding: Pick<Finding, 'instanceId' | 'kind' | 'key'>, outcome: string, now: number) {
    return this.findings.closeFinding(finding, outcome, now);
  }

  openFindings(): Promise<Array<Finding & { readonly createdAt: number }>> {
    return this.findings.openFindings();
  }

  /** When the sweep last wrote this instance's item (its `updatedAt`): one GetItem. */
  async recordWrittenAt(instanceId: string): Promise<number | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: keys.instance(instanceId),
        ProjectionExpression: 'updatedAt',
      }),
    );
    return typeof Item?.updatedAt === 'number' ? Item.updatedAt : undefined;
  }

  /** The breaker's counts of the target's scopes (scope-health.ts): three items. */
  scopeHealth(target: { readonly zone: string; readonly service: string }): Promise<ScopeCount[]> {
    return this.findings.scopeHealth(target);
  }

  /** A sweep's members and unavailable instances per scope; returns how many items changed. */
  putPopulation(population: ReadonlyMap<string, { members: number; unavailable: number }>): Promise<number> {
    return this.findings.putPopulation(population);
  }

  // ── freezes ────────────────────────────────────────────────────────────────

  async putFreeze(freeze: Omit<Freeze, 'id'>): Promise<Freeze> {
    const stored: Freeze = { id: `frz-${randomUUID().slice(0, 8)}`, ...freeze };
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: { ...keys.freeze(stored.id), type: 'freeze', ...stored },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return stored;
  }

  /** Ends a freeze now; ending one that already ended is refused. */
  async endFreeze(id: string, at: string): Promise<Freeze | undefined> {
    try {
      const result = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.freeze(id),
          UpdateExpression: 'SET endedAt = :at',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(endedAt)',
          ExpressionAttributeValues: { ':at': at },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toFreeze(result.Attributes!);
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async listFreezes(): Promise<Freeze[]> {
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :p',
      ExpressionAttributeValues: { ':p': partitions.freezes },
    });
    return items.map(toFreeze);
  }

  // ── audit trail ────────────────────────────────────────────────────────────

  async audit(records: readonly AuditRecord[]): Promise<void> {
    const requests = records.map((record) => {
      const seq = randomUUID().slice(0, 8);
      return {
        PutRequest: {
          Item: {
            ...keys.audit(record.subject, record.at, seq),
            type: 'audit',
            ...record,
            ...indexKeys.audit(record, seq),
          },
        },
      };
    });
    await batchWriteAll(this.db, this.table, requests);
  }

  async auditOf(subject: string, limit = 100): Promise<AuditRecord[]> {
    const page = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': partitions.audit(subject) },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (page.Items ?? []).map((i) => ({
      subject: String(i.subject),
      actor: String(i.actor),
      action: String(i.action),
      reason: String(i.reason),
      at: String(i.at),
      ...(i.details ? { details: i.details as Record<string, unknown> } : {}),
    }));
  }

  private queryAll(input: Parameters<typeof queryAll>[2]) {
    return queryAll(this.db, this.table, input);
  }
}
