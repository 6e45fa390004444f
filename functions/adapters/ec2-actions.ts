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
  type InstanceStatus,
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
      for (const status of await this.statusesOf(batch)) {
        if (!status.InstanceId) continue;
        const health = healthOfChecks(status.SystemStatus?.Status, status.InstanceStatus?.Status);
        out.set(status.InstanceId, { state: status.InstanceState?.Name ?? 'unknown', health });
      }
    }
    return out;
  }

  /**
   * DescribeInstanceStatus of named instances. One id EC2 no longer knows (terminated a while
   * ago) fails the whole request with InvalidInstanceID.NotFound, naming the ids: they are left
   * out and the rest asked again (each alone, if the message names none).
   */
  private async statusesOf(batch: readonly string[]): Promise<InstanceStatus[]> {
    if (batch.length === 0) return [];
    try {
      const page = await this.ec2.send(
        new DescribeInstanceStatusCommand({ InstanceIds: [...batch], IncludeAllInstances: true }),
      );
      return page.InstanceStatuses ?? [];
    } catch (error) {
      if (!isMissing(error)) throw error;
      if (batch.length === 1) return [];
      const named = new Set(String((error as Error).message).match(/i-[0-9a-f]+/g) ?? []);
      const rest = batch.filter((id) => !named.has(id));
      if (rest.length < batch.length) return this.statusesOf(rest);
      return (await mapLimit(batch, CONSOLE_IN_FLIGHT, (id) => this.statusesOf([id]))).flat();
    }
  }

  /**
   * Root device and Spot request type of instances not read before. A Spot request that cannot
   * be read counts as `one-time`: the safe answer (a one-time Spot instance is never stopped).
   */
  private async readFixed(ids: readonly string[]): Promise<void> {
    const spot: string[] = [];
    for (const batch of chunks(ids, IDS_PER_REQUEST)) {
      // Filtered by id rather than named: an id EC2 does not know is left out instead of failing the request.
      const page = await this.ec2.send(
        new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: batch }] }),
      );
      for (const reservation of page.Reservations ?? [])
        for (const i of reservation.Instances ?? []) {
          if (!i.InstanceId) continue;
          const isSpot = i.InstanceLifecycle === 'spot';
          this.fixed.set(i.InstanceId, {
            rootDevice: i.RootDeviceType === 'instance-store' ? 'instance-store' : 'ebs',
            ...(isSpot ? { spot: 'one-time' as const } : {}),
          });
          if (isSpot) spot.push(i.InstanceId);
        }
    }
    // The requests by the instance they launched (the instance's SpotInstanceRequestId is not always filled in).
    for (const batch of chunks(spot, IDS_PER_REQUEST)) {
      try {
        const page = await this.ec2.send(
          new DescribeSpotInstanceRequestsCommand({ Filters: [{ Name: 'instance-id', Values: batch }] }),
        );
        for (const r of page.SpotInstanceRequests ?? []) {
          const fixed = r.InstanceId ? this.fixed.get(r.InstanceId) : undefined;
          if (r.InstanceId && fixed && r.Type === 'persistent')
            this.fixed.set(r.InstanceId, { ...fixed, spot: 'persistent' });
        }
      } catch {
        // Unreadable (throttled past the retries, or not allowed): they stay `one-time`, the safe answer.
      }
    }
  }
}
