import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC_NAMESPACE, SERVICE_NAME } from '../core/defaults';

/**
 * FleetOps' own metrics (CloudWatch embedded metric format, namespace `FleetOps`, dimension
 * `service: fleetops`), written by the handlers from what each step returned. The dashboard and
 * the breaker alarm read them (lib/observability.ts).
 */
export const NAMESPACE = METRIC_NAMESPACE;
export const metrics = new Metrics({ namespace: NAMESPACE, serviceName: SERVICE_NAME });

export function count(name: string, value = 1): void {
  metrics.addMetric(name, MetricUnit.Count, value);
}

/** A count with one more dimension (an action, a verdict, a kind), flushed on its own. */
export function countBy(name: string, dimension: string, value: string, n = 1): void {
  const single = metrics.singleMetric();
  single.addDimension(dimension, value);
  single.addMetric(name, MetricUnit.Count, n);
}

/** Metrics of one rollout step, from its result. */
export function rolloutStepMetrics(step: string, result: unknown): void {
  const r = (result ?? {}) as Record<string, unknown>;
  count('RolloutSteps');
  if (step === 'apply') {
    count('WavesApplied');
    count('InstancesChanged', Number(r.applied ?? 0));
  } else if (step === 'gate') {
    countBy('GateVerdicts', 'verdict', String(r.verdict));
  } else if (step === 'finish') {
    countBy('ChangesEnded', 'status', String(r.status));
  }
}

/** Metrics of one remediation step, from its result. */
export function remediationStepMetrics(step: string, result: unknown): void {
  const r = (result ?? {}) as Record<string, unknown>;
  count('RemediationSteps');
  if (step === 'decide') {
    countBy('RemediationDecisions', 'action', String(r.action));
    if (String(r.reason ?? '').startsWith('breaker open')) count('BreakerOpen');
  } else if (step === 'verify') {
    countBy('RemediationOutcomes', 'outcome', r.recovered ? 'recovered' : 'not-recovered');
  } else if (step === 'fail') {
    countBy('RemediationOutcomes', 'outcome', 'failed');
  }
}
