import {
  type CloudWatchClient,
  GetMetricDataCommand,
  type MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import { chunks } from './dynamo-client';

/** GetMetricData takes at most 500 queries a request. */
const QUERIES_PER_REQUEST = 500;

/** Per-instance samples of one metric (dimension InstanceId), for the canary judge. */
export class CloudWatchSamples {
  constructor(private readonly cloudwatch: CloudWatchClient) {}

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
