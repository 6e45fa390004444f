/**
 * What the local runtime runs on: the demo fleet (seven services over three zones, each with the
 * budget it declares; checkout's instances are members of an Auto Scaling group behind an ELBv2
 * target group), the rack that fails in scene 2, and the three changes of the scenes (a good
 * patch with an approval, a bad config the judge catches, checkout moved to new hosts through
 * Standby).
 */
import { servicesFileSchema } from '../../functions/core/fleet/services';
import type { LocalFleetSpec } from './runtime';

/**
 * The traffic service's load balancing: a deregistration delay of 5 s (AWS's default is 300 s)
 * and health checks every 5 s, healthy after 2 (AWS's minimums), so a wave's draining and
 * readiness take 5 + 10 s here.
 */
export const CHECKOUT_TRAFFIC = {
  service: 'checkout',
  deregistrationDelaySeconds: 5,
  healthCheckIntervalSeconds: 5,
  healthyThresholdCount: 2,
} as const;

/**
 * 324 instances: seven services over three zones, each with the budget it declares;
 * checkout (24) in an Auto Scaling group behind a target group.
 */
export const DEMO_FLEET: LocalFleetSpec = {
  traffic: CHECKOUT_TRAFFIC,
  services: {
    checkout: { perZone: 8 },
    web: { perZone: 30 },
    api: { perZone: 20 },
    worker: { perZone: 20 },
    cache: { perZone: 10 },
    db: { perZone: 10 },
    batch: { perZone: 10 },
  },
  budgets: servicesFileSchema.parse({
    services: {
      web: { maxUnavailable: '15%', maxUnavailablePerZone: '34%' },
      api: { maxUnavailable: '20%' },
      worker: { maxUnavailable: '25%' },
      cache: { maxUnavailable: 3, maxUnavailablePerZone: 1 },
      db: { maxUnavailable: 2, maxUnavailablePerZone: 1 },
      batch: { maxUnavailable: '30%' },
      checkout: { maxUnavailable: '34%' },
    },
  }),
};

/**
 * A rolling stop-start over the service behind the load balancer (its instances move to new
 * hosts ahead of scheduled retirements): every wave goes through Standby, drains, stops and
 * starts, comes back and is healthy again before the next one.
 */
export const HOSTS = {
  id: 'checkout-hosts-2026-12',
  description: 'Move checkout to new hosts ahead of scheduled retirements (stop-start)',
  target: { services: ['checkout'] },
  action: { type: 'stop-start' },
  risk: 'low',
  // Four waves (4, 8, 8, 4) within checkout's budget of 8: each wave adds its draining and readiness.
  strategy: { canary: 4, growth: { mode: 'exponential', factor: 2 }, zoneConcurrency: 3, bakeMinutes: 5 },
  gates: { statusChecks: true, onFailure: 'pause' },
};

/** A good change: November's patches over two services, approved after its canary. */
export const PATCH = {
  id: 'patch-2026-11',
  description: 'Install November security patches (AWS-RunPatchBaseline)',
  target: { services: ['web', 'api'] },
  action: {
    type: 'ssm-command',
    document: 'AWS-RunPatchBaseline',
    parameters: { Operation: ['Install'], RebootOption: ['NoReboot'] },
    timeoutSeconds: 600,
  },
  risk: 'medium',
  strategy: { canary: 1, growth: { mode: 'exponential', factor: 2 }, maxWaveSize: '20%', bakeMinutes: 10 },
  gates: { statusChecks: true, errorThreshold: '5%', onFailure: 'pause' },
  approval: { afterCanary: true },
};

/** A bad change: config v43 makes the application 60% slower; the judge must catch it. */
export const CONFIG = {
  id: 'config-v43',
  description: 'Roll out application config v43 (connection pool sizes)',
  target: { services: ['api', 'worker'] },
  action: { type: 'set-tag', tags: { 'app-config': 'v43' } },
  rollback: { action: { type: 'set-tag', tags: { 'app-config': 'v42' } }, waveFactor: 2 },
  risk: 'low',
  strategy: { canary: 3, growth: { mode: 'exponential', factor: 2 }, bakeMinutes: 10 },
  gates: {
    statusChecks: true,
    metrics: [
      { name: 'Latency', namespace: 'App', statistic: 'Average', direction: 'increase', critical: true },
    ],
    onFailure: 'rollback',
  },
};

/** The failing rack: a few instances of every service; no service is hit hard, the zone is. */
export const DEMO_RACK: Readonly<Record<string, number>> = {
  web: 7,
  api: 5,
  worker: 5,
  batch: 5,
  cache: 1,
  db: 1,
};
