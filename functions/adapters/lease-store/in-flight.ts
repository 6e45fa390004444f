/**
 * In-flight caps in the fleet-state table: one item per scope (`INFLIGHT` / `<scope>`) with the
 * holders in flight there (`holders`: a string set of `<owner>|<instance>`) and their number
 * (`n`). A holder takes its slot in the same transaction as its lease, conditioned on `n < max`
 * and on not holding it already, so concurrent holders can never exceed a cap together; it gives
 * the slot back when it releases the lease, and the sweep takes back the slots of holders whose
 * lease is gone (a crash between the lease and the release), as it does their reservations.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { InFlightCap } from '../../core/ports/index';
import { capConflict, RESERVATION_GRACE_MS } from '../../core/safety/ledger';
import { batchGetAll, type DocumentClient, isConditionFailure, queryAll } from '../dynamo-client';
import { keys, partitions } from '../keys';
import { type Item, keyOf, type TransactItem } from './common';

const member = (owner: string, instanceId: string) => `${owner}|${instanceId}`;

function holdersOf(item: Item | undefined): Set<string> {
  const h = item?.holders;
  return h instanceof Set ? new Set([...h].map(String)) : new Set();
}

export class InFlightSlots {
  constructor(
    private readonly db: DocumentClient,
    private readonly table: string,
  ) {}

  /**
   * The slot writes for a holder of `instanceId` (in the lease's transaction), or the conflicts of
   * the caps already full as last read. A cap the owner holds already (a retried request) costs
   * nothing again.
   */
  async plan(
    owner: string,
    instanceId: string,
    caps: readonly InFlightCap[],
    now: number,
  ): Promise<{
    items: Array<{ item: TransactItem; scope: string }>;
    conflicts: Array<{ id: string; reason: string }>;
  }> {
    const current = await batchGetAll(
      this.db,
      this.table,
      caps.map((c) => keys.inFlight(c.scope)),
    );
    const items: Array<{ item: TransactItem; scope: string }> = [];
    const conflicts: Array<{ id: string; reason: string }> = [];
    const m = member(owner, instanceId);
    for (const cap of caps) {
      const item = current.get(keyOf(keys.inFlight(cap.scope)));
      if (holdersOf(item).has(m)) continue;
      let n = Number(item?.n ?? 0);
      // Full: first take back the slots of holders whose lease is gone (as the sweep would).
      if (n >= cap.max) n -= await this.reclaimHolders(cap.scope, holdersOf(item), now);
      if (n >= cap.max) {
        conflicts.push(capConflict(cap.scope, n, cap.max));
        continue;
      }
      items.push({
        scope: cap.scope,
        item: {
          Update: {
            TableName: this.table,
            Key: keys.inFlight(cap.scope),
            UpdateExpression: 'ADD holders :m, n :one SET #type = :type, #scope = :scope',
            ConditionExpression:
              '(attribute_not_exists(n) OR n < :max) AND (attribute_not_exists(holders) OR NOT contains(holders, :member))',
            ExpressionAttributeNames: { '#type': 'type', '#scope': 'scope' },
            ExpressionAttributeValues: {
              ':m': new Set([m]),
              ':member': m,
              ':one': 1,
              ':max': cap.max,
              ':type': 'in-flight',
              ':scope': cap.scope,
            },
          },
        },
      });
    }
    return { items, conflicts };
  }

  /** Gives back a holder's slots (twice is harmless: only a slot it still has is given back). */
  async release(owner: string, instanceId: string, scopes: readonly string[]): Promise<void> {
    const m = member(owner, instanceId);
    for (const scope of scopes) {
      try {
        await this.db.send(
          new UpdateCommand({
            TableName: this.table,
            Key: keys.inFlight(scope),
            UpdateExpression: 'DELETE holders :m ADD n :minus',
            ConditionExpression: 'contains(holders, :member)',
            ExpressionAttributeValues: { ':m': new Set([m]), ':member': m, ':minus': -1 },
          }),
        );
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
    }
  }

  /** Each scope's number of holders in flight (one BatchGetItem; absent: none). */
  async counts(scopes: readonly string[]): Promise<Map<string, number>> {
    const items = await batchGetAll(
      this.db,
      this.table,
      scopes.map((s) => keys.inFlight(s)),
    );
    return new Map(scopes.map((s) => [s, Number(items.get(keyOf(keys.inFlight(s)))?.n ?? 0)]));
  }

  /**
   * Takes back the slots of holders whose lease on their instance is gone: released without its
   * slots (a crash in between), taken over, or expired more than the reservation grace ago. One
   * Query of the caps' partition (a scope per zone and service at most) and one read of the
   * holders' leases. Returns how many slots were taken back.
   */
  async reclaim(now: number): Promise<number> {
    const items = await this.scopes();
    let n = 0;
    for (const item of items) n += await this.reclaimHolders(String(item.sk), holdersOf(item), now);
    return n;
  }

  /** Gives back every slot an owner still has, whatever became of its leases (it is done). */
  async releaseOwner(owner: string): Promise<void> {
    const items = await this.scopes();
    for (const item of items)
      for (const m of holdersOf(item))
        if (m.slice(0, m.lastIndexOf('|')) === owner)
          await this.release(owner, m.slice(m.lastIndexOf('|') + 1), [String(item.sk)]);
  }

  /** Every scope's item (one Query of the caps' partition: a scope per zone and service at most). */
  private scopes(): Promise<Item[]> {
    return queryAll(this.db, this.table, {
      KeyConditionExpression: 'pk = :p',
      ExpressionAttributeValues: { ':p': partitions.inFlight },
    });
  }

  /** Takes back a scope's slots whose holder's lease is gone or expired past the grace. */
  private async reclaimHolders(scope: string, holders: ReadonlySet<string>, now: number): Promise<number> {
    const held = [...holders].map((m) => {
      const at = m.lastIndexOf('|');
      return { scope, owner: m.slice(0, at), instanceId: m.slice(at + 1) };
    });
    if (held.length === 0) return 0;
    const leases = await batchGetAll(this.db, this.table, [
      ...new Map(held.map((h) => [h.instanceId, keys.lease(h.instanceId)])).values(),
    ]);
    let n = 0;
    for (const h of held) {
      const lease = leases.get(keyOf(keys.lease(h.instanceId)));
      const live = lease?.owner === h.owner && Number(lease.leaseUntil) + RESERVATION_GRACE_MS >= now;
      if (live) continue;
      await this.release(h.owner, h.instanceId, [h.scope]);
      n++;
    }
    return n;
  }
}
