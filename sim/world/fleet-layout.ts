import type { Instance } from '../../functions/core/fleet/fleet';
import { type GroupLayout, type ServiceTraffic, scalingMax, type TargetGroupLayout } from './traffic-layout';

/**
 * The simulated account's target groups and Auto Scaling groups for a fleet file (one
 * `fleetops fleet export` wrote): what the sweep recorded on each instance (`targets`, `asg`).
 * The simulator models one target group and one group per service, so a service whose
 * instances name several is modelled with the one most of them name (a warning says so).
 *
 * What the inventory does not record is taken as AWS's defaults or the synthetic layout's:
 * - deregistration delay: the target's `drainSeconds`, else 300 s;
 * - healthy threshold × interval: the target's `readySeconds` split as 5 × (ready / 5) when that
 *   gives whole seconds of at least 5, else 2 × (ready / 2); absent: 5 × 30 s; unhealthy
 *   threshold 2;
 * - a group's size bounds: minimum half its members (as the synthetic layout), maximum its
 *   members plus a tenth (at least 2): a group its owner scales has room above its size (a
 *   scale-out at the maximum raises it); EC2 health checks (the default), a 300 s grace period.
 */
export function fleetLayout(instances: readonly Instance[]): {
  layout: Map<string, ServiceTraffic>;
  warnings: string[];
} {
  const tgs = new Map<string, Map<string, { count: number; drain?: number; ready?: number }>>();
  const groups = new Map<string, Map<string, number>>();
  const sizes = new Map<string, number>();
  for (const i of instances) {
    if (i.state === 'terminated') continue;
    sizes.set(i.service, (sizes.get(i.service) ?? 0) + 1);
    for (const t of i.targets ?? []) {
      let byArn = tgs.get(i.service);
      if (!byArn) {
        byArn = new Map();
        tgs.set(i.service, byArn);
      }
      const seen = byArn.get(t.targetGroupArn) ?? { count: 0 };
      byArn.set(t.targetGroupArn, {
        count: seen.count + 1,
        drain: seen.drain ?? t.drainSeconds,
        ready: seen.ready ?? t.readySeconds,
      });
    }
    if (i.asg) {
      let byName = groups.get(i.service);
      if (!byName) {
        byName = new Map();
        groups.set(i.service, byName);
      }
      byName.set(i.asg.name, (byName.get(i.asg.name) ?? 0) + 1);
    }
  }
  const warnings: string[] = [];
  const layout = new Map<string, ServiceTraffic>();
  for (const service of [...sizes.keys()].sort()) {
    const size = sizes.get(service)!;
    const byArn = tgs.get(service);
    const byName = groups.get(service);
    let targetGroup: TargetGroupLayout | undefined;
    if (byArn) {
      const [arn, t] = mostNamed(byArn, (x) => x.count);
      if (byArn.size > 1)
        warnings.push(
          `${service}: ${byArn.size} target groups; modelled as one (${arn.split('/').at(-2) ?? arn})`,
        );
      const [threshold, interval] = readiness(t.ready);
      targetGroup = {
        arn,
        deregistrationDelaySeconds: t.drain ?? 300,
        healthCheckIntervalSeconds: interval,
        healthyThresholdCount: threshold,
        unhealthyThresholdCount: 2,
      };
    }
    let group: GroupLayout | undefined;
    if (byName) {
      const [name, members] = mostNamed(byName, (n) => n);
      if (byName.size > 1)
        warnings.push(`${service}: ${byName.size} Auto Scaling groups; modelled as one (${name})`);
      if (members < size)
        warnings.push(
          `${service}: ${size - members} of ${size} instances in no group; modelled as members of ${name}`,
        );
      group = {
        name,
        min: Math.floor(size / 2),
        max: scalingMax(size),
        healthCheckType: 'EC2',
        graceSeconds: 300,
      };
    }
    if (targetGroup || group)
      layout.set(service, { ...(targetGroup ? { targetGroup } : {}), ...(group ? { group } : {}) });
  }
  return { layout, warnings };
}

function mostNamed<T>(m: ReadonlyMap<string, T>, count: (t: T) => number): [string, T] {
  return [...m].sort(([a, x], [b, y]) => count(y) - count(x) || (a < b ? -1 : 1))[0];
}

/** Healthy threshold and interval whose product is the recorded readiness (seconds). */
function readiness(ready: number | undefined): [number, number] {
  if (ready === undefined) return [5, 30];
  if (ready % 5 === 0 && ready / 5 >= 5) return [5, ready / 5];
  return [2, Math.max(1, Math.round(ready / 2))];
}
