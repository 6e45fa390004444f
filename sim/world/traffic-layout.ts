import type { Instance } from '../../functions/core/fleet/fleet';
import { seededRandom } from '../kernel/random';

/**
 * Which services of the synthetic fleet sit behind an ELBv2 target group and which run in an
 * Auto Scaling group, and how those are configured: drawn from the seed (its own stream, so the
 * fleet itself is the same with or without traffic), from settings operators commonly use.
 */

/** One service's target group: its draining and health-check settings. */
export interface TargetGroupLayout {
  readonly arn: string;
  /**
   * `deregistration_delay.timeout_seconds`: 300 by default (range 0–3600); teams with short
   * requests lower it (ELB User Guide, "Deregistration delay").
   */
  readonly deregistrationDelaySeconds: number;
  /** HealthCheckIntervalSeconds: 30 by default (5–300). */
  readonly healthCheckIntervalSeconds: number;
  /** HealthyThresholdCount: 5 by default for HTTP(S) target groups (2–10). */
  readonly healthyThresholdCount: number;
  /** UnhealthyThresholdCount: 2 by default. */
  readonly unhealthyThresholdCount: number;
}

/** One service's Auto Scaling group (it attaches the service's target group, when there is one). */
export interface GroupLayout {
  readonly name: string;
  readonly min: number;
  /** The group's members are launched at its maximum (so a remediation replaces terminate-first unless capacity is lent to Standby). */
  readonly max: number;
  /**
   * `EC2` (the default: status checks and instance state) or `ELB` (the target groups' health
   * checks too, after the grace period).
   */
  readonly healthCheckType: 'EC2' | 'ELB';
  /** HealthCheckGracePeriod: 300 s by default in the console. */
  readonly graceSeconds: number;
}

export interface ServiceTraffic {
  readonly targetGroup?: TargetGroupLayout;
  readonly group?: GroupLayout;
}

export interface TrafficLayoutOptions {
  readonly seed: number;
  /** Share of services behind one target group. @default 0.8 */
  readonly targetGroupShare?: number;
  /** Share of services in an Auto Scaling group; 1 puts every service in one. @default 0.3 */
  readonly groupShare?: number;
  /**
   * Groups whose owners scale them (churn) have room above their size: a maximum of their size
   * plus a tenth (at least 2) instead of their size. @default false
   */
  readonly scalingRoom?: boolean;
}

/** The maximum of a group its owner scales: room above its size (fleet-layout.ts uses the same). */
export const scalingMax = (size: number) => size + Math.max(2, Math.ceil(size / 10));

const DELAYS = [30, 60, 120, 300, 300] as const;
const INTERVALS = [10, 15, 30, 30] as const;
const THRESHOLDS = [2, 3, 5, 5] as const;

/** The layout of every service of this fleet (services absent: neither a target group nor a group). */
export function trafficLayout(
  instances: readonly Pick<Instance, 'service' | 'state'>[],
  options: TrafficLayoutOptions,
  region = 'us-east-1',
): Map<string, ServiceTraffic> {
  const random = seededRandom((options.seed ^ 0x27d4eb2f) >>> 0);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)];
  const sizes = new Map<string, number>();
  for (const i of instances)
    if (i.state !== 'terminated') sizes.set(i.service, (sizes.get(i.service) ?? 0) + 1);
  const tgShare = options.targetGroupShare ?? 0.8;
  const groupShare = options.groupShare ?? 0.3;
  const out = new Map<string, ServiceTraffic>();
  let k = 0;
  for (const [service, size] of [...sizes].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const hasTg = random() < tgShare;
    const hasGroup = groupShare >= 1 || random() < groupShare;
    const targetGroup: TargetGroupLayout | undefined = hasTg
      ? {
          arn: `arn:aws:elasticloadbalancing:${region}:123456789012:targetgroup/${service}/${(0x5000000000000000n + BigInt(k++)).toString(16)}`,
          deregistrationDelaySeconds: pick(DELAYS),
          healthCheckIntervalSeconds: pick(INTERVALS),
          healthyThresholdCount: pick(THRESHOLDS),
          unhealthyThresholdCount: 2,
        }
      : undefined;
    const group: GroupLayout | undefined = hasGroup
      ? {
          name: `asg-${service}`,
          min: Math.floor(size / 2),
          max: options.scalingRoom ? scalingMax(size) : size,
          healthCheckType: hasTg && random() < 0.4 ? 'ELB' : 'EC2',
          graceSeconds: 300,
        }
      : undefined;
    if (targetGroup || group)
      out.set(service, { ...(targetGroup ? { targetGroup } : {}), ...(group ? { group } : {}) });
  }
  return out;
}
