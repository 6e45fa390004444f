/**
 * ELBv2 over the simulated account's target groups (world/traffic-world.ts), as the paced client
 * of a Lambda sees it: Describe* requests take a token from the function's Describe bucket
 * (ELB_DESCRIBE_RATE), RegisterTargets / DeregisterTargets from its registration bucket, each
 * counted per API with the time it waited.
 */
import type {
  TargetGroupSettings,
  TargetHealth,
  TargetRef,
  TrafficPort,
} from '../../functions/core/ports/traffic';
import type { TokenBucket } from '../../functions/core/shared/token-bucket';
import type { VirtualClock } from '../kernel/virtual-clock';
import type { SimWorld } from '../world/sim-world';
import type { TargetGroupModel } from '../world/traffic-world';
import { type Actor, type ApiRequests, chunks, type TrafficObserver } from './common';

/** DescribeTargetGroups: 400 a page (names or ARNs: 20 a request); DescribeTags: 20 ARNs a request. */
const TARGET_GROUPS_PER_PAGE = 400;
const ARNS_PER_REQUEST = 20;
/** RegisterTargets / DeregisterTargets: the API takes a list; FleetOps sends at most 200 targets a request. */
const TARGETS_PER_REQUEST = 200;

export interface TrafficBuckets {
  readonly describe: TokenBucket;
  readonly registration: TokenBucket;
}

const settingsOf = (tg: TargetGroupModel): TargetGroupSettings => ({
  targetGroupArn: tg.arn,
  deregistrationDelaySeconds: tg.deregistrationDelaySeconds,
  healthCheckIntervalSeconds: tg.healthCheckIntervalSeconds,
  healthyThresholdCount: tg.healthyThresholdCount,
});

/**
 * The simulated ELBv2 for one actor. `skipDeregister` (the `skip-standby` defect) makes
 * DeregisterTargets answer success and change nothing.
 */
export function simulatedTraffic(
  world: SimWorld,
  clock: VirtualClock,
  buckets: TrafficBuckets,
  requests: ApiRequests,
  actor: Actor,
  observer?: TrafficObserver,
  skipDeregister = false,
): TrafficPort {
  const paced = async (api: string, bucket: TokenBucket) => {
    const asked = clock.now();
    await bucket.take();
    requests.count(api, clock.now() - asked);
  };
  const byGroup = (targets: ReadonlyArray<TargetRef & { readonly instanceId: string }>) => {
    const out = new Map<string, string[]>();
    for (const t of targets) {
      const ids = out.get(t.targetGroupArn);
      if (ids) ids.push(t.instanceId);
      else out.set(t.targetGroupArn, [t.instanceId]);
    }
    return out;
  };
  const traffic = world.traffic;
  return {
    async targetHealth(registrations) {
      const out = new Map<string, TargetHealth[]>();
      for (const [arn, ids] of registrations) {
        // One DescribeTargetHealth per group, naming the instances.
        await paced('DescribeTargetHealth', buckets.describe);
        for (const id of ids) {
          const h = traffic.health(arn, id);
          const list = out.get(id) ?? [];
          list.push({ targetGroupArn: arn, ...h });
          out.set(id, list);
        }
      }
      return out;
    },
    async settings(arns) {
      const out = new Map<string, TargetGroupSettings>();
      const unique = [...new Set(arns)];
      for (const batch of chunks(unique, ARNS_PER_REQUEST)) {
        await paced('DescribeTargetGroups', buckets.describe);
        for (const arn of batch) {
          const tg = traffic.targetGroups.get(arn);
          if (tg) out.set(arn, settingsOf(tg));
        }
      }
      // Deregistration delay is an attribute: one DescribeTargetGroupAttributes per group.
      for (const _ of out.keys()) await paced('DescribeTargetGroupAttributes', buckets.describe);
      return out;
    },
    async deregister(targets) {
      for (const [arn, ids] of byGroup(targets))
        for (const batch of chunks(ids, TARGETS_PER_REQUEST)) {
          await paced('DeregisterTargets', buckets.registration);
          for (const id of batch) {
            observer?.traffic(actor.owner(), actor.by, 'deregister', id);
            if (!skipDeregister) traffic.deregister(arn, id);
          }
        }
    },
    async register(targets) {
      for (const [arn, ids] of byGroup(targets))
        for (const batch of chunks(ids, TARGETS_PER_REQUEST)) {
          await paced('RegisterTargets', buckets.registration);
          for (const id of batch) {
            observer?.traffic(actor.owner(), actor.by, 'register', id);
            traffic.register(arn, id);
          }
        }
    },
    async listManaged() {
      const groups = [...traffic.targetGroups.values()];
      for (let k = 0; k < Math.max(1, Math.ceil(groups.length / TARGET_GROUPS_PER_PAGE)); k++)
        await paced('DescribeTargetGroups', buckets.describe);
      for (let k = 0; k < Math.ceil(groups.length / ARNS_PER_REQUEST); k++)
        await paced('DescribeTags', buckets.describe);
      const targets = new Map<string, TargetHealth[]>();
      for (const tg of groups) {
        await paced('DescribeTargetHealth', buckets.describe);
        await paced('DescribeTargetGroupAttributes', buckets.describe);
        for (const [id, reg] of tg.targets) {
          const list = targets.get(id) ?? [];
          list.push({
            targetGroupArn: tg.arn,
            state: reg.state,
            ...(reg.reason ? { reason: reg.reason } : {}),
          });
          targets.set(id, list);
        }
      }
      return { groups: groups.map(settingsOf), targets };
    },
  };
}
