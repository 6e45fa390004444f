/**
 * The DynamoDB change store: a change's spec, plan chunks, status record and wave records
 * (RolloutPorts['changes']).
 */

import { createHash } from 'node:crypto';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Plan } from '../core/change/plan/planner';
import type { ChangeSpec } from '../core/change/spec';
import { type ChangeStatus, ENDED } from '../core/change/status';
import type { ChangeStore } from '../core/ports/change-store';
import { batchWriteAll, type DocumentClient, isConditionFailure, queryAll } from './dynamo-client';
import { CHANGES_COLLECTION, indexKeys, keys, partitions, sortPrefixes } from './keys';

/** The change store the rollout asks for. */

/** DynamoDB items hold at most 400 KB; plan chunks stay well under it. */
const CHUNK_CHARS = 300_000;

export { type ChangeStatus, ENDED } from '../core/change/status';
export { CHANGES_COLLECTION } from './keys';

/** What a step wrote about a wave: what was sent (`apply#…`) and how each instance came out (`result`). */
export interface WaveRecord {
  readonly wave: number;
  readonly part: string;
  readonly at: number;
  readonly body: Record<string, unknown>;
}

export interface ChangeRecord {
  readonly id: string;
  readonly status: ChangeStatus;
  readonly description: string;
  readonly waves: number;
  readonly planDigest: string;
  readonly planChunks: number;
  /** The plan's revision the record names (0: the plan as made). */
  readonly planRevision: number;
  readonly createdAt: number;
  readonly createdBy: string;
  /** Why the change has its status (the last step's words). */
  readonly statusReason?: string;
  readonly updatedAt?: number;
}

/**
 * Changes in the fleet-state table: the spec, a status record, and the plan in chunks (a
 * Step Functions payload is capped at 256 KB, so executions carry only the change id).
 *
 * The chunks are written first and the status record last, with the plan's SHA-256: the status
 * record is the commit point, so a crash in between leaves no change, only orphan chunks that
 * the next save overwrites. Readers verify the digest, so a corrupted or half-written plan is
 * never run.
 */
export class DynamoChangeStore implements ChangeStore {
  private readonly plans = new Map<string, { digest: string; plan: Plan }>();
  private readonly specs = new Map<string, ChangeSpec>();

  constructor(
    private readonly db: DocumentClient,
    private readonly table: string,
  ) {}

  /**
   * Saves a planned change. Saving the same change with the same plan again is harmless
   * (`created: false`); the same id with a different plan is refused.
   */
  async save(
    spec: ChangeSpec,
    plan: Plan,
    actor: string,
    now: number,
  ): Promise<{ created: boolean; record: ChangeRecord }> {
    const text = JSON.stringify(plan);
    const digest = createHash('sha256').update(text).digest('hex');
    const existing = await this.get(spec.id);
    if (existing) {
      if (existing.planDigest === digest) return { created: false, record: existing };
      throw new Error(`change ${spec.id} already exists with a different plan (use a new change id)`);
    }
    const chunks = chunksOf(text);
    await batchWriteAll(this.db, this.table, [
      { PutRequest: { Item: { ...keys.changeSpec(spec.id), type: 'change-spec', spec } } },
      ...chunks.map((body, n) => ({
        PutRequest: { Item: { ...keys.planChunk(spec.id, n), type: 'plan-chunk', n, body } },
      })),
    ]);
    const record: ChangeRecord = {
      id: spec.id,
      status: 'planned',
      description: spec.description,
      waves: plan.waves.length,
      planDigest: digest,
      planChunks: chunks.length,
      planRevision: 0,
      createdAt: now,
      createdBy: actor,
    };
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...keys.changeStatus(spec.id),
            type: 'change',
            ...record,
            ...indexKeys.change(spec.id, now),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      // Saved concurrently by someone else: fine if it is the same plan.
      const winner = await this.get(spec.id);
      if (winner?.planDigest === digest) return { created: false, record: winner };
      throw new Error(`change ${spec.id} was saved concurrently with a different plan`);
    }
    return { created: true, record };
  }

  async get(id: string): Promise<ChangeRecord | undefined> {
    const result = await this.db.send(
      new GetCommand({ TableName: this.table, Key: keys.changeStatus(id), ConsistentRead: true }),
    );
    return result.Item ? toRecord(result.Item) : undefined;
  }

  /**
   * The stored plan as it stands (its latest revision), verified against its digest. A plan read
   * before is reused while the status record still names its digest: every step of a rollout
   * reads the plan, and a 100,000-instance plan is megabytes of chunks.
   */
  async loadPlan(id: string): Promise<Plan> {
    const record = await this.get(id);
    if (!record) throw new Error(`no change ${id}`);
    const cached = this.plans.get(id);
    if (cached?.digest === record.planDigest) return cached.plan;
    const prefix =
      record.planRevision > 0 ? sortPrefixes.planRevision(record.planRevision) : sortPrefixes.planChunks;
    const items = await queryAll(this.db, this.table, {
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :plan)',
      ExpressionAttributeValues: { ':pk': partitions.change(id), ':plan': prefix },
      ConsistentRead: true,
    });
    const parts = items
      .filter((item) => Number(item.n) < record.planChunks)
      .sort((a, b) => Number(a.n) - Number(b.n))
      .map((item) => String(item.body));
    const text = parts.join('');
    const digest = createHash('sha256').update(text).digest('hex');
    if (parts.length !== record.planChunks || digest !== record.planDigest) {
      throw new Error(
        `the stored plan of change ${id} is incomplete or corrupted (digest mismatch): it will not run`,
      );
    }
    const plan = JSON.parse(text) as Plan;
    remember(this.plans, id, { digest, plan });
    return plan;
  }

  /**
   * Stores the plan's next revision: its chunks first (under the revision's own keys, so the
   * revision before stays whole), then the status record, conditioned on still naming revision
   * `from` — the commit point, as in {@link save}. A crash in between leaves the previous
   * revision in force and orphan chunks the same revision's retry overwrites.
   */
  async revisePlan(id: string, from: number, plan: Plan, now: number): Promise<'revised' | 'already'> {
    const to = from + 1;
    if ((plan.revision ?? 0) !== to)
      throw new Error(`revision ${plan.revision ?? 0} of ${id} does not follow revision ${from}`);
    const text = JSON.stringify(plan);
    const digest = createHash('sha256').update(text).digest('hex');
    const current = await this.get(id);
    if (!current) throw new Error(`no change ${id}`);
    if (current.planRevision !== from) {
      if (current.planRevision === to && current.planDigest === digest) return 'already';
      throw new Error(
        `the plan of ${id} is at revision ${current.planRevision}, not ${from}: revised meanwhile`,
      );
    }
    const chunks = chunksOf(text);
    await batchWriteAll(
      this.db,
      this.table,
      chunks.map((body, n) => ({
        PutRequest: { Item: { ...keys.planRevisionChunk(id, to, n), type: 'plan-chunk', n, body } },
      })),
    );
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.changeStatus(id),
          UpdateExpression:
            'SET planDigest = :digest, planChunks = :chunks, planRevision = :to, waves = :waves, updatedAt = :now',
          ConditionExpression:
            from === 0
              ? 'attribute_exists(pk) AND (attribute_not_exists(planRevision) OR planRevision = :from)'
              : 'planRevision = :from',
          ExpressionAttributeValues: {
            ':digest': digest,
            ':chunks': chunks.length,
            ':to': to,
            ':from': from,
            ':waves': plan.waves.length,
            ':now': now,
          },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const winner = await this.get(id);
      if (winner?.planRevision === to && winner.planDigest === digest) return 'already';
      throw new Error(`the plan of ${id} was revised concurrently`);
    }
    remember(this.plans, id, { digest, plan });
    return 'revised';
  }

  /** The change's spec (saved once with the change, never rewritten: reused once read). */
  async loadSpec(id: string): Promise<ChangeSpec> {
    const cached = this.specs.get(id);
    if (cached) return cached;
    const result = await this.db.send(
      new GetCommand({ TableName: this.table, Key: keys.changeSpec(id), ConsistentRead: true }),
    );
    if (!result.Item) throw new Error(`no change ${id}`);
    const spec = result.Item.spec as ChangeSpec;
    remember(this.specs, id, spec);
    return spec;
  }

  /**
   * Moves a change to a new status; a change that has ended (completed, failed, aborted) stays
   * ended (setting the same end again is harmless: a retried step).
   */
  async setStatus(id: string, status: ChangeStatus, reason: string, now: number): Promise<void> {
    const ended = [...ENDED];
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: keys.changeStatus(id),
        UpdateExpression: 'SET #status = :status, statusReason = :reason, updatedAt = :now',
        ConditionExpression: `attribute_exists(pk) AND (#status = :status OR NOT #status IN (${ended.map((_, i) => `:e${i}`).join(', ')}))`,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':status': status,
          ':reason': reason,
          ':now': now,
          ...Object.fromEntries(ended.map((s, i) => [`:e${i}`, s])),
        },
      }),
    );
  }

  /**
   * Writes a record about a wave: `apply#<n>` for what one apply attempt sent (SSM command ids,
   * Auto Scaling groups), `result` for each instance's outcome. Rewriting a part replaces it.
   */
  async recordWave(
    id: string,
    wave: number,
    part: string,
    body: Record<string, unknown>,
    now: number,
  ): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        Item: { ...keys.waveRecord(id, wave, part), type: 'wave-record', wave, part, at: now, body },
      }),
    );
  }

  /** The change's wave records (of one wave, or all), in wave order. */
  async waveRecords(id: string, wave?: number): Promise<WaveRecord[]> {
    const items = await queryAll(this.db, this.table, {
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: {
        ':pk': partitions.change(id),
        ':prefix': wave === undefined ? sortPrefixes.waveRecords : sortPrefixes.waveRecordsOf(wave),
      },
      ConsistentRead: true,
    });
    return items.map((item) => ({
      wave: Number(item.wave),
      part: String(item.part),
      at: Number(item.at),
      body: item.body as Record<string, unknown>,
    }));
  }

  /**
   * Keeps the task token of the approval the execution now waits on, and marks the change
   * waiting for approval. The previous approval may
   * still be claimed (its answer got through and the execution moved on before the person's
   * command dropped the token): the new one replaces it.
   */
  async awaitApproval(id: string, token: string, wave: number, reason: string, now: number): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: keys.changeStatus(id),
        UpdateExpression:
          'SET #status = :waiting, approvalToken = :token, approvalWave = :wave, statusReason = :reason, updatedAt = :now REMOVE approvalAnswer',
        ConditionExpression:
          'attribute_exists(pk) AND (#status = :running OR (#status = :waiting AND (attribute_exists(approvalAnswer) OR approvalToken = :token)))',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':waiting': 'waiting-approval',
          ':running': 'running',
          ':token': token,
          ':wave': wave,
          ':reason': reason,
          ':now': now,
        },
      }),
    );
  }

  /** Claims the waiting approval for a decision; the token stays until {@link settleApproval}. */
  async claimApproval(
    id: string,
    decision: 'approve' | 'reject',
    reason: string,
    now: number,
  ): Promise<{ token: string; wave: number } | undefined> {
    try {
      const result = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.changeStatus(id),
          UpdateExpression:
            'SET approvalAnswer = :decision, approvalAnswerReason = :reason, updatedAt = :now',
          ConditionExpression:
            'attribute_exists(approvalToken) AND #status = :waiting AND (attribute_not_exists(approvalAnswer) OR approvalAnswer = :decision)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':decision': decision,
            ':waiting': 'waiting-approval',
            ':reason': reason,
            ':now': now,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return {
        token: String(result.Attributes?.approvalToken),
        wave: Number(result.Attributes?.approvalWave),
      };
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /** The claimed approval was answered: drop its token and move the status on (unless the execution already did). */
  async settleApproval(
    id: string,
    token: string,
    decision: 'approve' | 'reject',
    now: number,
  ): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.changeStatus(id),
          UpdateExpression:
            'SET #status = :next, statusReason = approvalAnswerReason, updatedAt = :now REMOVE approvalToken, approvalAnswer, approvalAnswerReason',
          ConditionExpression: '#status = :waiting AND approvalToken = :token AND approvalAnswer = :decision',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':waiting': 'waiting-approval',
            ':next': decision === 'approve' ? 'running' : 'failed',
            ':token': token,
            ':decision': decision,
            ':now': now,
          },
        }),
      );
    } catch (error) {
      // The execution already moved on (a new approval point, or the change ended): nothing to drop.
      if (!isConditionFailure(error)) throw error;
    }
  }

  async list(): Promise<ChangeRecord[]> {
    const items = await queryAll(this.db, this.table, {
      IndexName: 'gsi2',
      KeyConditionExpression: 'gsi2pk = :c',
      ExpressionAttributeValues: { ':c': CHANGES_COLLECTION },
      ScanIndexForward: false,
    });
    return items.map(toRecord);
  }
}

/** Changes a warm function keeps in memory: a few at a time are enough for a rollout's steps. */
const CACHED_CHANGES = 8;

function remember<T>(cache: Map<string, T>, id: string, value: T): void {
  cache.delete(id);
  cache.set(id, value);
  if (cache.size > CACHED_CHANGES) cache.delete(cache.keys().next().value as string);
}

/** A plan's JSON in pieces that each fit in an item. */
function chunksOf(text: string): string[] {
  const chunks: string[] = [];
  for (let i = 0; i < text.length; i += CHUNK_CHARS) chunks.push(text.slice(i, i + CHUNK_CHARS));
  return chunks;
}

function toRecord(item: Record<string, unknown>): ChangeRecord {
  return {
    id: String(item.id),
    status: item.status as ChangeStatus,
    description: String(item.description),
    waves: Number(item.waves),
    planDigest: String(item.planDigest),
    planChunks: Number(item.planChunks),
    planRevision: Number(item.planRevision ?? 0),
    createdAt: Number(item.createdAt),
    createdBy: String(item.createdBy),
    ...(item.statusReason === undefined ? {} : { statusReason: String(item.statusReason) }),
    ...(item.updatedAt === undefined ? {} : { updatedAt: Number(item.updatedAt) }),
  };
}
