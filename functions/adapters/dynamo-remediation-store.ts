/**
 * The DynamoDB case store: remediation cases, outcome statistics and breaker pages
 * (RemediationPorts['cases']).
 */

import { createHash } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { type Finding, occurrenceOf } from '../core/events/findings';
import type { CaseStore, IntakeCaseStore } from '../core/ports/case-store';
import type { LastRemediation } from '../core/remediation/relapse';
import type { CaseStatusWord } from '../core/remediation/remediate';
import {
  ACTIVE_CASE_STATUSES,
  type CaseAttachment,
  type CaseSource,
  caseSourceOf,
} from '../core/remediation/triage';
import type { Decision, LadderStep, OutcomeCount, OutcomeStats } from '../core/remediation/types';
import { statsKey } from '../core/remediation/types';
import { batchGetAll, type DocumentClient, isConditionFailure, queryAll, sleep } from './dynamo-client';
import { CASES_COLLECTION, IN_FLIGHT_CASES, indexKeys, keys, partitions, sortPrefixes } from './keys';
import { TTL_ATTRIBUTE } from './table-design';

export { CASES_COLLECTION } from './keys';

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
  /** Every finding that reported this case's problem, the one that opened it first. */
  readonly sources: readonly CaseSource[];
  /** When intake recorded the case's execution as started (absent: not started, or not yet recorded). */
  readonly startedAt?: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/**
 * The case id, derived from the finding's underlying event (instance, kind and `occurrenceOf`):
 * the remediation execution is named after it, so a duplicate finding, or the same scheduled
 * event reported by AWS Health and by the sweep, can never start a second execution (Step
 * Functions names are unique).
 */
export function caseIdOf(finding: Pick<Finding, 'instanceId' | 'kind' | 'key' | 'deadline'>): string {
  const digest = createHash('sha256')
    .update(`${finding.instanceId}|${finding.kind}|${occurrenceOf(finding)}`)
    .digest('hex');
  return `${finding.instanceId}-${finding.kind}-${digest.slice(0, 12)}`;
}

/** The case store remediation asks for, and the one intake asks for. */

const caseKey = keys.case;

/** The index entries that follow a case's status: present while it acts, removed after. */
function inFlightIndex(id: string, status: CaseStatus) {
  if (status !== 'acting') return { set: '', remove: ' REMOVE gsi1pk, gsi1sk', values: {} };
  const entry = indexKeys.inFlightCase(id);
  return {
    set: ', gsi1pk = :inFlight, gsi1sk = :caseId',
    remove: '',
    values: { ':inFlight': entry.gsi1pk, ':caseId': entry.gsi1sk },
  };
}

/**
 * Remediation cases, outcome statistics and breaker states in the fleet-state table:
 * - `CASE#<id>` / `STATUS` (gsi2 `CASES` / `<time>#<id>` for the history, newest first);
 * - `INSTANCE#<id>` / `ACTIVECASE#<kind>`: the instance's active case of that kind (at most one);
 * - `INSTANCE#<id>` / `CASEOF#<kind>#<key>`: the case a finding went to;
 * - `STATS` / `OUTCOME#<kind>|<step>`: recovered and not-recovered counts (atomic ADD);
 * - `BREAKER` / `<scope>`: open or not, and when a person was last paged about it;
 * - `INSTANCE#<id>` / `LASTREMEDIATION`: how the instance's last status-check case ended (relapse.ts).
 */
export class DynamoRemediationStore implements CaseStore, IntakeCaseStore {
  constructor(
    private readonly db: DocumentClient,
    private readonly table: string,
  ) {}

  /**
   * The finding's case, opened or joined in one transaction with the finding's link to it, so a
   * finding belongs to exactly one case from its first attachment on, however often it is retried:
   * 1. a finding attached before → its case (`attached-before`);
   * 2. no case of its underlying event and no active case of its instance and kind → a new case,
   *    claiming the instance's `ACTIVECASE#<kind>` pointer (`opened`);
   * 3. a case of the same underlying event exists (another source; perhaps ended) → taken in
   *    there as another source (`same-event`);
   * 4. another case of the instance and kind is active → taken in there (`joined`); a pointer to
   *    a case that has ended is stale (a crash between the case's end and the pointer's release)
   *    and is taken over by the new case, conditioned on still naming the ended one.
   * Concurrent intakes (two sources racing) meet on those conditional writes: one opens the case,
   * the others join it.
   */
  async open(
    finding: Finding,
    at: string,
    now: number,
  ): Promise<{ created: boolean; attachment: CaseAttachment; case: RemediationCase }> {
    let stale: string | undefined;
    for (let attempt = 0; attempt < 8; attempt++) {
      const linked = await this.caseOf(finding);
      if (linked) return { created: false, attachment: 'attached-before', case: linked };
      const id = caseIdOf(finding);
      const item: RemediationCase = {
        id,
        finding,
        status: 'open',
        at,
        tried: [],
        decisions: [],
        reason: 'opened',
        sources: [caseSourceOf(finding, now)],
        createdAt: now,
        updatedAt: now,
      };
      const failed = await this.transact([
        {
          Put: {
            TableName: this.table,
            Item: {
              ...caseKey(id),
              type: 'remediation-case',
              ...item,
              ...indexKeys.case(id, now),
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        {
          Put: {
            TableName: this.table,
            Item: {
              ...keys.activeCase(finding.instanceId, finding.kind),
              type: 'active-case',
              caseId: id,
              since: now,
            },
            ConditionExpression:
              stale === undefined
                ? 'attribute_not_exists(pk)'
                : 'attribute_not_exists(pk) OR caseId = :stale',
            ...(stale === undefined ? {} : { ExpressionAttributeValues: { ':stale': stale } }),
          },
        },
        this.linkPut(finding, id, now),
      ]);
      if (!failed) return { created: true, attachment: 'opened', case: item };
      const [sameEvent, activeOther, linkedMeanwhile] = failed;
      // A concurrent intake of this very finding attached it: the next round reads its link.
      if (linkedMeanwhile) continue;
      if (sameEvent) {
        const joined = await this.attach(id, finding, now, { activeOnly: false });
        if (joined) return { created: false, attachment: 'same-event', case: joined };
        continue;
      }
      if (activeOther) {
        const active = await this.activeCaseOf(finding);
        stale = undefined;
        if (active === undefined) continue; // released meanwhile: open again
        const joined = await this.attach(active, finding, now, { activeOnly: true });
        if (joined) return { created: false, attachment: 'joined', case: joined };
        // It has ended (an ended case never becomes active again), unless the finding was linked
        // meanwhile, which the next round's first read finds before any takeover.
        stale = active;
        continue;
      }
      // Cancelled for no condition of ours (a transaction conflict): try again shortly.
      await sleep(20 * (attempt + 1));
    }
    throw new Error(
      `could not open a remediation case for ${finding.instanceId} ${finding.kind} (${finding.key}): 8 attempts met concurrent intakes`,
    );
  }

  /** The case a finding went to, if it went to one. */
  async caseOf(finding: Pick<Finding, 'instanceId' | 'kind' | 'key'>): Promise<RemediationCase | undefined> {
    const link = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: keys.findingCase(finding.instanceId, finding.kind, finding.key),
        ConsistentRead: true,
      }),
    );
    if (!link.Item) return undefined;
    const found = await this.get(String(link.Item.caseId));
    if (!found)
      throw new Error(`finding ${finding.key} names case ${String(link.Item.caseId)}, which is missing`);
    return found;
  }

  /** Records that the case's execution was started (the first time only; a retry keeps it). */
  async markStarted(id: string, now: number): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: caseKey(id),
        UpdateExpression: 'SET startedAt = if_not_exists(startedAt, :now)',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':now': now },
      }),
    );
  }

  private async activeCaseOf(finding: Pick<Finding, 'instanceId' | 'kind'>): Promise<string | undefined> {
    const result = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: keys.activeCase(finding.instanceId, finding.kind),
        ConsistentRead: true,
      }),
    );
    return result.Item ? String(result.Item.caseId) : undefined;
  }

  /**
   * Takes a finding into a case as another source, with its link, in one transaction (the link's
   * condition makes the append happen once); undefined when the case is not there, not active
   * (`activeOnly`), or the finding was linked meanwhile.
   */
  private async attach(
    id: string,
    finding: Finding,
    now: number,
    { activeOnly }: { activeOnly: boolean },
  ): Promise<RemediationCase | undefined> {
    const active = [...ACTIVE_CASE_STATUSES];
    const failed = await this.transact([
      {
        Update: {
          TableName: this.table,
          Key: caseKey(id),
          UpdateExpression:
            'SET sources = list_append(if_not_exists(sources, :none), :source), updatedAt = :now',
          ConditionExpression: activeOnly
            ? `attribute_exists(pk) AND #status IN (${active.map((_, i) => `:a${i}`).join(', ')})`
            : 'attribute_exists(pk)',
          ...(activeOnly ? { ExpressionAttributeNames: { '#status': 'status' } } : {}),
          ExpressionAttributeValues: {
            ':none': [],
            ':source': [caseSourceOf(finding, now)],
            ':now': now,
            ...(activeOnly ? Object.fromEntries(active.map((s, i) => [`:a${i}`, s])) : {}),
          },
        },
      },
      this.linkPut(finding, id, now),
    ]);
    if (failed) return undefined;
    return this.get(id);
  }

  private linkPut(finding: Finding, caseId: string, now: number) {
    return {
      Put: {
        TableName: this.table,
        Item: {
          ...keys.findingCase(finding.instanceId, finding.kind, finding.key),
          type: 'finding-case',
          caseId,
          at: now,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    };
  }

  /**
   * Runs a transaction; undefined when it went through, or which of its items' conditions failed
   * (all false: cancelled for another reason, such as a conflicting transaction).
   */
  private async transact(
    items: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>,
  ): Promise<boolean[] | undefined> {
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: items }));
      return undefined;
    } catch (error) {
      if (
        !(error instanceof TransactionCanceledException) &&
        (error as { name?: string })?.name !== 'TransactionCanceledException'
      )
        throw error;
      const reasons = (error as TransactionCanceledException).CancellationReasons ?? [];
      return items.map((_, i) => reasons[i]?.Code === 'ConditionalCheckFailed');
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
    const result = await this.db.send(
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
        ReturnValues: 'ALL_NEW',
      }),
    );
    await this.releaseIfEnded(id, patch.status, result.Attributes);
  }

  async setStatus(id: string, status: CaseStatus, reason: string, now: number): Promise<void> {
    const index = inFlightIndex(id, status);
    const result = await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: caseKey(id),
        UpdateExpression: `SET #status = :status, reason = :reason, updatedAt = :now${index.set}${index.remove}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':status': status, ':reason': reason, ':now': now, ...index.values },
        ReturnValues: 'ALL_NEW',
      }),
    );
    await this.releaseIfEnded(id, status, result.Attributes);
  }

  /**
   * A case that ended lets go of its instance's active-case pointer, so the next finding of that
   * kind opens a new case (a relapse). Not in the status update's transaction: a pointer that
   * names another case must not fail the update. A crash in between leaves a stale pointer, which
   * `open` recognises (the case it names is not active) and takes over.
   */
  private async releaseIfEnded(id: string, status: CaseStatus, item: Record<string, unknown> | undefined) {
    const finding = item?.finding as Finding | undefined;
    if (ACTIVE_CASE_STATUSES.has(status) || !finding) return;
    await this.db
      .send(
        new DeleteCommand({
          TableName: this.table,
          Key: keys.activeCase(finding.instanceId, finding.kind),
          ConditionExpression: 'caseId = :id',
          ExpressionAttributeValues: { ':id': id },
        }),
      )
      .catch((error) => {
        if (!isConditionFailure(error)) throw error;
      });
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
      ExpressionAttributeValues: { ':f': IN_FLIGHT_CASES },
    });
    return items.map(toCase);
  }

  /** Adds one outcome of a step for a failure kind (atomic: concurrent cases never lose one). */
  /** One more outcome under each key (the kind's, and the finer context's): one transaction, all or none. */
  async recordOutcome(
    kind: Finding['kind'],
    step: LadderStep,
    recovered: boolean,
    keyList: readonly string[] = [statsKey(kind, step)],
  ): Promise<void> {
    const updates = [...new Set(keyList)].map((key) => ({
      Update: {
        TableName: this.table,
        Key: keys.outcome(key),
        UpdateExpression: 'ADD successes :s, failures :f SET kind = :kind, step = :step',
        ExpressionAttributeValues: {
          ':s': recovered ? 1 : 0,
          ':f': recovered ? 0 : 1,
          ':kind': kind,
          ':step': step,
        },
      },
    }));
    if (updates.length === 1) {
      await this.db.send(new UpdateCommand(updates[0].Update));
      return;
    }
    await this.db.send(new TransactWriteCommand({ TransactItems: updates }));
  }

  async stats(keyList?: readonly string[]): Promise<OutcomeStats> {
    if (keyList) {
      // A decision's own keys (its kind's and its context's): one BatchGetItem, whatever else is counted.
      const found = await batchGetAll(
        this.db,
        this.table,
        [...new Set(keyList)].map((k) => keys.outcome(k)),
      );
      return new Map<string, OutcomeCount>(
        [...found.values()].map((i) => [
          String(i.sk).slice(sortPrefixes.outcomes.length),
          { successes: Number(i.successes ?? 0), failures: Number(i.failures ?? 0) },
        ]),
      );
    }
    const items = await queryAll(this.db, this.table, {
      KeyConditionExpression: 'pk = :p AND begins_with(sk, :o)',
      ExpressionAttributeValues: { ':p': partitions.stats, ':o': sortPrefixes.outcomes },
      ConsistentRead: true,
    });
    return new Map<string, OutcomeCount>(
      items.map((i) => [
        String(i.sk).slice(sortPrefixes.outcomes.length),
        { successes: Number(i.successes ?? 0), failures: Number(i.failures ?? 0) },
      ]),
    );
  }

  async breaker(scope: string): Promise<{ open: boolean; pagedAt?: number } | undefined> {
    const result = await this.db.send(
      new GetCommand({ TableName: this.table, Key: keys.breaker(scope), ConsistentRead: true }),
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
          Key: keys.breaker(scope),
          UpdateExpression: 'SET #open = :t, pagedAt = :now, reason = :reason',
          // Once per storm (open until closeBreakers), at most once per cooldown (a flapping breaker).
          ConditionExpression: 'attribute_not_exists(pagedAt) OR (#open = :f AND pagedAt < :since)',
          ExpressionAttributeNames: { '#open': 'open' },
          ExpressionAttributeValues: {
            ':t': true,
            ':f': false,
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
  /** The instance's `LASTREMEDIATION` item: one GetItem. */
  async lastRemediation(instanceId: string): Promise<LastRemediation | undefined> {
    const result = await this.db.send(
      new GetCommand({ TableName: this.table, Key: keys.lastRemediation(instanceId), ConsistentRead: true }),
    );
    if (!result.Item) return undefined;
    const item = result.Item;
    return Object.fromEntries(
      LAST_REMEDIATION_FIELDS.flatMap((f) => (item[f] === undefined ? [] : [[f, item[f]]])),
    ) as unknown as LastRemediation;
  }

  /**
   * Puts the instance's `LASTREMEDIATION` item, conditioned on not replacing the record of a case
   * opened later (a retried step of an older case is a no-op then); the same case writes it again.
   */
  async rememberRemediation(record: LastRemediation): Promise<void> {
    await this.db
      .send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...keys.lastRemediation(record.instanceId),
            type: 'last-remediation',
            ...record,
            // Kept a quarter (seconds, DynamoDB's TTL): what helped an instance that long ago still hints.
            [TTL_ATTRIBUTE]: Math.floor(record.endedAt / 1000) + LAST_REMEDIATION_KEPT_SECONDS,
          },
          ConditionExpression: 'attribute_not_exists(pk) OR caseId = :id OR openedAt <= :opened',
          ExpressionAttributeValues: { ':id': record.caseId, ':opened': record.openedAt },
        }),
      )
      .catch((error) => {
        if (!isConditionFailure(error)) throw error;
      });
  }

  async reviseOutcome(last: LastRemediation, byCase: string, keyList: readonly string[]): Promise<boolean> {
    const mark = {
      Update: {
        TableName: this.table,
        Key: keys.lastRemediation(last.instanceId),
        UpdateExpression: 'SET revisedBy = :by',
        ConditionExpression: 'caseId = :last AND attribute_not_exists(revisedBy)',
        ExpressionAttributeValues: { ':by': byCase, ':last': last.caseId },
      },
    };
    const revisions = [...new Set(keyList)].map((key) => ({
      Update: {
        TableName: this.table,
        Key: keys.outcome(key),
        UpdateExpression: 'ADD successes :minus, failures :one',
        ConditionExpression: 'successes >= :one',
        ExpressionAttributeValues: { ':minus': -1, ':one': 1 },
      },
    }));
    const failed = await this.transact([mark, ...revisions]);
    if (!failed) return true;
    if (failed[0]) return false;
    // A count with nothing to take back (its sample was lost): mark the record alone.
    if (failed.slice(1).some(Boolean)) return (await this.transact([mark])) === undefined;
    throw new Error(`could not revise the outcome of ${last.caseId}: the transaction was cancelled`);
  }

  /**
   * Closes these scopes' breakers where they are open (one conditional write each; a closed or
   * never-opened breaker is left as it is, so the usual case writes nothing that changes).
   */
  async closeBreakers(scopes: readonly string[], now: number): Promise<void> {
    await Promise.all(
      scopes.map((scope) =>
        this.db
          .send(
            new UpdateCommand({
              TableName: this.table,
              Key: keys.breaker(scope),
              UpdateExpression: 'SET #open = :f, closedAt = :now',
              ConditionExpression: '#open = :t',
              ExpressionAttributeNames: { '#open': 'open' },
              ExpressionAttributeValues: { ':t': true, ':f': false, ':now': now },
            }),
          )
          .catch((error) => {
            if (!isConditionFailure(error)) throw error;
          }),
      ),
    );
  }
}

/** How long an instance's last remediation is kept after it ended (DynamoDB TTL). */
const LAST_REMEDIATION_KEPT_SECONDS = 90 * 86_400;

const LAST_REMEDIATION_FIELDS = [
  'instanceId',
  'caseId',
  'openedAt',
  'endedAt',
  'kind',
  'status',
  'tried',
  'recoveredBy',
  'relapses',
  'context',
  'revisedBy',
] as const satisfies ReadonlyArray<keyof LastRemediation>;

function toCase(item: Record<string, unknown>): RemediationCase {
  return {
    id: String(item.id),
    finding: item.finding as Finding,
    status: item.status as CaseStatus,
    at: String(item.at),
    tried: (item.tried ?? []) as LadderStep[],
    decisions: (item.decisions ?? []) as Decision[],
    reason: String(item.reason ?? ''),
    // Cases opened before sources were recorded had one: the finding that opened them.
    sources: (item.sources as CaseSource[] | undefined) ?? [
      caseSourceOf(item.finding as Finding, Number(item.createdAt)),
    ],
    ...(item.startedAt === undefined ? {} : { startedAt: Number(item.startedAt) }),
    createdAt: Number(item.createdAt),
    updatedAt: Number(item.updatedAt),
  };
}
