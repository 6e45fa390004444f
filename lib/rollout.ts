import { Aws, Duration, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { FleetFunction } from './fleet-function';
import { stepStateMachine } from './step-state-machine';

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
      invocation: {
        async: false,
        why: 'Invoked synchronously by the rollout state machine, which retries and catches.',
      },
      handler: 'rollout-step',
      description: 'FleetOps: one step of a gray-scale rollout',
      timeout: Duration.minutes(5),
      memorySize: 1024,
      logRetention: props.logRetention,
    });
    this.function.bindTable(props.table);
    const principal = this.function.grantPrincipal;
    const managed = { StringEquals: { [`aws:ResourceTag/${props.managedTag.key}`]: props.managedTag.value } };
    const instances = `arn:${Aws.PARTITION}:ec2:*:${Aws.ACCOUNT_ID}:instance/*`;
    // Mutating actions only on instances (and Auto Scaling groups) FleetOps manages.
    principal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['ec2:RebootInstances', 'ec2:StopInstances', 'ec2:StartInstances', 'ec2:CreateTags'],
        resources: [instances],
        conditions: managed,
      }),
    );
    principal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['ssm:SendCommand'], resources: [instances], conditions: managed }),
    );
    // The documents a change may run: AWS-owned ones and the account's own.
    principal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['ssm:SendCommand'],
        resources: [
          `arn:${Aws.PARTITION}:ssm:*::document/*`,
          `arn:${Aws.PARTITION}:ssm:*:${Aws.ACCOUNT_ID}:document/*`,
        ],
      }),
    );
    principal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['autoscaling:TerminateInstanceInAutoScalingGroup'],
        resources: [
          `arn:${Aws.PARTITION}:autoscaling:*:${Aws.ACCOUNT_ID}:autoScalingGroup:*:autoScalingGroupName/*`,
        ],
        conditions: managed,
      }),
    );
    principal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: [
          'ec2:DescribeInstanceStatus',
          'cloudwatch:GetMetricData',
          'cloudwatch:DescribeAlarms',
          'ssm:ListCommands',
          'ssm:ListCommandInvocations',
          'autoscaling:DescribeAutoScalingInstances',
          'autoscaling:DescribeAutoScalingGroups',
        ],
        resources: ['*'],
      }),
    );

    this.stateMachine = stepStateMachine(this, {
      file: 'state-machines/rollout.asl.json',
      substitution: 'RolloutStepFunctionArn',
      step: this.function,
      logRetention: props.logRetention,
    });

    const role = this.function.role;
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ec2:DescribeInstanceStatus, cloudwatch:GetMetricData/DescribeAlarms, ssm:ListCommands/ListCommandInvocations and the Auto Scaling Describe calls (settle and the health gate) support no resource-level permissions, nor do X-Ray PutTraceSegments and PutTelemetryRecords; all are read-only or telemetry.',
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:*:<AWS::AccountId>:instance/*]',
      reason:
        'Reboot, stop, start, tag and run commands only on instances carrying the managed tag (aws:ResourceTag condition); their ids are not known at deploy time.',
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:autoscaling:*:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/*]',
      reason:
        'Replace (terminate without decrementing) only in Auto Scaling groups carrying the managed tag (aws:ResourceTag condition).',
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:*::document/*]',
      reason:
        'A change names the SSM document it runs (AWS-owned documents); the instances it may run on are tag-restricted.',
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:*:<AWS::AccountId>:document/*]',
      reason:
        "A change names the SSM document it runs (the account's own documents); the instances are tag-restricted.",
    });
  }
}
