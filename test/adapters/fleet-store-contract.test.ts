import type { RolloutPorts } from '../../functions/core/change/rollout/rollout';
import type { Finding } from '../../functions/core/events/findings';
import type { Instance } from '../../functions/core/fleet/fleet';
import type { ServicesFile } from '../../functions/core/fleet/services';
import type { AuditRecord, Freeze } from '../../functions/core/ports/index';
import type { RemediationPorts } from '../../functions/core/remediation/remediate';
import { populationOf } from '../../functions/core/remediation/scope-health';
import type { TriagePorts } from '../../functions/core/remediation/triage';
import { MemoryFleetStore } from '../../sim/adapters';
import { VirtualClock } from '../../sim/kernel/virtual-clock';
import { SimWorld } from '../../sim/world/sim-world';
import { freshTable } from '../support/aws';

/**
 * The fleet store contract: what the rollout, remediation and intake read and write of the fleet
 * (instances, services, freezes, findings recorded, settled and closed, the audit trail), run
 * unchanged against the DynamoDB store (moto) and the simulation's in-memory one. Each harness
 * seeds the fleet its own way, and reads the audit trail its own way.
 */

type Store = RolloutPorts['fleet'] &
  RemediationPorts['fleet'] &
  TriagePorts['fleet'] & {
    recordFindings(findings: readonly Finding[], now: number): Promise<Finding[]>;
    unsettledFindings(recordedBefore: number): Promise<Finding[]>;
  };

interface Harness {
  readonly store: Store;
  /** How many audit records of each action were written about these subjects. */
  audited(subjects: readonly string[]): Promise<Map<string, number>>;
  /** An inventory sweep, observed at `at`, that finds the seed's instances unchanged. */
  sweep(at: number): Promise<void>;
}

interface Seed {
  readonly instances: readonly Instance[];
  readonly services: ServicesFile;
  readonly freezes: ReadonlyArray<Omit<Freeze, 'id'>>;
}

type Make = (seed: Seed) => Promise<Harness>;

const makeDynamo: Make = async (seed) => {
  const stores = await freshTable();
  await stores.fleet.putInstances(seed.instances, 1);
  // The sweep's part of the breaker's counts (the memory store counts the world itself).
  await stores.fleet.putPopulation(populationOf(seed.instances));
  await stores.fleet.putServices(seed.services, 'test', 1);
  for (const f of seed.freezes) await stores.fleet.putFreeze(f);
  return {
    store: stores.fleet,
    // A sweep of the unchanged seed: it writes no instance (nothing changed), only the counts.
    sweep: async () => {
      await stores.fleet.putPopulation(populationOf(seed.instances));
    },
    audited: async (subjects) => {
      const counts = new Map<string, number>();
      for (const subject of subjects)
        for (const r of await stores.fleet.auditOf(subject))
          counts.set(r.action, (counts.get(r.action) ?? 0) + 1);
      return counts;
    },
  };
};

const makeMemory: Make = async (seed) => {
  const world = new SimWorld(new VirtualClock(0), seed.instances, () => {});
  const store = new MemoryFleetStore(
    world,
    seed.services,
    seed.freezes.map((f, i) => ({ id: `frz-${i}`, ...f })),
  );
  store.sweepHealth(1);
  return {
    store,
    sweep: async (at) => store.sweepHealth(at),
    audited: async () => new Map(store.audited),
  };
};

const instance = (id: string, service = 'web', zone = 'me-south-1a'): Instance => ({
  id,
  service,
  zone,
  state: 'running',
  health: 'ok',
  tags: {},
});

const SEED: Seed = {
  instances: [
    instance('i-0aaaaaaaaaaaaaaa1'),
    instance('i-0aaaaaaaaaaaaaaa2', 'api', 'me-south-1b'),
    instance('i-0aaaaaaaaaaaaaaa3'),
  ],
  services: {
    services: {
      web: { maxUnavailable: { kind: 'percent', value: 10 }, impact: {} },
      api: {
        maxUnavailable: { kind: 'count', value: 1 },
        maxUnavailablePerZone: { kind: 'count', value: 1 },
        impact: {},
      },
    },
  },
  freezes: [
    {
      scope: 'account',
      start: '2026-12-24T00:00:00.000Z',
      end: '2026-12-27T00:00:00.000Z',
      reason: 'holidays',
      createdBy: 'ops',
    },
  ],
};

const finding = (instanceId: string, key: string): Finding => ({
  instanceId,
  kind: 'system-status-check-failed',
  key,
  detail: 'system status check impaired',
  source: 'inventory-sync',
});

const keysOf = (fs: readonly Finding[]) => fs.map((f) => `${f.instanceId}|${f.key}`).sort();

describe.each<[string, Make]>([
  ['dynamodb', makeDynamo],
  ['memory', makeMemory],
])('fleet store contract (%s)', (_name, make) => {
  let h: Harness;
  beforeEach(async () => {
    h = await make(SEED);
  });

  it('reads the fleet, the declared services and the freezes', async () => {
    const byId = (xs: Instance[]) => [...xs].sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(byId(await h.store.listInstances())).toEqual(byId([...SEED.instances]));
    expect(await h.store.getServices()).toEqual(SEED.services);
    expect((await h.store.listFreezes()).map(({ id: _, ...f }) => f)).toEqual(SEED.freezes);
  });

  it('records each finding once, in a batch or one at a time, and says whether its intake finished', async () => {
    const a = finding('i-1', 'since-1');
    const b = finding('i-2', 'since-1');
    expect(keysOf(await h.store.recordFindings([a, b, a], 100))).toEqual(keysOf([a, b]));
    expect(await h.store.recordFindings([a, b], 200)).toEqual([]);
    expect(await h.store.recordFinding(a, 300)).toBe('unsettled');
    const c = finding('i-3', 'since-2');
    expect(await h.store.recordFinding(c, 400)).toBe('new');
    expect(await h.store.recordFinding(c, 500)).toBe('unsettled');
    await h.store.settleFinding(c, 'case-c', 600);
    expect(await h.store.recordFinding(c, 700)).toBe('settled');
    // The same instance and kind with another occurrence key is another finding.
    expect(await h.store.recordFinding(finding('i-3', 'since-3'), 800)).toBe('new');
  });

  it('lists unsettled findings recorded before a time until they settle', async () => {
    const a = finding('i-1', 'since-1');
    const b = finding('i-2', 'since-1');
    const c = finding('i-3', 'since-1');
    await h.store.recordFindings([a], 100);
    await h.store.recordFindings([b], 200);
    await h.store.recordFinding(c, 300);
    expect(keysOf(await h.store.unsettledFindings(200))).toEqual(keysOf([a]));
    expect(keysOf(await h.store.unsettledFindings(301))).toEqual(keysOf([a, b, c]));
    await h.store.settleFinding(b, 'case-b', 400);
    // Settling twice, or a finding never recorded here, is harmless.
    await h.store.settleFinding(b, 'case-b', 401);
    await h.store.settleFinding(finding('i-9', 'never'), 'case-x', 402);
    expect(keysOf(await h.store.unsettledFindings(1000))).toEqual(keysOf([a, c]));
    expect(await h.store.unsettledFindings(100)).toEqual([]);
  });

  it('keeps findings open, settled or not, until they are closed', async () => {
    const a = finding('i-1', 'since-1');
    const b = finding('i-2', 'since-1');
    await h.store.recordFindings([a, b], 100);
    await h.store.settleFinding(a, 'case-a', 200);
    const open = await h.store.openFindings();
    expect(keysOf(open)).toEqual(keysOf([a, b]));
    expect(open.map((f) => f.createdAt)).toEqual([100, 100]);
    expect(open.find((f) => f.instanceId === 'i-1')).toEqual({ ...a, createdAt: 100 });
    await h.store.closeFinding(a, 'recovered', 300);
    await h.store.closeFinding(a, 'recovered', 301);
    await h.store.closeFinding(finding('i-9', 'never'), 'recorded', 302);
    expect(keysOf(await h.store.openFindings())).toEqual(keysOf([b]));
    // Closed before its intake finished: still unsettled, so the sweep takes it up.
    await h.store.closeFinding(b, 'drained', 400);
    expect(await h.store.openFindings()).toEqual([]);
    expect(keysOf(await h.store.unsettledFindings(1000))).toEqual(keysOf([b]));
    expect(await h.store.recordFinding(a, 500)).toBe('settled');
  });

  it('keeps every audit record', async () => {
    const record = (subject: string, action: string, at: string): AuditRecord => ({
      subject,
      actor: 'test',
      action,
      reason: `${action} for ${subject}`,
      at,
    });
    await h.store.audit([
      record('change:c-1', 'lease.acquired', '2026-08-01T00:00:00.000Z'),
      record('change:c-1', 'lease.acquired', '2026-08-01T00:00:00.000Z'),
      record('instance:i-1', 'wave.skipped', '2026-08-01T00:00:01.000Z'),
    ]);
    await h.store.audit([record('change:c-1', 'freeze.override', '2026-08-02T00:00:00.000Z')]);
    await h.store.audit([]);
    expect(await h.audited(['change:c-1', 'instance:i-1'])).toEqual(
      new Map([
        ['lease.acquired', 2],
        ['wave.skipped', 1],
        ['freeze.override', 1],
      ]),
    );
  });
  describe('the breaker counts (scopeHealth)', () => {
    const web = { zone: 'me-south-1a', service: 'web' };
    const flagged = async (target = web) => (await h.store.scopeHealth(target)).map((c) => c.flagged);

    it('starts from the population, nothing flagged', async () => {
      expect(await h.store.scopeHealth(web)).toEqual([
        { scope: 'account', members: 3, unavailable: 0, flagged: 0 },
        { scope: 'zone:me-south-1a', members: 2, unavailable: 0, flagged: 0 },
        { scope: 'service:web', members: 2, unavailable: 0, flagged: 0 },
      ]);
    });

    it("says when the sweep last wrote an instance's record: a sweep that sees no change writes none", async () => {
      await h.sweep(300_000);
      expect(await h.store.recordWrittenAt('i-0aaaaaaaaaaaaaaa1')).toBe(1);
      expect(await h.store.recordWrittenAt('i-0ffffffffffffffff')).toBeUndefined();
    });

    it('counts a health finding once in each of its scopes, and down once when it closes', async () => {
      await h.store.recordFindings(
        [finding('i-0aaaaaaaaaaaaaaa1', 'k1'), finding('i-0aaaaaaaaaaaaaaa2', 'k2')],
        10,
      );
      // A replay records nothing new and counts nothing twice.
      await h.store.recordFindings([finding('i-0aaaaaaaaaaaaaaa1', 'k1')], 11);
      expect(await h.store.recordFinding(finding('i-0aaaaaaaaaaaaaaa1', 'k1'), 12)).not.toBe('new');
      expect(await flagged()).toEqual([2, 1, 1]);
      expect(await flagged({ zone: 'me-south-1b', service: 'api' })).toEqual([2, 1, 1]);

      await h.store.closeFinding(finding('i-0aaaaaaaaaaaaaaa1', 'k1'), 'recovered', 20);
      await h.store.closeFinding(finding('i-0aaaaaaaaaaaaaaa1', 'k1'), 'recovered', 21);
      expect(await flagged()).toEqual([1, 0, 0]);
      // A finding never recorded closes nothing.
      await h.store.closeFinding(finding('i-0aaaaaaaaaaaaaaa3', 'never'), 'recovered', 22);
      expect(await flagged()).toEqual([1, 0, 0]);
    });

    it('leaves scheduled events and rebalance recommendations out: maintenance is not an outage', async () => {
      await h.store.recordFindings(
        [
          {
            ...finding('i-0aaaaaaaaaaaaaaa1', 'r1'),
            kind: 'scheduled-retirement',
            deadline: '2027-01-01T00:00:00.000Z',
          },
          { ...finding('i-0aaaaaaaaaaaaaaa3', 'b1'), kind: 'rebalance-recommendation' },
        ],
        10,
      );
      expect(await flagged()).toEqual([0, 0, 0]);
    });

    it('counts findings recorded at once exactly (concurrent intakes)', async () => {
      await Promise.all(
        Array.from({ length: 12 }, (_, k) =>
          h.store.recordFinding(finding(`i-0aaaaaaaaaaaaaaa${1 + (k % 2) * 2}`, `c${k}`), 30 + k),
        ),
      );
      expect(await flagged()).toEqual([12, 12, 12]);
    });
  });
});
