import { type CfnElement, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { FleetFunction } from './fleet-function';

/**
 * A FleetOps state machine: an ASL file deployed as written, with its one step function's ARN
 * substituted for `${<substitution>}`; Standard, traced, every event logged to its own log group.
 */
export function stepStateMachine(
  scope: Construct,
  props: { file: string; substitution: string; step: FleetFunction; logRetention: RetentionDays },
): StateMachine {
  const logs = new LogGroup(scope, 'ExecutionLogs', {
    retention: props.logRetention,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  const machine = new StateMachine(scope, 'StateMachine', {
    definitionBody: DefinitionBody.fromFile(props.file),
    definitionSubstitutions: { [props.substitution]: props.step.function.functionArn },
    stateMachineType: StateMachineType.STANDARD,
    tracingEnabled: true,
    logs: { destination: logs, level: LogLevel.ALL, includeExecutionData: true },
  });
  props.step.function.grantInvoke(machine);
  const machineRole = machine.node.findChild('Role');
  const functionId = Stack.of(scope).getLogicalId(props.step.function.node.defaultChild as CfnElement);
  Validations.of(machineRole).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${functionId}.Arn>:*]`,
    reason: 'Invoking its one function, any version or alias of it (the function ARN with :*).',
  });
  Validations.of(machineRole).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'CloudWatch Logs log delivery and X-Ray tracing for the state machine support no resource-level permissions.',
  });
  return machine;
}
