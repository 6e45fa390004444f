/**
 * The remediation's handlers for a workflow test: topic, state machine and environment in moto,
 * the handler modules loaded over them (their ports composed by functions/app/ports.ts).
 */
import { CreateStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import type { Context, SQSEvent } from 'aws-lambda';
import type { RemediationPorts } from '../../functions/core/remediation/remediate';

export type TriageHandler = (event: SQSEvent, context: Context) => Promise<{ batchItemFailures: unknown[] }>;

/**
 * The remediation's Lambda handlers as deployed, for one test file: the SNS topic and the state
 * machine registered in moto (triage starts executions of it), the handlers' environment, and the
 * handler modules loaded afresh over it. Every remediation workflow test starts from here.
 */
export async function loadRemediationHandlers(
  region: string,
  table: string,
  definition: Record<string, unknown>,
): Promise<{
  triage: TriageHandler;
  stepWith: (ports: RemediationPorts, event: unknown) => Promise<unknown>;
  ports: RemediationPorts;
  machineArn: string;
}> {
  const topic = await new SNSClient({ region }).send(new CreateTopicCommand({ Name: 'fleetops' }));
  const machine = await new SFNClient({ region }).send(
    new CreateStateMachineCommand({
      name: `remediation-${table}`,
      roleArn: 'arn:aws:iam::123456789012:role/fleetops-remediation',
      definition: JSON.stringify(definition),
    }),
  );
  process.env.TABLE_NAME = table;
  process.env.TOPIC_ARN = topic.TopicArn!;
  process.env.REMEDIATION_STATE_MACHINE_ARN = machine.stateMachineArn!;
  process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
  jest.resetModules();
  const { triage } = (await import('../../functions/handlers/triage')) as unknown as {
    triage: TriageHandler;
  };
  const step = await import('../../functions/handlers/remediation-step');
  return {
    triage,
    stepWith: step.remediationStepWith,
    ports: step.ports,
    machineArn: machine.stateMachineArn!,
  };
}
