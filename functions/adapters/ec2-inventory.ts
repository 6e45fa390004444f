/**
 * The EC2 inventory port (`Ec2Inventory`) over the AWS SDK: the managed fleet with its status
 * checks, scheduled events, root device type and Spot request type, paced by a token bucket.
 */
import {
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  DescribeSpotInstanceRequestsCommand,
  EC2Client,
  type Instance as Ec2Instance,
  type InstanceStatus,
} from '@aws-sdk/client-ec2';
import { CELL_TAG_KEY, EC2_DESCRIBE_RATE, MANAGED_TAG, SDK_RETRY, SERVICE_TAG_KEY } from '../core/defaults';
import type { Impairment } from '../core/events/findings';
import {
  healthOfChecks,
  type Instance,
  type InstanceState,
  type ScheduledEvent,
  scheduledEventSchema,
} from '../core/fleet/fleet';
import type { Ec2Inventory, ObservedInstance } from '../core/ports/ec2-inventory';
import { TokenBucket } from '../core/shared/token-bucket';

export interface Ec2InventoryOptions {
  /** Instances FleetOps manages carry this tag. @default MANAGED_TAG (core/defaults.ts): `fleetops:managed` = `true` */
  readonly managedTag?: { readonly key: string; readonly value: string };
  /** The tag that names an instance's service. @default SERVICE_TAG_KEY (core/defaults.ts): `fleetops:service` */
  readonly serviceTagKey?: string;
  /** The tag that names an instance's cell, when it has one. @default CELL_TAG_KEY (core/defaults.ts): `fleetops:cell` */
  readonly cellTagKey?: string;
  /** Paces every EC2 request. @default EC2_DESCRIBE_RATE (core/defaults.ts): 15 requests per second, bursts of 15 */
  readonly bucket?: TokenBucket;
  /** Results per Describe* page (5–1000). @default 1000 */
  readonly pageSize?: number;
}

/** Managed instances without a service tag are put in this service (conservative default budget). */
export const UNASSIGNED_SERVICE = 'unassigned';

/** Spot request ids named per DescribeSpotInstanceRequests (EC2 takes up to 1,000 values; 200 keeps the query small). */
const SPOT_REQUESTS_PER_DESCRIBE = 200;

const STATES = new Set<string>(['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated']);
const EVENT_CODES = new Set<string>(scheduledEventSchema.shape.code.options);

/** An EC2 client with adaptive retries whose every request first takes a token from the bucket. */
export function pacedEc2Client(bucket: TokenBucket, client = new EC2Client({ ...SDK_RETRY })) {
  client.middlewareStack.add(
    (next) => async (args) => {
      await bucket.take();
      return next(args);
    },
    { step: 'finalizeRequest', name: 'fleetopsPacing', priority: 'high' },
  );
  return client;
}

/**
 * The fleet as EC2 reports it: DescribeInstances filtered by the managed tag and
 * DescribeInstanceStatus for every instance (with its scheduled events), 1,000 per page.
 *
 * `rootDevice` is DescribeInstances' RootDeviceType; `launchedAt` its LaunchTime (ISO 8601) and
 * `instanceType` its InstanceType; `autoRecovery` its MaintenanceOptions.AutoRecovery. `spot` is set for an instance whose
 * InstanceLifecycle is `spot`: the request type of its SpotInstanceRequestId, read with
 * DescribeSpotInstanceRequests for those instances only (200 request ids a call, and remembered:
 * a request's type never changes), so a fleet without Spot instances sends none. `one-time`
 * when EC2 no longer knows the request (deleted four hours after it is canceled), or the
 * instance has none (EC2 Fleet `instant`): a one-time Spot instance cannot be stopped, so the
 * conservative answer refuses stop-start rather than allowing it.
 */
export class Ec2FleetInventory implements Ec2Inventory {
  private readonly managedTag: { key: string; value: string };
  private readonly serviceTagKey: string;
  private readonly cellTagKey: string;
  private readonly pageSize: number;
  /** Requests sent, by command (for reports and benchmarks). */
  readonly requests = new Map<string, number>();
  /** Spot request id → its type, as EC2 said it (types never change). */
  private readonly spotTypes = new Map<string, 'one-time' | 'persistent'>();

  constructor(
    private readonly ec2: EC2Client,
    options: Ec2InventoryOptions = {},
  ) {
    this.managedTag = options.managedTag ?? MANAGED_TAG;
    this.serviceTagKey = options.serviceTagKey ?? SERVICE_TAG_KEY;
    this.cellTagKey = options.cellTagKey ?? CELL_TAG_KEY;
    this.pageSize = options.pageSize ?? 1000;
    if (!Number.isInteger(this.pageSize) || this.pageSize < 5 || this.pageSize > 1000) {
      throw new Error(
        `EC2 inventory: pageSize must be a whole number from 5 to 1000, found ${this.pageSize}`,
      );
    }
  }

  static withDefaults(options: Ec2InventoryOptions = {}): Ec2FleetInventory {
    const bucket =
      options.bucket ?? new TokenBucket(EC2_DESCRIBE_RATE.ratePerSecond, EC2_DESCRIBE_RATE.capacity);
    return new Ec2FleetInventory(pacedEc2Client(bucket), options);
  }

  async listManagedInstances(): Promise<ObservedInstance[]> {
    const [reservations, statuses] = await Promise.all([this.describeInstances(), this.describeStatuses()]);
    await this.learnSpotTypes(reservations);
    const observed: ObservedInstance[] = [];
    for (const ec2 of reservations) {
      const id = ec2.InstanceId;
      const zone = ec2.Placement?.AvailabilityZone;
      const stateName = ec2.State?.Name;
      if (!id || !zone || !stateName || !STATES.has(stateName)) continue;
      const tags = Object.fromEntries((ec2.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
      const status = statuses.get(id);
      const { health, impairment, impairedSince } = healthOf(stateName as InstanceState, status);
      const events = scheduledEventsOf(status);
      const cell = tags[this.cellTagKey];
      const rootDevice =
        ec2.RootDeviceType === 'ebs' || ec2.RootDeviceType === 'instance-store'
          ? ec2.RootDeviceType
          : undefined;
      const spot =
        ec2.InstanceLifecycle === 'spot'
          ? (ec2.SpotInstanceRequestId && this.spotTypes.get(ec2.SpotInstanceRequestId)) || 'one-time'
          : undefined;
      const launchedAt =
        ec2.LaunchTime instanceof Date && !Number.isNaN(ec2.LaunchTime.getTime())
          ? ec2.LaunchTime.toISOString()
          : undefined;
      const autoRecovery = ec2.MaintenanceOptions?.AutoRecovery;
      observed.push({
        instance: {
          id,
          service: tags[this.serviceTagKey] || UNASSIGNED_SERVICE,
          zone,
          ...(cell ? { cell } : {}),
          state: stateName as InstanceState,
          health,
          tags,
          ...(events.length > 0 ? { scheduledEvents: events } : {}),
          ...(rootDevice ? { rootDevice } : {}),
          ...(spot ? { spot } : {}),
          ...(launchedAt ? { launchedAt } : {}),
          ...(ec2.InstanceType ? { instanceType: ec2.InstanceType } : {}),
          ...(autoRecovery === 'default' || autoRecovery === 'disabled' ? { autoRecovery } : {}),
        },
        ...(impairment ? { impairment } : {}),
        ...(impairedSince ? { impairedSince } : {}),
      });
    }
    return observed.sort((a, b) => (a.instance.id < b.instance.id ? -1 : 1));
  }

  private async describeInstances(): Promise<Ec2Instance[]> {
    const out: Ec2Instance[] = [];
    let NextToken: string | undefined;
    do {
      this.count('DescribeInstances');
      const page = await this.ec2.send(
        new DescribeInstancesCommand({
          Filters: [{ Name: `tag:${this.managedTag.key}`, Values: [this.managedTag.value] }],
          MaxResults: this.pageSize,
          NextToken,
        }),
      );
      for (const reservation of page.Reservations ?? []) out.push(...(reservation.Instances ?? []));
      NextToken = page.NextToken;
    } while (NextToken);
    return out;
  }

  /** Every instance's status (IncludeAllInstances: stopped ones too); it cannot be filtered by tag. */
  private async describeStatuses(): Promise<Map<string, InstanceStatus>> {
    const out = new Map<string, InstanceStatus>();
    let NextToken: string | undefined;
    do {
      this.count('DescribeInstanceStatus');
      const page = await this.ec2.send(
        new DescribeInstanceStatusCommand({
          IncludeAllInstances: true,
          MaxResults: this.pageSize,
          NextToken,
        }),
      );
      for (const status of page.InstanceStatuses ?? [])
        if (status.InstanceId) out.set(status.InstanceId, status);
      NextToken = page.NextToken;
    } while (NextToken);
    return out;
  }

  /** The request type of every Spot instance's request not yet known (none asked without Spot instances). */
  private async learnSpotTypes(instances: readonly Ec2Instance[]): Promise<void> {
    const unknown = [
      ...new Set(
        instances
          .filter((i) => i.InstanceLifecycle === 'spot' && i.SpotInstanceRequestId)
          .map((i) => i.SpotInstanceRequestId as string)
          .filter((id) => !this.spotTypes.has(id)),
      ),
    ];
    for (let k = 0; k < unknown.length; k += SPOT_REQUESTS_PER_DESCRIBE) {
      const batch = unknown.slice(k, k + SPOT_REQUESTS_PER_DESCRIBE);
      let NextToken: string | undefined;
      do {
        this.count('DescribeSpotInstanceRequests');
        // Ids EC2 no longer knows fail a call that names them; the filter form leaves them out.
        const page = await this.ec2.send(
          new DescribeSpotInstanceRequestsCommand({
            Filters: [{ Name: 'spot-instance-request-id', Values: batch }],
            MaxResults: 1000,
            NextToken,
          }),
        );
        for (const r of page.SpotInstanceRequests ?? [])
          if (r.SpotInstanceRequestId && (r.Type === 'one-time' || r.Type === 'persistent'))
            this.spotTypes.set(r.SpotInstanceRequestId, r.Type);
        NextToken = page.NextToken;
      } while (NextToken);
    }
  }

  private count(command: string): void {
    this.requests.set(command, (this.requests.get(command) ?? 0) + 1);
  }
}

/** `impaired` when a status check fails, `ok` when both pass, `initializing`, or `unknown` (no data). */
function healthOf(
  state: InstanceState,
  status: InstanceStatus | undefined,
): { health: Instance['health']; impairment?: Impairment; impairedSince?: string } {
  if (state !== 'running' || !status) return { health: 'unknown' };
  const system = status.SystemStatus?.Status;
  const instance = status.InstanceStatus?.Status;
  if (system === 'impaired' || instance === 'impaired') {
    const impairment: Impairment =
      system === 'impaired' && instance === 'impaired'
        ? 'both'
        : system === 'impaired'
          ? 'system'
          : 'instance';
    const since = [...(status.SystemStatus?.Details ?? []), ...(status.InstanceStatus?.Details ?? [])]
      .map((d) => d.ImpairedSince)
      .filter((d): d is Date => d instanceof Date)
      .sort((a, b) => a.getTime() - b.getTime())[0];
    return { health: 'impaired', impairment, ...(since ? { impairedSince: since.toISOString() } : {}) };
  }
  return { health: healthOfChecks(system, instance) };
}

/** Scheduled events still to come (EC2 keeps completed and canceled ones, marked in the description). */
function scheduledEventsOf(status: InstanceStatus | undefined): ScheduledEvent[] {
  const events: ScheduledEvent[] = [];
  for (const event of status?.Events ?? []) {
    const description = event.Description ?? '';
    if (/^\[(Completed|Canceled)\]/.test(description)) continue;
    if (!event.Code || !EVENT_CODES.has(event.Code) || !event.NotBefore) continue;
    events.push({
      id: event.InstanceEventId ?? `${event.Code}@${event.NotBefore.toISOString()}`,
      code: event.Code as ScheduledEvent['code'],
      notBefore: event.NotBefore.toISOString(),
      ...(event.NotAfter ? { notAfter: event.NotAfter.toISOString() } : {}),
      description,
    });
  }
  return events.sort((a, b) => (a.id < b.id ? -1 : 1));
}
