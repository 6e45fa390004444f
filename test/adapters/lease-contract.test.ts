import { RESERVATION_GRACE_MS } from '../../functions/adapters/dynamo-lease-store';
import { type Instance, isUnavailable } from '../../functions/core/fleet/fleet';
import type { LedgerObservation } from '../../functions/core/fleet/inventory';
import type { Lease, LeaseOutcome, LeaseRequest, LeaseStore } from '../../functions/core/ports/index';
import { MemoryLeaseStore } from '../../sim/adapters';
import { VirtualClock } from '../../sim/kernel/virtual-clock';
import { SimWorld } from '../../sim/world/sim-world';
import { freshTable } from '../support/aws';

/**
 * The lease store contract: `fleetops simulate` runs the core over the in-memory lease store, so
 * its figures only carry over to production if it behaves like the DynamoDB one (the reference).
 * Every scenario below runs, unchanged, against both; each implementation only differs in how it
 * is seeded and how its ledger is read (see the harnesses at the bottom).
 */

const ZONE_A = 'me-south-1a';
const ZONE_B = 'me-south-1b';
const NOW = 1_000_000;
const TTL = 60_000;

/** A service's declared budget as inventory sync resolves it: overall and per zone. */
interface Budget {
  readonly service: string;
  readonly capacity: number;
  readonly zones: Readonly<Record<string, number>>;
}

/** A ledger as both stores can show it: `used` includes `observed`, overall and per zone. */
interface LedgerView {
  readonly used: number;
  readonly observed: number;
  readonly zones: Readonly<Record<string, { used: number; observed: number }>>;
}

interface Harness {
  readonly store: LeaseStore;
  ledger(service: string): Promise<LedgerView>;
  reclaimExpired(now: number): Promise<number>;
  /** The action left the instance unavailable (the account, and the next inventory sync, see it down). */
  leftDown(id: string): Promise<void>;
  /** The action brought the (running) instance back: healthy. */
  recovered(id: string): Promise<void>;
}

type Make = (instances: readonly Instance[], budgets: readonly Budget[]) => Promise<Harness>;

const instance = (
  id: string,
  service = 'web',
  zone = ZONE_A,
  condition: Pick<Instance, 'state' | 'health'> = { state: 'running', health: 'ok' },
): Instance => ({ id, service, zone, ...condition, tags: {} });

const budget = (
  service: string,
  capacity: number,
  zones: Record<string, number> = { [ZONE_A]: capacity },
) => ({
  service,
  capacity,
  zones,
});

/** What inventory sync observes: the capacities, and the unavailable instances no lease covers. */
function observations(instances: readonly Instance[], budgets: readonly Budget[]): LedgerObservation[] {
  return budgets.map((b) => {
    const down = instances.filter(
      (i) => i.service === b.service && i.state !== 'terminated' && isUnavailable(i),
    );
    return {
      service: b.service,
      capacity: b.capacity,
      observed: down.length,
      zones: new Map(
        Object.entries(b.zones).map(([zone, capacity]) => [
          zone,
          { capacity, observed: down.filter((i) => i.zone === zone).length },
        ]),
      ),
    };
  });
}

function request(owner: string, ids: readonly string[], extra: Partial<LeaseRequest> = {}): LeaseRequest {
  return { owner, instanceIds: ids, nonDisruptiveServices: new Set(), ttlMs: TTL, now: NOW, ...extra };
}

function leasesOf(outcome: LeaseOutcome): readonly Lease[] {
  if (!outcome.acquired) throw new Error(`expected the leases, got: ${outcome.reason}`);
  return outcome.leases;
}

const byId = (leases: readonly Lease[]) => [...leases].sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));

/** The DynamoDB store over a fresh table in moto, seeded as inventory sync would (the reference). */
const makeDynamo: Make = async (instances, budgets) => {
  const stores = await freshTable('fleetops-contract');
  if (instances.length > 0) await stores.fleet.putInstances(instances, 0);
  for (const o of observations(instances, budgets)) await stores.fleet.reconcileLedger(o);
  return {
    store: stores.leases,
    async ledger(service) {
      const item = (await stores.leases.ledger(service)) ?? {};
      const zones: Record<string, { used: number; observed: number }> = {};
      for (const key of Object.keys(item).filter((k) => k.startsWith('capacity@'))) {
        const zone = key.slice('capacity@'.length);
        zones[zone] = {
          used: Number(item[`used@${zone}`] ?? 0),
          observed: Number(item[`observed@${zone}`] ?? 0),
        };
      }
      return { used: Number(item.used ?? 0), observed: Number(item.observed ?? 0), zones };
    },
    reclaimExpired: (now) => stores.leases.reclaimExpired(now),
    async leftDown(id) {
      const known = instances.find((i) => i.id === id)!;
      await stores.fleet.putInstances([{ ...known, state: 'stopped', health: 'unknown' }], 1);
    },
    async recovered(id) {
      const known = instances.find((i) => i.id === id)!;
      await stores.fleet.putInstances([{ ...known, state: 'running', health: 'ok' }], 1);
    },
  };
};

/** The in-memory store's ledger counts (it exposes only `used` / `capacity`; the rest is read here). */
interface MemoryLedger {
  readonly observed: number;
  readonly reserved: number;
  readonly zones: ReadonlyMap<string, { readonly observed: number; readonly reserved: number }>;
}

/** The in-memory store over a simulated account, seeded as `fleet-sim.ts` does. */
const makeMemory: Make = async (instances, budgets) => {
  const clock = new VirtualClock(0);
  const world = new SimWorld(clock, instances, () => {});
  const store = new MemoryLeaseStore(world, observations(instances, budgets));
  return {
    store,
    async ledger(service) {
      const ledgers = (store as unknown as { ledgers: ReadonlyMap<string, MemoryLedger> }).ledgers;
      const l = ledgers.get(service);
      if (!l) return { used: 0, observed: 0, zones: {} };
      // Its own figure for `used` must be the one read here.
      expect(store.ledger(service)?.used).toBe(l.observed + l.reserved);
      const zones: Record<string, { used: number; observed: number }> = {};
      for (const [zone, z] of l.zones) zones[zone] = { used: z.observed + z.reserved, observed: z.observed };
      return { used: l.observed + l.reserved, observed: l.observed, zones };
    },
    reclaimExpired: (now) => store.reclaimExpired(now),
    async leftDown(id) {
      // Stopping is unavailable at once (and stopped once the clock runs).
      world.stop(id);
    },
    async recovered(id) {
      // A reboot with no fault behind it comes back healthy.
      world.reboot(id, 'remediation');
      await clock.run();
    },
  };
};

describe.each<[string, Make]>([
  ['dynamodb', makeDynamo],
  ['memory', makeMemory],
])('lease store contract (%s)', (_name, make) => {
  it('acquires within budget: growing tokens, reserved leases, counted overall and per zone', async () => {
    const h = await make(
      [instance('i-a1'), instance('i-a2'), instance('i-b1', 'web', ZONE_B)],
      [budget('web', 3, { [ZONE_A]: 2, [ZONE_B]: 2 })],
    );
    const leases = leasesOf(await h.store.acquire(request('change-1', ['i-b1', 'i-a1', 'i-a1'])));
    expect(byId(leases)).toEqual([
      { instanceId: 'i-a1', owner: 'change-1', token: 1, until: NOW + TTL, reserved: true },
      { instanceId: 'i-b1', owner: 'change-1', token: 1, until: NOW + TTL, reserved: true },
    ]);
    expect(await h.ledger('web')).toEqual({
      used: 2,
      observed: 0,
      zones: { [ZONE_A]: { used: 1, observed: 0 }, [ZONE_B]: { used: 1, observed: 0 } },
    });
    expect(await h.store.heldBy('change-1', ['i-a1', 'i-a2', 'i-b1'], NOW)).toEqual(byId(leases));
    expect(await h.store.acquire(request('change-1', []))).toEqual({ acquired: true, leases: [] });
  });

  it('refuses a request that would exceed the service budget overall, and holds nothing', async () => {
    const h = await make(
      [instance('i-a1'), instance('i-a2'), instance('i-b1', 'web', ZONE_B), instance('i-b2', 'web', ZONE_B)],
      [budget('web', 2, { [ZONE_A]: 2, [ZONE_B]: 2 })],
    );
    expect(await h.store.acquire(request('big', ['i-a1', 'i-a2', 'i-b1']))).toEqual({
      acquired: false,
      reason: 'a disruption budget has no room',
      conflicts: [{ id: 'web', reason: 'budget:web exhausted: 0 of 2 in use, 3 requested' }],
    });
    expect(await h.store.heldBy('big', ['i-a1', 'i-a2', 'i-b1'], NOW)).toEqual([]);
    expect(await h.store.activeLeases(NOW)).toEqual([]);
    expect((await h.ledger('web')).used).toBe(0);

    leasesOf(await h.store.acquire(request('small', ['i-b2'])));
    expect(await h.store.acquire(request('pair', ['i-a1', 'i-a2']))).toEqual({
      acquired: false,
      reason: 'a disruption budget has no room',
      conflicts: [{ id: 'web', reason: 'budget:web exhausted: 1 of 2 in use, 2 requested' }],
    });
    expect((await h.ledger('web')).used).toBe(1);
  });

  it('refuses a request that would exceed a zone budget, naming the zone', async () => {
    const h = await make(
      [instance('i-a1'), instance('i-a2'), instance('i-b1', 'web', ZONE_B)],
      [budget('web', 4, { [ZONE_A]: 1, [ZONE_B]: 4 })],
    );
    expect(await h.store.acquire(request('c1', ['i-a1', 'i-a2', 'i-b1']))).toEqual({
      acquired: false,
      reason: 'a disruption budget has no room',
      conflicts: [
        { id: `web@${ZONE_A}`, reason: `budget:web@${ZONE_A} exhausted: 0 of 1 in use, 2 requested` },
      ],
    });
    leasesOf(await h.store.acquire(request('c2', ['i-a1', 'i-b1'])));
    expect(await h.store.acquire(request('c3', ['i-a2']))).toEqual({
      acquired: false,
      reason: 'a disruption budget has no room',
      conflicts: [
        { id: `web@${ZONE_A}`, reason: `budget:web@${ZONE_A} exhausted: 1 of 1 in use, 1 requested` },
      ],
    });
    expect(await h.ledger('web')).toEqual({
      used: 2,
      observed: 0,
      zones: { [ZONE_A]: { used: 1, observed: 0 }, [ZONE_B]: { used: 1, observed: 0 } },
    });
  });

  it('fails closed for a zone or a service the ledger does not know', async () => {
    const h = await make(
      [instance('i-f1', 'web', 'me-south-1f'), instance('i-n1', 'new')],
      [budget('web', 5, { [ZONE_A]: 5 })],
    );
    expect(await h.store.acquire(request('c1', ['i-f1']))).toEqual({
      acquired: false,
      reason: 'a disruption budget has no room',
      conflicts: [
        { id: 'web@me-south-1f', reason: 'budget:web@me-south-1f has no ledger yet (run an inventory sync)' },
      ],
    });
    expect(await h.store.acquire(request('c2', ['i-n1']))).toEqual({
      acquired: false,
      reason: 'a disruption budget has no room',
      conflicts: [{ id: 'new', reason: 'budget:new has no ledger yet (run an inventory sync)' }],
    });
  });

  it('refuses instances that are not in the inventory or terminated', async () => {
    const h = await make(
      [instance('i-a1'), instance('i-t1', 'web', ZONE_A, { state: 'terminated', health: 'unknown' })],
      [budget('web', 5)],
    );
    expect(await h.store.acquire(request('c1', ['i-a1', 'i-t1', 'i-zz']))).toEqual({
      acquired: false,
      reason: 'instances are not in the fleet inventory',
      conflicts: [
        { id: 'i-t1', reason: 'terminated' },
        { id: 'i-zz', reason: 'not in the fleet inventory' },
      ],
    });
    expect(await h.store.activeLeases(NOW)).toEqual([]);
  });

  it('refuses an instance another owner holds ("held by"), all or nothing', async () => {
    const h = await make([instance('i-a1'), instance('i-a2'), instance('i-a3')], [budget('web', 10)]);
    leasesOf(await h.store.acquire(request('change-a', ['i-a2'])));
    expect(await h.store.acquire(request('change-b', ['i-a1', 'i-a2', 'i-a3'], { now: NOW + 10 }))).toEqual({
      acquired: false,
      reason: 'instances are not available to lease',
      conflicts: [{ id: 'i-a2', reason: `held by change-a until ${new Date(NOW + TTL).toISOString()}` }],
    });
    expect(await h.store.heldBy('change-b', ['i-a1', 'i-a2', 'i-a3'], NOW)).toEqual([]);
    expect(await h.store.releaseAll('change-b')).toBe(0);
    expect((await h.ledger('web')).used).toBe(1);
  });

  it('frees the budget on release, keeps the fencing token growing, and fences the released lease', async () => {
    const h = await make([instance('i-a1'), instance('i-a2')], [budget('web', 2)]);
    const leases = leasesOf(await h.store.acquire(request('change-1', ['i-a1', 'i-a2'])));
    expect(leases.map((l) => l.token)).toEqual([1, 1]);
    // A release by someone else changes nothing.
    await h.store.release(
      'change-2',
      leases.map((l) => ({ ...l, owner: 'change-2' })),
    );
    expect((await h.ledger('web')).used).toBe(2);
    // A reservation is kept until every lease it covers is released.
    await h.store.release('change-1', [leases[0]]);
    expect((await h.ledger('web')).used).toBe(2);
    await h.store.release('change-1', [leases[1]]);
    expect(await h.ledger('web')).toEqual({
      used: 0,
      observed: 0,
      zones: { [ZONE_A]: { used: 0, observed: 0 } },
    });
    expect(await h.store.activeLeases(NOW)).toEqual([]);
    await expect(h.store.recordAction(leases[0], 'change-1', { wave: 0 }, NOW)).resolves.toBe('fenced');

    const again = leasesOf(await h.store.acquire(request('change-2', ['i-a1', 'i-a2'])));
    expect(again.map((l) => l.token)).toEqual([2, 2]);
    expect((await h.ledger('web')).used).toBe(2);
  });

  it('keeps counting an instance released as still unavailable, as observed', async () => {
    const h = await make(
      [instance('i-a1'), instance('i-a2'), instance('i-a3')],
      [budget('web', 2, { [ZONE_A]: 2 })],
    );
    const leases = leasesOf(await h.store.acquire(request('reboot', ['i-a1', 'i-a2'])));
    await h.leftDown('i-a2');
    await h.store.release('reboot', leases, new Set(['i-a2']));
    expect(await h.ledger('web')).toEqual({
      used: 1,
      observed: 1,
      zones: { [ZONE_A]: { used: 1, observed: 1 } },
    });
    expect(await h.store.acquire(request('change', ['i-a1', 'i-a3']))).toMatchObject({
      acquired: false,
      conflicts: [{ id: 'web', reason: 'budget:web exhausted: 1 of 2 in use, 2 requested' }],
    });
    // Leasing it again moves it from observed into the reservation: no new budget.
    leasesOf(await h.store.acquire(request('case-1', ['i-a2'])));
    expect(await h.ledger('web')).toEqual({
      used: 1,
      observed: 0,
      zones: { [ZONE_A]: { used: 1, observed: 0 } },
    });
  });

  it('keeps counting an instance leased while down when the release does not say it recovered', async () => {
    const h = await make(
      [instance('i-a1', 'db', ZONE_A, { state: 'stopped', health: 'unknown' }), instance('i-a2', 'db')],
      [budget('db', 2)],
    );
    const held = leasesOf(await h.store.acquire(request('case-1', ['i-a1', 'i-a2'])));
    expect((await h.ledger('db')).used).toBe(2);
    // No `stillUnavailable`: nothing says i-a1 came back, so it goes back to observed; i-a2 is free.
    await h.store.release('case-1', held);
    expect(await h.ledger('db')).toMatchObject({ used: 1, observed: 1 });
  });

  it('moves an instance already unavailable from observed into the reservation, never counting it twice', async () => {
    const h = await make(
      [
        instance('i-a1', 'db', ZONE_A, { state: 'running', health: 'impaired' }),
        instance('i-a2', 'db'),
        instance('i-b1', 'db', ZONE_B, { state: 'stopped', health: 'unknown' }),
        instance('i-b2', 'db', ZONE_B),
      ],
      [budget('db', 3, { [ZONE_A]: 2, [ZONE_B]: 1 })],
    );
    expect(await h.ledger('db')).toEqual({
      used: 2,
      observed: 2,
      zones: { [ZONE_A]: { used: 1, observed: 1 }, [ZONE_B]: { used: 1, observed: 1 } },
    });
    // Both sick instances and a healthy one: only the healthy one costs new budget.
    const held = leasesOf(await h.store.acquire(request('case-1', ['i-a1', 'i-a2', 'i-b1'])));
    expect(await h.ledger('db')).toEqual({
      used: 3,
      observed: 0,
      zones: { [ZONE_A]: { used: 2, observed: 0 }, [ZONE_B]: { used: 1, observed: 0 } },
    });
    expect(await h.store.acquire(request('change-x', ['i-b2']))).toMatchObject({
      acquired: false,
      conflicts: [{ id: 'db', reason: 'budget:db exhausted: 3 of 3 in use, 1 requested' }],
    });
    // i-a1 came back, i-b1 is still down after the action: back to observed; the others are free.
    // (The in-memory store reads the account rather than `stillUnavailable`, so the account must
    // agree with what the caller says; see the class comment of MemoryLeaseStore.)
    await h.recovered('i-a1');
    await h.store.release('case-1', held, new Set(['i-b1']));
    expect(await h.ledger('db')).toEqual({
      used: 1,
      observed: 1,
      zones: { [ZONE_A]: { used: 0, observed: 0 }, [ZONE_B]: { used: 1, observed: 1 } },
    });
    expect(await h.store.acquire(request('change-y', ['i-b2']))).toMatchObject({
      acquired: false,
      conflicts: [
        { id: `db@${ZONE_B}`, reason: `budget:db@${ZONE_B} exhausted: 1 of 1 in use, 1 requested` },
      ],
    });
  });

  it('returns a crashed holder of an unavailable instance to observed, not to free budget', async () => {
    const h = await make(
      [instance('i-a1', 'db', ZONE_A, { state: 'stopped', health: 'unknown' }), instance('i-a2', 'db')],
      [budget('db', 2)],
    );
    leasesOf(await h.store.acquire(request('crashed', ['i-a1', 'i-a2'], { ttlMs: 1000, now: 0 })));
    expect(await h.ledger('db')).toMatchObject({ used: 2, observed: 0 });
    expect(await h.reclaimExpired(1000 + RESERVATION_GRACE_MS)).toBe(0);
    expect(await h.reclaimExpired(1000 + RESERVATION_GRACE_MS + 1)).toBe(1);
    expect(await h.ledger('db')).toEqual({
      used: 1,
      observed: 1,
      zones: { [ZONE_A]: { used: 1, observed: 1 } },
    });
    expect(await h.reclaimExpired(1000 + RESERVATION_GRACE_MS + 1)).toBe(0);
  });

  it('lets an expired lease be taken over with a higher token, and fences the stale owner', async () => {
    const h = await make([instance('i-a1'), instance('i-a2')], [budget('web', 10)]);
    const [stale] = leasesOf(
      await h.store.acquire(request('remediation-1', ['i-a1'], { ttlMs: 1000, now: 0 })),
    );
    expect(stale).toMatchObject({ token: 1, until: 1000 });
    expect(await h.store.acquire(request('change-9', ['i-a1'], { now: 999 }))).toMatchObject({
      acquired: false,
      conflicts: [{ id: 'i-a1', reason: `held by remediation-1 until ${new Date(1000).toISOString()}` }],
    });
    // Until its expiry the owner may still act; after it, not even when nobody took the lease over.
    await expect(h.store.recordAction(stale, 'remediation-1', { wave: 0 }, 1001)).resolves.toBe('fenced');
    expect(await h.store.heldBy('remediation-1', ['i-a1'], 1001)).toEqual([]);

    const [current] = leasesOf(await h.store.acquire(request('change-9', ['i-a1'], { now: 5000 })));
    expect(current).toEqual({
      instanceId: 'i-a1',
      owner: 'change-9',
      token: 2,
      until: 5000 + TTL,
      reserved: true,
    });
    // The crashed owner's reservation is still counted (until released or reclaimed).
    expect((await h.ledger('web')).used).toBe(2);

    // The stale owner wakes up: it can neither act, renew, nor release the new owner's lease.
    await expect(h.store.recordAction(stale, 'remediation-1', { wave: 0 }, 6000)).resolves.toBe('fenced');
    await expect(h.store.recordAction(stale, 'remediation-1', { wave: 0 }, 999)).resolves.toBe('fenced');
    expect(await h.store.renew([stale], TTL, 6000)).toEqual([]);
    await h.store.release('remediation-1', [stale]);
    expect(await h.store.activeLeases(6000)).toEqual([current]);
    expect(await h.store.heldBy('change-9', ['i-a1'], 6000)).toEqual([current]);
    // Its reservation covers nothing it holds any more: returned.
    expect((await h.ledger('web')).used).toBe(1);
    await expect(h.store.recordAction(current, 'change-9', { wave: 2 }, 6000)).resolves.toBe('recorded');
  });

  it('returns the budget of an owner whose renewal finds none of its leases live', async () => {
    const h = await make([instance('i-a1'), instance('i-a2')], [budget('web', 10)]);
    const [stale] = leasesOf(await h.store.acquire(request('r-1', ['i-a1'], { ttlMs: 1000, now: 0 })));
    const [late] = leasesOf(await h.store.acquire(request('r-2', ['i-a2'], { ttlMs: 1000, now: 0 })));
    leasesOf(await h.store.acquire(request('c-9', ['i-a1'], { now: 5000 })));
    expect((await h.ledger('web')).used).toBe(3);
    // Taken over meanwhile: nothing renewed, and r-1's reservation goes at once.
    expect(await h.store.renew([stale], TTL, 6000)).toEqual([]);
    expect((await h.ledger('web')).used).toBe(2);
    // Expired, though nobody took it over: the same.
    expect(await h.store.renew([late], TTL, 6000)).toEqual([]);
    expect((await h.ledger('web')).used).toBe(1);
    expect(await h.reclaimExpired(1000 + RESERVATION_GRACE_MS + 1)).toBe(0);
  });

  it("keeps the budget of a reservation whose other leases are still live when one lease's renewal fails", async () => {
    const h = await make([instance('i-a1'), instance('i-a2')], [budget('web', 10)]);
    const [a1, a2] = leasesOf(await h.store.acquire(request('w', ['i-a1', 'i-a2'], { ttlMs: 1000, now: 0 })));
    expect(await h.store.renew([a2], 1000, 900)).toHaveLength(1);
    // i-a1 expired and was taken over; i-a2 is still w's until 1900.
    leasesOf(await h.store.acquire(request('c-9', ['i-a1'], { now: 1001 })));
    expect((await h.ledger('web')).used).toBe(3);
    expect(await h.store.renew([a1], 1000, 1002)).toEqual([]);
    // The reservation still covers i-a2, which w holds: not returned.
    expect((await h.ledger('web')).used).toBe(3);
    expect((await h.store.heldBy('w', ['i-a2'], 1002)).map((l) => l.instanceId)).toEqual(['i-a2']);
  });

  it('holds a lease through its `until` instant: taken over only after it', async () => {
    const h = await make([instance('i-a1')], [budget('web', 10)]);
    const [old] = leasesOf(await h.store.acquire(request('r-1', ['i-a1'], { ttlMs: 1000, now: 0 })));
    expect(await h.store.acquire(request('c-9', ['i-a1'], { now: 1000 }))).toMatchObject({
      acquired: false,
      conflicts: [{ id: 'i-a1', reason: expect.stringMatching(/^held by r-1 until/) }],
    });
    expect(await h.store.heldBy('c-9', ['i-a1'], 1000)).toEqual([]);
    expect((await h.ledger('web')).used).toBe(1);
    await expect(h.store.recordAction(old, 'r-1', { wave: 0 }, 1000)).resolves.toBe('recorded');
    const [taken] = leasesOf(await h.store.acquire(request('c-9', ['i-a1'], { now: 1001 })));
    expect(taken).toMatchObject({ owner: 'c-9', token: 2 });
  });

  it('renews only live leases the owner holds at its token', async () => {
    const h = await make([instance('i-a1'), instance('i-a2')], [budget('web', 10)]);
    const leases = leasesOf(
      await h.store.acquire(request('steady', ['i-a1', 'i-a2'], { ttlMs: 1000, now: 0 })),
    );
    const renewed = await h.store.renew(leases, 1000, 900);
    expect(byId(renewed)).toEqual(byId(leases).map((l) => ({ ...l, until: 1900 })));
    // The budget outlives the renewed leases, not the first ones.
    expect(await h.reclaimExpired(1000 + RESERVATION_GRACE_MS + 1)).toBe(0);
    expect(await h.reclaimExpired(1900 + RESERVATION_GRACE_MS + 1)).toBe(1);
    expect(await h.store.renew(renewed, 1000, 1900 + RESERVATION_GRACE_MS + 2)).toEqual([]);
    expect((await h.ledger('web')).used).toBe(0);
  });

  it('records an action at most once per instance per change ("duplicate")', async () => {
    const h = await make([instance('i-a1'), instance('i-a2')], [budget('web', 10)]);
    const [a1, a2] = leasesOf(await h.store.acquire(request('change-1', ['i-a1', 'i-a2'])));
    await expect(h.store.recordAction(a1, 'change-1', { wave: 3 }, NOW + 1)).resolves.toBe('recorded');
    await expect(h.store.recordAction(a1, 'change-1', { wave: 3 }, NOW + 2)).resolves.toBe('duplicate');
    await expect(h.store.recordAction(a2, 'change-1', { wave: 3 }, NOW + 3)).resolves.toBe('recorded');
    await expect(h.store.recordAction(a1, 'change-2', {}, NOW + 4)).resolves.toBe('recorded');
    // A retry after the lease moved on (released, re-acquired by the same owner) is still a duplicate.
    await h.store.release('change-1', [a1, a2]);
    const [again] = leasesOf(await h.store.acquire(request('change-1', ['i-a1'], { now: NOW + 5 })));
    await expect(h.store.recordAction(again, 'change-1', { wave: 3 }, NOW + 6)).resolves.toBe('duplicate');

    const sorted = (await h.store.actionsOf('change-1')).sort((x, y) =>
      x.instanceId < y.instanceId ? -1 : 1,
    );
    expect(sorted).toEqual([
      { instanceId: 'i-a1', wave: 3, at: NOW + 1 },
      { instanceId: 'i-a2', wave: 3, at: NOW + 3 },
    ]);
    expect(await h.store.actionsOf('change-2')).toEqual([{ instanceId: 'i-a1', wave: 0, at: NOW + 4 }]);
    expect(await h.store.actionsOf('change-3')).toEqual([]);
  });

  it('counts a retried request of the same owner once, with a new token', async () => {
    const h = await make([instance('i-a1'), instance('i-a2')], [budget('web', 2)]);
    leasesOf(await h.store.acquire(request('change-1', ['i-a1', 'i-a2'])));
    const retried = leasesOf(
      await h.store.acquire(request('change-1', ['i-a2', 'i-a1'], { now: NOW + 100 })),
    );
    expect(retried.map((l) => [l.token, l.until])).toEqual([
      [2, NOW + 100 + TTL],
      [2, NOW + 100 + TTL],
    ]);
    expect((await h.ledger('web')).used).toBe(2);
    expect(await h.store.releaseAll('change-1')).toBe(2);
    expect((await h.ledger('web')).used).toBe(0);
  });

  it('releases everything an owner holds with releaseAll, across services', async () => {
    const h = await make(
      [instance('i-a1'), instance('i-a2'), instance('i-c1', 'cache', ZONE_B), instance('i-x1')],
      [budget('web', 5), budget('cache', 5, { [ZONE_B]: 5 })],
    );
    leasesOf(await h.store.acquire(request('abort-me', ['i-a1', 'i-a2', 'i-c1'])));
    const other = leasesOf(await h.store.acquire(request('other', ['i-x1'])));
    expect((await h.ledger('web')).used).toBe(3);
    expect((await h.ledger('cache')).used).toBe(1);
    await h.leftDown('i-c1');
    expect(await h.store.releaseAll('abort-me', new Set(['i-c1']))).toBe(3);
    expect(await h.ledger('web')).toMatchObject({ used: 1, observed: 0 });
    expect(await h.ledger('cache')).toEqual({
      used: 1,
      observed: 1,
      zones: { [ZONE_B]: { used: 1, observed: 1 } },
    });
    expect(await h.store.activeLeases(NOW)).toEqual(other);
    expect(await h.store.releaseAll('abort-me')).toBe(0);
    expect(await h.store.releaseAll('nobody')).toBe(0);
  });

  it('lists the live leases of every owner in activeLeases', async () => {
    const h = await make([instance('i-a1'), instance('i-a2'), instance('i-a3')], [budget('web', 5)]);
    const short = leasesOf(await h.store.acquire(request('short', ['i-a1'], { ttlMs: 1000 })));
    const long = leasesOf(await h.store.acquire(request('long', ['i-a2', 'i-a3'])));
    expect(byId(await h.store.activeLeases(NOW))).toEqual(byId([...short, ...long]));
    expect(byId(await h.store.activeLeases(NOW + 1000))).toEqual(byId(long));
    await h.store.release('long', [long[0]]);
    expect(await h.store.activeLeases(NOW)).toEqual(expect.arrayContaining([short[0], long[1]]));
    expect(await h.store.activeLeases(NOW)).toHaveLength(2);
    expect(await h.store.activeLeases(NOW + TTL)).toEqual([]);
  });

  it('does not spend the budget of services that declared the action non-disruptive', async () => {
    const h = await make(
      [
        instance('i-a1', 'api'),
        instance('i-a2', 'api'),
        instance('i-a3', 'api', ZONE_A, { state: 'running', health: 'impaired' }),
        instance('i-w1'),
        instance('i-u1', 'unbudgeted'),
      ],
      [budget('api', 1), budget('web', 1)],
    );
    const outcome = await h.store.acquire(
      request('tagger', ['i-a1', 'i-a2', 'i-a3', 'i-w1', 'i-u1'], {
        nonDisruptiveServices: new Set(['api', 'unbudgeted']),
      }),
    );
    expect(byId(leasesOf(outcome)).map((l) => [l.instanceId, l.reserved])).toEqual([
      ['i-a1', false],
      ['i-a2', false],
      ['i-a3', false],
      ['i-u1', false],
      ['i-w1', true],
    ]);
    expect(await h.ledger('api')).toEqual({
      used: 1,
      observed: 1,
      zones: { [ZONE_A]: { used: 1, observed: 1 } },
    });
    expect((await h.ledger('web')).used).toBe(1);
    // Non-disruptive leases still exclude other owners.
    expect(await h.store.acquire(request('rebooter', ['i-a1']))).toMatchObject({
      acquired: false,
      conflicts: [{ id: 'i-a1', reason: expect.stringMatching(/^held by tagger until /) }],
    });
    expect(await h.store.releaseAll('tagger')).toBe(5);
    expect(await h.ledger('api')).toEqual({
      used: 1,
      observed: 1,
      zones: { [ZONE_A]: { used: 1, observed: 1 } },
    });
    expect((await h.ledger('web')).used).toBe(0);
  });

  describe('in-flight caps (remediation storm brakes)', () => {
    const caps = (zone: string, service = 'web') => [
      { scope: 'account', max: 2 },
      { scope: `zone:${zone}`, max: 1 },
      { scope: `service:${service}`, max: 5 },
    ];
    const four = () => [
      instance('i-a1'),
      instance('i-a2'),
      instance('i-b1', 'web', ZONE_B),
      instance('i-b2', 'web', ZONE_B),
    ];
    const budgets = [budget('web', 4, { [ZONE_A]: 2, [ZONE_B]: 2 })];
    const counts = (h: Harness, now = NOW) =>
      h.store
        .inFlight(['account', `zone:${ZONE_A}`, `zone:${ZONE_B}`, 'service:web'], now)
        .then((m) => Object.fromEntries(m));

    it('takes a slot per scope with the lease, refuses a full scope whole (naming it), and frees it on release', async () => {
      const h = await make(four(), budgets);
      const first = leasesOf(await h.store.acquire(request('case-1', ['i-a1'], { caps: caps(ZONE_A) })));
      expect(first[0].caps).toEqual(['account', `zone:${ZONE_A}`, 'service:web']);
      // Zone A is full: refused, nothing held (neither the lease nor its budget).
      expect(await h.store.acquire(request('case-2', ['i-a2'], { caps: caps(ZONE_A) }))).toEqual({
        acquired: false,
        reason: 'an in-flight cap is reached',
        conflicts: [
          {
            id: `in-flight:zone:${ZONE_A}`,
            reason: `in-flight cap: zone:${ZONE_A} has 1 of at most 1 remediations in flight`,
          },
        ],
      });
      expect(await h.store.heldBy('case-2', ['i-a2'], NOW)).toEqual([]);
      expect((await h.ledger('web')).used).toBe(1);
      // Zone B has room; then the account is full.
      leasesOf(await h.store.acquire(request('case-3', ['i-b1'], { caps: caps(ZONE_B) })));
      expect(await h.store.acquire(request('case-4', ['i-b2'], { caps: caps(ZONE_B) }))).toMatchObject({
        acquired: false,
        conflicts: expect.arrayContaining([
          {
            id: 'in-flight:account',
            reason: 'in-flight cap: account has 2 of at most 2 remediations in flight',
          },
        ]),
      });
      expect(await counts(h)).toEqual({
        account: 2,
        [`zone:${ZONE_A}`]: 1,
        [`zone:${ZONE_B}`]: 1,
        'service:web': 2,
      });
      // A retry by a holder costs no second slot.
      leasesOf(await h.store.acquire(request('case-3', ['i-b1'], { caps: caps(ZONE_B) })));
      expect((await counts(h)).account).toBe(2);
      // Released with the lease (what heldBy gives back carries the caps); twice is harmless.
      const held = await h.store.heldBy('case-1', ['i-a1'], NOW);
      expect(held[0].caps).toEqual(first[0].caps);
      await h.store.release('case-1', held);
      await h.store.release('case-1', held);
      expect(await counts(h)).toEqual({
        account: 1,
        [`zone:${ZONE_A}`]: 0,
        [`zone:${ZONE_B}`]: 1,
        'service:web': 1,
      });
      leasesOf(await h.store.acquire(request('case-2', ['i-a2'], { caps: caps(ZONE_A) })));
      expect(await h.store.releaseAll('case-3')).toBe(1);
      expect((await counts(h)).account).toBe(1);
    });

    it('never exceeds a cap when many holders ask at once', async () => {
      const fleet = Array.from({ length: 12 }, (_, k) =>
        instance(`i-c${k.toString(16)}`, 'web', k % 2 === 0 ? ZONE_A : ZONE_B),
      );
      const h = await make(fleet, [budget('web', 12, { [ZONE_A]: 6, [ZONE_B]: 6 })]);
      const limits = (zone: string) => [
        { scope: 'account', max: 3 },
        { scope: `zone:${zone}`, max: 2 },
      ];
      const outcomes = await Promise.all(
        fleet.map((i, k) => h.store.acquire(request(`case-${k}`, [i.id], { caps: limits(i.zone) }))),
      );
      const won = outcomes.flatMap((o, k) => (o.acquired ? [fleet[k]] : []));
      expect(won.length).toBeGreaterThan(0);
      expect(won.length).toBeLessThanOrEqual(3);
      for (const zone of [ZONE_A, ZONE_B])
        expect(won.filter((i) => i.zone === zone).length).toBeLessThanOrEqual(2);
      for (const o of outcomes) if (!o.acquired) expect(o.conflicts.length).toBeGreaterThan(0);
      const c = await counts(h);
      expect(c.account).toBe(won.length);
      expect(c[`zone:${ZONE_A}`] + c[`zone:${ZONE_B}`]).toBe(won.length);
    });

    it("keeps a crashed holder's slot until its lease has expired past the grace and the sweep reclaims it", async () => {
      const h = await make(four(), budgets);
      leasesOf(await h.store.acquire(request('case-1', ['i-a1'], { caps: caps(ZONE_A) })));
      // The holder crashed: never released. Its lease expires; the slot still counts (fail closed).
      const later = NOW + TTL + 1;
      expect(
        (await h.store.acquire(request('case-2', ['i-a2'], { caps: caps(ZONE_A), now: later }))).acquired,
      ).toBe(false);
      const after = NOW + TTL + RESERVATION_GRACE_MS + 1;
      await h.reclaimExpired(after);
      expect((await counts(h, after))[`zone:${ZONE_A}`]).toBe(0);
      leasesOf(await h.store.acquire(request('case-2', ['i-a2'], { caps: caps(ZONE_A), now: after })));
    });
  });
});
