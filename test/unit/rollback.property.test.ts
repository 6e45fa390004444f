import fc from 'fast-check';
import { planChange } from '../../functions/core/change/plan/planner';
import { planRollback, rollbackSpec } from '../../functions/core/change/rollout/rollback';
import { serviceCatalog } from '../../functions/core/fleet/services';
import { headroom, resolveBudgets } from '../../functions/core/safety/budget';
import { fleetArb, servicesArb, specArb } from '../support/arbitraries';

const RUNS = Number(process.env.FC_RUNS ?? 300);

/**
 * Fast rollback plans, for random fleets, budgets and changes of which a random prefix of waves
 * was applied: everything changed (and still there) is undone exactly once, no wave spends more
 * than a service's budget (overall or in a zone), waves are at most `waveFactor` × the rollout's
 * largest, and within a service and zone the newest change is undone first.
 */
describe('rollback planning (property-based)', () => {
  const scenario = fc
    .tuple(fleetArb, servicesArb)
    .chain(([fleet, services]) =>
      fc.tuple(
        fc.constant(fleet),
        fc.constant(services),
        specArb(fleet),
        fc.nat(),
        fc.double({ min: 1, max: 4, noNaN: true }),
      ),
    );

  it('undoes each changed instance once, newest first, within budgets and the wave cap', () => {
    fc.assert(
      fc.property(scenario, ([fleet, services, spec, cut, factor]) => {
        const catalog = serviceCatalog(services);
        const original = planChange({ instances: fleet, catalog, spec });
        if (original.waves.length === 0) return;
        const doneWaves = original.waves.slice(0, 1 + (cut % original.waves.length));
        const changed = doneWaves.flatMap((w) =>
          w.instances.map((instanceId, k) => ({ instanceId, wave: w.index, at: 1000 * w.index + k })),
        );
        const withRollback = {
          ...spec,
          rollback: { action: { type: 'set-tag' as const, tags: { v: 'old' } }, waveFactor: factor },
        };
        const undo = rollbackSpec(
          withRollback,
          changed.map((c) => c.instanceId),
        )!;
        const plan = planRollback({
          spec: undo,
          original,
          changed,
          instances: fleet,
          catalog,
          waveFactor: factor,
        });

        const order = plan.waves.flatMap((w) => w.instances);
        expect([...order].sort()).toEqual(changed.map((c) => c.instanceId).sort());
        expect(new Set(order).size).toBe(order.length);

        const largest = Math.max(...original.waves.map((w) => w.size));
        const budgets = resolveBudgets(fleet, catalog, 'set-tag');
        const byId = new Map(fleet.map((i) => [i.id, i]));
        const when = new Map(changed.map((c) => [c.instanceId, c]));
        for (const wave of plan.waves) {
          expect(wave.size).toBeLessThanOrEqual(Math.max(1, Math.ceil(largest * factor)));
          const perService = new Map<string, number>();
          const perZone = new Map<string, number>();
          for (const id of wave.instances) {
            const i = byId.get(id)!;
            perService.set(i.service, (perService.get(i.service) ?? 0) + 1);
            perZone.set(`${i.service}@${i.zone}`, (perZone.get(`${i.service}@${i.zone}`) ?? 0) + 1);
          }
          for (const [service, n] of perService) {
            expect(n).toBeLessThanOrEqual(Math.max(1, headroom(budgets.get(service)!)));
          }
          for (const [key, n] of perZone) {
            const [service, zone] = key.split('@');
            expect(n).toBeLessThanOrEqual(Math.max(1, headroom(budgets.get(service)!, zone)));
          }
        }
        // Newest first within a service and zone.
        const rank = new Map(order.map((id, k) => [id, k]));
        const lanes = new Map<string, string[]>();
        for (const id of order) {
          const i = byId.get(id)!;
          const lane = lanes.get(`${i.service}@${i.zone}`) ?? [];
          lane.push(id);
          lanes.set(`${i.service}@${i.zone}`, lane);
        }
        for (const lane of lanes.values()) {
          for (let k = 1; k < lane.length; k++) {
            const [a, b] = [when.get(lane[k - 1])!, when.get(lane[k])!];
            expect(a.wave > b.wave || (a.wave === b.wave && a.at >= b.at)).toBe(true);
            expect(rank.get(lane[k - 1])!).toBeLessThan(rank.get(lane[k])!);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('has nothing to plan without a rollback action', () => {
    fc.assert(
      fc.property(scenario, ([fleet, , spec]) => {
        expect(
          rollbackSpec(
            { ...spec, rollback: undefined },
            fleet.map((i) => i.id),
          ),
        ).toBeUndefined();
      }),
      { numRuns: 20 },
    );
  });
});
