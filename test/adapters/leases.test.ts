import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { documentClient } from '../../functions/adapters/dynamo-client';
import { DynamoLeaseStore, RESERVATION_GRACE_MS } from '../../functions/adapters/dynamo-lease-store';
import type { Lease, LeaseOutcome, LeaseRequest } from '../../functions/core/ports/index';
import { holdInstances, releaseHold } from '../../functions/core/safety/hold';
import { freshTable } from '../support/aws';

type Stores = Awaited<ReturnType<typeof freshTable>>;

const ids = (n: number, from = 1) =>
  Array.from({ length: n }, (_, i) => `i-${(from + i).toString(16).padStart(8, '0')}`);
const member = (id: string, service = 'web', zone = 'us-east-1a') => ({ id, service, zone });

function request(
  owner: string,
  instances: ReadonlyArray<{ id: string }>,
  extra: Partial<LeaseRequest> = {},
): LeaseRequest {
  return {
    owner,
    instanceIds: instances.map((i) => i.id),
    nonDisruptiveServices: new Set(),
    ttlMs: 60_000,
    now: 1_000_000,
    ...extra,
  };
}

function leasesOf(outcome: LeaseOutcome): readonly Lease[] {
  if (!outcome.acquired) throw new Error(`expected the leases, got: ${outcome.reason}`);
  return outcome.leases;
}

/** Instances in the inventory, as inventory sync would have written them. */
async function seed(stores: Stores, members: ReadonlyArray<{ id: string; service: string; zone: string }>) {
  await stores.fleet.putInstances(
    members.map((m) => ({ ...m, state: 'running' as const, health: 'ok' as const, tags: {} })),
    0,
  );
}

/**
 * A service's ledger as inventory sync leaves it: capacity overall and per zone (by default the
 * overall capacity in us-east-1a, where `member` puts instances), nothing unavailable.
 */
async function ledger(
  stores: Stores,
  service: string,
  capacity: number,
  zones: Record<string, number> = { 'us-east-1a': capacity },
) {
  await stores.fleet.reconcileLedger({
    service,
    capacity,
    observed: 0,
    zones: new Map(Object.entries(zones).map(([z, c]) => [z, { capacity: c, observed: 0 }])),
  });
}

describe('leases (DynamoDB, against moto)', () => {
  let stores: Stores;
  // A table per test: moto copies a whole table on every transaction, so small tables keep it fast.
  beforeEach(async () => {
    stores = await freshTable();
  });

  it('acquires, gives growing fencing tokens, and releases', async () => {
    await ledger(stores, 'web', 10);
    const [a, b] = ids(2, 0x100);
    await seed(stores, [member(a), member(b)]);
    const first = await stores.leases.acquire(request('change-1', [member(a), member(b)]));
    expect(first).toMatchObject({ acquired: true });
    const leases = leasesOf(first);
    expect(leases.map((l) => l.token)).toEqual([1, 1]);
    expect((await stores.leases.ledger('web'))?.used).toBe(2);

    await stores.leases.release('change-1', leases);
    expect((await stores.leases.ledger('web'))?.used).toBe(0);
    const again = await stores.leases.acquire(request('change-2', [member(a)]));
    expect(again).toMatchObject({ acquired: true, leases: [{ instanceId: a, owner: 'change-2', token: 2 }] });
    await stores.leases.releaseAll('change-2');
  });

  it('refuses instances held by another owner, and writes nothing for the request', async () => {
    await ledger(stores, 'api', 10);
    const [a, b, c] = ids(3, 0x200);
    await seed(stores, [member(a, 'api'), member(b, 'api'), member(c, 'api')]);
    await stores.leases.acquire(request('change-a', [member(b, 'api')]));
    const outcome = await stores.leases.acquire(
      request('change-b', [member(a, 'api'), member(b, 'api'), member(c, 'api')]),
    );
    expect(outcome).toMatchObject({
      acquired: false,
      conflicts: [{ id: b, reason: expect.stringMatching(/^held by change-a until /) }],
    });
    expect(await stores.leases.releaseAll('change-b')).toBe(0);
    expect((await stores.leases.ledger('api'))?.used).toBe(1);
    await stores.leases.releaseAll('change-a');
  });

  it('lets an expired lease be taken over, and fences the stale owner', async () => {
    await ledger(stores, 'db', 10);
    const [a] = ids(1, 0x300);
    await seed(stores, [member(a, 'db')]);
    const old = await stores.leases.acquire(
      request('remediation-1', [member(a, 'db')], { ttlMs: 1000, now: 0 }),
    );
    const stale = leasesOf(old)[0];
    // remediation-1 crashed; its reservation is reclaimed once expired, and another owner takes over.
    // Its reservation outlives the lease by a grace period; after that it is reclaimed.
    expect(await stores.leases.reclaimExpired(5000)).toBe(0);
    expect(await stores.leases.reclaimExpired(1000 + RESERVATION_GRACE_MS + 1)).toBe(1);
    const taken = await stores.leases.acquire(request('change-9', [member(a, 'db')], { now: 5000 }));
    expect(taken).toMatchObject({ acquired: true, leases: [{ token: stale.token + 1 }] });

    // The stale owner wakes up: it can neither renew, act, nor release the new owner's lease.
    expect(await stores.leases.renew([stale], 60_000, 6000)).toEqual([]);
    await expect(
      stores.leases.recordAction(stale, 'remediation-1', { result: 'rebooted' }, 6000),
    ).resolves.toBe('fenced');
    await stores.leases.release('remediation-1', [stale]);
    const current = leasesOf(taken)[0];
    await expect(stores.leases.recordAction(current, 'change-9', { result: 'done' }, 6000)).resolves.toBe(
      'recorded',
    );
    // At most once per instance per change: a retried step does not apply it again.
    await expect(stores.leases.recordAction(current, 'change-9', { result: 'done' }, 6001)).resolves.toBe(
      'duplicate',
    );
    await stores.leases.releaseAll('change-9');
  });

  it('refuses instances that are not in the inventory or terminated, and spends budgets by the inventory', async () => {
    await ledger(stores, 'web', 10);
    await ledger(stores, 'api', 1);
    const [a, b, c] = ids(3, 0x450);
    await seed(stores, [member(a, 'api')]);
    await stores.fleet.putInstances([{ ...member(b), state: 'terminated', health: 'unknown', tags: {} }], 0);
    const outcome = await stores.leases.acquire(request('c1', [member(a), member(b), member(c)]));
    expect(outcome).toEqual({
      acquired: false,
      reason: 'instances are not in the fleet inventory',
      conflicts: [
        { id: b, reason: 'terminated' },
        { id: c, reason: 'not in the fleet inventory' },
      ],
    });
    // The caller says "web", the inventory says "api": api's budget is the one spent.
    expect((await stores.leases.acquire(request('c2', [member(a, 'web')]))).acquired).toBe(true);
    expect((await stores.leases.ledger('api'))?.used).toBe(1);
    expect((await stores.leases.ledger('web'))?.used).toBe(0);
  });

  it('records every hold decision, refusals included, in the audit trail', async () => {
    await ledger(stores, 'web', 1);
    const [a, b] = ids(2, 0x480);
    await seed(stores, [member(a), member(b)]);
    const deps = { leases: stores.leases, audit: stores.fleet };
    const refused = await holdInstances(deps, request('change-big', [member(a), member(b)]), 'rollout');
    expect(refused.acquired).toBe(false);
    const granted = await holdInstances(deps, request('change-small', [member(a)]), 'rollout');
    await releaseHold(deps, 'change-small', leasesOf(granted), 'rollout', 'wave done', 1_000_500, new Set());
    expect(await stores.fleet.auditOf('owner:change-big')).toEqual([
      expect.objectContaining({
        action: 'hold.refused',
        reason: 'a disruption budget has no room',
        actor: 'rollout',
      }),
    ]);
    expect((await stores.fleet.auditOf('owner:change-small')).map((r) => r.action).sort()).toEqual([
      'hold.acquired',
      'hold.released',
    ]);
    expect((await stores.leases.ledger('web'))?.used).toBe(0);
  });

  it('fences an owner whose lease expired, even when nobody took it over', async () => {
    await ledger(stores, 'web', 10);
    const [a] = ids(1, 0x4a0);
    await seed(stores, [member(a)]);
    const lease = leasesOf(
      await stores.leases.acquire(request('slow', [member(a)], { ttlMs: 1000, now: 0 })),
    )[0];
    await expect(stores.leases.recordAction(lease, 'slow', { result: 'late' }, 1001)).resolves.toBe('fenced');
    await expect(stores.leases.recordAction(lease, 'slow', { result: 'on time' }, 999)).resolves.toBe(
      'recorded',
    );
  });

  it('never reclaims a budget while a lease it covers is live, renewals included', async () => {
    await ledger(stores, 'web', 10);
    const [a] = ids(1, 0x4b0);
    await seed(stores, [member(a)]);
    const [lease] = leasesOf(
      await stores.leases.acquire(request('steady', [member(a)], { ttlMs: 1000, now: 0 })),
    );
    const [renewed] = await stores.leases.renew([lease], 1000, 900);
    expect(renewed.until).toBe(1900);
    expect(await stores.leases.reclaimExpired(1000 + RESERVATION_GRACE_MS + 1)).toBe(0);
    expect(await stores.leases.reclaimExpired(1900 + RESERVATION_GRACE_MS + 1)).toBe(1);
    // The holder comes back after all that: nothing to renew, nothing counted twice.
    expect(await stores.leases.renew([renewed], 1000, 1900 + RESERVATION_GRACE_MS + 2)).toEqual([]);
    expect((await stores.leases.ledger('web'))?.used).toBe(0);
  });

  it('keeps a reservation until every lease it covers is released', async () => {
    await ledger(stores, 'web', 10);
    const [a, b] = ids(2, 0x4c0);
    await seed(stores, [member(a), member(b)]);
    const leases = leasesOf(await stores.leases.acquire(request('pair', [member(a), member(b)])));
    await stores.leases.release('pair', [leases[0]]);
    expect((await stores.leases.ledger('web'))?.used).toBe(2);
    await stores.leases.release('pair', [leases[1]]);
    expect((await stores.leases.ledger('web'))?.used).toBe(0);
  });

  it('keeps counting an instance that is still unavailable after release, as observed', async () => {
    await ledger(stores, 'web', 10, { 'us-east-1a': 5 });
    const [a, b] = ids(2, 0x4d0);
    await seed(stores, [member(a), member(b)]);
    const leases = leasesOf(await stores.leases.acquire(request('reboot', [member(a), member(b)])));
    await stores.leases.release('reboot', leases, new Set([b]));
    expect(await stores.leases.ledger('web')).toMatchObject({
      used: 1,
      observed: 1,
      'used@us-east-1a': 1,
      'observed@us-east-1a': 1,
    });
  });

  it('fails closed for a zone the ledger does not know yet', async () => {
    await ledger(stores, 'web', 10, { 'us-east-1a': 5 });
    const [a] = ids(1, 0x4e0);
    await seed(stores, [member(a, 'web', 'us-east-1f')]);
    expect(await stores.leases.acquire(request('new-zone', [member(a, 'web', 'us-east-1f')]))).toMatchObject({
      acquired: false,
      conflicts: [{ reason: 'budget:web@us-east-1f has no ledger yet (run an inventory sync)' }],
    });
  });

  it('refuses a release by a non-owner', async () => {
    await ledger(stores, 'cache', 10);
    const [a] = ids(1, 0x400);
    await seed(stores, [member(a, 'cache')]);
    const owned = leasesOf(await stores.leases.acquire(request('change-x', [member(a, 'cache')])))[0];
    await stores.leases.release('change-y', [{ ...owned, owner: 'change-y' }]);
    const still = await stores.leases.activeLeases(1_000_001);
    expect(still.find((l) => l.instanceId === a)).toMatchObject({ owner: 'change-x', token: owned.token });
    await stores.leases.releaseAll('change-x');
  });

  it('never holds one instance for two owners, whatever the concurrent requests (property)', async () => {
    await ledger(stores, 'race', 1000);
    await seed(
      stores,
      ids(12, 0x500).map((id) => member(id, 'race')),
    );
    let round = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.subarray(ids(12, 0x500), { minLength: 1 }), { minLength: 2, maxLength: 6 }),
        async (wants) => {
          round++;
          const outcomes = await Promise.all(
            wants.map((w, k) =>
              stores.leases.acquire(
                request(
                  `actor-${round}-${k}`,
                  w.map((id) => member(id, 'race')),
                  { now: 2_000_000 },
                ),
              ),
            ),
          );
          const holders = new Map<string, string>();
          for (const outcome of outcomes) {
            if (!outcome.acquired) continue;
            for (const lease of outcome.leases) {
              expect(holders.get(lease.instanceId)).toBeUndefined();
              holders.set(lease.instanceId, lease.owner);
            }
          }
          const active = await stores.leases.activeLeases(2_000_001);
          for (const lease of active.filter(
            (l) => l.instanceId >= 'i-00000500' && l.instanceId < 'i-00000600',
          )) {
            expect(holders.get(lease.instanceId)).toBe(lease.owner);
          }
          // A refused actor holds nothing (all or nothing).
          outcomes.forEach((outcome, k) => {
            if (!outcome.acquired) expect(active.some((l) => l.owner === `actor-${round}-${k}`)).toBe(false);
          });
          await Promise.all(wants.map((_, k) => stores.leases.releaseAll(`actor-${round}-${k}`)));
        },
      ),
      { numRuns: 12 },
    );
  });
});

describe('disruption ledger (DynamoDB, against moto)', () => {
  let stores: Stores;
  // A table per test: moto copies a whole table on every transaction, so small tables keep it fast.
  beforeEach(async () => {
    stores = await freshTable();
  });

  it('never lets concurrent holders exceed a budget, overall or per zone', async () => {
    await ledger(stores, 'web', 5, { 'us-east-1a': 2, 'us-east-1b': 4 });
    const pool = ids(40, 0x1000);
    const actors = Array.from({ length: 16 }, (_, k) => {
      const zone = k % 2 === 0 ? 'us-east-1a' : 'us-east-1b';
      return pool.slice(k * 2, k * 2 + 1 + (k % 2)).map((id) => member(id, 'web', zone));
    });
    await seed(stores, actors.flat());
    const outcomes = await Promise.all(
      actors.map((w, k) => stores.leases.acquire(request(`holder-${k}`, w))),
    );
    const granted = outcomes.flatMap((o, k) => (o.acquired ? actors[k] : []));
    expect(granted.length).toBeLessThanOrEqual(5);
    expect(granted.filter((i) => i.zone === 'us-east-1a').length).toBeLessThanOrEqual(2);
    expect(granted.filter((i) => i.zone === 'us-east-1b').length).toBeLessThanOrEqual(4);
    const ledgerItem = await stores.leases.ledger('web');
    expect(ledgerItem?.used).toBe(granted.length);
    expect(ledgerItem?.['used@us-east-1a']).toBe(granted.filter((i) => i.zone === 'us-east-1a').length);
    const refusals = outcomes.filter((o) => !o.acquired);
    expect(refusals.length).toBeGreaterThan(0);
    for (const r of refusals)
      expect(r.acquired === false && r.conflicts[0].reason).toMatch(/budget:web|lease/);
  });

  it('counts observed unavailable instances and does not spend budget on non-disruptive services', async () => {
    await stores.fleet.reconcileLedger({
      service: 'api',
      capacity: 3,
      observed: 2,
      zones: new Map([['us-east-1a', { capacity: 3, observed: 2 }]]),
    });
    const [a, b, c] = ids(3, 0x2000);
    await seed(stores, [member(a, 'api'), member(b, 'api'), member(c, 'api')]);
    const tooMany = await stores.leases.acquire(request('c1', [member(a, 'api'), member(b, 'api')]));
    expect(tooMany).toMatchObject({
      acquired: false,
      conflicts: [{ reason: 'budget:api exhausted: 2 of 3 in use, 2 requested' }],
    });
    const nonDisruptive = await stores.leases.acquire(
      request('c2', [member(a, 'api'), member(b, 'api'), member(c, 'api')], {
        nonDisruptiveServices: new Set(['api']),
      }),
    );
    expect(nonDisruptive.acquired).toBe(true);
    expect((await stores.leases.ledger('api'))?.used).toBe(2);
  });

  it('reclaims the reservations of a holder that crashed mid-acquisition', async () => {
    await ledger(stores, 'batch', 300);
    const wave = ids(150, 0x3000).map((id) => member(id, 'batch'));
    await seed(stores, wave);
    // A holder whose process dies after its first transaction: every later request fails.
    const client = new DynamoDBClient({ maxAttempts: 1 });
    const db = documentClient(client);
    let transactions = 0;
    db.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'TransactWriteItemsCommand' && ++transactions >= 2)
          throw new Error('process died');
        if (transactions >= 2) throw new Error('process died');
        return next(args);
      },
      { step: 'initialize', name: 'crash' },
    );
    const crashing = new DynamoLeaseStore(db, stores.table);
    await expect(crashing.acquire(request('crasher', wave, { ttlMs: 1000, now: 0 }))).rejects.toThrow(
      'process died',
    );
    expect((await stores.leases.ledger('batch'))?.used).toBe(150);

    const later = 1000 + RESERVATION_GRACE_MS + 1;
    expect(await stores.leases.reclaimExpired(later)).toBe(1);
    expect((await stores.leases.ledger('batch'))?.used).toBe(0);
    const next = await stores.leases.acquire(request('after', wave, { now: later }));
    expect(next.acquired).toBe(true);
    // Reclaiming twice changes nothing.
    expect(await stores.leases.reclaimExpired(later)).toBe(0);
    expect((await stores.leases.ledger('batch'))?.used).toBe(150);
  });

  it('rolls back a partial acquisition when a later transaction loses a race', async () => {
    await ledger(stores, 'search', 500);
    const wave = ids(250, 0x4000).map((id) => member(id, 'search'));
    await seed(stores, wave);
    const client = new DynamoDBClient({});
    const db = documentClient(client);
    let transactions = 0;
    db.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'TransactWriteItemsCommand' && ++transactions === 3) {
          // Between our second and third transaction, another owner takes an instance.
          await stores.leases.acquire(
            request('rival', [wave[240]], { nonDisruptiveServices: new Set(['search']) }),
          );
        }
        return next(args);
      },
      { step: 'initialize', name: 'race' },
    );
    const racing = new DynamoLeaseStore(db, stores.table);
    const outcome = await racing.acquire(request('loser', wave));
    expect(outcome).toMatchObject({ acquired: false, reason: 'lost a race for a lease or a budget' });
    const active = await stores.leases.activeLeases(1_000_001);
    expect(active.filter((l) => l.owner === 'loser')).toEqual([]);
    expect(active.filter((l) => l.owner === 'rival').map((l) => l.instanceId)).toEqual([wave[240].id]);
    expect((await stores.leases.ledger('search'))?.used).toBe(0);
  });

  it('does not count an instance that is already unavailable twice when a remediation holds it', async () => {
    const [sick, well] = ids(2, 0x900).map((id) => member(id, 'db'));
    await stores.fleet.putInstances(
      [
        { ...sick, state: 'running', health: 'impaired', tags: {} },
        { ...well, state: 'running', health: 'ok', tags: {} },
      ],
      0,
    );
    // As sync leaves it: a budget of 1, already spent by the impaired instance.
    await stores.fleet.reconcileLedger({
      service: 'db',
      capacity: 1,
      observed: 1,
      zones: new Map([['us-east-1a', { capacity: 1, observed: 1 }]]),
    });
    expect(await stores.leases.ledger('db')).toMatchObject({ used: 1, observed: 1 });

    // The sick instance can be held (it costs nothing new); a healthy one cannot.
    const held = leasesOf(await stores.leases.acquire(request('case-1', [sick])));
    expect(await stores.leases.ledger('db')).toMatchObject({ used: 1, observed: 0 });
    const refused = await stores.leases.acquire(request('change-x', [well]));
    expect(refused.acquired).toBe(false);
    // Still down after the action: back to observed. Recovered: the budget is free again.
    await stores.leases.release('case-1', held, new Set([sick.id]));
    expect(await stores.leases.ledger('db')).toMatchObject({ used: 1, observed: 1 });
    const again = leasesOf(await stores.leases.acquire(request('case-2', [sick])));
    await stores.leases.release('case-2', again, new Set());
    expect(await stores.leases.ledger('db')).toMatchObject({ used: 0, observed: 0 });
  });

  it('returns a crashed holder of an unavailable instance to observed, not to free budget', async () => {
    const [sick] = ids(1, 0x950).map((id) => member(id, 'db'));
    await stores.fleet.putInstances([{ ...sick, state: 'stopped', health: 'unknown', tags: {} }], 0);
    await stores.fleet.reconcileLedger({
      service: 'db',
      capacity: 2,
      observed: 1,
      zones: new Map([['us-east-1a', { capacity: 2, observed: 1 }]]),
    });
    leasesOf(await stores.leases.acquire(request('crashed', [sick], { ttlMs: 1000, now: 0 })));
    expect(await stores.leases.ledger('db')).toMatchObject({ used: 1, observed: 0 });
    expect(await stores.leases.reclaimExpired(10 * 60_000)).toBe(1);
    expect(await stores.leases.ledger('db')).toMatchObject({ used: 1, observed: 1 });
  });
});
