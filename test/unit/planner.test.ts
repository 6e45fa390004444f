import { waveLowerBound } from '../../functions/core/change/plan/lower-bound';
import { planViolations } from '../../functions/core/change/plan/plan-check';
import { planChange } from '../../functions/core/change/plan/planner';
import { type ServicesFile, serviceCatalog } from '../../functions/core/fleet/services';
import { parseServices } from '../../functions/core/input/files';
import { instances, spec } from '../support/builders';

const services = (yaml: string): ServicesFile => parseServices(yaml, 'services.yaml');

describe('planChange', () => {
  it('starts with a one-zone canary of at most `canary` instances per service, then grows', () => {
    // Prepare
    const fleet = [
      ...instances(10, 'web', 'us-east-1a'),
      ...instances(10, 'web', 'us-east-1b'),
      ...instances(6, 'api', 'us-east-1a'),
    ];
    const budgets = services('services: { web: { maxUnavailable: 50% }, api: { maxUnavailable: 50% } }');
    // Act
    const plan = planChange({
      instances: fleet,
      catalog: serviceCatalog(budgets),
      spec: spec({ target: { services: ['web', 'api'] }, strategy: { canary: 2 } }),
    });
    // Assess
    const [canary, first] = plan.waves;
    expect(canary).toMatchObject({
      kind: 'canary',
      zone: 'us-east-1a',
      size: 4,
      services: { api: 2, web: 2 },
    });
    expect(canary.bindingConstraint).toBe('canary');
    expect(first).toMatchObject({ zone: 'us-east-1a', size: 8, bindingConstraint: 'growth' });
    expect(plan.zoneOrder).toEqual(['us-east-1a', 'us-east-1b']);
    expect(plan.summary).toMatchObject({ targeted: 26, planned: 26, skipped: 0 });
  });

  it('never puts two zones in one wave and visits each zone once', () => {
    const fleet = ['us-east-1c', 'us-east-1a', 'us-east-1b'].flatMap((z) => instances(20, 'web', z));
    const plan = planChange({
      instances: fleet,
      catalog: serviceCatalog(services('services: { web: { maxUnavailable: 25% } }')),
      spec: spec(),
    });
    expect(plan.waves.map((w) => w.zone)).toEqual([
      ...Array(plan.waves.filter((w) => w.zone === 'us-east-1a').length).fill('us-east-1a'),
      ...Array(plan.waves.filter((w) => w.zone === 'us-east-1b').length).fill('us-east-1b'),
      ...Array(plan.waves.filter((w) => w.zone === 'us-east-1c').length).fill('us-east-1c'),
    ]);
    for (const w of plan.waves) expect(w.size).toBeLessThanOrEqual(15);
  });

  it('counts already unavailable instances against the budget, per zone too', () => {
    const fleet = [
      ...instances(9, 'web', 'us-east-1a'),
      ...instances(1, 'web', 'us-east-1a', { health: 'impaired' }),
      ...instances(10, 'web', 'us-east-1b'),
    ];
    const plan = planChange({
      instances: fleet,
      catalog: serviceCatalog(
        services('services: { web: { maxUnavailable: 4, maxUnavailablePerZone: 20% } }'),
      ),
      spec: spec(),
    });
    for (const w of plan.waves) {
      const zone = w.zones[0];
      expect(w.size).toBeLessThanOrEqual(zone === 'us-east-1a' ? 1 : 2);
    }
    expect(plan.waves.some((w) => w.bindingConstraint === 'budget:web@us-east-1a')).toBe(true);
    expect(plan.skipped).toEqual([{ id: fleet[9].id, reason: 'impaired: left to remediation' }]);
  });

  it('blocks a service with no budget left, with the reason, instead of dropping it', () => {
    const fleet = [
      ...instances(3, 'cache', 'us-east-1a'),
      ...instances(1, 'cache', 'us-east-1a', { state: 'stopped' }),
    ];
    const plan = planChange({
      instances: fleet,
      catalog: serviceCatalog(services('services: { cache: { maxUnavailable: 1 } }')),
      spec: spec({ target: { services: ['cache'] } }),
    });
    expect(plan.waves).toEqual([]);
    expect(plan.skipped.map((s) => s.reason)).toEqual([
      'budget:cache exhausted: maxUnavailable 1 (1 of 4), 1 already unavailable',
      'budget:cache exhausted: maxUnavailable 1 (1 of 4), 1 already unavailable',
      'budget:cache exhausted: maxUnavailable 1 (1 of 4), 1 already unavailable',
      'not running (state: stopped)',
    ]);
  });

  it('gives undeclared services the conservative default: one instance at a time', () => {
    const fleet = instances(5, 'legacy', 'us-east-1a');
    const plan = planChange({
      instances: fleet,
      catalog: serviceCatalog(services('services: {}')),
      spec: spec({ target: { services: ['legacy'] } }),
    });
    expect(plan.waves.map((w) => w.size)).toEqual([1, 1, 1, 1, 1]);
    expect(plan.budgets[0]).toMatchObject({ service: 'legacy', declared: false, maxUnavailable: 1 });
  });

  it('does not spend the budget of a service that declared the action non-disruptive', () => {
    const fleet = instances(40, 'api', 'us-east-1a');
    const budgets = services('services: { api: { maxUnavailable: 1, impact: { set-tag: non-disruptive } } }');
    const setTag = planChange({
      instances: fleet,
      catalog: serviceCatalog(budgets),
      spec: spec({ target: { services: ['api'] }, action: { type: 'set-tag', tags: { v: '2' } } }),
    });
    expect(setTag.waves.map((w) => w.size)).toEqual([1, 2, 4, 8, 16, 9]);
    expect(setTag.waves.map((w) => w.bindingConstraint)).toEqual([
      'canary',
      'growth',
      'growth',
      'growth',
      'growth',
      'remaining',
    ]);
    const reboot = planChange({
      instances: fleet,
      catalog: serviceCatalog(budgets),
      spec: spec({ target: { services: ['api'] } }),
    });
    expect(reboot.waves).toHaveLength(40);
  });

  it('names max-wave-size when it binds, and resolves a percentage against the change', () => {
    const fleet = instances(100, 'web', 'us-east-1a');
    const plan = planChange({
      instances: fleet,
      catalog: serviceCatalog(services('services: { web: { maxUnavailable: 100% } }')),
      spec: spec({ strategy: { maxWaveSize: '10%', growth: { mode: 'exponential', factor: 4 } } }),
    });
    expect(plan.waves.map((w) => w.size)).toEqual([1, 4, 10, 10, 10, 10, 10, 10, 10, 10, 10, 5]);
    expect(plan.waves[2].bindingConstraint).toBe('max-wave-size');
  });

  it('grows linearly by factor × the canary size', () => {
    const fleet = instances(30, 'web', 'us-east-1a');
    const plan = planChange({
      instances: fleet,
      catalog: serviceCatalog(services('services: { web: { maxUnavailable: 100% } }')),
      spec: spec({ strategy: { canary: 2, growth: { mode: 'linear', factor: 1.5 } } }),
    });
    expect(plan.waves.map((w) => w.size)).toEqual([2, 5, 8, 11, 4]);
  });

  it('confines a kernel change to a capped blast radius in the first zone, then asks for approval', () => {
    const fleet = ['us-east-1a', 'us-east-1b'].flatMap((z) => instances(500, 'web', z));
    const plan = planChange({
      instances: fleet,
      catalog: serviceCatalog(services('services: { web: { maxUnavailable: 100% } }')),
      spec: spec({ risk: 'kernel', strategy: { canary: 1, growth: { mode: 'exponential', factor: 4 } } }),
    });
    // kernel: 2% of 1000 = 20 (cap 25), canary included, all in us-east-1a.
    expect(plan.summary.blastRadiusBeforeApproval).toBe(20);
    const stop = plan.waves.findIndex((w) => w.approvalAfter === 'risk-containment');
    const contained = plan.waves.slice(0, stop + 1);
    expect(contained.map((w) => [w.size, w.bindingConstraint])).toEqual([
      [1, 'canary'],
      [4, 'growth'],
      [15, 'risk'],
    ]);
    expect(contained.every((w) => w.zone === 'us-east-1a')).toBe(true);
    expect(plan.waves[0].approvalAfter).toBe('canary');
  });

  it('lets a high-risk canary itself be cut to the blast radius', () => {
    const fleet = Array.from({ length: 30 }, (_, s) => instances(2, `svc-${s}`, 'us-east-1a')).flat();
    const budgets = services('defaults: { maxUnavailable: 1 }');
    const plan = planChange({
      instances: fleet,
      catalog: serviceCatalog(budgets),
      spec: spec({ risk: 'high', target: { tags: {} } }),
    });
    // high: 5% of 60 = 3.
    expect(plan.waves[0]).toMatchObject({
      size: 3,
      bindingConstraint: 'risk',
      approvalAfter: 'risk-containment',
    });
  });

  it('keeps each zone within its own budget when zoneConcurrency lets a wave span zones', () => {
    const fleet = [...instances(10, 'web', 'us-east-1a'), ...instances(10, 'web', 'us-east-1b')];
    const budgets = services('services: { web: { maxUnavailable: 6, maxUnavailablePerZone: 10% } }');
    const s = spec({ strategy: { zoneConcurrency: 2 } });
    const plan = planChange({ instances: fleet, catalog: serviceCatalog(budgets), spec: s });
    expect(plan.waves[0].zones).toEqual(['us-east-1a']);
    for (const w of plan.waves.slice(1)) expect(w.size).toBeLessThanOrEqual(2);
    expect(plan.waves.slice(2).some((w) => w.zones.length === 2)).toBe(true);
    expect(planViolations(plan, { instances: fleet, catalog: serviceCatalog(budgets), spec: s })).toEqual([]);
  });

  it('honours an explicit zone order and warns about zones it does not know', () => {
    const fleet = ['us-east-1a', 'us-east-1b', 'us-east-1c'].flatMap((z) => instances(2, 'web', z));
    const plan = planChange({
      instances: fleet,
      catalog: serviceCatalog(services('services: { web: { maxUnavailable: 100% } }')),
      spec: spec({ strategy: { zoneOrder: ['us-east-1c', 'us-east-1x', 'us-east-1a'] } }),
    });
    expect(plan.zoneOrder).toEqual(['us-east-1c', 'us-east-1a', 'us-east-1b']);
    expect(plan.waves[0].zone).toBe('us-east-1c');
    expect(plan.warnings).toEqual(['strategy.zoneOrder: zone "us-east-1x" has no changeable instance']);
  });

  it('selects targets by services AND tags AND ids, and lists unknown ids as skipped', () => {
    const fleet = [
      ...instances(2, 'web', 'us-east-1a', { tags: { os: 'al2023' } }),
      ...instances(2, 'web', 'us-east-1a', { tags: { os: 'ubuntu' } }),
      ...instances(2, 'api', 'us-east-1a', { tags: { os: 'al2023' } }),
    ];
    const plan = planChange({
      instances: fleet,
      catalog: serviceCatalog(services('defaults: { maxUnavailable: 100% }')),
      spec: spec({
        target: {
          services: ['web', 'nope'],
          tags: { os: 'al2023' },
          instanceIds: [fleet[0].id, 'i-0000dead'],
        },
      }),
    });
    expect(plan.waves.flatMap((w) => w.instances)).toEqual([fleet[0].id]);
    expect(plan.skipped).toEqual([{ id: 'i-0000dead', reason: 'not in the fleet inventory' }]);
    expect(plan.warnings).toEqual(['target.services: "nope" has no instance in the fleet']);
  });

  it('predicts the duration from the waves, the action and the bake', () => {
    const fleet = instances(3, 'web', 'us-east-1a');
    const plan = planChange({
      instances: fleet,
      catalog: serviceCatalog(services('services: { web: { maxUnavailable: 100% } }')),
      spec: spec({ strategy: { bakeMinutes: 7 } }),
    });
    expect(plan.waves).toHaveLength(2);
    // A reboot (≈ 5 min) is seen finished at settle's look at 465 s (15, 45, 105, 225, 465 s): 7.75 min.
    expect(plan.predictedMinutes).toBe(2 * (7.75 + 7));
  });

  it('stays close to the lower bound on wave count', () => {
    const fleet = ['us-east-1a', 'us-east-1b', 'us-east-1c'].flatMap((z) => [
      ...instances(90, 'web', z),
      ...instances(30, 'api', z),
      ...instances(12, 'cache', z),
    ]);
    const budgets = services(
      'services: { web: { maxUnavailable: 10% }, api: { maxUnavailable: 20% }, cache: { maxUnavailable: 2, maxUnavailablePerZone: 1 } }',
    );
    const s = spec({ target: { services: ['web', 'api', 'cache'] } });
    const plan = planChange({ instances: fleet, catalog: serviceCatalog(budgets), spec: s });
    const bound = waveLowerBound(fleet, serviceCatalog(budgets), s);
    expect(plan.waves.length).toBeGreaterThanOrEqual(bound);
    expect(plan.waves.length).toBeLessThanOrEqual(Math.ceil(bound * 1.1));
  });
});

describe('planViolations', () => {
  const fleet = ['us-east-1a', 'us-east-1b'].flatMap((z) => instances(8, 'web', z));
  const budgets = services('services: { web: { maxUnavailable: 2 } }');
  const s = spec();
  const good = planChange({ instances: fleet, catalog: serviceCatalog(budgets), spec: s });
  const check = (plan: typeof good) =>
    planViolations(plan, { instances: fleet, catalog: serviceCatalog(budgets), spec: s });

  it('accepts the planner’s plan', () => {
    expect(check(good)).toEqual([]);
  });

  it('catches an instance changed twice, a wave over budget, and two zones in one wave', () => {
    const [w0, w1] = good.waves;
    const last = good.waves.at(-1)!;
    const merged = { ...w1, instances: [...w1.instances, ...last.instances], size: w1.size + last.size };
    const broken = { ...good, waves: [w0, merged, { ...w0, index: 2 }] };
    const problems = check(broken).join('\n');
    expect(problems).toContain('is changed twice');
    expect(problems).toContain('exceeds its budget');
    expect(problems).toContain('spans 2 zones');
  });
});

describe('planChange and traffic (issue 14)', () => {
  const budgets = () =>
    serviceCatalog(
      services(
        'services: { web: { maxUnavailable: 50% }, tags: { maxUnavailable: 50%, impact: { set-tag: non-disruptive } } }',
      ),
    );
  const behind = (drainSeconds: number, readySeconds: number) => ({
    targets: [
      {
        targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1',
        state: 'healthy' as const,
        drainSeconds,
        readySeconds,
      },
    ],
  });

  it('adds each wave’s longest draining and readiness to the prediction, for disruptive actions only', () => {
    const fleet = [
      ...instances(4, 'web', 'us-east-1a', behind(300, 90)),
      ...instances(4, 'web', 'us-east-1b', behind(30, 30)),
    ];
    const reboot = planChange({
      instances: fleet,
      catalog: budgets(),
      spec: spec({ action: { type: 'reboot' } }),
    });
    const perWave = reboot.waves.map((w) => (w.zone === 'us-east-1a' ? 390 : 60) / 60);
    expect(reboot.trafficMinutes).toBeCloseTo(
      perWave.reduce((a, b) => a + b, 0),
      1,
    );
    const tags = fleet.map((i) => ({ ...i, service: 'tags' }));
    const tagged = planChange({
      instances: tags,
      catalog: budgets(),
      spec: spec({ target: { services: ['tags'] }, action: { type: 'set-tag', tags: { v: '2' } } }),
    });
    expect(tagged.trafficMinutes).toBe(0);
  });

  it('never plans a stop-start of an instance-store-backed or one-time Spot instance, nor one its group does not have in service', () => {
    const [store, spot, standby, ok] = instances(4, 'web', 'us-east-1a');
    const fleet = [
      { ...store, rootDevice: 'instance-store' as const },
      { ...spot, spot: 'one-time' as const },
      { ...standby, asg: { name: 'web-group', lifecycle: 'Standby' } },
      ok,
    ];
    const plan = planChange({
      instances: fleet,
      catalog: budgets(),
      spec: spec({ action: { type: 'stop-start' } }),
    });
    expect(Object.fromEntries(plan.skipped.map((s) => [s.id, s.reason]))).toEqual({
      [store.id]: 'instance-store root device: a stop would lose its data',
      [spot.id]: 'one-time Spot instance: it cannot be stopped',
      [standby.id]: 'Standby in web-group: held by its group or another party',
    });
    expect(plan.waves.flatMap((w) => w.instances)).toEqual([ok.id]);
  });
});
