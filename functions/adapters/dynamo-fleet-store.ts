import { randomUUID } from 'node:crypto';
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { RolloutPorts } from '../core/change/rollout/rollout';
import type { Finding, FindingRecord } from '../core/events/findings';
import { type Instance, instanceSchema } from '../core/fleet/fleet';
import type { LedgerObservation } from '../core/fleet/inventory';
import type { DisruptionBudget, ServicesFile } from '../core/fleet/services';
import type { InventoryStore } from '../core/fleet/sync-inventory';
import type { AuditRecord, Freeze } from '../core/ports/index';
import type { RemediationPorts } from '../core/remediation/remediate';
import type { IntakePorts, TriagePorts } from '../core/remediation/triage';
import type { Quantity } from '../core/safety/quantity';
import {
  batchGetAll,
  batchWriteAll,
  type DocumentClient,
  isConditionFailure,
  listFleetItems,
  mapLimit,
  queryAll,
} from './dynamo-client';
import {
  indexKeys,
  keys,
  ledgerZoneAttribute,
  OPEN_FINDINGS_COLLECTION,
  partitions,
  SERVICES_COLLECTION,
  sortableTime,
  UNSETTLED_FINDINGS_COLLECTION,
  zoneOfLedgerAttribute,
} from './keys';

/** The fleet-store shapes the use cases ask for. */
type RolloutFleet = RolloutPorts['fleet'];
type RemediationFleet = RemediationPorts['fleet'];
type TriageFleet = TriagePorts['fleet'];
type IntakeFleet = IntakePorts['fleet'];

const INSTANCE_FIELDS = [
  'id',
  'service',
  'zone',
  'cell',
  'state',
  'health',
  'tags',
  'scheduledEvents',
] as const;

/**
 * Instances, services and budgets, ledgers' observed side, freezes, findings, changes and the
 * audit trail in the fleet-state table.
 */
export class DynamoFleetStore
  implements InventoryStore, RolloutFleet, RemediationFleet, TriageFleet, IntakeFleet
{
  constructor(
    private readonly db: DocumentClient,
    private readonly table: string,
  ) {}

  // ── instances ──────────────────────────────────────────────────────────────

  async listInstances(): Promise<Instance[]> {
    const items = await listFleetItems(this.db, this.table, indexKeys.shardInstances);
    return items.map(toInstance).sort((a, b) => (a.id < b.id ? -1 : 1));
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

  // ── findings ───────────────────────────────────────────────────────────────

  /**
   * Records findings once each (by instance, kind and occurrence key); returns the new ones. Each
   * is unsettled (gsi1 `FINDINGS#unsettled`) until its intake finishes ({@link settleFinding}), so
   * a sweep finds those a crash left behind with one Query, however large the fleet.
   */
  async recordFindings(findings: readonly Finding[], now: number): Promise<Finding[]> {
    const recorded = await mapLimit(findings, 8, (finding) => this.putFinding(finding, now));
    return findings.filter((_, i) => recorded[i]);
  }

  /** Records one finding; a finding recorded before says whether its intake finished. */
  async recordFinding(finding: Finding, now: number): Promise<FindingRecord> {
    if (await this.putFinding(finding, now)) return 'new';
    const result = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: keys.finding(finding.instanceId, finding.kind, finding.key),
        ConsistentRead: true,
      }),
    );
    // Findings recorded before intake could be unsettled carry no index entry: they are settled.
    return result.Item?.gsi1pk === UNSETTLED_FINDINGS_COLLECTION ? 'unsettled' : 'settled';
  }

  /** True when the finding is new (written now), false when it was recorded before. */
  private async putFinding(finding: Finding, now: number): Promise<boolean> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...keys.finding(finding.instanceId, finding.kind, finding.key),
            type: 'finding',
            ...finding,
            status: 'open',
            createdAt: now,
            ...indexKeys.finding(finding, now),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /**
   * Findings recorded before `recordedBefore` whose intake has not finished, oldest first
   * (normally none: one empty Query).
   */
  async unsettledFindings(recordedBefore: number): Promise<Finding[]> {
    const items = await this.queryAll({
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :u AND gsi1sk < :before',
      ExpressionAttributeValues: {
        ':u': UNSETTLED_FINDINGS_COLLECTION,
        ':before': sortableTime(recordedBefore),
      },
    });
    return items.map(toFinding);
  }

  /**
   * The finding's intake has finished: its case (`caseId`) started, took it in, or recorded it.
   * It leaves the unsettled index; it stays open until its case ends ({@link closeFinding}).
   */
  async settleFinding(
    finding: Pick<Finding, 'instanceId' | 'kind' | 'key'>,
    caseId: string,
    now: number,
  ): Promise<void> {
    await this.updateFinding(finding, {
      UpdateExpression:
        'SET caseId = :caseId, settledAt = if_not_exists(settledAt, :now) REMOVE gsi1pk, gsi1sk',
      ExpressionAttributeValues: { ':caseId': caseId, ':now': now },
    });
  }

  /**
   * Closes a finding once its case has ended (recovered, recorded, drained): it leaves the open
   * collection, so the breaker and every later decision stop counting it.
   */
  async closeFinding(
    finding: Pick<Finding, 'instanceId' | 'kind' | 'key'>,
    outcome: string,
    now: number,
  ): Promise<void> {
    await this.updateFinding(finding, {
      UpdateExpression: 'SET #status = :closed, closedAt = :now, outcome = :outcome REMOVE gsi2pk, gsi2sk',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':closed': 'closed', ':now': now, ':outcome': outcome },
    });
  }

  /**
   * Updates a recorded finding; one that was never recorded here (a case opened by hand, or for
   * a finding another table holds) has nothing to settle or close.
   */
  private async updateFinding(
    finding: Pick<Finding, 'instanceId' | 'kind' | 'key'>,
    update: Pick<
      UpdateCommandInput,
      'UpdateExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'
    >,
  ): Promise<void> {
    await this.db
      .send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.finding(finding.instanceId, finding.kind, finding.key),
          ConditionExpression: 'attribute_exists(pk)',
          ...update,
        }),
      )
      .catch((error) => {
        if (!isConditionFailure(error)) throw error;
      });
  }

  async openFindings(): Promise<Array<Finding & { readonly createdAt: number }>> {
    const items = await this.queryAll({
      IndexName: 'gsi2',
      KeyConditionExpression: 'gsi2pk = :c',
      ExpressionAttributeValues: { ':c': OPEN_FINDINGS_COLLECTION },
    });
    return items.map((i) => ({ ...toFinding(i), createdAt: Number(i.createdAt) }));
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

function pick(instance: Instance): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of INSTANCE_FIELDS) if (instance[field] !== undefined) out[field] = instance[field];
  return out;
}

function toInstance(item: Record<string, unknown>): Instance {
  const raw: Record<string, unknown> = {};
  for (const field of INSTANCE_FIELDS) if (item[field] !== undefined) raw[field] = item[field];
  // Stored items were validated on the way in; parsing again keeps a corrupted item from spreading.
  return instanceSchema.parse(raw);
}

function toFinding(item: Record<string, unknown>): Finding {
  return {
    instanceId: String(item.instanceId),
    kind: item.kind as Finding['kind'],
    key: String(item.key),
    detail: String(item.detail),
    source: String(item.source),
    ...(item.deadline ? { deadline: String(item.deadline) } : {}),
  };
}

function toFreeze(item: Record<string, unknown>): Freeze {
  return {
    id: String(item.id),
    scope: String(item.scope),
    start: String(item.start),
    end: String(item.end),
    reason: String(item.reason),
    createdBy: String(item.createdBy),
    ...(item.endedAt ? { endedAt: String(item.endedAt) } : {}),
  };
}

const quantityToItem = (q: Quantity) => ({ kind: q.kind, value: q.value });

function budgetToItem(budget: DisruptionBudget): Record<string, unknown> {
  return {
    maxUnavailable: quantityToItem(budget.maxUnavailable),
    ...(budget.maxUnavailablePerZone
      ? { maxUnavailablePerZone: quantityToItem(budget.maxUnavailablePerZone) }
      : {}),
    impact: { ...budget.impact },
  };
}

function budgetFromItem(item: unknown): DisruptionBudget {
  const b = item as {
    maxUnavailable: Quantity;
    maxUnavailablePerZone?: Quantity;
    impact?: DisruptionBudget['impact'];
  };
  return {
    maxUnavailable: { kind: b.maxUnavailable.kind, value: Number(b.maxUnavailable.value) } as Quantity,
    ...(b.maxUnavailablePerZone
      ? {
          maxUnavailablePerZone: {
            kind: b.maxUnavailablePerZone.kind,
            value: Number(b.maxUnavailablePerZone.value),
          } as Quantity,
        }
      : {}),
    impact: { ...(b.impact ?? {}) },
  };
}

/** The conditional update that brings a ledger to the observation, or undefined if it already agrees. */
function ledgerUpdate(observation: LedgerObservation, current: Record<string, unknown>) {
  const zones = [
    ...new Set([
      ...observation.zones.keys(),
      ...Object.keys(current).flatMap((k) => zoneOfLedgerAttribute('observed', k) ?? []),
    ]),
  ].sort();
  const agrees =
    current.capacity === observation.capacity &&
    current.observed === observation.observed &&
    zones.every((zone) => {
      const z = observation.zones.get(zone) ?? { capacity: 0, observed: 0 };
      return (
        current[ledgerZoneAttribute('capacity', zone)] === z.capacity &&
        current[ledgerZoneAttribute('observed', zone)] === z.observed
      );
    });
  if (agrees) return undefined;

  const names: Record<string, string> = {
    '#capacity': 'capacity',
    '#observed': 'observed',
    '#used': 'used',
    '#service': 'service',
  };
  const values: Record<string, unknown> = {
    ':capacity': observation.capacity,
    ':observed': observation.observed,
    ':delta': observation.observed - Number(current.observed ?? 0),
    ':zero': 0,
    ':service': observation.service,
  };
  const sets = [
    '#service = :service',
    '#capacity = :capacity',
    '#observed = :observed',
    '#used = if_not_exists(#used, :zero) + :delta',
  ];
  const conditions = [
    current.observed === undefined ? 'attribute_not_exists(#observed)' : '#observed = :was',
  ];
  if (current.observed !== undefined) values[':was'] = current.observed;
  zones.forEach((zone, i) => {
    const z = observation.zones.get(zone) ?? { capacity: 0, observed: 0 };
    const was = current[ledgerZoneAttribute('observed', zone)];
    names[`#c${i}`] = ledgerZoneAttribute('capacity', zone);
    names[`#o${i}`] = ledgerZoneAttribute('observed', zone);
    names[`#u${i}`] = ledgerZoneAttribute('used', zone);
    values[`:c${i}`] = z.capacity;
    values[`:o${i}`] = z.observed;
    values[`:d${i}`] = z.observed - Number(was ?? 0);
    sets.push(`#c${i} = :c${i}`, `#o${i} = :o${i}`, `#u${i} = if_not_exists(#u${i}, :zero) + :d${i}`);
    if (was === undefined) conditions.push(`attribute_not_exists(#o${i})`);
    else {
      values[`:w${i}`] = was;
      conditions.push(`#o${i} = :w${i}`);
    }
  });
  return {
    UpdateExpression: `SET ${sets.join(', ')}`,
    ConditionExpression: conditions.join(' AND '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}
