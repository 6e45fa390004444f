import fc from 'fast-check';
import {
  ACTION_TYPES,
  type ChangeSpec,
  changeSpecSchema,
  RISK_CLASSES,
} from '../../functions/core/change/spec';
import type { Instance } from '../../functions/core/fleet/fleet';
import type { ServicesFile } from '../../functions/core/fleet/services';

export const ZONES = ['us-east-1a', 'us-east-1b', 'us-east-1c', 'us-east-1d'];
export const SERVICES = ['web', 'api', 'worker', 'cache', 'search', 'batch'];

const instanceId = (n: number) => `i-${n.toString(16).padStart(8, '0')}`;

export const fleetArb: fc.Arbitrary<Instance[]> = fc
  .record({
    zones: fc.integer({ min: 1, max: 4 }),
    services: fc.integer({ min: 1, max: SERVICES.length }),
    // How many zones each service lives in, and from which zone on: real services are not
    // spread evenly, and that is where zone and canary rules are easiest to break.
    spread: fc.array(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.nat(3)), {
      minLength: SERVICES.length,
      maxLength: SERVICES.length,
    }),
    rows: fc.array(
      fc.record({
        service: fc.nat(),
        zone: fc.nat(),
        cell: fc.option(fc.constantFrom('c1', 'c2', 'c3'), { nil: undefined }),
        state: fc.constantFrom(
          'running',
          'running',
          'running',
          'running',
          'running',
          'stopped',
          'pending',
          'terminated',
        ),
        health: fc.constantFrom('ok', 'ok', 'ok', 'ok', 'impaired', 'unknown'),
        os: fc.constantFrom('al2023', 'ubuntu'),
      }),
      { maxLength: 150 },
    ),
  })
  .map(({ zones, services, spread, rows }) =>
    rows.map((row, i): Instance => {
      const s = row.service % services;
      const [count, first] = spread[s];
      return {
        id: instanceId(i + 1),
        service: SERVICES[s],
        zone: ZONES[(first + (row.zone % Math.min(count, zones))) % zones],
        ...(row.cell ? { cell: row.cell } : {}),
        state: row.state as Instance['state'],
        health: row.health as Instance['health'],
        tags: { os: row.os },
      };
    }),
  );

const quantityArb = fc.oneof(
  fc.integer({ min: 0, max: 6 }).map((value) => ({ kind: 'count' as const, value })),
  fc.integer({ min: 0, max: 60 }).map((value) => ({ kind: 'percent' as const, value })),
);

export const servicesArb: fc.Arbitrary<ServicesFile> = fc.record({
  defaults: fc.option(fc.record({ maxUnavailable: quantityArb, impact: fc.constant({}) }), {
    nil: undefined,
  }),
  services: fc
    .subarray(SERVICES)
    .chain((names) =>
      fc.tuple(
        ...names.map((name) =>
          fc
            .record({
              maxUnavailable: quantityArb,
              maxUnavailablePerZone: fc.option(quantityArb, { nil: undefined }),
              impact: fc.dictionary(
                fc.constantFrom(...ACTION_TYPES),
                fc.constantFrom('disruptive', 'non-disruptive'),
                {
                  maxKeys: 3,
                },
              ),
            })
            .map((policy) => [name, policy] as const),
        ),
      ),
    )
    .map((entries) => Object.fromEntries(entries.map(([n, p]) => [n, { ...p, impact: p.impact as never }]))),
});

/** A raw spec as an operator writes it; parsed through the real schema so defaults apply. */
export const specArb = (fleet: readonly Instance[]): fc.Arbitrary<ChangeSpec> =>
  fc
    .record({
      services: fc.option(fc.subarray(SERVICES, { minLength: 1 }), { nil: undefined }),
      tags: fc.option(fc.constantFrom({ os: 'al2023' }, { os: 'ubuntu' }), { nil: undefined }),
      ids: fc.option(fc.subarray(fleet.map((i) => i.id).concat(['i-0badbad0']), { minLength: 1 }), {
        nil: undefined,
      }),
      action: fc.constantFrom(...ACTION_TYPES),
      risk: fc.constantFrom(...RISK_CLASSES),
      canary: fc.integer({ min: 1, max: 3 }),
      growth: fc.oneof(
        fc.record({ mode: fc.constant('exponential'), factor: fc.constantFrom(1.5, 2, 3) }),
        fc.record({ mode: fc.constant('linear'), factor: fc.constantFrom(0.5, 1, 2) }),
      ),
      maxWaveSize: fc.option(
        fc.oneof(fc.integer({ min: 1, max: 20 }), fc.constantFrom('10%', '25%', '50%')),
        {
          nil: undefined,
        },
      ),
      zoneConcurrency: fc.constantFrom(1, 1, 1, 2),
      afterCanary: fc.option(fc.boolean(), { nil: undefined }),
    })
    .map((r) => {
      const target =
        r.services || r.tags || r.ids
          ? {
              ...(r.services ? { services: r.services } : {}),
              ...(r.tags ? { tags: r.tags } : {}),
              ...(r.ids ? { instanceIds: r.ids } : {}),
            }
          : { services: SERVICES };
      const action =
        r.action === 'ssm-command'
          ? { type: r.action, document: 'AWS-RunShellScript' }
          : r.action === 'set-tag'
            ? { type: r.action, tags: { version: '2' } }
            : { type: r.action };
      return changeSpecSchema.parse({
        id: 'prop-change',
        description: 'generated',
        target,
        action,
        risk: r.risk,
        strategy: {
          canary: r.canary,
          growth: r.growth,
          ...(r.maxWaveSize !== undefined ? { maxWaveSize: r.maxWaveSize } : {}),
          zoneConcurrency: r.zoneConcurrency,
        },
        approval: r.afterCanary === undefined ? {} : { afterCanary: r.afterCanary },
      });
    });

/** Fisher–Yates with fast-check's randomness, so a failure shrinks and replays. */
export function shuffled<T>(items: readonly T[], keys: readonly number[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = (keys[i % Math.max(1, keys.length)] ?? 0) % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
