import { Aws, Duration, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
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
      // Lambda's most: a wave's traffic exits cost one DeregisterTargets per target group at ELB's
      // 2 requests/s (and EnterStandby per group, DescribeTargetHealth to see them drained), so a
      // final wave touching ~400 target groups needs about 5 minutes of API time in one Apply.
      timeout: Duration.minutes(15),
      memorySize: 1024,
      logRetention: props.logRetention,
    });
    this.function.bindTable(props.table);
    // The action registry's actions, each inside the traffic protocol (Standby / deregister →
    // act → ExitStandby / register), and the group-safe replace.
    grantFleetActions(this.function, {
      managedTag: props.managedTag,
      instances: INSTANCE_ACTIONS,
      groups: GROUP_ACTIONS,
      targetGroups: TRAFFIC_MOVES,
      ssm: true,
      reads: [
        ...INSTANCE_READS,
        ...GROUP_READS,
        ...TRAFFIC_READS,
        // Its only resource type, `dataset`, is optional and not the classic metrics the gate reads.
        'cloudwatch:GetMetricData',
        'ssm:ListCommands',
        'ssm:ListCommandInvocations',
      ],
    });

    // The gate's alarms: DescribeAlarms names the `alarm` resource type (Service Authorization
    // Reference, Amazon CloudWatch), so it is granted on this account's alarms in this region, not `*`;
    // a change may name any of them.
    this.function.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['cloudwatch:DescribeAlarms'],
        resources: [`arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:*`],
      }),
    );
    Validations.of(this.function.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:*]',
      reason:
        'The health gate reads the CloudWatch alarms a change names (read-only); their names are known only at run time.',
    });

    this.stateMachine = stepStateMachine(this, {
      file: 'state-machines/rollout.asl.json',
      substitution: 'RolloutStepFunctionArn',
      step: this.function,
      logRetention: props.logRetention,
    });
  }
}
