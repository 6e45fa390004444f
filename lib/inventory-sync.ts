import { Duration, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { type IQueue, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FleetFunction } from './fleet-function';
import { GROUP_READS, grantFleetActions, INSTANCE_READS, TRAFFIC_READS } from './fleet-permissions';

export interface InventorySyncProps {
  readonly table: ITable;
  /** How often EC2 is swept into the table. */
  readonly rate: Duration;
  readonly managedTag: { readonly key: string; readonly value: string };
  readonly serviceTagKey: string;
  readonly logRetention: RetentionDays;
}

/**
 * The inventory sweep: an EventBridge schedule invokes the sync function, which reads EC2 and
 * reconciles the fleet-state table. Invocations that fail after retries land in an encrypted
 * dead-letter queue.
 */
export class InventorySync extends Construct {
  readonly function: FleetFunction;
  readonly deadLetters: IQueue;

  constructor(scope: Construct, id: string, props: InventorySyncProps) {
    super(scope, id);
    const deadLetters = new Queue(this, 'DeadLetters', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.function = new FleetFunction(this, 'Sync', {
      invocation: { async: true, deadLetterQueue: deadLetters },
      handler: 'inventory-sync',
      description: 'FleetOps: sweep EC2 into the fleet-state table',
      timeout: Duration.minutes(5),
      memorySize: 1024,
      logRetention: props.logRetention,
      environment: {
        MANAGED_TAG_KEY: props.managedTag.key,
        MANAGED_TAG_VALUE: props.managedTag.value,
        SERVICE_TAG_KEY: props.serviceTagKey,
      },
    });
    this.function.bindTable(props.table);
    // The sweep reads EC2, the managed target groups and the groups; and, for an owner whose lease
    // is gone with instances still out of traffic (core/traffic/protocol.ts, restoreAbandoned),
    // brings them back: ExitStandby (which restores the capacity Standby took), RegisterTargets,
    // StartInstances for one left stopped, SetDesiredCapacity for the capacity of one that is gone.
    // It never takes anything out of traffic: no DeregisterTargets, no EnterStandby.
    grantFleetActions(this.function, {
      managedTag: props.managedTag,
      instances: ['ec2:StartInstances'],
      groups: ['autoscaling:ExitStandby', 'autoscaling:SetDesiredCapacity'],
      targetGroups: ['elasticloadbalancing:RegisterTargets'],
      reads: [...INSTANCE_READS, ...GROUP_READS, ...TRAFFIC_READS],
    });

    this.deadLetters = deadLetters;
    new Rule(this, 'Schedule', {
      description: 'FleetOps inventory sweep',
      schedule: Schedule.rate(props.rate),
      targets: [
        new LambdaFunction(this.function.function, { deadLetterQueue: deadLetters, retryAttempts: 2 }),
      ],
    });

    Validations.of(deadLetters).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the schedule target.',
    });
    Validations.of(deadLetters).acknowledge({
      id: 'Serverless-SQSRedrivePolicy',
      reason: 'This queue is itself a dead-letter queue (of the schedule target and the function).',
    });
  }
}
