/**
 * Live waves (functions/core/change/rollout/live-waves.ts) through the real lease and release
 * steps over the in-memory ledger: whatever faults and churn do to the budgets meanwhile, no
 * wave's lease ever takes more than a budget has room for, no instance is changed twice, and
 * with a quiet fleet the waves are exactly the static plan's.
 */
import fc from 'fast-check';
import { type Plan, planChange } from '../../functions/core/change/plan/planner';
import { leaseWave, type RolloutPorts, releaseWave } from '../../functions/core/change/rollout/rollout';
import type { RolloutState } from '../../functions/core/change/rollout/state';
import { type ChangeSpec, changeSpecSchema } from '../../functions/core/change/spec';
import type { Instance } from '../../functions/core/fleet/fleet';
import { ledgerObservations } from '../../functions/core/fleet/inventory';
import { type ServicesFile, serviceCatalog } from '../../functions/core/fleet/services';
import { MemoryChangeStore, MemoryLeaseStore, MemoryTrafficExits } from '../../sim/adapters';
import { VirtualClock } from '../../sim/kernel/virtual-clock';
import { SimWorld } from '../../sim/world/sim-world';

const RUNS = Number(process.env.FC_RUNS ?? 60);
const START = Date.parse('2026-03-02T10:00:00Z');
const ZONES = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'];
const SERVICES = ['web', 'api', 'cache'];
const id = (k: number) => `i-${k.toString(16).padStart(8, '0')}`;

interface Scenario {
  readonly fleet: Instance[];
  readonly services: ServicesFile;
  readonly canary: number;
  readonly factor: number;
  /**
   * Per wave: instances that fail (impaired) before the wave is leased, and are back after it: an
   * instance of the wave itself is skipped (and revisited at the end), any other takes budget.
   */
  readonly faults: ReadonlyArray<readonly number[]>;
  /** Instances (by index) launched after planning: the plan never saw them. */
  readonly late: readonly number[];
  /** Instances (by index) impaired while the change is planned, and back right after. */
  readonly downAtPlanning?: readonly number[];
}

const scenarioArb = (quiet: boolean): fc.Arbitrary<Scenario> =>
  fc
    .record({
      size: fc.integer({ min: 1, max: 60 }),
      placement: fc.array(fc.tuple(fc.nat(SERVICES.length - 1), fc.nat(ZONES.length - 1)), {
        minLength: 60,
        maxLength: 60,
      }),
      budgets: fc.tuple(
        ...SERVICES.map(() =>
          fc.record({
            max: fc.integer({ min: 1, max: 8 }),
            perZone: fc.option(fc.integer({ min: 1, max: 4 })),
          }),
        ),
      ),
      canary: fc.integer({ min: 1, max: 3 }),
      factor: fc.constantFrom(1.5, 2, 3),
      faults: fc.array(fc.array(fc.nat(200), { maxLength: quiet ? 0 : 6 }), { maxLength: 40 }),
      late: fc.array(fc.nat(59), { maxLength: quiet ? 0 : 6 }),
    })
    .map((r) => ({
      fleet: Array.from({ length: r.size }, (_, k) => ({
        id: id(k + 1),
        service: SERVICES[r.placement[k][0]],
        zone: ZONES[r.placement[k][1]],
        state: 'running' as const,
        health: 'ok' as const,
        tags: {},
      })),
      services: {
        services: Object.fromEntries(
          SERVICES.map((s, k) => [
            s,
            {
              maxUnavailable: { kind: 'count' as const, value: r.budgets[k].max },
              ...(r.budgets[k].perZone
                ? { maxUnavailablePerZone: { kind: 'count' as const, value: r.budgets[k].perZone } }
                : {}),
              impact: { 'set-tag': 'disruptive' as const },
            },
          ]),
        ),
      },
      canary: r.canary,
      factor: r.factor,
      faults: r.faults,
      late: r.late.filter((k) => k < r.size),
    }));

function specOf(s: Scenario): ChangeSpec {
  return changeSpecSchema.parse({
    id: 'live',
    description: 'tags every web, api and cache instance',
    target: { services: SERVICES },
    action: { type: 'set-tag', tags: { patched: 'yes' } },
    risk: 'low',
    strategy: { canary: s.canary, growth: { mode: 'exponential', factor: s.factor }, bakeMinutes: 0 },
  });
}

/** Runs the change's waves through the real lease and release steps, with the scenario's events between them. */
async function run(s: Scenario) {
  const clock = new VirtualClock(START);
  let now = START;
  const world = new SimWorld(clock, s.fleet, () => {});
  const catalog = serviceCatalog(s.services);
  const leases = new MemoryLeaseStore(world, ledgerObservations(world.instances, catalog, new Set()));
  const changes = new MemoryChangeStore();
  const spec = specOf(s);
  const late = new Set(s.late.map((k) => s.fleet[k].id));
  const down = (s.downAtPlanning ?? []).map((k) => world.injectFault(s.fleet[k].id, () => 0.5));
  const plan = planChange({ instances: world.instances.filter((i) => !late.has(i.id)), catalog, spec });
  for (const f of down) if (f) world.personRepairs(f);
  await changes.save(spec, plan, 'test', clock.now());
  const ports = {
    changes,
    leases,
    fleet: {
      audit: async () => {},
      listFreezes: async () => [],
      getServices: async () => s.services,
      listInstances: async () => [...world.instances],
      getInstances: async (ids: readonly string[]) =>
        ids.map((i) => world.slot(i)?.instance).filter((i): i is Instance => i !== undefined),
    },
    ec2: {
      conditions: async (ids: readonly string[]) =>
        new Map(ids.map((i) => [i, { state: world.slot(i)?.instance.state ?? 'terminated', health: 'ok' }])),
    },
    exits: new MemoryTrafficExits(),
    notify: { publish: async () => {} },
    now: () => now,
    actor: 'test',
  } as unknown as RolloutPorts;

  const changed = new Map<string, number>();
  const leasedWaves: string[][] = [];
  const overBudget: string[] = [];
  let state: RolloutState = {
    changeId: 'live',
    wave: 0,
    waves: plan.waves.length,
    bakeSeconds: 0,
    rollbackOf: '',
  };
  const dice = () => 0.5;
  let gaveUp: string | undefined;
  const injected = new Set<number>();
  for (let step = 0; step < 400 && state.wave < state.waves; step++) {
    const n = leasedWaves.length;
    const pick = (k: number) => s.fleet[k % s.fleet.length].id;
    // Each wave's faults strike once, before its first lease attempt.
    const faults = (injected.has(n) ? [] : (s.faults[n] ?? []))
      .map(pick)
      .filter((i) => !changed.has(i))
      .map((i) => world.injectFault(i, dice))
      .filter((f) => f !== undefined);
    injected.add(n);
    const heal = () => {
      for (const f of faults) world.personRepairs(f);
    };

    // The room before the lease is what the wave may take, per service and zone.
    const before = await leases.room(SERVICES, ZONES);
    const lease = await leaseWave(ports, state, 0);
    if (!lease.acquired) {
      heal();
      if (lease.giveUp) {
        gaveUp = lease.reason;
        break;
      }
      now += 60_000;
      continue;
    }
    const current = (await changes.loadPlan('live')).waves[state.wave];
    const skipped = new Set(
      (await changes.waveRecords('live', state.wave))
        .filter((r) => r.part.startsWith('skipped#'))
        .flatMap((r) => (r.body.instances as Array<{ id: string }>).map((x) => x.id)),
    );
    const members = current.instances.filter((i) => !skipped.has(i));
    const count = new Map<string, number>();
    for (const m of members) {
      const i = world.slot(m)!.instance;
      for (const key of [i.service, `${i.service}@${i.zone}`]) count.set(key, (count.get(key) ?? 0) + 1);
      changed.set(m, (changed.get(m) ?? 0) + 1);
    }
    for (const [key, n] of count) {
      const [service, zone] = key.split('@');
      const room = zone ? before.get(service)!.zones.get(zone)! : before.get(service)!.overall;
      if (n > room) overBudget.push(`wave ${state.wave}: ${key} took ${n}, room ${room}`);
    }
    leasedWaves.push(members);
    // As the apply step does: the action recorded, fenced, once per instance.
    for (const l of await leases.heldBy('live', members, now)) await leases.recordAction(l, 'live', {}, now);
    heal();
    const released = await releaseWave(ports, state, { final: true });
    state = released.state;
    now += 60_000;
  }
  const skipped = new Set(
    (await changes.waveRecords('live'))
      .filter((r) => r.part.startsWith('skipped#'))
      .flatMap((r) => (r.body.instances as Array<{ id: string }>).map((x) => x.id)),
  );
  return {
    plan,
    changed,
    leasedWaves,
    overBudget,
    finalPlan: await changes.loadPlan('live'),
    state,
    world,
    gaveUp,
    skipped,
  };
}

describe('live waves through the real lease and release steps', () => {
  it('never take more than a budget has room for, and never change an instance twice, under faults and late launches', async () => {
    let revised = 0;
    let joined = 0;
    await fc.assert(
      fc.asyncProperty(scenarioArb(false), async (s) => {
        const r = await run(s);
        // A plan with no wave does not start (the CLI refuses it): nothing to check.
        if (r.plan.waves.length === 0) return;
        if ((r.finalPlan.revision ?? 0) > 0) revised++;
        if (r.finalPlan.waves.some((w) => w.joiners)) joined++;
        expect(r.overBudget).toEqual([]);
        expect([...r.changed.values()].filter((n) => n > 1)).toEqual([]);
        // The change got through its (revised) plan: every wave leased, none left (faults and stops
        // heal after each wave, so the budgets always free again).
        expect(r.gaveUp).toBeUndefined();
        expect(r.state.wave).toBe(r.finalPlan.waves.length);
        // Every instance got the change once, or is recorded as skipped with why (down at its
        // wave, and again at each of the final rounds: they are bounded).
        for (const i of r.world.instances)
          expect([i.id, r.changed.get(i.id) ?? (r.skipped.has(i.id) ? 'skipped' : 'neither')]).toEqual([
            i.id,
            r.skipped.has(i.id) && !r.changed.has(i.id) ? 'skipped' : 1,
          ]);
      }),
      { numRuns: RUNS },
    );
    // The runs did exercise revisions and final waves (not only quiet fleets).
    expect(revised).toBeGreaterThan(RUNS / 10);
    expect(joined).toBeGreaterThan(RUNS / 10);
  });

  it('with a quiet fleet, follow the static plan exactly: the same waves, no revision', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb(true), async (s) => {
        const r = await run(s);
        expect(r.leasedWaves).toEqual(r.plan.waves.map((w) => [...w.instances]));
        expect(r.finalPlan.revision ?? 0).toBe(0);
      }),
      { numRuns: RUNS },
    );
  });

  it('give a launched instance of the target a final wave, and an instance down at planning one once it is back', async () => {
    const base: Scenario = {
      fleet: [
        ...Array.from({ length: 6 }, (_, k) => ({
          id: id(k + 1),
          service: 'web',
          zone: ZONES[k % 3],
          state: 'running' as const,
          health: 'ok' as const,
          tags: {},
        })),
      ],
      services: {
        services: {
          web: { maxUnavailable: { kind: 'count', value: 2 }, impact: { 'set-tag': 'disruptive' } },
        },
      },
      canary: 1,
      factor: 2,
      faults: [],
      late: [5],
    };
    // The instance is impaired just as its own wave is leased, and is back after it.
    const quiet = await run(base);
    const waveOf5 = quiet.plan.waves.findIndex((w) => w.instances.includes(id(5)));
    const r = await run({
      ...base,
      faults: Array.from({ length: waveOf5 + 1 }, (_, k) => (k === waveOf5 ? [4] : [])),
    });
    const plan: Plan = r.finalPlan;
    expect(r.plan.waves.flatMap((w) => w.instances)).not.toContain(id(6));
    // Launched after planning: changed in a final wave; impaired at its wave: revisited once back.
    expect(r.changed.get(id(6))).toBe(1);
    expect(r.changed.get(id(5))).toBe(1);
    expect(plan.revisions?.at(-1)).toMatchObject({ lateCount: 1, revisitCount: 1 });
    expect(plan.waves.at(-1)?.joiners).toBeDefined();
  });
});

describe('postponing to the final waves what a passing fault leaves without room', () => {
  // One zone of web (budget 2: waves of 1, 2, then 2 each, the last one full), so web sets the
  // zone's number of waves and an instance short costs it a wave.
  const base: Scenario = {
    fleet: Array.from({ length: 15 }, (_, k) => ({
      id: id(k + 1),
      service: 'web',
      zone: ZONES[0],
      state: 'running' as const,
      health: 'ok' as const,
      tags: {},
    })),
    services: {
      services: { web: { maxUnavailable: { kind: 'count', value: 2 }, impact: { 'set-tag': 'disruptive' } } },
    },
    canary: 1,
    factor: 2,
    faults: [],
    late: [],
  };
  const webOf = (r: Awaited<ReturnType<typeof run>>) => r.finalPlan.waves.filter((w) => !w.joiners);

  it('a fault during one wave: its deferred instance goes to a final wave, and the zone keeps its planned waves', async () => {
    const quiet = await run(base);
    const planned = quiet.plan.waves.length;
    // During wave 3 an instance of the last wave fails (taking one of web's 2), and is back after it.
    const lastOne = quiet.plan.waves.at(-1)!.instances.at(-1)!;
    const k = Number.parseInt(lastOne.slice(2), 16) - 1;
    const r = await run({ ...base, faults: [[], [], [], [k]] });
    expect(r.overBudget).toEqual([]);
    expect(webOf(r)).toHaveLength(planned);
    expect(r.finalPlan.postponed).toHaveLength(1);
    const [postponed] = r.finalPlan.postponed!;
    expect(postponed).toMatchObject({ zone: ZONES[0], wave: 3 });
    expect(postponed.reason).toMatch(/^postponed to the final waves: no room in eu-west-1a's planned waves/);
    // Changed once, in the final wave; every instance changed once.
    expect(r.finalPlan.waves.at(-1)).toMatchObject({ joiners: 'revisit', instances: [postponed.id] });
    expect(r.finalPlan.revisions?.find((v) => v.postponedCount)).toMatchObject({ postponedCount: 1 });
    expect([...r.changed.values()]).toEqual(base.fleet.map(() => 1));
    expect(r.changed.size).toBe(base.fleet.length);
  });

  it("a budget short at every wave: postpones at most half the last wave's cap, then the zone gets more waves", async () => {
    const quiet = await run(base);
    const planned = quiet.plan.waves.length;
    const lastCap = (() => {
      const w = quiet.plan.waves.at(-1)!;
      return Math.max(w.cap ?? w.size, w.limit);
    })();
    // From wave 2 on, before each wave, an instance not yet changed fails (and is back after it).
    const r = await run({
      ...base,
      faults: Array.from({ length: 30 }, (_, n) => (n < 2 ? [] : [15 - (n % 8)])),
    });
    expect(r.overBudget).toEqual([]);
    expect(r.finalPlan.postponed?.length).toBe(Math.floor(lastCap / 2));
    expect(webOf(r).length).toBeGreaterThan(planned);
    for (const i of r.world.instances)
      expect(r.changed.get(i.id) ?? (r.skipped.has(i.id) ? 0 : -1)).toBeLessThanOrEqual(1);
    expect(r.gaveUp).toBeUndefined();
  });
});

describe('instances skipped at planning for a spent budget', () => {
  it("join their zone's waves at its first wave (not one by one in final waves), each wave within the budget", async () => {
    // Web in two zones (3 and 2), budget 1 per zone: with one impaired in each zone at planning,
    // the plan skips every other web instance of the zone; they are back before the change starts.
    // The zones' waves (of api, two at a time: its budget) hold them, at most one web a wave.
    const fleet = Array.from({ length: 20 }, (_, k) => ({
      id: id(k + 1),
      service: k % 4 === 0 ? 'web' : 'api',
      zone: ZONES[k < 10 ? 0 : 1],
      state: 'running' as const,
      health: 'ok' as const,
      tags: {},
    }));
    const s: Scenario = {
      fleet,
      services: {
        services: {
          web: {
            maxUnavailable: { kind: 'count', value: 2 },
            maxUnavailablePerZone: { kind: 'count', value: 1 },
            impact: { 'set-tag': 'disruptive' },
          },
          api: { maxUnavailable: { kind: 'count', value: 2 }, impact: { 'set-tag': 'disruptive' } },
        },
      },
      canary: 1,
      factor: 2,
      faults: [],
      late: [],
      downAtPlanning: [0, 12],
    };
    const r = await run(s);
    const web = fleet.filter((i) => i.service === 'web').map((i) => i.id);
    const skippedAtPlanning = r.plan.skipped.filter((x) => x.reason.includes('exhausted')).map((x) => x.id);
    expect(skippedAtPlanning.sort()).toEqual(web.filter((i) => i !== id(1) && i !== id(13)).sort());
    expect(r.overBudget).toEqual([]);
    // Every instance changed once; the skipped ones in their zone's waves, none in a final wave.
    expect(r.changed.size).toBe(fleet.length);
    expect([...r.changed.values()].every((n) => n === 1)).toBe(true);
    const adoptions = (r.finalPlan.revisions ?? []).filter((v) => v.adoptedCount);
    expect(adoptions.map((v) => v.adoptedCount)).toEqual([2, 1]);
    expect(adoptions[0].reason).toBe(
      'zone eu-west-1a: skipped at planning for a spent budget, back in its waves: 2 join its waves',
    );
    const finals = r.finalPlan.waves.filter((w) => w.joiners);
    for (const x of skippedAtPlanning) expect(finals.flatMap((w) => w.instances)).not.toContain(x);
    // Within each zone's waves: at most one web a wave (its per-zone budget).
    for (const w of r.finalPlan.waves) expect(w.services.web ?? 0).toBeLessThanOrEqual(1);
  });
});
