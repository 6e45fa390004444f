/**
 * The traffic port (`TrafficPort`) over ELBv2: target health, draining and readiness settings,
 * RegisterTargets / DeregisterTargets, and the sweep's view of every managed target group, each
 * request paced by the client's token buckets and counted by operation.
 */
import {
  DeregisterTargetsCommand,
  DescribeTagsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
  type TargetGroup,
  type TargetHealthDescription,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { ELB_DESCRIBE_RATE, ELB_REGISTRATION_RATE, MANAGED_TAG, SDK_RETRY } from '../core/defaults';
import type {
  TargetGroupSettings,
  TargetHealth,
  TargetRef,
  TargetState,
  TrafficPort,
} from '../core/ports/traffic';
import { TokenBucket } from '../core/shared/token-bucket';
import { chunks, mapLimit } from './dynamo-client';

/** DescribeTargetGroups returns at most 400 groups a page (PageSize 1–400, API reference). */
const GROUPS_PER_PAGE = 400;
/** DescribeTags takes at most 20 resource ARNs a request (API reference). */
const TAGS_PER_REQUEST = 20;
/** RegisterTargets / DeregisterTargets: many targets a request; FleetOps sends at most 100. */
const TARGETS_PER_REQUEST = 100;
/** Requests in flight at once (the buckets pace them anyway). */
const IN_FLIGHT = 8;

/** ELB's defaults, for a group whose attributes or health check do not say. */
const DEFAULT_DEREGISTRATION_DELAY = 300;
const DEFAULT_INTERVAL = 30;
const DEFAULT_HEALTHY_THRESHOLD = 5;

export interface Elbv2Buckets {
  /** Describe* (the non-mutating bucket). @default ELB_DESCRIBE_RATE (core/defaults.ts) */
  readonly describe?: TokenBucket;
  /** RegisterTargets, DeregisterTargets and any other mutating call. @default ELB_REGISTRATION_RATE */
  readonly registration?: TokenBucket;
}

/**
 * An ELBv2 client with adaptive retries whose every request (retries included) first takes a
 * token: Describe* from the describe bucket, the rest from the registration bucket (ELB API
 * version 2 keeps separate buckets for them, per account and Region).
 */
export function pacedElbv2Client(
  buckets: Elbv2Buckets = {},
  client = new ElasticLoadBalancingV2Client({ ...SDK_RETRY }),
): ElasticLoadBalancingV2Client {
  const describe =
    buckets.describe ?? new TokenBucket(ELB_DESCRIBE_RATE.ratePerSecond, ELB_DESCRIBE_RATE.capacity);
  const registration =
    buckets.registration ??
    new TokenBucket(ELB_REGISTRATION_RATE.ratePerSecond, ELB_REGISTRATION_RATE.capacity);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? '';
      await (name.startsWith('Describe') ? describe : registration).take();
      return next(args);
    },
    { step: 'finalizeRequest', name: 'fleetopsPacing', priority: 'high' },
  );
  return client;
}

export interface Elbv2TrafficOptions {
  /** Target groups FleetOps manages carry this tag. @default MANAGED_TAG (core/defaults.ts): `fleetops:managed` = `true` */
  readonly managedTag?: { readonly key: string; readonly value: string };
}

const STATES = new Set<string>(['initial', 'healthy', 'unhealthy', 'unused', 'draining', 'unavailable']);

/** ELB's state as the port knows it: `unhealthy.draining` still drains; anything new is taken as unhealthy. */
function stateOf(raw: string | undefined): TargetState {
  if (raw === 'unhealthy.draining') return 'draining';
  return raw && STATES.has(raw) ? (raw as TargetState) : 'unhealthy';
}

function healthOf(targetGroupArn: string, d: TargetHealthDescription): TargetHealth {
  const reason = d.TargetHealth?.Reason;
  return {
    targetGroupArn,
    ...(d.Target?.Port !== undefined ? { port: d.Target.Port } : {}),
    state: stateOf(d.TargetHealth?.State),
    ...(reason ? { reason } : {}),
  };
}

const isNotFound = (error: unknown) => /TargetGroupNotFound/.test((error as { name?: string })?.name ?? '');

/**
 * Target groups of instance targets over ELBv2. Requests sent are counted by operation in
 * `requests` (for reports and the bench); pacing is the client's (see {@link pacedElbv2Client}).
 */
export class Elbv2Traffic implements TrafficPort {
  private readonly managedTag: { key: string; value: string };
  /** Requests sent, by operation. */
  readonly requests = new Map<string, number>();

  constructor(
    private readonly elbv2: ElasticLoadBalancingV2Client,
    options: Elbv2TrafficOptions = {},
  ) {
    this.managedTag = options.managedTag ?? MANAGED_TAG;
  }

  /**
   * One DescribeTargetHealth per group. The group's registrations are listed whole (no Targets
   * named): naming an instance without its port asks only about the group's own port, and an
   * instance registered on another port (or on several) would read as not registered. Named
   * instances the group does not list are reported `unused` / `Target.NotRegistered`, as
   * DescribeTargetHealth reports them; a group that no longer exists registers nobody.
   */
  async targetHealth(
    registrations: ReadonlyMap<string, readonly string[]>,
  ): Promise<Map<string, TargetHealth[]>> {
    const out = new Map<string, TargetHealth[]>();
    const add = (id: string, h: TargetHealth) => out.set(id, [...(out.get(id) ?? []), h]);
    await mapLimit([...registrations], IN_FLIGHT, async ([arn, ids]) => {
      if (ids.length === 0) return;
      const wanted = new Set(ids);
      const listed = await this.healthOfGroup(arn);
      const seen = new Set<string>();
      for (const d of listed) {
        const id = d.Target?.Id;
        if (!id || !wanted.has(id)) continue;
        seen.add(id);
        add(id, healthOf(arn, d));
      }
      for (const id of wanted)
        if (!seen.has(id)) add(id, { targetGroupArn: arn, state: 'unused', reason: 'Target.NotRegistered' });
    });
    return out;
  }

  /** DescribeTargetGroups by ARN (400 a request) and DescribeTargetGroupAttributes per group; unknown groups are absent. */
  async settings(targetGroupArns: readonly string[]): Promise<Map<string, TargetGroupSettings>> {
    const arns = [...new Set(targetGroupArns)];
    const groups: TargetGroup[] = [];
    for (const batch of chunks(arns, GROUPS_PER_PAGE)) groups.push(...(await this.describeGroups(batch)));
    const out = new Map<string, TargetGroupSettings>();
    await mapLimit(groups, IN_FLIGHT, async (g) => {
      const s = await this.settingsOf(g);
      if (s) out.set(s.targetGroupArn, s);
    });
    return out;
  }

  async deregister(targets: ReadonlyArray<TargetRef & { readonly instanceId: string }>): Promise<void> {
    await this.perGroup(targets, async (TargetGroupArn, Targets) => {
      this.count('DeregisterTargets');
      await this.elbv2.send(new DeregisterTargetsCommand({ TargetGroupArn, Targets }));
    });
  }

  async register(targets: ReadonlyArray<TargetRef & { readonly instanceId: string }>): Promise<void> {
    await this.perGroup(targets, async (TargetGroupArn, Targets) => {
      this.count('RegisterTargets');
      await this.elbv2.send(new RegisterTargetsCommand({ TargetGroupArn, Targets }));
    });
  }

  /**
   * Every instance target group tagged managed: DescribeTargetGroups 400 a page, DescribeTags 20
   * ARNs a request, then one DescribeTargetHealth and one DescribeTargetGroupAttributes per
   * managed group. Groups of ip or Lambda targets are left out (their targets are no instances).
   */
  async listManaged(): Promise<{ groups: TargetGroupSettings[]; targets: Map<string, TargetHealth[]> }> {
    const all: TargetGroup[] = [];
    let Marker: string | undefined;
    do {
      this.count('DescribeTargetGroups');
      const page = await this.elbv2.send(
        new DescribeTargetGroupsCommand({ PageSize: GROUPS_PER_PAGE, Marker }),
      );
      all.push(...(page.TargetGroups ?? []).filter((g) => (g.TargetType ?? 'instance') === 'instance'));
      Marker = page.NextMarker;
    } while (Marker);
    const managed = new Set<string>();
    await mapLimit(
      chunks(all.map((g) => g.TargetGroupArn ?? '').filter(Boolean), TAGS_PER_REQUEST),
      IN_FLIGHT,
      async (ResourceArns) => {
        this.count('DescribeTags');
        const page = await this.elbv2.send(new DescribeTagsCommand({ ResourceArns }));
        for (const d of page.TagDescriptions ?? [])
          if (d.Tags?.some((t) => t.Key === this.managedTag.key && t.Value === this.managedTag.value))
            managed.add(d.ResourceArn ?? '');
      },
    );
    const groups: TargetGroupSettings[] = [];
    const targets = new Map<string, TargetHealth[]>();
    await mapLimit(
      all.filter((g) => managed.has(g.TargetGroupArn ?? '')),
      IN_FLIGHT,
      async (g) => {
        const arn = g.TargetGroupArn!;
        const [settings, health] = await Promise.all([this.settingsOf(g), this.healthOfGroup(arn)]);
        if (!settings) return;
        groups.push(settings);
        for (const d of health) {
          const id = d.Target?.Id;
          if (id) targets.set(id, [...(targets.get(id) ?? []), healthOf(arn, d)]);
        }
      },
    );
    groups.sort((a, b) => (a.targetGroupArn < b.targetGroupArn ? -1 : 1));
    return { groups, targets };
  }

  /** Every registration of a group (none when the group is gone). */
  private async healthOfGroup(TargetGroupArn: string): Promise<TargetHealthDescription[]> {
    this.count('DescribeTargetHealth');
    try {
      const page = await this.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn }));
      return page.TargetHealthDescriptions ?? [];
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
  }

  /** Groups by ARN; when one of them is gone (the whole request fails), each is asked alone. */
  private async describeGroups(TargetGroupArns: string[]): Promise<TargetGroup[]> {
    const groups: TargetGroup[] = [];
    try {
      let Marker: string | undefined;
      do {
        this.count('DescribeTargetGroups');
        const page = await this.elbv2.send(
          new DescribeTargetGroupsCommand({ TargetGroupArns, PageSize: GROUPS_PER_PAGE, Marker }),
        );
        groups.push(...(page.TargetGroups ?? []));
        Marker = page.NextMarker;
      } while (Marker);
      return groups;
    } catch (error) {
      if (!isNotFound(error) || TargetGroupArns.length === 1) {
        if (isNotFound(error)) return [];
        throw error;
      }
    }
    const each = await mapLimit(TargetGroupArns, IN_FLIGHT, (arn) => this.describeGroups([arn]));
    return each.flat();
  }

  /** The group's health-check settings and its deregistration delay (DescribeTargetGroupAttributes). */
  private async settingsOf(g: TargetGroup): Promise<TargetGroupSettings | undefined> {
    const arn = g.TargetGroupArn;
    if (!arn) return undefined;
    this.count('DescribeTargetGroupAttributes');
    let delay = DEFAULT_DEREGISTRATION_DELAY;
    try {
      const page = await this.elbv2.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: arn }));
      const raw = page.Attributes?.find((a) => a.Key === 'deregistration_delay.timeout_seconds')?.Value;
      if (raw !== undefined && Number.isFinite(Number(raw))) delay = Number(raw);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    return {
      targetGroupArn: arn,
      deregistrationDelaySeconds: delay,
      healthCheckIntervalSeconds: g.HealthCheckIntervalSeconds ?? DEFAULT_INTERVAL,
      healthyThresholdCount: g.HealthyThresholdCount ?? DEFAULT_HEALTHY_THRESHOLD,
    };
  }

  /** Targets grouped per target group (each instance once per port), at most 100 a request. */
  private async perGroup(
    targets: ReadonlyArray<TargetRef & { readonly instanceId: string }>,
    send: (arn: string, targets: Array<{ Id: string; Port?: number }>) => Promise<void>,
  ): Promise<void> {
    const byGroup = new Map<string, Map<string, { Id: string; Port?: number }>>();
    for (const t of targets) {
      const group = byGroup.get(t.targetGroupArn) ?? new Map();
      group.set(`${t.instanceId}:${t.port ?? ''}`, {
        Id: t.instanceId,
        ...(t.port !== undefined ? { Port: t.port } : {}),
      });
      byGroup.set(t.targetGroupArn, group);
    }
    const requests = [...byGroup].flatMap(([arn, group]) =>
      chunks([...group.values()], TARGETS_PER_REQUEST).map((batch) => ({ arn, batch })),
    );
    await mapLimit(requests, IN_FLIGHT, ({ arn, batch }) => send(arn, batch));
  }

  private count(operation: string): void {
    this.requests.set(operation, (this.requests.get(operation) ?? 0) + 1);
  }
}
