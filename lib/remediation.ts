import { Duration, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { Alias } from 'aws-cdk-lib/aws-kms';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { accumulateEnvironment, remediationStepEnvironment } from '../functions/app/environment';
import { FleetFunction } from './fleet-function';
import {
  GROUP_ACTIONS,
  GROUP_READS,
  grantFleetActions,
  INSTANCE_ACTIONS,
  INSTANCE_READS,
  TRAFFIC_MOVES,
  TRAFFIC_READS,
} from './fleet-permissions';
import { routingPatterns } from './routing-patterns';
import type { RemediationTuning } from './settings';
import { stepStateMachine } from './step-state-machine';

export { routingPatterns } from './routing-patterns';

export interface RemediationProps {
  readonly table: ITable;
  readonly managedTag: { readonly key: string; readonly value: string };
  /** FleetOps' status-check alarms are named with this prefix (and the instance id). */
  readonly statusAlarmPrefix: string;
  readonly logRetention: RetentionDays;
  readonly notificationEmail?: string;
  readonly breaker: { readonly maxUnhealthyPercent: number; readonly maxInFlight: number };
  /** Accumulation windows, the breaker's hold, the relapse window and the in-flight caps (lib/settings.ts). */
  readonly tuning: RemediationTuning;
}

/**
 * Event-triggered remediation: EventBridge rules → an encrypted SQS queue (with a dead-letter
 * queue and an alarm on it) → the triage function (partial batch responses) → one remediation
 * execution per finding (state-machines/remediation.asl.json) → pages and summaries on an
 * encrypted SNS topic.
 */
export class Remediation extends Construct {
  readonly topic: Topic;
  readonly queue: Queue;
  readonly deadLetters: Queue;
  readonly stateMachine: StateMachine;
  readonly triage: FleetFunction;
  readonly step: FleetFunction;

  constructor(scope: Construct, id: string, props: RemediationProps) {
    super(scope, id);
    this.topic = new Topic(this, 'Notifications', {
      displayName: 'FleetOps pages and summaries',
      masterKey: Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns'),
      enforceSSL: true,
    });

    this.deadLetters = new Queue(this, 'DeadLetters', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    // Pages that cannot be delivered land with the dead letters (alarmed), not nowhere.
    if (props.notificationEmail) {
      this.topic.addSubscription(
        new EmailSubscription(props.notificationEmail, { deadLetterQueue: this.deadLetters }),
      );
    }
    this.queue = new Queue(this, 'Events', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // Six times the triage function's timeout, as Lambda's SQS integration advises.
      visibilityTimeout: Duration.minutes(6),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: 5 },
    });
    for (const [name, pattern] of Object.entries(routingPatterns(props.statusAlarmPrefix))) {
      new Rule(this, name, {
        description: `FleetOps remediation: ${name}`,
        eventPattern: pattern,
        targets: [new SqsQueue(this.queue, { retryAttempts: 8, deadLetterQueue: this.deadLetters })],
      });
    }
    // The remediation steps.
    this.step = new FleetFunction(this, 'Step', {
      invocation: {
        async: false,
        why: 'Invoked synchronously by the remediation state machine, which retries and catches.',
      },
      handler: 'remediation-step',
      description: 'FleetOps: one step of a remediation',
      timeout: Duration.minutes(2),
      memorySize: 512,
      logRetention: props.logRetention,
      environment: {
        TOPIC_ARN: this.topic.topicArn,
        BREAKER_MAX_UNHEALTHY_PERCENT: String(props.breaker.maxUnhealthyPercent),
        BREAKER_MAX_IN_FLIGHT: String(props.breaker.maxInFlight),
        ...remediationStepEnvironment(props.tuning),
      },
    });
    this.step.bindTable(props.table);
    this.topic.grantPublish(this.step.function);
    // The ladder's steps inside the traffic protocol, and the group-safe replace; no Run Command.
    grantFleetActions(this.step, {
      managedTag: props.managedTag,
      instances: INSTANCE_ACTIONS,
      groups: GROUP_ACTIONS,
      targetGroups: TRAFFIC_MOVES,
      reads: [...INSTANCE_READS, ...GROUP_READS, ...TRAFFIC_READS],
    });

    this.stateMachine = stepStateMachine(this, {
      file: 'state-machines/remediation.asl.json',
      substitution: 'RemediationStepFunctionArn',
      step: this.step,
      logRetention: props.logRetention,
    });

    // Triage.
    this.triage = new FleetFunction(this, 'Triage', {
      invocation: {
        async: false,
        why: 'Invoked synchronously by the SQS event source; failed records return to the queue, whose redrive policy moves them to its dead-letter queue.',
      },
      handler: 'triage',
      description: 'FleetOps: health events → findings → remediation executions',
      timeout: Duration.minutes(1),
      memorySize: 512,
      logRetention: props.logRetention,
      environment: {
        REMEDIATION_STATE_MACHINE_ARN: this.stateMachine.stateMachineArn,
        POWERTOOLS_IDEMPOTENCY_DISABLED: 'false',
        ...accumulateEnvironment(props.tuning),
      },
    });
    this.triage.bindTable(props.table);
    this.stateMachine.grantStartExecution(this.triage.function);
    const source = new SqsEventSource(this.queue, {
      batchSize: 10,
      reportBatchItemFailures: true,
      maxConcurrency: 5,
    });
    this.triage.function.addEventSource(source);
    Validations.of(this.triage.function).acknowledge({
      id: 'Serverless-LambdaEventSourceMappingDestination',
      reason:
        'An SQS event source has no on-failure destination: failed records stay on the queue and its redrive policy (5 receives) moves them to the dead-letter queue.',
    });

    Validations.of(this.triage.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level permissions (telemetry).',
    });
    Validations.of(this.deadLetters).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the triage queue and the rule targets.',
    });
    Validations.of(this.deadLetters).acknowledge({
      id: 'Serverless-SQSRedrivePolicy',
      reason: 'This queue is itself a dead-letter queue (of the triage queue and the rule targets).',
    });
  }
}
