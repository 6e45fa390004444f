import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { accumulateEnvironment } from '../functions/app/environment';
import { STATUS_CHECK_ALARM_PREFIX } from '../functions/core/defaults';
import { FleetTable } from './fleet-table';
import { InventorySync } from './inventory-sync';
import { Observability } from './observability';
import { Remediation } from './remediation';
import { Rollout } from './rollout';
import type { FleetOpsSettings } from './settings';

export interface FleetOpsStackProps extends StackProps {
  readonly settings: FleetOpsSettings;
}

/** FleetOps in one account and region. */
export class FleetOpsStack extends Stack {
  readonly table: ITable;

  constructor(scope: Construct, id: string, props: FleetOpsStackProps) {
    super(scope, id, props);
    const { settings } = props;
    this.table = new FleetTable(this, 'FleetState', { removalPolicy: settings.removalPolicy }).table;
    const inventory = new InventorySync(this, 'Inventory', {
      table: this.table,
      rate: settings.inventoryRate,
      managedTag: settings.managedTag,
      serviceTagKey: settings.serviceTagKey,
      logRetention: settings.logRetention,
    });
    const rollout = new Rollout(this, 'Rollout', {
      table: this.table,
      managedTag: settings.managedTag,
      logRetention: settings.logRetention,
    });
    const remediation = new Remediation(this, 'Remediation', {
      table: this.table,
      managedTag: settings.managedTag,
      statusAlarmPrefix: STATUS_CHECK_ALARM_PREFIX,
      logRetention: settings.logRetention,
      notificationEmail: settings.notificationEmail,
      breaker: {
        maxUnhealthyPercent: settings.breakerMaxUnhealthyPercent,
        maxInFlight: settings.breakerMaxInFlight,
      },
      tuning: settings.remediation,
    });
    // The rollout tells people too: approvals waiting, gates failed, changes ended.
    rollout.function.addEnvironment('TOPIC_ARN', remediation.topic.topicArn);
    remediation.topic.grantPublish(rollout.function.function);
    // The sweep's new findings open remediation cases too.
    inventory.function.addEnvironment(
      'REMEDIATION_STATE_MACHINE_ARN',
      remediation.stateMachine.stateMachineArn,
    );
    remediation.stateMachine.grantStartExecution(inventory.function.function);
    for (const [name, value] of Object.entries(accumulateEnvironment(settings.remediation))) {
      inventory.function.addEnvironment(name, value);
    }
    // The sweep pages about instances left out of traffic that it cannot bring back.
    inventory.function.addEnvironment('TOPIC_ARN', remediation.topic.topicArn);
    remediation.topic.grantPublish(inventory.function.function);
    const observability = new Observability(this, 'Observability', {
      topic: remediation.topic,
      functions: {
        InventorySync: inventory.function.function,
        RolloutStep: rollout.function.function,
        Triage: remediation.triage.function,
        RemediationStep: remediation.step.function,
      },
      rollout: rollout.stateMachine,
      remediation: remediation.stateMachine,
      queue: remediation.queue,
      deadLetterQueues: { Triage: remediation.deadLetters, Inventory: inventory.deadLetters },
    });
    new CfnOutput(this, 'DashboardName', {
      value: observability.dashboard.dashboardName,
      description: 'The FleetOps CloudWatch dashboard',
    });
    new CfnOutput(this, 'RemediationStateMachineArn', {
      value: remediation.stateMachine.stateMachineArn,
      description: 'The remediation state machine (executions are named after their case)',
    });
    new CfnOutput(this, 'NotificationTopicArn', {
      value: remediation.topic.topicArn,
      description: 'Pages and summaries (subscribe your pager or e-mail)',
    });
    new CfnOutput(this, 'RolloutStateMachineArn', {
      value: rollout.stateMachine.stateMachineArn,
      description: 'The rollout state machine (executions are named after their change)',
    });
    new CfnOutput(this, 'FleetTableName', {
      value: this.table.tableName,
      description: 'The fleet-state table (set FLEETOPS_TABLE to this for the CLI)',
    });
  }
}
