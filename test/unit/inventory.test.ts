import fc from 'fast-check';
import { findingsFor } from '../../functions/core/events/findings';
import { type Instance, isUnavailable } from '../../functions/core/fleet/fleet';
import {
  diffInventory,
  type LedgerObservation,
  ledgerObservations,
} from '../../functions/core/fleet/inventory';
import { ASG_NAME_TAG, applyPlacement, placeInstances } from '../../functions/core/fleet/placement';
import { serviceCatalog } from '../../functions/core/fleet/services';
import { type ObservedInstance, syncInventory } from '../../functions/core/fleet/sync-inventory';
import type {
  AuditRecord,
  AutoScalingGroupState,
  AutoScalingPort,
  InstanceCondition,
  InventoryStore,
  Lease,
  TargetHealth,
  TrafficExit,
  TrafficExits,
  TrafficPort,
} from '../../functions/core/ports/index';

const instance = (id: string, fields: Partial<Instance> = {}): Instance => ({
  id,
  service: 'web',
  zone: 'us-east-1a',
  state: 'running',
  health: 'ok',
  tags: {},
  ...fields,
});

describe('diffInventory', () => {
  it('writes only what changed, ignoring tag order, and marks vanished instances terminated', () => {
    const known = [
      instance('i-00000001', { tags: { a: '1', b: '2' } }),
      instance('i-00000002'),
      instance('i-00000003'),
      instance('i-00000004', { state: 'terminated' }),
    ];
    const observed = [
      instance('i-00000001', { tags: { b: '2', a: '1' } }),
      instance('i-00000002', { health: 'impaired' }),
      instance('i-00000005'),
    ];
    const diff = diffInventory(observed, known);
    expect(diff.unchanged).toBe(1);
    expect(diff.changed.map((i) => i.id)).toEqual(['i-00000002', 'i-00000005']);
    expect(diff.vanished).toEqual([
      expect.objectContaining({ id: 'i-00000003', state: 'terminated', health: 'unknown' }),
    ]);
  });
});

describe('ledgerObservations', () => {
  it('counts unavailable instances not covered by a reservation, overall and per zone', () => {
    const fleet = [
      instance('i-00000001', { health: 'impaired' }),
      instance('i-00000002', { health: 'impaired' }),
      instance('i-00000003', { state: 'stopped', zone: 'us-east-1b' }),
      instance('i-00000004', { zone: 'us-east-1b' }),
      instance('i-00000005', { state: 'terminated' }),
    ];
    const catalog = serviceCatalog({
      services: {
        web: {
          maxUnavailable: { kind: 'percent', value: 50 },
          maxUnavailablePerZone: { kind: 'count', value: 1 },
          impact: {},
        },
      },
    });
    const [web] = ledgerObservations(fleet, catalog, new Set(['i-00000002']));
    expect(web.capacity).toBe(2); // 50% of 4 live instances
    expect(web.observed).toBe(2); // i-1 and i-3; i-2 is counted by its reservation
    expect(Object.fromEntries(web.zones)).toEqual({
      'us-east-1a': { capacity: 1, observed: 1 },
      'us-east-1b': { capacity: 1, observed: 1 },
    });
  });
});

describe('findingsFor', () => {
  const seenAt = '2026-11-27T10:00:00.000Z';
  it('keys an impairment by when it started, so every sync that sees it records it once', () => {
    const observed = {
      instance: instance('i-00000001', { health: 'impaired' }),
      impairment: 'system' as const,
      impairedSince: '2026-11-27T09:58:00.000Z',
    };
    const first = findingsFor(observed, undefined, seenAt);
    const again = findingsFor(
      observed,
      instance('i-00000001', { health: 'impaired' }),
      '2026-11-27T10:05:00.000Z',
    );
    expect(first).toEqual(again);
    expect(first[0]).toMatchObject({
      kind: 'system-status-check-failed',
      key: 'since-2026-11-27T09:58:00.000Z',
    });
  });

  it('without ImpairedSince, records only a check that has just started failing', () => {
    const observed = {
      instance: instance('i-00000001', { health: 'impaired' }),
      impairment: 'instance' as const,
    };
    expect(findingsFor(observed, instance('i-00000001'), seenAt)).toEqual([
      expect.objectContaining({ kind: 'instance-status-check-failed', key: `since-${seenAt}` }),
    ]);
    expect(findingsFor(observed, instance('i-00000001', { health: 'impaired' }), seenAt)).toEqual([]);
  });
});

const TG_WEB = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef';
const TG_ADMIN = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/admin/fedcba9876543210';
const settings = (arn: string) => ({
  targetGroupArn: arn,
  deregistrationDelaySeconds: 300,
  healthCheckIntervalSeconds: 30,
  healthyThresholdCount: 5,
});
/** What placement adds to a target of a managed group with {@link settings}: 300 s draining, 5 × 30 s readiness. */
const BOUNDS = { drainSeconds: 300, readySeconds: 150 };
const member = (id: string, lifecycle = 'InService') => ({ id, lifecycle, healthy: true });
const group = (name: string, members: ReturnType<typeof member>[], targetGroupArns?: string[]) =>
  ({
    name,
    desired: members.length,
    min: 0,
    max: 10,
    members,
    ...(targetGroupArns ? { targetGroupArns } : {}),
  }) satisfies AutoScalingGroupState;
const inGroup = (id: string, name: string, fields: Partial<Instance> = {}) =>
  instance(id, { tags: { [ASG_NAME_TAG]: name }, ...fields });

describe('diffInventory: placement, root device and Spot', () => {
  const placed = instance('i-00000001', {
    asg: { name: 'web-asg', lifecycle: 'InService' },
    targets: [
      { targetGroupArn: TG_WEB, port: 80, state: 'healthy' },
      { targetGroupArn: TG_ADMIN, state: 'healthy' },
    ],
    rootDevice: 'ebs',
  });

  it('writes nothing when the same placement comes back in another order, or absent stays empty', () => {
    const again = { ...placed, targets: [...(placed.targets ?? [])].reverse() };
    expect(diffInventory([again], [placed])).toMatchObject({ changed: [], unchanged: 1 });
    expect(diffInventory([instance('i-2', { targets: [] })], [instance('i-2')]).unchanged).toBe(1);
  });

  it.each([
    [
      'a target draining',
      {
        targets: [
          { targetGroupArn: TG_WEB, port: 80, state: 'draining' as const },
          { targetGroupArn: TG_ADMIN, state: 'healthy' as const },
        ],
      },
    ],
    [
      'a reason that changed',
      {
        targets: [
          { targetGroupArn: TG_WEB, port: 80, state: 'healthy' as const, reason: 'x' },
          { targetGroupArn: TG_ADMIN, state: 'healthy' as const },
        ],
      },
    ],
    ['Standby', { asg: { name: 'web-asg', lifecycle: 'Standby' } }],
    ['out of its group', { asg: undefined }],
    ['another root device', { rootDevice: 'instance-store' as const }],
    ['a Spot type', { spot: 'persistent' as const }],
    [
      'a longer deregistration delay',
      {
        targets: [
          { targetGroupArn: TG_WEB, port: 80, state: 'healthy' as const, drainSeconds: 600 },
          { targetGroupArn: TG_ADMIN, state: 'healthy' as const },
        ],
      },
    ],
  ])('writes an instance with %s', (_, change) => {
    expect(diffInventory([{ ...placed, ...change }], [placed]).changed).toHaveLength(1);
  });

  it('forgets a vanished instance’s placement', () => {
    const [gone] = diffInventory([], [placed]).vanished;
    expect(gone).toMatchObject({ state: 'terminated' });
    expect(gone.asg).toBeUndefined();
    expect(gone.targets).toBeUndefined();
  });
});

describe('isUnavailable: out of service', () => {
  const healthy = (arn = TG_WEB) => ({ targetGroupArn: arn, state: 'healthy' as const });
  it.each<[string, Partial<Instance>, boolean]>([
    ['running, ok, in no group', {}, false],
    ['stopped', { state: 'stopped' }, true],
    ['impaired', { health: 'impaired' }, true],
    [
      'InService and healthy everywhere',
      { asg: { name: 'g', lifecycle: 'InService' }, targets: [healthy(), healthy(TG_ADMIN)] },
      false,
    ],
    ['in Standby', { asg: { name: 'g', lifecycle: 'Standby' } }, true],
    ['Pending:Wait', { asg: { name: 'g', lifecycle: 'Pending:Wait' } }, true],
    ['Terminating', { asg: { name: 'g', lifecycle: 'Terminating' } }, true],
    [
      'draining in one of two',
      { targets: [healthy(), { targetGroupArn: TG_ADMIN, state: 'draining' }] },
      true,
    ],
    [
      'initial',
      { targets: [{ targetGroupArn: TG_WEB, state: 'initial', reason: 'Elb.InitialHealthChecking' }] },
      true,
    ],
    [
      'unhealthy',
      { targets: [{ targetGroupArn: TG_WEB, state: 'unhealthy', reason: 'Target.Timeout' }] },
      true,
    ],
    [
      'unused: not registered',
      { targets: [{ targetGroupArn: TG_WEB, state: 'unused', reason: 'Target.NotRegistered' }] },
      true,
    ],
    [
      'unused: stopped',
      { targets: [{ targetGroupArn: TG_WEB, state: 'unused', reason: 'Target.InvalidState' }] },
      true,
    ],
    // A target group no load balancer uses carries no traffic: it takes nothing away.
    [
      'unused: group not in use',
      { targets: [healthy(), { targetGroupArn: TG_ADMIN, state: 'unused', reason: 'Target.NotInUse' }] },
      false,
    ],
    // Health checks disabled: ELB routes to it without judging.
    [
      'unavailable (checks disabled)',
      { targets: [{ targetGroupArn: TG_WEB, state: 'unavailable', reason: 'Target.HealthCheckDisabled' }] },
      false,
    ],
  ])('%s', (_, fields, expected) => {
    expect(isUnavailable(instance('i-00000001', fields))).toBe(expected);
  });

  it('counts out-of-service targets and Standby in the ledger, leased instances through their reservation', () => {
    const fleet = [
      instance('i-00000001', { targets: [{ targetGroupArn: TG_WEB, state: 'draining' }] }),
      instance('i-00000002', { asg: { name: 'g', lifecycle: 'Standby' } }),
      instance('i-00000003', { targets: [{ targetGroupArn: TG_WEB, state: 'healthy' }] }),
      instance('i-00000004', { targets: [{ targetGroupArn: TG_WEB, state: 'unhealthy' }] }),
    ];
    const catalog = serviceCatalog({
      services: { web: { maxUnavailable: { kind: 'count', value: 2 }, impact: {} } },
    });
    const [web] = ledgerObservations(fleet, catalog, new Set(['i-00000004']));
    expect(web.observed).toBe(2); // draining and Standby; i-4 is leased (its reservation counts it)
  });

  it('property: more out-of-service targets or lifecycle states never lower the unavailable count', () => {
    const states = ['initial', 'healthy', 'unhealthy', 'unused', 'draining', 'unavailable'] as const;
    const reasons = [undefined, 'Target.NotInUse', 'Target.NotRegistered', 'Target.InvalidState'];
    const target = fc.record({
      arn: fc.constantFrom(TG_WEB, TG_ADMIN),
      state: fc.constantFrom(...states),
      reason: fc.constantFrom(...reasons),
    });
    const member = fc.record({
      state: fc.constantFrom('running', 'running', 'running', 'stopped'),
      health: fc.constantFrom('ok', 'ok', 'impaired', 'initializing'),
      lifecycle: fc.option(fc.constantFrom('InService', 'InService', 'Standby', 'Pending')),
      targets: fc.array(target, { maxLength: 3 }),
      zone: fc.constantFrom('us-east-1a', 'us-east-1b'),
      // What happens to it next: one more target out of service, or Standby.
      worse: fc.constantFrom('draining', 'initial', 'unhealthy', 'not-registered', 'standby', 'none'),
      leased: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(member, { minLength: 1, maxLength: 30 }), (members) => {
        const before: Instance[] = members.map((m, k) =>
          instance(`i-${String(k).padStart(8, '0')}`, {
            state: m.state as Instance['state'],
            health: m.health as Instance['health'],
            zone: m.zone,
            ...(m.lifecycle ? { asg: { name: 'g', lifecycle: m.lifecycle } } : {}),
            targets: m.targets.map((t) => ({
              targetGroupArn: t.arn,
              state: t.state,
              ...(t.reason ? { reason: t.reason } : {}),
            })),
          }),
        );
        const after: Instance[] = before.map((i, k) => {
          const worse = members[k].worse;
          if (worse === 'none') return i;
          if (worse === 'standby') return { ...i, asg: { name: 'g', lifecycle: 'Standby' } };
          const t =
            worse === 'not-registered'
              ? { targetGroupArn: TG_WEB, state: 'unused' as const, reason: 'Target.NotRegistered' }
              : { targetGroupArn: TG_WEB, state: worse };
          return { ...i, targets: [...(i.targets ?? []), t] };
        });
        const leased = new Set(before.filter((_, k) => members[k].leased).map((i) => i.id));
        const catalog = serviceCatalog({ services: {} });
        const [b] = ledgerObservations(before, catalog, leased);
        const [a] = ledgerObservations(after, catalog, leased);
        expect(a.observed).toBeGreaterThanOrEqual(b.observed);
        for (const [zone, z] of b.zones)
          expect(a.zones.get(zone)!.observed).toBeGreaterThanOrEqual(z.observed);
        // Each instance that got worse is unavailable afterwards.
        after.forEach((i, k) => {
          if (members[k].worse !== 'none') expect(isUnavailable(i)).toBe(true);
        });
      }),
      { numRuns: 300 },
    );
  });
});

/** Fakes of the ports placement reads, counting their calls. */
function fakePlacementPorts(
  groups: AutoScalingGroupState[],
  targets: Record<string, TargetHealth[]>,
  arns = [TG_WEB, TG_ADMIN],
) {
  const calls = { describeGroups: [] as string[][], listManaged: 0 };
  const autoscaling: Pick<AutoScalingPort, 'describeGroups'> = {
    describeGroups: async (names) => {
      calls.describeGroups.push([...names]);
      return groups.filter((g) => names.includes(g.name));
    },
  };
  const traffic: Pick<TrafficPort, 'listManaged'> = {
    listManaged: async () => {
      calls.listManaged++;
      return { groups: arns.map(settings), targets: new Map(Object.entries(targets)) };
    },
  };
  return { autoscaling, traffic, calls };
}

describe('placement', () => {
  it('names the groups from the Auto Scaling tag, asks each once, and lists the managed target groups once', async () => {
    const fleet = [
      inGroup('i-00000001', 'web-asg'),
      inGroup('i-00000002', 'web-asg'),
      inGroup('i-00000003', 'api-asg'),
      instance('i-00000004'),
      inGroup('i-00000005', 'gone-asg', { state: 'terminated' }),
    ];
    const ports = fakePlacementPorts(
      [
        group('web-asg', [member('i-00000001'), member('i-00000002', 'Standby')]),
        group('api-asg', [member('i-00000003', 'Pending')]),
      ],
      {
        'i-00000001': [
          { targetGroupArn: TG_WEB, port: 8080, state: 'healthy' },
          { targetGroupArn: TG_WEB, port: 80, state: 'healthy' },
        ],
        'i-00000004': [
          { targetGroupArn: TG_ADMIN, state: 'draining', reason: 'Target.DeregistrationInProgress' },
        ],
      },
    );
    const placed = await placeInstances(ports, fleet);
    expect(ports.calls).toEqual({ describeGroups: [['api-asg', 'web-asg']], listManaged: 1 });
    expect(
      placed.map((i) => [i.id, i.asg?.lifecycle, i.targets?.map((t) => `${t.port ?? ''}:${t.state}`)]),
    ).toEqual([
      ['i-00000001', 'InService', ['80:healthy', '8080:healthy']],
      ['i-00000002', 'Standby', undefined],
      ['i-00000003', 'Pending', undefined],
      ['i-00000004', undefined, [':draining']],
      ['i-00000005', undefined, undefined],
    ]);
    expect(placed.map(isUnavailable)).toEqual([false, true, true, true, true]);
  });

  it('marks a member missing from a managed target group its group attaches as not registered there', () => {
    const fleet = [inGroup('i-00000001', 'web-asg'), inGroup('i-00000002', 'web-asg')];
    const placed = applyPlacement(fleet, {
      groups: [group('web-asg', [member('i-00000001'), member('i-00000002')], [TG_WEB, 'arn:unmanaged'])],
      managed: {
        groups: [settings(TG_WEB)],
        targets: new Map([['i-00000001', [{ targetGroupArn: TG_WEB, state: 'healthy' as const }]]]),
      },
    });
    expect(placed[0].targets).toEqual([{ targetGroupArn: TG_WEB, state: 'healthy', ...BOUNDS }]);
    // Not registered in the managed one; nothing said of the unmanaged one (its health is not read).
    expect(placed[1].targets).toEqual([
      { targetGroupArn: TG_WEB, state: 'unused', reason: 'Target.NotRegistered', ...BOUNDS },
    ]);
    expect(isUnavailable(placed[1])).toBe(true);
  });

  it('marks an instance a traffic exit deregistered, and its target group does not list, as not registered there', () => {
    const placed = applyPlacement([instance('i-00000001'), instance('i-00000002')], {
      managed: { groups: [settings(TG_WEB)], targets: new Map() },
      exits: [
        {
          instanceId: 'i-00000001',
          deregistered: [{ targetGroupArn: TG_WEB }, { targetGroupArn: 'arn:unmanaged' }],
        },
      ],
    });
    expect(placed[0].targets).toEqual([
      { targetGroupArn: TG_WEB, state: 'unused', reason: 'Target.NotRegistered', ...BOUNDS },
    ]);
    expect(placed[1].targets).toBeUndefined();
  });

  it('gives no group to an instance its tagged group does not list, and leaves what was not read as it was', () => {
    const fleet = [
      inGroup('i-00000001', 'web-asg', { targets: [{ targetGroupArn: TG_WEB, state: 'healthy' }] }),
    ];
    const [placed] = applyPlacement(fleet, { groups: [group('web-asg', [])] });
    expect(placed.asg).toBeUndefined();
    expect(placed.targets).toEqual([{ targetGroupArn: TG_WEB, state: 'healthy' }]);
  });

  it('asks nothing without ports, and no group without a tagged instance', async () => {
    const ports = fakePlacementPorts([], {});
    expect(await placeInstances({}, [instance('i-00000001')])).toEqual([instance('i-00000001')]);
    await placeInstances({ autoscaling: ports.autoscaling }, [instance('i-00000001')]);
    expect(ports.calls.describeGroups).toEqual([]);
  });
});

/** An in-memory inventory store, lease view and the traffic ports, recording what happens in order. */
function fakeSweep(options: {
  observed: Instance[];
  leases?: Lease[];
  exits?: TrafficExit[];
  conditions?: Record<string, InstanceCondition>;
  groups?: AutoScalingGroupState[];
  targets?: Record<string, TargetHealth[]>;
}) {
  const log: string[] = [];
  const table = new Map<string, Instance>();
  const ledgers: LedgerObservation[][] = [];
  const audit: AuditRecord[] = [];
  let leases = [...(options.leases ?? [])];
  const exitsById = new Map((options.exits ?? []).map((e) => [e.instanceId, e]));
  const ec2 = {
    listManagedInstances: async (): Promise<ObservedInstance[]> =>
      options.observed.map((instance) => ({ instance })),
  };
  const store: InventoryStore = {
    listInstances: async () => [...table.values()],
    putInstances: async (instances) => {
      for (const i of instances) table.set(i.id, i);
      return instances.length;
    },
    recordFindings: async () => [],
    openFindings: async () => [],
    putPopulation: async (population) => population.size,
    getServices: async () => ({
      services: { web: { maxUnavailable: { kind: 'count', value: 3 }, impact: {} } },
    }),
    reconcileLedgers: async (observations) => {
      log.push('reconcileLedgers');
      ledgers.push([...observations]);
      return observations.length;
    },
    audit: async (records) => {
      audit.push(...records);
    },
  };
  const leaseView = {
    activeLeases: async (now: number) => {
      log.push('activeLeases');
      return leases.filter((l) => l.until >= now);
    },
    reclaimExpired: async (now: number) => {
      log.push('reclaimExpired');
      const expired = leases.filter((l) => l.until < now);
      leases = leases.filter((l) => l.until >= now);
      return expired.length;
    },
  };
  const placement = fakePlacementPorts(options.groups ?? [], options.targets ?? {});
  const traffic: TrafficPort = {
    ...placement.traffic,
    targetHealth: async () => new Map(),
    settings: async (arns) => new Map(arns.map((a) => [a, settings(a)])),
    deregister: async () => {},
    register: async (targets) => {
      log.push(`register ${targets.map((t) => t.instanceId).join(',')}`);
    },
  };
  const autoscaling: AutoScalingPort = {
    ...placement.autoscaling,
    groupsOf: async () => new Map(),
    terminateKeepingCapacity: async () => {},
    terminateDecrementingCapacity: async () => {},
    setDesiredCapacity: async () => {},
    describeGroup: async () => undefined,
    lifecycleOf: async () => new Map(),
    enterStandby: async () => {},
    exitStandby: async () => {},
    health: async () => new Map(),
  };
  const exits: TrafficExits = {
    put: async (list) => {
      for (const e of list) exitsById.set(e.instanceId, e);
      return [];
    },
    remove: async (owner, ids) => {
      for (const id of ids) if (exitsById.get(id)?.owner === owner) exitsById.delete(id);
    },
    of: async (ids) =>
      new Map(ids.flatMap((id) => (exitsById.has(id) ? [[id, exitsById.get(id)!] as const] : []))),
    all: async () => {
      log.push('exits.all');
      return [...exitsById.values()];
    },
  };
  const ec2Actions = {
    conditions: async (ids: readonly string[]) =>
      new Map(ids.map((id) => [id, options.conditions?.[id] ?? { state: 'running', health: 'ok' }])),
    start: async (ids: readonly string[]) => {
      log.push(`start ${ids.join(',')}`);
    },
  };
  const pages: string[] = [];
  const notify = { publish: async (subject: string) => void pages.push(subject) };
  return {
    base: { ec2, store, leases: leaseView, actor: 'test' },
    ports: { traffic, autoscaling, exits, ec2Actions, notify },
    calls: placement.calls,
    log,
    table,
    ledgers,
    audit,
    exitsById,
    pages,
  };
}

const exitOf = (instanceId: string, owner: string, fields: Partial<TrafficExit> = {}): TrafficExit => ({
  instanceId,
  owner,
  deregistered: [{ targetGroupArn: TG_WEB }],
  targetGroups: [TG_WEB],
  phase: 'out',
  since: 0,
  drainSeconds: 300,
  readySeconds: 150,
  ...fields,
});

describe('syncInventory with the traffic ports', () => {
  const observed = [
    inGroup('i-00000001', 'web-asg'),
    inGroup('i-00000002', 'web-asg'),
    instance('i-00000003'),
    instance('i-00000004'),
  ];
  const groups = [group('web-asg', [member('i-00000001'), member('i-00000002', 'Standby')], [TG_WEB])];
  const targets: Record<string, TargetHealth[]> = {
    'i-00000001': [{ targetGroupArn: TG_WEB, state: 'healthy' as const }],
    'i-00000003': [{ targetGroupArn: TG_WEB, state: 'draining' as const }],
    'i-00000004': [{ targetGroupArn: TG_WEB, state: 'healthy' as const }],
  };

  it('records groups and target health, counts out-of-service instances in the ledger, and writes only changes', async () => {
    const sweep = fakeSweep({ observed, groups, targets });
    const first = await syncInventory({ ...sweep.base, ...sweep.ports, now: 1000 });
    expect(first).toMatchObject({ observed: 4, written: 4, trafficRestored: 0, trafficStuck: 0 });
    expect(sweep.calls).toEqual({ describeGroups: [['web-asg']], listManaged: 1 });
    expect(sweep.table.get('i-00000002')).toMatchObject({
      asg: { name: 'web-asg', lifecycle: 'Standby' },
      targets: [{ targetGroupArn: TG_WEB, state: 'unused', reason: 'Target.NotRegistered' }],
    });
    // Standby (i-2) and draining (i-3) are out of service.
    expect(sweep.ledgers[0][0]).toMatchObject({ service: 'web', observed: 2 });

    const idle = await syncInventory({ ...sweep.base, ...sweep.ports, now: 2000 });
    expect(idle).toMatchObject({ written: 0, unchanged: 4 });

    // Target health changes: only that instance is written.
    targets['i-00000003'] = [{ targetGroupArn: TG_WEB, state: 'healthy' }];
    const third = await syncInventory({ ...sweep.base, ...sweep.ports, now: 3000 });
    expect(third).toMatchObject({ written: 1, unchanged: 3 });
    expect(sweep.ledgers[2][0]).toMatchObject({ observed: 1 });
    targets['i-00000003'] = [{ targetGroupArn: TG_WEB, state: 'draining' }];
  });

  it('after reclaiming expired reservations, brings back what a dead owner left out of traffic (not a live owner’s)', async () => {
    const sweep = fakeSweep({
      observed,
      groups,
      targets,
      leases: [
        { instanceId: 'i-00000003', owner: 'chg-dead', token: 1, until: 500, reserved: true },
        { instanceId: 'i-00000004', owner: 'chg-live', token: 1, until: 9000, reserved: true },
      ],
      exits: [
        exitOf('i-00000003', 'chg-dead'),
        exitOf('i-00000004', 'chg-live'),
        exitOf('i-00000005', 'case-gone'),
      ],
      conditions: { 'i-00000005': { state: 'stopped', health: 'unknown' } },
    });
    const report = await syncInventory({ ...sweep.base, ...sweep.ports, now: 1000 });
    expect(report).toMatchObject({ reclaimedReservations: 1, trafficRestored: 1, trafficStuck: 1 });
    // Placement reads the exits first (where each one is out of traffic); the restore comes after the reclaim.
    expect(sweep.log.slice(0, 4)).toEqual(['exits.all', 'reclaimExpired', 'exits.all', 'activeLeases']);
    // i-3, deregistered by its dead owner, was seen still draining in web-tg.
    expect(sweep.table.get('i-00000003')?.targets).toEqual([
      { targetGroupArn: TG_WEB, state: 'draining', ...BOUNDS },
    ]);
    expect(sweep.log).toContain('register i-00000003');
    expect(sweep.log).toContain('start i-00000005');
    expect([...sweep.exitsById.keys()].sort()).toEqual(['i-00000004', 'i-00000005']);
    expect(sweep.audit.map((r) => `${r.subject} ${r.action}`)).toEqual(
      expect.arrayContaining(['instance:i-00000003 traffic.restored', 'instance:i-00000005 traffic.stuck']),
    );
    expect(sweep.pages).toHaveLength(1);
    // The next sweep does not page again for the same reason.
    await syncInventory({ ...sweep.base, ...sweep.ports, now: 2000 });
    expect(sweep.pages).toHaveLength(1);
  });

  it('without the ports behaves as before: no placement, no restore', async () => {
    const sweep = fakeSweep({ observed, groups, targets, exits: [exitOf('i-00000003', 'chg-dead')] });
    const report = await syncInventory({ ...sweep.base, now: 1000 });
    expect(report).toMatchObject({ observed: 4, written: 4, trafficRestored: 0, trafficStuck: 0 });
    expect(sweep.calls).toEqual({ describeGroups: [], listManaged: 0 });
    expect(sweep.log).not.toContain('exits.all');
    expect([...sweep.table.values()].some((i) => i.asg || i.targets)).toBe(false);
    expect(sweep.ledgers[0][0]).toMatchObject({ observed: 0 });
  });
});
