/** CloudWatch as a change's health gate reads it (CloudWatch: cloudwatch-metrics; in memory: sim/adapters). */
export interface MetricsPort {
  /** The state of each named alarm; one that does not exist is `missing`. */
  alarmStates(names: readonly string[]): Promise<Map<string, string>>;
  /** Per-instance samples of one metric (dimension InstanceId) over the window, for the canary judge. */
  samples(
    metric: { readonly namespace: string; readonly name: string; readonly statistic: string },
    instanceIds: readonly string[],
    window: { readonly start: Date; readonly end: Date; readonly periodSeconds: number },
  ): Promise<number[]>;
}
