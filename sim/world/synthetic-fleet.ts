import type { Instance } from '../../functions/core/fleet/fleet';
import type { ServicesFile } from '../../functions/core/fleet/services';
import { seededRandom } from '../kernel/random';

export interface SyntheticFleetOptions {
  readonly instances: number;
  readonly services: number;
  readonly zones: number;
  readonly seed: number;
  /** Fraction of instances that are impaired or stopped at the start. @default 0.01 */
  readonly unavailableRate?: number;
  readonly region?: string;
  /**
   * When given, every instance has a launch time before it (`launchedAt`): with `churnRate` > 0
   * (scale-ins and scale-outs per instance per hour), ages as a fleet that has churned at that
   * rate for long has them (exponential, mean 1/rate hours: a scale-in takes any instance);
   * without, 30 to 400 days. Drawn from a stream of their own: the rest of the fleet is the same.
   */
  readonly launchedBefore?: number;
  readonly churnRate?: number;
}

/**
 * A fleet shaped like real ones: service sizes follow a heavy-tailed distribution (a few
 * large services, many small ones), instances spread over zones, a few already unavailable.
 * Budgets are drawn from common declarations (small services: 1, 2 or 25%; large ones: 5%, 10%
 * or 20%; half of the services over 200 instances also cap each zone at 5%).
 */
export function syntheticFleet(options: SyntheticFleetOptions): {
  instances: Instance[];
  services: ServicesFile;
} {
  const random = seededRandom(options.seed);
  const region = options.region ?? 'us-east-1';
  const zones = Array.from({ length: options.zones }, (_, i) => `${region}${String.fromCharCode(97 + i)}`);
  const unavailableRate = options.unavailableRate ?? 0.01;

  // Zipf-like weights, at least one instance per service.
  const weights = Array.from({ length: options.services }, (_, i) => 1 / (i + 1) ** 0.8);
  const weightSum = weights.reduce((a, b) => a + b, 0);
  const spare = options.instances - options.services;
  const sizes = weights.map((w) => 1 + Math.floor((w / weightSum) * Math.max(0, spare)));
  let left = options.instances - sizes.reduce((a, b) => a + b, 0);
  for (let i = 0; left > 0; i = (i + 1) % sizes.length, left--) sizes[i]++;

  const instances: Instance[] = [];
  const services: ServicesFile = { services: {} };
  // Small services declare counts; large ones declare percentages, as operators do.
  const smallChoices = [1, 2, '25%'] as const;
  const largeChoices = ['5%', '10%', '20%'] as const;
  let serial = 0;
  sizes.forEach((size, s) => {
    const name = `svc-${String(s).padStart(4, '0')}`;
    const choices = size > 40 ? largeChoices : smallChoices;
    const choice = choices[Math.floor(random() * choices.length)];
    services.services[name] = {
      maxUnavailable:
        typeof choice === 'number'
          ? { kind: 'count', value: choice }
          : { kind: 'percent', value: Number.parseFloat(choice) },
      ...(size > 200 && random() < 0.5
        ? { maxUnavailablePerZone: { kind: 'percent' as const, value: 5 } }
        : {}),
      impact: random() < 0.2 ? { 'set-tag': 'non-disruptive' } : {},
    };
    const offset = Math.floor(random() * zones.length);
    for (let k = 0; k < size; k++) {
      const roll = random();
      instances.push({
        id: `i-${(0x10000000 + serial++).toString(16).padStart(17, '0')}`,
        service: name,
        zone: zones[(offset + k) % zones.length],
        cell: `cell-${Math.floor(k / 50)}`,
        state: roll < unavailableRate / 2 ? 'stopped' : 'running',
        health: roll >= unavailableRate / 2 && roll < unavailableRate ? 'impaired' : 'ok',
        tags: { os: k % 4 === 0 ? 'ubuntu' : 'al2023' },
      });
    }
  });
  if (options.launchedBefore !== undefined) {
    const before = options.launchedBefore;
    const rate = options.churnRate ?? 0;
    const ages = seededRandom((options.seed ^ 0x5eed1a6e) >>> 0);
    for (const i of instances) {
      const u = ages();
      const hours = rate > 0 ? Math.min(-Math.log(1 - u) / rate, 3 * 365 * 24) : (30 + u * 370) * 24;
      i.launchedAt = new Date(before - Math.round(hours * 3_600_000)).toISOString();
    }
  }
  return { instances, services };
}
