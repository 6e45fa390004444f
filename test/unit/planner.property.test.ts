import fc from 'fast-check';
import { waveLowerBound } from '../../functions/core/change/plan/lower-bound';
import { planViolations } from '../../functions/core/change/plan/plan-check';
import { type Plan, planChange, RISK_CONTAINMENT } from '../../functions/core/change/plan/planner';
import type { ChangeSpec } from '../../functions/core/change/spec';
import type { Instance } from '../../functions/core/fleet/fleet';
import { CONSERVATIVE_DEFAULT, type ServicesFile, serviceCatalog } from '../../functions/core/fleet/services';
import type { Quantity } from '../../functions/core/safety/quantity';
import { fleetArb, servicesArb, shuffled, specArb } from '../support/arbitraries';

const RUNS = Number(process.env.FC_RUNS ?? 300);

// Some instances are held by other changes' or remediations' leases.
const scenarioArb = fc
  .tuple(fleetArb, servicesArb)
  .chain(([fleet, services]) =>
    fc.tuple(
      fc.constant(fleet),
      fc.constant(services),
      specArb(fleet),
      fc.subarray(
        fleet.map((i) => i.id),
        { maxLength: Math.min(8, fleet.length) },
      ),
    ),
  )
  .map(
    ([fleet, services, spec, heldIds]) =>
      [fleet, services, spec, new Map(heldIds.map((id) => [id, 'other-change']))] as const,
  );

function plan(
  fleet: readonly Instance[],
  services: ServicesFile,
  spec: ChangeSpec,
  held: ReadonlyMap<string, string> = new Map(),
): Plan {
  return planChange({ instances: fleet, catalog: serviceCatalog(services), spec, held });
}

// An oracle written apart from the planner's budget code: what each service may lose at once.
function oracleHeadroom(
  fleet: readonly Instance[],
  services: ServicesFile,
  spec: ChangeSpec,
  held: ReadonlyMap<string, string>,
) {
  const resolve = (q: Quantity, n: number) =>
    q.kind === 'count' ? q.value : Math.floor((q.value * n) / 100 + 1e-9);
  const live = fleet.filter((i) => i.state !== 'terminated');
  const down = (i: Instance) => i.state !== 'running' || i.health === 'impaired' || held.has(i.id);
  return (service: string, zone?: string): number => {
    const policy = services.services[service] ?? services.defaults ?? CONSERVATIVE_DEFAULT;
    if ((policy.impact[spec.action.type] ?? 'disruptive') === 'non-disruptive')
      return Number.POSITIVE_INFINITY;
    const all = live.filter((i) => i.service === service);
    const overall = resolve(policy.maxUnavailable, all.length) - all.filter(down).length;
    if (zone === undefined) return overall;
    const inZone = all.filter((i) => i.zone === zone);
    const perZone = policy.maxUnavailablePerZone
      ? resolve(policy.maxUnavailablePerZone, inZone.length) - inZone.filter(down).length
      : Number.POSITIVE_INFINITY;
    return Math.min(overall, perZone);
  };
}

function targetedIds(fleet: readonly Instance[], spec: ChangeSpec): Set<string> {
  const { services, tags, instanceIds } = spec.target;
  const ids = new Set<string>();
  for (const i of fleet) {
    if (i.state === 'terminated') continue;
    if (services && !services.includes(i.service)) continue;
    if (instanceIds && !instanceIds.includes(i.id)) continue;
    if (tags && Object.entries(tags).some(([k, v]) => i.tags[k] !== v)) continue;
    ids.add(i.id);
  }
  for (const id of instanceIds ?? []) if (!fleet.some((i) => i.id === id)) ids.add(id);
  return ids;
}

describe('planner properties (random fleets, budgets and specs)', () => {
  it('keeps every rule: partition, canary, zones, budgets, containment', () => {
    fc.assert(
      fc.property(scenarioArb, ([fleet, services, spec, held]) => {
        const result = plan(fleet, services, spec, held);
        const byId = new Map(fleet.map((i) => [i.id, i]));
        const room = oracleHeadroom(fleet, services, spec, held);

        // The independent checker agrees.
        expect(
          planViolations(result, { instances: fleet, catalog: serviceCatalog(services), spec, held }),
        ).toEqual([]);

        // Partition: planned ∪ skipped = targeted, each exactly once.
        const planned = result.waves.flatMap((w) => w.instances);
        const skipped = result.skipped.map((s) => s.id);
        expect(new Set(planned).size).toBe(planned.length);
        expect([...planned, ...skipped].sort()).toEqual([...targetedIds(fleet, spec)].sort());
        for (const s of result.skipped)
          expect(s.reason).toMatch(/^(not running|impaired|budget:|not in the fleet|held by)/);

        // A skipped instance that could have been changed must be out of budget.
        for (const s of result.skipped) {
          const i = byId.get(s.id);
          if (i && i.state === 'running' && i.health !== 'impaired' && !held.has(i.id)) {
            expect(room(i.service, i.zone)).toBeLessThanOrEqual(0);
          }
        }

        const zonesVisited: string[] = [];
        result.waves.forEach((wave, index) => {
          const members = wave.instances.map((id) => byId.get(id)!);
          const zones = new Set(members.map((i) => i.zone));
          expect(zones.size).toBeGreaterThan(0);
          expect(zones.size).toBeLessThanOrEqual(index === 0 ? 1 : spec.strategy.zoneConcurrency);
          expect(wave.bindingConstraint).toMatch(
            /^(canary|growth|max-wave-size|risk|remaining|budget:[\w-]+(@[\w-]+)?)$/,
          );

          const count = new Map<string, number>();
          const countZone = new Map<string, number>();
          for (const i of members) {
            count.set(i.service, (count.get(i.service) ?? 0) + 1);
            countZone.set(`${i.service} ${i.zone}`, (countZone.get(`${i.service} ${i.zone}`) ?? 0) + 1);
          }
          for (const [service, n] of count) {
            if (index === 0) expect(n).toBeLessThanOrEqual(spec.strategy.canary);
            expect(n).toBeLessThanOrEqual(room(service));
          }
          for (const [key, n] of countZone) {
            const [service, zone] = key.split(' ');
            expect(n).toBeLessThanOrEqual(room(service, zone));
          }
          if (spec.strategy.zoneConcurrency === 1) {
            const [zone] = zones;
            if (zonesVisited.at(-1) !== zone) {
              // Never back to a zone once left: the zones go one at a time, in order.
              expect(zonesVisited).not.toContain(zone);
              zonesVisited.push(zone);
            }
          }
        });
        if (spec.strategy.zoneConcurrency === 1)
          expect(zonesVisited).toEqual(result.zoneOrder.filter((z) => zonesVisited.includes(z)));

        // Risk containment: before the risk approval, a capped blast radius in the first zone(s).
        const containment = RISK_CONTAINMENT[spec.risk];
        if (containment && result.waves.length > 0) {
          const stop = result.waves.findIndex((w) => w.approvalAfter === 'risk-containment');
          expect(stop).toBeGreaterThanOrEqual(0);
          const before = result.waves.slice(0, stop + 1);
          const total = before.reduce((n, w) => n + w.size, 0);
          const changeable = result.summary.planned;
          expect(total).toBeLessThanOrEqual(
            Math.min(containment.max, Math.max(1, Math.ceil((containment.percent * changeable) / 100))),
          );
          const firstZones = result.zoneOrder.slice(0, spec.strategy.zoneConcurrency);
          for (const w of before) for (const z of w.zones) expect(firstZones).toContain(z);
        }

        // A valid plan can never beat a lower bound.
        if (spec.strategy.zoneConcurrency === 1) {
          expect(result.waves.length).toBeGreaterThanOrEqual(
            waveLowerBound(fleet, serviceCatalog(services), spec, held),
          );
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('gives byte-identical plans whatever the order of the inputs', () => {
    fc.assert(
      fc.property(
        scenarioArb,
        fc.array(fc.nat(), { minLength: 1, maxLength: 50 }),
        ([fleet, services, spec, held], keys) => {
          const reordered: ServicesFile = {
            ...services,
            services: Object.fromEntries(shuffled(Object.entries(services.services), keys)),
          };
          const a = JSON.stringify(plan(fleet, services, spec, held));
          const b = JSON.stringify(
            plan(shuffled(fleet, keys), reordered, spec, new Map(shuffled([...held], keys))),
          );
          expect(b).toBe(a);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('never plans more than the cap for a service whose budget is a percentage (rounding down)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 100 }), (size, percent) => {
        const fleet: Instance[] = Array.from({ length: size }, (_, k) => ({
          id: `i-${(k + 1).toString(16).padStart(8, '0')}`,
          service: 'web',
          zone: 'us-east-1a',
          state: 'running',
          health: 'ok',
          tags: {},
        }));
        const services: ServicesFile = {
          services: { web: { maxUnavailable: { kind: 'percent', value: percent }, impact: {} } },
        };
        const spec = specFor({ type: 'reboot' });
        const result = planChange({ instances: fleet, catalog: serviceCatalog(services), spec });
        const cap = Math.floor((percent * size) / 100 + 1e-9);
        for (const w of result.waves) expect(w.size * 100).toBeLessThanOrEqual(percent * size + 1e-6);
        expect(result.waves.length === 0).toBe(cap === 0);
      }),
      { numRuns: RUNS },
    );
  });
});

function specFor(action: ChangeSpec['action']): ChangeSpec {
  return {
    id: 'c',
    description: 'd',
    target: { services: ['web'] },
    action,
    risk: 'low',
    strategy: { canary: 1, growth: { mode: 'exponential', factor: 2 }, bakeMinutes: 10, zoneConcurrency: 1 },
    gates: {
      statusChecks: true,
      alarms: [],
      metrics: [],
      errorThreshold: { kind: 'count', value: 0 },
      onFailure: 'rollback',
    },
    approval: {},
    windows: [],
  };
}
