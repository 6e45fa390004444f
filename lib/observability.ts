import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  SingleValueWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRIC_NAMESPACE, SERVICE_NAME } from '../functions/core/defaults';

/** The namespace and dimension the handlers write their metrics with (functions/handlers/telemetry.ts). */
const NAMESPACE = METRIC_NAMESPACE;
const SERVICE = { service: SERVICE_NAME };

export interface ObservabilityProps {
  readonly topic: ITopic;
  readonly functions: Readonly<Record<string, IFunction>>;
  readonly rollout: StateMachine;
  readonly remediation: StateMachine;
  readonly queue: IQueue;
  readonly deadLetterQueues: Readonly<Record<string, IQueue>>;
}

const fleetops = (name: string, dimensions: Record<string, string> = {}, label?: string) =>
  new Metric({
    namespace: NAMESPACE,
    metricName: name,
    dimensionsMap: { ...SERVICE, ...dimensions },
    statistic: 'Sum',
    period: Duration.minutes(5),
    label,
  });

/**
 * What an operator looks at: one dashboard (changes and waves, gate verdicts, remediations by
 * action and outcome, the breaker, the queues, the handlers) and the alarms that page through
 * the FleetOps topic (dead letters, handler errors, failed executions, an open breaker).
 */
export class Observability extends Construct {
  readonly dashboard: Dashboard;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const alarm = (name: string, description: string, metric: IMetric, threshold = 0) => {
      const a = new Alarm(this, name, {
        alarmDescription: `FleetOps: ${description}`,
        metric,
        threshold,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      a.addAlarmAction(new SnsAction(props.topic));
      this.alarms.push(a);
      return a;
    };
    for (const [name, fn] of Object.entries(props.functions)) {
      alarm(`${name}Errors`, `the ${name} function failed`, fn.metricErrors({ period: Duration.minutes(5) }));
    }
    alarm(
      'RolloutExecutionsFailed',
      'a rollout execution failed (a change failed or was rolled back: see its status)',
      props.rollout.metricFailed({ period: Duration.minutes(5) }),
    );
    alarm(
      'RemediationExecutionsFailed',
      'a remediation could not complete and paged',
      props.remediation.metricFailed({ period: Duration.minutes(5) }),
    );
    alarm(
      'BreakerOpen',
      'a remediation breaker is open: automatic action stopped in a scope',
      fleetops('BreakerOpen'),
    );
    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      alarm(
        `${name}DeadLetters`,
        `messages are waiting in the ${name} dead-letter queue`,
        queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
      );
    }

    const graph = (title: string, left: IMetric[], width = 8) =>
      new GraphWidget({ title, left, width, height: 6, stacked: false });
    this.dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(6) });
    this.dashboard.addWidgets(
      new SingleValueWidget({
        title: 'Changes and remediations in flight',
        width: 8,
        height: 6,
        metrics: [
          props.rollout.metric('ExecutionsStarted', { label: 'changes started', statistic: 'Sum' }),
          new MathExpression({
            expression: 'started - ended',
            label: 'changes running (started − ended, 6 h)',
            usingMetrics: {
              started: props.rollout.metricStarted({ statistic: 'Sum' }),
              ended: new MathExpression({
                expression: 'SUM([s, f, a, t])',
                usingMetrics: {
                  s: props.rollout.metricSucceeded({ statistic: 'Sum' }),
                  f: props.rollout.metricFailed({ statistic: 'Sum' }),
                  a: props.rollout.metricAborted({ statistic: 'Sum' }),
                  t: props.rollout.metricTimedOut({ statistic: 'Sum' }),
                },
              }),
            },
          }),
          props.remediation.metricStarted({ label: 'remediations started', statistic: 'Sum' }),
        ],
      }),
      graph('Waves applied and instances changed', [
        fleetops('WavesApplied', {}, 'waves'),
        fleetops('InstancesChanged', {}, 'instances'),
      ]),
      graph(
        'Health gate verdicts',
        ['pass', 'fail', 'extend'].map((v) => fleetops('GateVerdicts', { verdict: v }, v)),
      ),
    );
    this.dashboard.addWidgets(
      graph(
        'Remediations by action',
        ['reboot', 'stop-start', 'replace', 'drain', 'defer', 'record-only', 'page'].map((a) =>
          fleetops('RemediationDecisions', { action: a }, a),
        ),
      ),
      graph(
        'Remediation outcomes',
        ['recovered', 'not-recovered', 'failed'].map((o) =>
          fleetops('RemediationOutcomes', { outcome: o }, o),
        ),
      ),
      graph('Breaker opened, findings, rejected events', [
        fleetops('BreakerOpen', {}, 'breaker open'),
        fleetops('EventsRejected', {}, 'events rejected'),
      ]),
    );
    this.dashboard.addWidgets(
      graph('Triage queue and dead letters', [
        props.queue.metricApproximateNumberOfMessagesVisible({ label: 'triage queue', statistic: 'Maximum' }),
        ...Object.entries(props.deadLetterQueues).map(([name, q]) =>
          q.metricApproximateNumberOfMessagesVisible({ label: `${name} dead letters`, statistic: 'Maximum' }),
        ),
      ]),
      graph(
        'Handler errors',
        Object.entries(props.functions).map(([name, fn]) =>
          fn.metricErrors({ label: name, statistic: 'Sum' }),
        ),
      ),
      graph(
        'Handler duration (p90, ms)',
        Object.entries(props.functions).map(([name, fn]) =>
          fn.metricDuration({ label: name, statistic: 'p90' }),
        ),
      ),
    );
  }
}
