import type { Instance } from '../../functions/core/fleet/fleet';
import { ledgerObservations } from '../../functions/core/fleet/inventory';
import { serviceCatalog } from '../../functions/core/fleet/services';
import { MemoryLeaseStore } from '../../sim/adapters';
import { VirtualClock } from '../../sim/kernel/virtual-clock';
import { SimWorld } from '../../sim/world/sim-world';

const NOW = Date.parse('2026-01-05T00:00:00Z');
const id = (k: number) => `i-${String(k).padStart(8, '0')}`;

/** Five web instances in one zone, budget 2; the first one impaired. */
function setup() {
  const instances: Instance[] = Array.from({ length: 5 }, (_, k) => ({
    id: id(k),
    service: 'web',
    zone: 'us-east-1a',
    state: 'running',
    health: k === 0 ? 'impaired' : 'ok',
    tags: {},
  }));
  const clock = new VirtualClock(NOW);
  const world = new SimWorld(clock, instances, () => {});
  const catalog = serviceCatalog({
    services: { web: { maxUnavailable: { kind: 'count', value: 2 }, impact: {} } },
  });
  const store = new MemoryLeaseStore(world, ledgerObservations(world.instances, catalog, new Set()));
  const request = (owner: string, ids: string[]) => ({
    owner,
    instanceIds: ids,
    nonDisruptiveServices: new Set<string>(),
    ttlMs: 60_000,
    now: NOW,
  });
  return { clock, world, store, request };
}

describe('MemoryLeaseStore', () => {
  it('counts an unavailable instance once: leasing it costs no budget, and one more fits', async () => {
    const { store, request } = setup();

    // The impaired instance already uses 1 of 2; leasing it moves it into the reservation.
    const repair = await store.acquire(request('case-1', [id(0)]));
    const change = await store.acquire(request('change', [id(1)]));
    const over = await store.acquire(request('change-2', [id(2)]));

    expect(repair.acquired).toBe(true);
    expect(change.acquired).toBe(true);
    expect(over).toMatchObject({
      acquired: false,
      reason: 'a disruption budget has no room',
      conflicts: [{ id: 'web', reason: 'budget:web exhausted: 2 of 2 in use, 1 requested' }],
    });
    expect(store.ledger('web')).toEqual({ used: 2, capacity: 2 });
  });

  it('refuses an instance another owner holds, all or nothing, and says who holds it', async () => {
    const { store, request } = setup();
    await store.acquire(request('case-1', [id(1)]));

    const outcome = await store.acquire(request('change', [id(1), id(2)]));

    expect(outcome.acquired).toBe(false);
    if (!outcome.acquired) expect(outcome.conflicts[0].reason).toMatch(/^held by case-1 until /);
    expect(await store.heldBy('change', [id(2)], NOW)).toEqual([]);
  });

  it('fences a stale holder and records an action at most once per instance and change', async () => {
    const { store, request } = setup();
    const first = await store.acquire(request('change', [id(1)]));
    if (!first.acquired) throw new Error('expected the lease');
    const [lease] = first.leases;

    expect(await store.recordAction(lease, 'change', { wave: 0 }, NOW)).toBe('recorded');
    expect(await store.recordAction(lease, 'change', { wave: 0 }, NOW)).toBe('duplicate');
    await store.release('change', [lease]);
    const taken = await store.acquire(request('case-1', [id(1)]));
    expect(taken.acquired && taken.leases[0].token).toBe(lease.token + 1);
    expect(await store.recordAction(lease, 'change-2', {}, NOW)).toBe('fenced');
    expect(await store.actionsOf('change')).toEqual([{ instanceId: id(1), wave: 0, at: NOW }]);
  });

  it('returns the budget on release, and keeps counting an instance that is still down', async () => {
    const { clock, world, store, request } = setup();
    const held = await store.acquire(request('change', [id(1)]));
    if (!held.acquired) throw new Error('expected the lease');
    world.stop(id(1));
    await clock.run();

    await store.release('change', held.leases, new Set([id(1)]));

    // Still stopped: it counts as observed, next to the impaired one.
    expect(store.ledger('web')).toEqual({ used: 2, capacity: 2 });
    world.start(id(1), 'person');
    await clock.run();
    expect(store.ledger('web')).toEqual({ used: 1, capacity: 2 });
  });
});
