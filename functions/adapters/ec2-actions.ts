/**
 * The EC2 actions port (`Ec2Port`) over the AWS SDK: reboot, stop, start, tag, status checks
 * with root device and Spot request type, and when the console output was last posted.
 */
import {
  CreateTagsCommand,
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  DescribeSpotInstanceRequestsCommand,
  type EC2Client,
  GetConsoleOutputCommand,
  RebootInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { healthOfChecks, type InstanceCondition } from '../core/fleet/fleet';
import type { Ec2Port } from '../core/ports/ec2';
import { chunks, mapLimit } from './dynamo-client';

/** GetConsoleOutput takes one instance; this many are asked at once (the client's bucket paces them). */
const CONSOLE_IN_FLIGHT = 4;

/** What never changes for an instance: its root device type and, for a Spot instance, its request type. */
type Fixed = Pick<InstanceCondition, 'rootDevice' | 'spot'>;

const isMissing = (error: unknown) =>
  /^InvalidInstanceID/.test((error as { name?: string; Code?: string })?.name ?? '');

/** EC2 caps the instance ids of one request; FleetOps stays well under it. */
const IDS_PER_REQUEST = 100;

export type { InstanceCondition } from '../core/fleet/fleet';

/** The EC2 actions changes and remediations take, batched (paced by the client it is given). */
export class Ec2Actions implements Ec2Port {
  /** Root device and Spot type by instance: read once per instance, they never change. */
  private readonly fixed = new Map<string, Fixed>();

  constructor(private readonly ec2: EC2Client) {}

  async reboot(ids: readonly string[]): Promise<void> {
    for (const batch of chunks(ids, IDS_PER_REQUEST)) {
      await this.ec2.send(new RebootInstancesCommand({ InstanceIds: batch }));
    }
  }

  /** Stops the instances (EBS-backed: they come back on other hardware when started). */
  async stop(ids: readonly string[]): Promise<void> {
    for (const batch of chunks(ids, IDS_PER_REQUEST)) {
      await this.ec2.send(new StopInstancesCommand({ InstanceIds: batch }));
    }
  }

  /** Starts the instances (starting a running instance is harmless). */
  async start(ids: readonly string[]): Promise<void> {
    for (const batch of chunks(ids, IDS_PER_REQUEST)) {
      await this.ec2.send(new StartInstancesCommand({ InstanceIds: batch }));
    }
  }

  async setTags(ids: readonly string[], tags: Readonly<Record<string, string>>): Promise<void> {
    const Tags = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
    for (const batch of chunks(ids, IDS_PER_REQUEST)) {
      await this.ec2.send(new CreateTagsCommand({ Resources: batch, Tags }));
    }
  }

  /**
   * When each instance's console output was last posted: GetConsoleOutput's Timestamp (one
   * instance a request). Instances EC2 has no output for, or does not know, are absent.
   */
  async consoleOutputAt(ids: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    await mapLimit([...new Set(ids)], CONSOLE_IN_FLIGHT, async (InstanceId) => {
      try {
        const page = await this.ec2.send(new GetConsoleOutputCommand({ InstanceId }));
        if (page.Timestamp instanceof Date) out.set(InstanceId, page.Timestamp.getTime());
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    });
    return out;
  }

  /**
   * State and status-check health of each instance (missing ones are absent from the map), with
   * its root device type and Spot request type. Those two never change, so they are read once
   * per instance (DescribeInstances, and DescribeSpotInstanceRequests only for Spot instances).
   */
  async conditions(ids: readonly string[]): Promise<Map<string, InstanceCondition>> {
    const out = new Map<string, InstanceCondition>();
    const unknown = ids.filter((id) => !this.fixed.has(id));
    const [, statuses] = await Promise.all([this.readFixed(unknown), this.statuses(ids)]);
    for (const [id, status] of statuses) out.set(id, { ...status, ...this.fixed.get(id) });
    return out;
  }

  private async statuses(ids: readonly string[]): Promise<Map<string, InstanceCondition>> {
    const out = new Map<string, InstanceCondition>();
    for (const batch of chunks(ids, IDS_PER_REQUEST)) {
      const page = await this.ec2.send(
        new DescribeInstanceStatusCommand({ InstanceIds: batch, IncludeAllInstances: true }),
      );
      for (const status of page.InstanceStatuses ?? []) {
        if (!status.InstanceId) continue;
        const health = healthOfChecks(status.SystemStatus?.Status, status.InstanceStatus?.Status);
        out.set(status.InstanceId, { state: status.InstanceState?.Name ?? 'unknown', health });
      }
    }
    return out;
  }

  /**
   * Root device and Spot request type of instances not read before. A Spot request that cannot
   * be read counts as `one-time`: the safe answer (a one-time Spot instance is never stopped).
   */
  private async readFixed(ids: readonly string[]): Promise<void> {
    const spotRequests = new Map<string, string>();
    for (const batch of chunks(ids, IDS_PER_REQUEST)) {
      // Filtered by id rather than named: an id EC2 does not know is left out instead of failing the request.
      const page = await this.ec2.send(
        new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: batch }] }),
      );
      for (const reservation of page.Reservations ?? [])
        for (const i of reservation.Instances ?? []) {
          if (!i.InstanceId) continue;
          const spot = i.InstanceLifecycle === 'spot';
          this.fixed.set(i.InstanceId, {
            rootDevice: i.RootDeviceType === 'instance-store' ? 'instance-store' : 'ebs',
            ...(spot ? { spot: 'one-time' as const } : {}),
          });
          if (spot && i.SpotInstanceRequestId) spotRequests.set(i.SpotInstanceRequestId, i.InstanceId);
        }
    }
    if (spotRequests.size === 0) return;
    for (const batch of chunks([...spotRequests.keys()], IDS_PER_REQUEST)) {
      try {
        const page = await this.ec2.send(
          new DescribeSpotInstanceRequestsCommand({ SpotInstanceRequestIds: batch }),
        );
        for (const r of page.SpotInstanceRequests ?? []) {
          const id = r.SpotInstanceRequestId && spotRequests.get(r.SpotInstanceRequestId);
          const fixed = id ? this.fixed.get(id) : undefined;
          if (id && fixed && r.Type === 'persistent') this.fixed.set(id, { ...fixed, spot: 'persistent' });
        }
      } catch {
        // Unreadable (gone, or not allowed): those instances stay `one-time`, the safe answer.
      }
    }
  }
}
