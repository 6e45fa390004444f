/**
 * Findings in the fleet-state table (`INSTANCE#<id>` / `FINDING#<kind>#<key>`): recorded once
 * each, unsettled (gsi1) until their intake finishes, open (gsi2) until their case ends.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { Finding, FindingRecord } from '../../core/events/findings';
import { isHealthFinding, type ScopeCount, scopesOf } from '../../core/remediation/scope-health';
import { batchGetAll, type DocumentClient, isConditionFailure, mapLimit, queryAll } from '../dynamo-client';
import {
  indexKeys,
  keys,
  OPEN_FINDINGS_COLLECTION,
  sortableTime,
  UNSETTLED_FINDINGS_COLLECTION,
} from '../keys';

/** Recorded findings: record, settle, close, and the unsettled and open collections. */
export class FindingRecords {
  constructor(
    private readonly db: DocumentClient,
    private readonly table: string,
  ) {}

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

  /**
   * True when the finding is new (written now), false when it was recorded before. A health
   * finding (scope-health.ts) counts up its instance's scopes' `flagged` in the same transaction,
   * so a crash can neither leave a finding uncounted nor count one twice; the scopes it counted
   * are kept on it, for its closing to count them down.
   */
  private async putFinding(finding: Finding, now: number): Promise<boolean> {
    const item = {
      ...keys.finding(finding.instanceId, finding.kind, finding.key),
      type: 'finding',
      ...finding,
      status: 'open',
      createdAt: now,
      ...indexKeys.finding(finding, now),
    };
    const condition = 'attribute_not_exists(pk)';
    if (!isHealthFinding(finding.kind)) {
      try {
        await this.db.send(
          new PutCommand({ TableName: this.table, Item: item, ConditionExpression: condition }),
        );
        return true;
      } catch (error) {
        if (isConditionFailure(error)) return false;
        throw error;
      }
    }
    const scopes = await this.scopesOfInstance(finding.instanceId);
    const counted = await this.transact([
      { Put: { TableName: this.table, Item: { ...item, scopes }, ConditionExpression: condition } },
      ...this.countFlagged(scopes, 1),
    ]);
    return counted;
  }

  /** The scopes an instance is counted in: its zone and service from the inventory (the account alone when unknown). */
  private async scopesOfInstance(instanceId: string): Promise<string[]> {
    const found = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: keys.instance(instanceId),
        ProjectionExpression: '#zone, #service, #state',
        ExpressionAttributeNames: { '#zone': 'zone', '#service': 'service', '#state': 'state' },
      }),
    );
    const i = found.Item;
    return i && typeof i.zone === 'string' && typeof i.service === 'string' && i.state !== 'terminated'
      ? scopesOf({ zone: i.zone, service: i.service })
      : ['account'];
  }

  private countFlagged(scopes: readonly string[], by: 1 | -1) {
    return scopes.map((scope) => ({
      Update: {
        TableName: this.table,
        Key: keys.health(scope),
        UpdateExpression: 'ADD flagged :by',
        ExpressionAttributeValues: { ':by': by },
      },
    }));
  }

  /** True when the transaction went through; false when its first item's condition failed. */
  private async transact(
    items: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>,
  ): Promise<boolean> {
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: items }));
      return true;
    } catch (error) {
      const name = (error as { name?: string })?.name;
      if (!(error instanceof TransactionCanceledException) && name !== 'TransactionCanceledException')
        throw error;
      const reasons = (error as TransactionCanceledException).CancellationReasons ?? [];
      if (reasons[0]?.Code === 'ConditionalCheckFailed') return false;
      throw error;
    }
  }

  /**
   * The breaker's counts of the target's scopes (account, zone, service): three items, one
   * BatchGetItem, whatever the fleet's size. A scope never swept nor flagged counts zero.
   */
  async scopeHealth(target: { readonly zone: string; readonly service: string }): Promise<ScopeCount[]> {
    const scopes = scopesOf(target);
    const found = await batchGetAll(
      this.db,
      this.table,
      scopes.map((scope) => keys.health(scope)),
    );
    return scopes.map((scope) => {
      const item = found.get(`${keys.health(scope).pk}|${keys.health(scope).sk}`);
      const n = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? Math.max(0, x) : 0);
      return {
        scope,
        members: n(item?.members),
        unavailable: n(item?.unavailable),
        flagged: n(item?.flagged),
      };
    });
  }

  /**
   * A sweep's members and unavailable instances per scope, written where they changed (one Query
   * for what is stored); a scope no longer in the fleet goes to zero. `flagged` is left alone: it
   * is counted by the findings themselves.
   */
  async putPopulation(
    population: ReadonlyMap<string, { members: number; unavailable: number }>,
  ): Promise<number> {
    const stored = await this.queryAll({
      KeyConditionExpression: 'pk = :p',
      ExpressionAttributeValues: { ':p': keys.health('account').pk },
    });
    const before = new Map(stored.map((i) => [String(i.sk), i]));
    const scopes = [...new Set([...population.keys(), ...before.keys()])];
    const writes = scopes.filter((scope) => {
      const now = population.get(scope) ?? { members: 0, unavailable: 0 };
      const was = before.get(scope);
      return was?.members !== now.members || was?.unavailable !== now.unavailable;
    });
    await mapLimit(writes, 8, async (scope) => {
      const now = population.get(scope) ?? { members: 0, unavailable: 0 };
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.health(scope),
          UpdateExpression: 'SET members = :m, unavailable = :u',
          ExpressionAttributeValues: { ':m': now.members, ':u': now.unavailable },
        }),
      );
    });
    return writes.length;
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
    const close = {
      UpdateExpression: 'SET #status = :closed, closedAt = :now, outcome = :outcome REMOVE gsi2pk, gsi2sk',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':closed': 'closed', ':now': now, ':outcome': outcome },
    };
    // Only a health finding was counted (putFinding): any other closes with one write.
    if (!isHealthFinding(finding.kind)) {
      await this.updateFinding(finding, close);
      return;
    }
    const key = keys.finding(finding.instanceId, finding.kind, finding.key);
    const stored = await this.db.send(
      new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }),
    );
    const scopes = stored.Item?.scopes;
    if (stored.Item?.status !== 'open' || !Array.isArray(scopes)) {
      await this.updateFinding(finding, close);
      return;
    }
    // Closed and counted down at once, only while it is open: a retried close counts nothing twice.
    await this.transact([
      {
        Update: {
          TableName: this.table,
          Key: key,
          ConditionExpression: '#status = :open',
          ...close,
          ExpressionAttributeValues: { ...close.ExpressionAttributeValues, ':open': 'open' },
        },
      },
      ...this.countFlagged(scopes.map(String), -1),
    ]);
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

  private queryAll(input: Parameters<typeof queryAll>[2]) {
    return queryAll(this.db, this.table, input);
  }
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
