/**
 * The metrics port (`MetricsPort`) over CloudWatch: alarm states and per-instance metric samples.
 */
import {
  type CloudWatchClient,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  type MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import type { MetricsPort } from '../core/ports/metrics';
import { chunks } from './dynamo-client';

/** DescribeAlarms takes at most 100 alarm names a request. */
const ALARMS_PER_REQUEST = 100;
/** GetMetricData takes at most 500 queries a request. */
const QUERIES_PER_REQUEST = 500;

/** Per-instance samples of one metric (dimension InstanceId), for the canary judge. */
export class CloudWatchSamples implements MetricsPort {
  constructor(private readonly cloudwatch: CloudWatchClient) {}

  /**
   * The state of each named alarm (metric or composite); an alarm that does not exist is
   * reported as `missing`, so a typo in a spec cannot pass a gate silently.
   */
  async alarmStates(names: readonly string[]): Promise<Map<string, string>> {
    const states = new Map<string, string>(names.map((n) => [n, 'missing']));
    for (const batch of chunks(names, ALARMS_PER_REQUEST)) {
      let NextToken: string | undefined;
      do {
        const page = await this.cloudwatch.send(
          new DescribeAlarmsCommand({
            AlarmNames: batch,
            AlarmTypes: ['MetricAlarm', 'CompositeAlarm'],
            NextToken,
          }),
        );
        for (const a of [...(page.MetricAlarms ?? []), ...(page.CompositeAlarms ?? [])]) {
          if (a.AlarmName) states.set(a.AlarmName, a.StateValue ?? 'INSUFFICIENT_DATA');
        }
        NextToken = page.NextToken;
      } while (NextToken);
    }
    return states;
  }

  async samples(
    metric: { readonly namespace: string; readonly name: string; readonly statistic: string },
    instanceIds: readonly string[],
    window: { readonly start: Date; readonly end: Date; readonly periodSeconds: number },
  ): Promise<number[]> {
    const values: number[] = [];
    for (const batch of chunks(instanceIds, QUERIES_PER_REQUEST)) {
      const queries: MetricDataQuery[] = batch.map((id, i) => ({
        Id: `m${i}`,
        MetricStat: {
          Metric: {
            Namespace: metric.namespace,
            MetricName: metric.name,
            Dimensions: [{ Name: 'InstanceId', Value: id }],
          },
          Period: window.periodSeconds,
          Stat: metric.statistic,
        },
      }));
      let NextToken: string | undefined;
      do {
        const page = await this.cloudwatch.send(
          new GetMetricDataCommand({
            MetricDataQueries: queries,
            StartTime: window.start,
            EndTime: window.end,
            NextToken,
          }),
        );
        for (const result of page.MetricDataResults ?? []) values.push(...(result.Values ?? []));
        NextToken = page.NextToken;
      } while (NextToken);
    }
    return values;
  }
}
