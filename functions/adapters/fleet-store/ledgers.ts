/**
 * The ledger's observed side, as inventory sync writes it: one conditional update that brings a
 * service's ledger to what the sync observed (capacity, and unavailable instances no lease
 * covers), moving `used` by the change in `observed`, overall and per zone.
 */
import type { LedgerObservation } from '../../core/fleet/inventory';
import { ledgerZoneAttribute, zoneOfLedgerAttribute } from '../keys';

/** The conditional update that brings a ledger to the observation, or undefined if it already agrees. */
export function ledgerUpdate(observation: LedgerObservation, current: Record<string, unknown>) {
  const zones = [
    ...new Set([
      ...observation.zones.keys(),
      ...Object.keys(current).flatMap((k) => zoneOfLedgerAttribute('observed', k) ?? []),
    ]),
  ].sort();
  const agrees =
    current.capacity === observation.capacity &&
    current.observed === observation.observed &&
    zones.every((zone) => {
      const z = observation.zones.get(zone) ?? { capacity: 0, observed: 0 };
      return (
        current[ledgerZoneAttribute('capacity', zone)] === z.capacity &&
        current[ledgerZoneAttribute('observed', zone)] === z.observed
      );
    });
  if (agrees) return undefined;

  const names: Record<string, string> = {
    '#capacity': 'capacity',
    '#observed': 'observed',
    '#used': 'used',
    '#service': 'service',
  };
  const values: Record<string, unknown> = {
    ':capacity': observation.capacity,
    ':observed': observation.observed,
    ':delta': observation.observed - Number(current.observed ?? 0),
    ':zero': 0,
    ':service': observation.service,
  };
  const sets = [
    '#service = :service',
    '#capacity = :capacity',
    '#observed = :observed',
    '#used = if_not_exists(#used, :zero) + :delta',
  ];
  const conditions = [
    current.observed === undefined ? 'attribute_not_exists(#observed)' : '#observed = :was',
  ];
  if (current.observed !== undefined) values[':was'] = current.observed;
  zones.forEach((zone, i) => {
    const z = observation.zones.get(zone) ?? { capacity: 0, observed: 0 };
    const was = current[ledgerZoneAttribute('observed', zone)];
    names[`#c${i}`] = ledgerZoneAttribute('capacity', zone);
    names[`#o${i}`] = ledgerZoneAttribute('observed', zone);
    names[`#u${i}`] = ledgerZoneAttribute('used', zone);
    values[`:c${i}`] = z.capacity;
    values[`:o${i}`] = z.observed;
    values[`:d${i}`] = z.observed - Number(was ?? 0);
    sets.push(`#c${i} = :c${i}`, `#o${i} = :o${i}`, `#u${i} = if_not_exists(#u${i}, :zero) + :d${i}`);
    if (was === undefined) conditions.push(`attribute_not_exists(#o${i})`);
    else {
      values[`:w${i}`] = was;
      conditions.push(`#o${i} = :w${i}`);
    }
  });
  return {
    UpdateExpression: `SET ${sets.join(', ')}`,
    ConditionExpression: conditions.join(' AND '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}
