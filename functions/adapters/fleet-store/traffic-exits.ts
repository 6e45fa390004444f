/**
 * The traffic exits (`TrafficExits`) in the fleet-state table: one item per instance taken out of
 * traffic (`TRAFFIC#<instance>`), written conditionally on its owner, listed by the sweep through
 * the fleet shards of gsi2 (one Query per shard, reading only exits).
 */
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { TargetRef, TrafficExit, TrafficExits } from '../../core/ports/traffic';
import {
  batchGetAll,
  type DocumentClient,
  isConditionFailure,
  itemKey,
  mapLimit,
  queryAll,
} from '../dynamo-client';
import { fleetShards, indexKeys, keys } from '../keys';

/** Conditional writes in flight at once (each is its own request). */
const IN_FLIGHT = 8;

const PHASES = new Set<string>(['leaving', 'out', 'returning']);

function toItem(exit: TrafficExit): Record<string, unknown> {
  return {
    ...keys.trafficExit(exit.instanceId),
    type: 'traffic-exit',
    instanceId: exit.instanceId,
    owner: exit.owner,
    ...(exit.standby !== undefined ? { standby: exit.standby } : {}),
    deregistered: exit.deregistered.map((t) => ({
      targetGroupArn: t.targetGroupArn,
      ...(t.port !== undefined ? { port: t.port } : {}),
    })),
    targetGroups: [...exit.targetGroups],
    phase: exit.phase,
    since: exit.since,
    ...(exit.returnedAt !== undefined ? { returnedAt: exit.returnedAt } : {}),
    drainSeconds: exit.drainSeconds,
    readySeconds: exit.readySeconds,
    ...(exit.stuck !== undefined ? { stuck: exit.stuck } : {}),
    ...indexKeys.trafficExit(exit.instanceId),
  };
}

function toExit(item: Record<string, unknown>): TrafficExit {
  const phase = String(item.phase);
  if (!PHASES.has(phase))
    throw new Error(`traffic exit of ${String(item.instanceId)}: unknown phase ${phase}`);
  const refs = (item.deregistered ?? []) as Array<{ targetGroupArn: unknown; port?: unknown }>;
  return {
    instanceId: String(item.instanceId),
    owner: String(item.owner),
    ...(item.standby !== undefined ? { standby: String(item.standby) } : {}),
    deregistered: refs.map(
      (t): TargetRef => ({
        targetGroupArn: String(t.targetGroupArn),
        ...(t.port !== undefined ? { port: Number(t.port) } : {}),
      }),
    ),
    targetGroups: ((item.targetGroups ?? []) as unknown[]).map(String),
    phase: phase as TrafficExit['phase'],
    since: Number(item.since),
    ...(item.returnedAt !== undefined ? { returnedAt: Number(item.returnedAt) } : {}),
    drainSeconds: Number(item.drainSeconds),
    readySeconds: Number(item.readySeconds),
    ...(item.stuck !== undefined ? { stuck: String(item.stuck) } : {}),
  };
}

/** The exits over DynamoDB; every write is conditional on the exit's owner. */
export class DynamoTrafficExits implements TrafficExits {
  constructor(
    private readonly db: DocumentClient,
    private readonly table: string,
  ) {}

  /** One conditional Put per exit: new, or already this owner's (its phase moves on). */
  async put(exits: readonly TrafficExit[]): Promise<string[]> {
    const refused = await mapLimit(exits, IN_FLIGHT, async (exit) => {
      try {
        await this.db.send(
          new PutCommand({
            TableName: this.table,
            Item: toItem(exit),
            ConditionExpression: 'attribute_not_exists(pk) OR #owner = :owner',
            ExpressionAttributeNames: { '#owner': 'owner' },
            ExpressionAttributeValues: { ':owner': exit.owner },
          }),
        );
        return undefined;
      } catch (error) {
        if (isConditionFailure(error)) return exit.instanceId;
        throw error;
      }
    });
    return [...new Set(refused.filter((id): id is string => id !== undefined))];
  }

  /** One conditional Delete per instance; another owner's exit (or none) is left as it is. */
  async remove(owner: string, instanceIds: readonly string[]): Promise<void> {
    await mapLimit([...new Set(instanceIds)], IN_FLIGHT, async (id) => {
      try {
        await this.db.send(
          new DeleteCommand({
            TableName: this.table,
            Key: keys.trafficExit(id),
            ConditionExpression: '#owner = :owner',
            ExpressionAttributeNames: { '#owner': 'owner' },
            ExpressionAttributeValues: { ':owner': owner },
          }),
        );
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
    });
  }

  /** Strongly consistent BatchGetItem, 100 keys a request. */
  async of(instanceIds: readonly string[]): Promise<Map<string, TrafficExit>> {
    const ids = [...new Set(instanceIds)];
    const found = await batchGetAll(this.db, this.table, ids.map(keys.trafficExit));
    const out = new Map<string, TrafficExit>();
    for (const id of ids) {
      const item = found.get(itemKey(keys.trafficExit(id)));
      if (item) out.set(id, toExit(item));
    }
    return out;
  }

  /**
   * Every exit: one Query per fleet shard on gsi2 reading only `TRAFFIC#` entries (the index is
   * eventually consistent: an exit written a moment ago may be missed, and its owner is alive).
   */
  async all(): Promise<TrafficExit[]> {
    const pages = await mapLimit(fleetShards(), 8, (shard) =>
      queryAll(this.db, this.table, {
        IndexName: 'gsi2',
        KeyConditionExpression: 'gsi2pk = :shard AND begins_with(gsi2sk, :prefix)',
        ExpressionAttributeValues: { ':shard': shard, ':prefix': indexKeys.shardTrafficExits },
      }),
    );
    return pages
      .flat()
      .map(toExit)
      .sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));
  }
}
