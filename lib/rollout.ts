import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { FleetFunction } from './fleet-function';
import { grantFleetActions } from './fleet-permissions';
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
    grantFleetActions(this.function, {
      managedTag: props.managedTag,
      ssm: true,
      reads: [
        'cloudwatch:GetMetricData',
        'cloudwatch:DescribeAlarms',
        'ssm:ListCommands',
        'ssm:ListCommandInvocations',
      ],
    });

    this.stateMachine = stepStateMachine(this, {
      file: 'state-machines/rollout.asl.json',
      substitution: 'RolloutStepFunctionArn',
      step: this.function,
      logRetention: props.logRetention,
    });
  }
}
