/**
 * The EC2 actions port (`Ec2Port`) over the AWS SDK: reboot, stop, start, tag, status checks.
 */
import {
  CreateTagsCommand,
  DescribeInstanceStatusCommand,
  type EC2Client,
  RebootInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { healthOfChecks, type InstanceCondition } from '../core/fleet/fleet';
import type { Ec2Port } from '../core/ports/ec2';
import { chunks } from './dynamo-client';

/** EC2 caps the instance ids of one request; FleetOps stays well under it. */
const IDS_PER_REQUEST = 100;

export type { InstanceCondition } from '../core/fleet/fleet';

/** The EC2 actions changes and remediations take, batched (paced by the client it is given). */
export class Ec2Actions implements Ec2Port {
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

  /** State and status-check health of each instance (missing ones are absent from the map). */
  async conditions(ids: readonly string[]): Promise<Map<string, InstanceCondition>> {
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
}
