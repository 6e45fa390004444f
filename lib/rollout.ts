import { Aws, type CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { FleetFunction } from './fleet-function';

export interface RolloutProps {
  readonly table: ITable;
  readonly managedTag: { readonly key: string; readonly value: string };
  readonly logRetention: RetentionDays;
}

/**
 * The gray-scale rollout: the state machine in state-machines/rollout.asl.json (deployed as
 * written, with the function's ARN substituted) and the one function behind its Task states.
 * Standard workflow; executions are named after their change.
 */
export class Rollout extends Construct {
  readonly stateMachine: StateMachine;
  readonly function: FleetFunction;

  constructor(scope: Construct, id: string, props: RolloutProps) {
    super(scope, id);
    this.function = new FleetFunction(this, 'Step', {
      handler: 'rollout-step',
      description: 'FleetOps: one step of a gray-scale rollout',
      timeout: Duration.minutes(5),
      memorySize: 1024,
      logRetention: props.logRetention,
    });
    this.function.bindTable(props.table);
    const principal = this.function.grantPrincipal;
    // Mutating EC2 actions only on instances FleetOps manages.
    principal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['ec2:RebootInstances', 'ec2:CreateTags'],
        resources: [`arn:${Aws.PARTITION}:ec2:*:${Aws.ACCOUNT_ID}:instance/*`],
        conditions: { StringEquals: { [`aws:ResourceTag/${props.managedTag.key}`]: props.managedTag.value } },
      }),
    );
    principal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['ec2:DescribeInstanceStatus'], resources: ['*'] }),
    );

    const logs = new LogGroup(this, 'ExecutionLogs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      definitionBody: DefinitionBody.fromFile('state-machines/rollout.asl.json'),
      definitionSubstitutions: { RolloutStepFunctionArn: this.function.function.functionArn },
      stateMachineType: StateMachineType.STANDARD,
      tracingEnabled: true,
      logs: { destination: logs, level: LogLevel.ALL, includeExecutionData: true },
    });
    this.function.function.grantInvoke(this.stateMachine);

    const role = this.function.role;
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ec2:DescribeInstanceStatus and cloudwatch:GetMetricData (the health gate) support no resource-level permissions, nor do X-Ray PutTraceSegments and PutTelemetryRecords; all are read-only or telemetry.',
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:*:<AWS::AccountId>:instance/*]',
      reason:
        'Reboot and tag only instances carrying the managed tag (aws:ResourceTag condition); their ids are not known at deploy time.',
    });
    const machineRole = this.stateMachine.node.findChild('Role');
    const functionId = Stack.of(this).getLogicalId(this.function.function.node.defaultChild as CfnElement);
    Validations.of(machineRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${functionId}.Arn>:*]`,
      reason: 'Invoking its one function, any version or alias of it (the function ARN with :*).',
    });
    Validations.of(machineRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'CloudWatch Logs log delivery and X-Ray tracing for the state machine support no resource-level permissions.',
    });
  }
}
