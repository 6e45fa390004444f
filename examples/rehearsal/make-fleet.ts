/**
 * Writes examples/rehearsal/fleet.json: 300 instances over 3 zones, in the format
 * `fleetops fleet export` writes (the fleet file `fleetops plan` and `fleetops simulate --fleet`
 * read), with the target groups and Auto Scaling groups the sweep records on each instance.
 * A stand-in for an export of a real table (test/sim/fleet-export.test.ts exports a table holding
 * it and gets the same fleet back). Run: npx tsx examples/rehearsal/make-fleet.ts
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Instance } from '../../functions/core/fleet/fleet';

const ZONES = ['us-east-1a', 'us-east-1b', 'us-east-1c'];
const TG = (service: string, k: number) =>
  `arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/${service}/${(0x7e57000000000000n + BigInt(k)).toString(16)}`;

/** Service, size, its target group's draining and readiness (s), its Auto Scaling group, its team. */
const SERVICES = [
  { service: 'web', size: 120, tg: { drain: 120, ready: 50 }, asg: 'asg-web', team: 'storefront' },
  { service: 'api', size: 90, tg: { drain: 300, ready: 90 }, asg: undefined, team: 'platform' },
  { service: 'worker', size: 60, tg: undefined, asg: 'asg-worker', team: 'platform' },
  { service: 'cache', size: 30, tg: undefined, asg: undefined, team: 'data' },
] as const;

/** The few instances that are down as the sweep last saw them (the plan skips them). */
const DOWN: Readonly<Record<string, Pick<Instance, 'state' | 'health'>>> = {
  'api-17': { state: 'running', health: 'impaired' },
  'cache-4': { state: 'stopped', health: 'unknown' },
};

/** As DescribeTargetHealth tells it: a stopped instance is `unused`, an impaired one `unhealthy`. */
function targetHealth(state: Instance['state'], health: Instance['health']) {
  if (state !== 'running') return { state: 'unused' as const, reason: 'Target.InvalidState' };
  if (health !== 'ok') return { state: 'unhealthy' as const, reason: 'Target.FailedHealthChecks' };
  return { state: 'healthy' as const };
}

const instances: Instance[] = [];
let serial = 0;
SERVICES.forEach(({ service, size, tg, asg, team }, s) => {
  for (let k = 0; k < size; k++) {
    const down = DOWN[`${service}-${k}`];
    const state = down?.state ?? 'running';
    const health = down?.health ?? 'ok';
    instances.push({
      id: `i-0${(0xa0000000 + serial++).toString(16)}00000000`.slice(0, 19),
      service,
      zone: ZONES[k % ZONES.length],
      cell: `${service}-cell-${Math.floor(k / 30)}`,
      state,
      health,
      tags: { team, os: k % 5 === 0 ? 'ubuntu' : 'al2023', env: 'prod', service },
      ...(asg ? { asg: { name: asg, lifecycle: 'InService' } } : {}),
      ...(tg
        ? {
            targets: [
              {
                targetGroupArn: TG(service, s),
                port: 8080,
                ...targetHealth(state, health),
                drainSeconds: tg.drain,
                readySeconds: tg.ready,
              },
            ],
          }
        : {}),
    });
  }
});
instances.sort((a, b) => (a.id < b.id ? -1 : 1));
writeFileSync(join(__dirname, 'fleet.json'), `${JSON.stringify({ instances }, null, 2)}\n`);
