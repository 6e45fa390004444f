// Requests per inventory sweep for 10,000 instances with target groups and Auto Scaling groups
// (200 services, each one group and one managed target group of 50 instances, 3 zones; 40
// unmanaged target groups beside them). The real adapters (Ec2FleetInventory, Elbv2Traffic,
// AsgReplacer) and the real syncInventory run over SDK clients whose every command is answered
// from an in-memory fleet by aws-sdk-client-mock, which also counts them: the figures are the
// requests the adapters send, not a formula. Three sweeps: the first (everything written), an
// idle one (nothing changed), and one where 1% of the targets turned unhealthy. For comparison,
// what the lifecycle states would cost through DescribeAutoScalingInstances (50 ids a request),
// counted the same way through AsgReplacer.lifecycleOf.
// Prints the table, then one JSON line.
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  DescribeSpotInstanceRequestsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  DescribeTagsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { AsgReplacer } from '../functions/adapters/asg-replacer';
import { Ec2FleetInventory } from '../functions/adapters/ec2-inventory';
import { Elbv2Traffic } from '../functions/adapters/elbv2-traffic';
import {
  AUTOSCALING_RATE,
  EC2_DESCRIBE_RATE,
  ELB_DESCRIBE_RATE,
  MANAGED_TAG,
  SERVICE_TAG_KEY,
} from '../functions/core/defaults';
import type { Instance } from '../functions/core/fleet/fleet';
import type { LedgerObservation } from '../functions/core/fleet/inventory';
import { ASG_NAME_TAG } from '../functions/core/fleet/placement';
import { syncInventory } from '../functions/core/fleet/sync-inventory';
import type { InventoryStore, LeaseView } from '../functions/core/ports/index';

const SERVICES = 200;
const PER_SERVICE = 50;
const UNMANAGED_GROUPS = 40;
const REGION = 'us-east-1';
const ZONES = ['a', 'b', 'c'].map((z) => `${REGION}${z}`);

const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;
const arnOf = (name: string, k: number) =>
  `arn:aws:elasticloadbalancing:${REGION}:123456789012:targetgroup/${name}/${k.toString(16).padStart(16, '0')}`;

// ── the in-memory fleet ──────────────────────────────────────────────────────
const services = Array.from({ length: SERVICES }, (_, s) => `svc-${String(s).padStart(3, '0')}`);
const instances = services.flatMap((service, s) =>
  Array.from({ length: PER_SERVICE }, (_, k) => ({
    id: `i-${(0x300000 + s * PER_SERVICE + k).toString(16).padStart(17, '0')}`,
    service,
    group: `${service}-asg`,
    zone: ZONES[k % ZONES.length],
  })),
);
const targetGroups = [
  ...services.map((service, s) => ({ arn: arnOf(`${service}-tg`, s), managed: true, service })),
  ...Array.from({ length: UNMANAGED_GROUPS }, (_, u) => ({
    arn: arnOf(`other-${u}`, 10_000 + u),
    managed: false,
    service: undefined,
  })),
];
const tgOfService = new Map(targetGroups.filter((t) => t.service).map((t) => [t.service!, t.arn]));
/** Target health by target group, instance → state; changed between sweeps. */
const health = new Map<string, Map<string, 'healthy' | 'unhealthy'>>();
for (const i of instances) {
  const arn = tgOfService.get(i.service)!;
  health.set(arn, (health.get(arn) ?? new Map()).set(i.id, 'healthy'));
}

const page = <T>(items: readonly T[], size: number, token: string | undefined) => {
  const start = Number(token ?? 0);
  const next = start + size < items.length ? String(start + size) : undefined;
  return { items: items.slice(start, start + size), next };
};

// ── EC2 ──────────────────────────────────────────────────────────────────────
const ec2 = new EC2Client({ region: REGION });
const ec2Mock = mockClient(ec2);
const ec2Instances = instances.map((i) => ({
  InstanceId: i.id,
  Placement: { AvailabilityZone: i.zone },
  State: { Name: 'running' as const },
  RootDeviceType: 'ebs' as const,
  Tags: [
    { Key: MANAGED_TAG.key, Value: MANAGED_TAG.value },
    { Key: SERVICE_TAG_KEY, Value: i.service },
    { Key: ASG_NAME_TAG, Value: i.group },
  ],
}));
ec2Mock.on(DescribeInstancesCommand).callsFake((input) => {
  const { items, next } = page(ec2Instances, input.MaxResults ?? 1000, input.NextToken);
  return { Reservations: [{ Instances: items }], NextToken: next };
});
ec2Mock.on(DescribeInstanceStatusCommand).callsFake((input) => {
  const { items, next } = page(ec2Instances, input.MaxResults ?? 1000, input.NextToken);
  return {
    InstanceStatuses: items.map((i) => ({
      InstanceId: i.InstanceId,
      SystemStatus: { Status: 'ok' as const },
      InstanceStatus: { Status: 'ok' as const },
    })),
    NextToken: next,
  };
});
ec2Mock.on(DescribeSpotInstanceRequestsCommand).resolves({ SpotInstanceRequests: [] });

// ── Auto Scaling ─────────────────────────────────────────────────────────────
const autoscalingClient = new AutoScalingClient({ region: REGION });
const asgMock = mockClient(autoscalingClient);
const membersOf = new Map<string, typeof instances>();
for (const i of instances) membersOf.set(i.group, [...(membersOf.get(i.group) ?? []), i]);
const groupOf = (name: string) => {
  const members = membersOf.get(name) ?? [];
  return {
    AutoScalingGroupName: name,
    MinSize: 0,
    MaxSize: PER_SERVICE * 2,
    DesiredCapacity: members.length,
    DefaultCooldown: 300,
    AvailabilityZones: ZONES,
    HealthCheckType: 'ELB',
    CreatedTime: new Date(0),
    TargetGroupARNs: [tgOfService.get(members[0]?.service ?? '') ?? ''],
    Instances: members.map((m) => ({
      InstanceId: m.id,
      AvailabilityZone: m.zone,
      LifecycleState: 'InService' as const,
      HealthStatus: 'Healthy',
      ProtectedFromScaleIn: false,
    })),
  };
};
asgMock.on(DescribeAutoScalingGroupsCommand).callsFake((input) => {
  // MaxRecords 100 at most: every named group in one page.
  const names: string[] = input.AutoScalingGroupNames ?? [...membersOf.keys()];
  const { items, next } = page(names, Math.min(input.MaxRecords ?? 50, 100), input.NextToken);
  return { AutoScalingGroups: items.filter((n) => membersOf.has(n)).map(groupOf), NextToken: next };
});
const byId = new Map(instances.map((i) => [i.id, i]));
asgMock.on(DescribeAutoScalingInstancesCommand).callsFake((input) => ({
  AutoScalingInstances: (input.InstanceIds ?? []).flatMap((id: string) => {
    const i = byId.get(id);
    return i
      ? [
          {
            InstanceId: id,
            AutoScalingGroupName: i.group,
            AvailabilityZone: i.zone,
            LifecycleState: 'InService',
            HealthStatus: 'HEALTHY',
            ProtectedFromScaleIn: false,
          },
        ]
      : [];
  }),
}));

// ── ELBv2 ────────────────────────────────────────────────────────────────────
const elbClient = new ElasticLoadBalancingV2Client({ region: REGION });
const elbMock = mockClient(elbClient);
elbMock.on(DescribeTargetGroupsCommand).callsFake((input) => {
  const listed = input.TargetGroupArns
    ? targetGroups.filter((t) => input.TargetGroupArns!.includes(t.arn))
    : targetGroups;
  const { items, next } = page(listed, input.PageSize ?? 400, input.Marker);
  return {
    TargetGroups: items.map((t) => ({
      TargetGroupArn: t.arn,
      TargetType: 'instance' as const,
      Protocol: 'HTTP' as const,
      Port: 80,
      HealthCheckIntervalSeconds: 10,
      HealthyThresholdCount: 3,
    })),
    NextMarker: next,
  };
});
elbMock.on(DescribeTagsCommand).callsFake((input) => ({
  TagDescriptions: (input.ResourceArns ?? []).map((arn: string) => ({
    ResourceArn: arn,
    Tags: targetGroups.find((t) => t.arn === arn)?.managed
      ? [{ Key: MANAGED_TAG.key, Value: MANAGED_TAG.value }]
      : [],
  })),
}));
elbMock.on(DescribeTargetHealthCommand).callsFake((input) => ({
  TargetHealthDescriptions: [...(health.get(input.TargetGroupArn ?? '') ?? new Map())].map(([id, state]) => ({
    Target: { Id: id, Port: 80 },
    TargetHealth: { State: state, ...(state === 'unhealthy' ? { Reason: 'Target.Timeout' } : {}) },
  })),
}));
elbMock.on(DescribeTargetGroupAttributesCommand).resolves({
  Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '120' }],
});

// ── the table side, in memory ────────────────────────────────────────────────
const table = new Map<string, Instance>();
let observedDown = 0;
const store: InventoryStore = {
  listInstances: async () => [...table.values()],
  putInstances: async (list) => {
    for (const i of list) table.set(i.id, i);
    return list.length;
  },
  recordFindings: async () => [],
  openFindings: async () => [],
  putPopulation: async (population) => population.size,
  getServices: async () => ({ services: {} }),
  reconcileLedgers: async (observations: readonly LedgerObservation[]) => {
    observedDown = observations.reduce((n, o) => n + o.observed, 0);
    return observations.length;
  },
  audit: async () => {},
};
const leases: LeaseView = { activeLeases: async () => [], reclaimExpired: async () => 0 };

// ── the sweeps ───────────────────────────────────────────────────────────────
const OPERATIONS: Array<[string, { commandCalls(c: never): unknown[] }, unknown]> = [
  ['DescribeInstances', ec2Mock, DescribeInstancesCommand],
  ['DescribeInstanceStatus', ec2Mock, DescribeInstanceStatusCommand],
  ['DescribeSpotInstanceRequests', ec2Mock, DescribeSpotInstanceRequestsCommand],
  ['DescribeAutoScalingGroups', asgMock, DescribeAutoScalingGroupsCommand],
  ['DescribeAutoScalingInstances', asgMock, DescribeAutoScalingInstancesCommand],
  ['DescribeTargetGroups', elbMock, DescribeTargetGroupsCommand],
  ['DescribeTags', elbMock, DescribeTagsCommand],
  ['DescribeTargetHealth', elbMock, DescribeTargetHealthCommand],
  ['DescribeTargetGroupAttributes', elbMock, DescribeTargetGroupAttributesCommand],
];
const BUCKET: Record<string, { ratePerSecond: number; capacity: number }> = {
  ec2: EC2_DESCRIBE_RATE,
  autoscaling: AUTOSCALING_RATE,
  elb: ELB_DESCRIBE_RATE,
};
const serviceOf = (op: string) =>
  op.includes('AutoScaling') ? 'autoscaling' : /Target|Tags/.test(op) ? 'elb' : 'ec2';
const counted = () =>
  Object.fromEntries(
    OPERATIONS.map(([op, mock, command]) => [op, mock.commandCalls(command as never).length]),
  );
const minus = (a: Record<string, number>, b: Record<string, number>) =>
  Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v - (b[k] ?? 0)]));
/** The least time the default token buckets allow for these requests (a full bucket to start). */
const pacedSeconds = (requests: Record<string, number>) => {
  const per = new Map<string, number>();
  for (const [op, n] of Object.entries(requests)) per.set(serviceOf(op), (per.get(serviceOf(op)) ?? 0) + n);
  return Math.max(
    0,
    ...[...per].map(([s, n]) => Math.max(0, n - BUCKET[s].capacity) / BUCKET[s].ratePerSecond),
  );
};

async function sweep(label: string) {
  const inventory = new Ec2FleetInventory(ec2);
  const traffic = new Elbv2Traffic(elbClient);
  const autoscaling = new AsgReplacer(autoscalingClient);
  const before = counted();
  const start = process.hrtime.bigint();
  const report = await syncInventory({
    ec2: inventory,
    store,
    leases,
    now: Date.now(),
    actor: 'bench',
    traffic,
    autoscaling,
  });
  const requests = minus(counted(), before);
  // The adapters' own counters agree with what the SDK was asked.
  const own = {
    ...Object.fromEntries(inventory.requests),
    ...Object.fromEntries(traffic.requests),
    ...Object.fromEntries(autoscaling.requests),
  };
  for (const [op, n] of Object.entries(own))
    if (requests[op] !== n)
      throw new Error(`${label}: ${op} counted ${requests[op]} by the SDK mock, ${n} by the adapter`);
  return {
    label,
    ms: ms(start),
    written: report.written,
    unavailable: observedDown,
    requests,
    pacedSeconds: pacedSeconds(requests),
  };
}

async function main() {
  const start = process.hrtime.bigint();
  const first = await sweep('first sweep');
  const idle = await sweep('idle sweep');
  // 1% of the targets turn unhealthy: only those are written.
  let turned = 0;
  for (const [, targets] of health)
    for (const id of targets.keys())
      if (turned < instances.length / 100 && Number.parseInt(id.slice(-2), 16) % 50 === 0) {
        targets.set(id, 'unhealthy');
        turned++;
      }
  const changed = await sweep(`${turned} targets unhealthy`);
  // For comparison: the lifecycle states through DescribeAutoScalingInstances (50 ids a request).
  const before = counted();
  await new AsgReplacer(autoscalingClient).lifecycleOf(instances.map((i) => i.id));
  const perInstance = minus(counted(), before).DescribeAutoScalingInstances;

  const sweeps = [first, idle, changed];
  const ops = OPERATIONS.map(([op]) => op).filter((op) => sweeps.some((s) => s.requests[op] > 0));
  const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  const lines = [
    `Requests per sweep: ${instances.length.toLocaleString('en-US')} instances, ${SERVICES} services (each one Auto Scaling group and one managed target group of ${PER_SERVICE}), ${UNMANAGED_GROUPS} unmanaged target groups, ${ZONES.length} zones`,
    '',
    `| operation | ${sweeps.map((s) => s.label).join(' | ')} |`,
    `|---|${sweeps.map(() => '---:').join('|')}|`,
    ...ops.map((op) => `| ${op} | ${sweeps.map((s) => s.requests[op]).join(' | ')} |`),
    `| **total** | ${sweeps.map((s) => `**${total(s.requests)}**`).join(' | ')} |`,
    `| instances written | ${sweeps.map((s) => s.written.toLocaleString('en-US')).join(' | ')} |`,
    `| unavailable (ledgers) | ${sweeps.map((s) => s.unavailable).join(' | ')} |`,
    `| least paced time (s) | ${sweeps.map((s) => s.pacedSeconds.toFixed(1)).join(' | ')} |`,
    `| time here (ms, unpaced) | ${sweeps.map((s) => s.ms.toFixed(0)).join(' | ')} |`,
    '',
    `Lifecycle states through DescribeAutoScalingInstances instead: ${perInstance} requests (DescribeAutoScalingGroups: ${first.requests.DescribeAutoScalingGroups}).`,
  ];
  process.stderr.write(`${lines.join('\n')}\n`);
  const result = {
    instances: instances.length,
    services: SERVICES,
    perService: PER_SERVICE,
    unmanagedTargetGroups: UNMANAGED_GROUPS,
    sweeps,
    describeAutoScalingInstancesInstead: perInstance,
    seconds: ms(start) / 1000,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
