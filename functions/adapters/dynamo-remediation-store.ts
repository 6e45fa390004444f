import { createHash } from 'node:crypto';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Finding } from '../core/findings';
import type { CaseStatusWord } from '../core/remediation/remediate';
import type { Decision, LadderStep, OutcomeCount, OutcomeStats } from '../core/remediation/types';
import { statsKey } from '../core/remediation/types';
import { type DocumentClient, isConditionFailure, queryAll } from './dynamo-client';
import { sortableTime } from './keys';

export const CASES_COLLECTION = 'CASES';

export type CaseStatus = CaseStatusWord;

/** One remediation case: a finding, what was decided and tried, and how it ended. */
export interface RemediationCase {
  readonly id: string;
  readonly finding: Finding;
  readonly status: CaseStatus;
  /** When to act (a quiet time before the deadline, or now). */
  readonly at: string;
  /** Ladder steps tried so far, in order. */
  readonly tried: readonly LadderStep[];
  readonly decisions: readonly Decision[];
  readonly reason: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/**
 * The case id, derived from the finding alone: the remediation execution is named after it, so a
 * duplicate finding can never start a second execution (Step Functions names are unique).
 */
export function caseIdOf(finding: Pick<Finding, 'instanceId' | 'kind' | 'key'>): string {
  const digest = createHash('sha256')
    .update(`${finding.instanceId}|${finding.kind}|${finding.key}`)
    .digest('hex');
  return `${finding.instanceId}-${finding.kind}-${digest.slice(0, 12)}`;
}

const caseKey = (id: string) => ({ pk: `CASE#${id}`, sk: 'STATUS' });

/** Cases acting now are indexed on their own (gsi1), so counting them reads only them. */
const IN_FLIGHT = 'CASES#acting';

/** The index entries that follow a case's status: present while it acts, removed after. */
function inFlightIndex(id: string, status: CaseStatus) {
  return status === 'acting'
    ? {
        set: ', gsi1pk = :inFlight, gsi1sk = :caseId',
        remove: '',
        values: { ':inFlight': IN_FLIGHT, ':caseId': id },
      }
    : { set: '', remove: ' REMOVE gsi1pk, gsi1sk', values: {} };
}

/**
 * Remediation cases, outcome statistics and breaker states in the fleet-state table:
 * - `CASE#<id>` / `STATUS` (gsi2 `CASES` / `<time>#<id>` for the history, newest first);
 * - `STATS` / `OUTCOME#<kind>|<step>`: recovered and not-recovered counts (atomic ADD);
 * - `BREAKER` / `<scope>`: open or not, and when a person was last paged about it.
 */
export class DynamoRemediationStore {
  constructor(
    private readonly db: DocumentClient,
    private readonly table: string,
  ) {}

  /** Opens a case once per finding; a second call returns the existing case (`created: false`). */
  async open(
    finding: Finding,
    at: string,
    now: number,
  ): Promise<{ created: boolean; case: RemediationCase }> {
    const id = caseIdOf(finding);
    const item: RemediationCase = {
      id,
      finding,
      status: 'open',
      at,
      tried: [],
      decisions: [],
      reason: 'opened',
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...caseKey(id),
            type: 'remediation-case',
            ...item,
            gsi2pk: CASES_COLLECTION,
            gsi2sk: `${sortableTime(now)}#${id}`,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return { created: true, case: item };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const existing = await this.get(id);
      if (!existing) throw error;
      return { created: false, case: existing };
    }
  }

  async get(id: string): Promise<RemediationCase | undefined> {
    const result = await this.db.send(
      new GetCommand({ TableName: this.table, Key: caseKey(id), ConsistentRead: true }),
    );
    return result.Item ? toCase(result.Item) : undefined;
  }

  /** Records a decision (appended, never rewritten) and moves the case on. */
  async decide(
    id: string,
    decision: Decision,
    patch: { status: CaseStatus; tried?: readonly LadderStep[] },
    now: number,
  ): Promise<void> {
    const index = inFlightIndex(id, patch.status);
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: caseKey(id),
        UpdateExpression:
          'SET decisions = list_append(decisions, :d), #status = :status, reason = :reason, updatedAt = :now' +
          (patch.tried ? ', tried = :tried' : '') +
          index.set +
          index.remove,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':d': [decision],
          ':status': patch.status,
          ':reason': decision.reason,
          ':now': now,
          ...(patch.tried ? { ':tried': [...patch.tried] } : {}),
          ...index.values,
        },
      }),
    );
  }

  async setStatus(id: string, status: CaseStatus, reason: string, now: number): Promise<void> {
    const index = inFlightIndex(id, status);
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: caseKey(id),
        UpdateExpression: `SET #status = :status, reason = :reason, updatedAt = :now${index.set}${index.remove}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':status': status, ':reason': reason, ':now': now, ...index.values },
      }),
    );
  }

  /** Cases, newest first. */
  async list(limit = 100): Promise<RemediationCase[]> {
    const result = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'gsi2',
        KeyConditionExpression: 'gsi2pk = :c',
        ExpressionAttributeValues: { ':c': CASES_COLLECTION },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (result.Items ?? []).map(toCase);
  }

  /**
   * Cases still acting (leased, acted on, not verified yet): remediations in flight. Read from
   * their own index entries, not by filtering the whole case history.
   */
  async inFlight(): Promise<RemediationCase[]> {
    const items = await queryAll(this.db, this.table, {
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :f',
      ExpressionAttributeValues: { ':f': IN_FLIGHT },
    });
    return items.map(toCase);
  }

  /** Adds one outcome of a step for a failure kind (atomic: concurrent cases never lose one). */
  async recordOutcome(kind: Finding['kind'], step: LadderStep, recovered: boolean): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: 'STATS', sk: `OUTCOME#${statsKey(kind, step)}` },
        UpdateExpression: 'ADD successes :s, failures :f SET kind = :kind, step = :step',
        ExpressionAttributeValues: {
          ':s': recovered ? 1 : 0,
          ':f': recovered ? 0 : 1,
          ':kind': kind,
          ':step': step,
        },
      }),
    );
  }

  async stats(): Promise<OutcomeStats> {
    const items = await queryAll(this.db, this.table, {
      KeyConditionExpression: 'pk = :p AND begins_with(sk, :o)',
      ExpressionAttributeValues: { ':p': 'STATS', ':o': 'OUTCOME#' },
      ConsistentRead: true,
    });
    return new Map<string, OutcomeCount>(
      items.map((i) => [
        String(i.sk).slice('OUTCOME#'.length),
        { successes: Number(i.successes ?? 0), failures: Number(i.failures ?? 0) },
      ]),
    );
  }

  async breaker(scope: string): Promise<{ open: boolean; pagedAt?: number } | undefined> {
    const result = await this.db.send(
      new GetCommand({ TableName: this.table, Key: { pk: 'BREAKER', sk: scope }, ConsistentRead: true }),
    );
    if (!result.Item) return undefined;
    return {
      open: Boolean(result.Item.open),
      ...(result.Item.pagedAt === undefined ? {} : { pagedAt: Number(result.Item.pagedAt) }),
    };
  }

  /**
   * Marks a breaker open and claims the page: true only for the one caller that moved `pagedAt`
   * past the cooldown, so a storm of events pages once.
   */
  async claimPage(scope: string, reason: string, now: number, cooldownMs: number): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: 'BREAKER', sk: scope },
          UpdateExpression: 'SET #open = :t, pagedAt = :now, reason = :reason',
          ConditionExpression: 'attribute_not_exists(pagedAt) OR pagedAt < :since',
          ExpressionAttributeNames: { '#open': 'open' },
          ExpressionAttributeValues: {
            ':t': true,
            ':now': now,
            ':reason': reason,
            ':since': now - cooldownMs,
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}

function toCase(item: Record<string, unknown>): RemediationCase {
  return {
    id: String(item.id),
    finding: item.finding as Finding,
    status: item.status as CaseStatus,
    at: String(item.at),
    tried: (item.tried ?? []) as LadderStep[],
    decisions: (item.decisions ?? []) as Decision[],
    reason: String(item.reason ?? ''),
    createdAt: Number(item.createdAt),
    updatedAt: Number(item.updatedAt),
  };
}
