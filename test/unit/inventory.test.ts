import { findingsFor } from '../../functions/core/events/findings';
import type { Instance } from '../../functions/core/fleet/fleet';
import { diffInventory, ledgerObservations } from '../../functions/core/fleet/inventory';
import { serviceCatalog } from '../../functions/core/fleet/services';

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
