/**
 * The local runtime's world, what moto does not model: instances that fail (a fault model that
 * stands in for EC2's status checks), the application's latency as CloudWatch sees it, and the
 * health events EventBridge delivers (from the shapes in examples/events).
 */
import { readFileSync } from 'node:fs';
import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SERVICE_TAG_KEY } from '../../functions/core/defaults';
import type { Ec2Port } from '../../functions/core/ports/index';
import type { LocalRuntime } from './runtime';

export type Fault = 'hardware' | 'software';

/**
 * moto never impairs an instance: this fault model stands in for EC2's status checks. An
 * instance with a hardware fault recovers only by a stop-start (a new host), a software hang
 * also by a reboot. Every call still goes to moto's EC2.
 */
export class FaultModel {
  readonly faults = new Map<string, Fault>();

  set(id: string, fault: Fault): void {
    this.faults.set(id, fault);
  }

  /** An EC2 port that reports faulty instances impaired and repairs them as EC2 would. */
  wrap(ec2: Ec2Port): Ec2Port {
    const faults = this.faults;
    return {
      setTags: (ids, tags) => ec2.setTags(ids, tags),
      start: (ids) => ec2.start(ids),
      reboot: async (ids) => {
        for (const id of ids) if (faults.get(id) === 'software') faults.delete(id);
        await ec2.reboot(ids);
      },
      stop: async (ids) => {
        for (const id of ids) faults.delete(id);
        await ec2.stop(ids);
      },
      consoleOutputAt: (ids) => ec2.consoleOutputAt(ids),
      conditions: async (ids) => {
        const real = await ec2.conditions(ids);
        for (const id of ids) {
          const c = real.get(id);
          if (c && faults.has(id)) real.set(id, { ...c, health: 'impaired' });
        }
        return real;
      },
    };
  }
}

/** The application's latency as CloudWatch sees it: v43 of the config is 60% slower. */
export async function writeLatency(runtime: LocalRuntime, targetServices: readonly string[]): Promise<void> {
  const described = await runtime.ec2.send(
    new DescribeInstancesCommand({
      Filters: [{ Name: `tag:${SERVICE_TAG_KEY}`, Values: [...targetServices] }],
    }),
  );
  const now = Date.now();
  const data = (described.Reservations ?? [])
    .flatMap((r) => r.Instances ?? [])
    .flatMap((i, k) => {
      const slow = (i.Tags ?? []).some((t) => t.Key === 'app-config' && t.Value === 'v43');
      return [1, 2, 3, 4, 5, 6].map((m) => ({
        MetricName: 'Latency',
        Dimensions: [{ Name: 'InstanceId', Value: i.InstanceId ?? '' }],
        Timestamp: new Date(now - m * 60_000),
        Value: (slow ? 160 : 100) + ((k * 7 + m * 3) % 10),
      }));
    });
  // moto takes at most 20 data points per call (CloudWatch takes 1,000).
  for (let i = 0; i < data.length; i += 20) {
    await runtime.cloudwatch.send(
      new PutMetricDataCommand({ Namespace: 'App', MetricData: data.slice(i, i + 20) }),
    );
  }
}

/** Puts events on the bus, ten at a time, as AWS services would; `say` tells what was injected. */
export async function inject(
  runtime: LocalRuntime,
  say: (line: string) => void,
  what: string,
  events: ReadonlyArray<Record<string, unknown>>,
): Promise<void> {
  for (let i = 0; i < events.length; i += 10) {
    const put = await runtime.events.send(
      new PutEventsCommand({
        Entries: events.slice(i, i + 10).map((e) => ({
          Source: String(e.source),
          DetailType: String(e['detail-type']),
          Detail: JSON.stringify(e.detail),
          Resources: e.resources as string[],
        })),
      }),
    );
    if ((put.FailedEntryCount ?? 0) > 0) throw new Error(`EventBridge refused ${what}`);
  }
  say(`injected ${what} (${events.length} event${events.length === 1 ? '' : 's'} on the bus)`);
}

/** Events as EventBridge delivers them, from the shapes in examples/events. */
export function eventTemplates() {
  const read = (name: string) => readFileSync(`examples/events/${name}`, 'utf8');
  const alarmTemplate = read('alarm-status-system.json');
  const hardwareTemplate = read('health-degraded-hardware.issue.json');
  return {
    alarm(instanceId: string, check: 'System' | 'Instance', occurrence: string): Record<string, unknown> {
      const at = new Date().toISOString();
      return JSON.parse(
        alarmTemplate
          .replaceAll('i-0c0ffee0c0ffee001', instanceId)
          .replaceAll('StatusCheckFailed_System', `StatusCheckFailed_${check}`)
          .replaceAll('system status check', `${check.toLowerCase()} status check`)
          .replace('2026-04-14T09:31:12.405+0000', at.replace('Z', '+0000'))
          .replace('2026-04-14T09:31:12Z', at.replace(/\.\d+Z$/, 'Z'))
          .replace('e2b3c4d5-6f70-4a81-9b2c-3d4e5f6a7b8c', `local-${occurrence}`),
      );
    },
    degradedHardware(instanceId: string): Record<string, unknown> {
      return JSON.parse(
        hardwareTemplate
          .replaceAll('i-0123456789abcdef0', instanceId)
          .replaceAll(
            'AWS_EC2_DEGRADED_HARDWARE_ISSUE_3d9f',
            `AWS_EC2_DEGRADED_HARDWARE_ISSUE_${instanceId.slice(-6)}`,
          )
          .replaceAll(
            '2026-02-10T10:58:00Z',
            new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z'),
          ),
      );
    },
  };
}

export type EventTemplates = ReturnType<typeof eventTemplates>;
