/**
 * Findings in the fleet-state table (`INSTANCE#<id>` / `FINDING#<kind>#<key>`): recorded once
 * each, unsettled (gsi1) until their intake finishes, open (gsi2) until their case ends.
 */
import { GetCommand, PutCommand, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Finding, FindingRecord } from '../../core/events/findings';
import { type DocumentClient, isConditionFailure, mapLimit, queryAll } from '../dynamo-client';
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
