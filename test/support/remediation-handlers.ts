/**
 * The remediation's handlers for a workflow test: topic, state machine and environment in moto,
 * the handler modules loaded over them (their ports composed by functions/app/ports.ts).
 */
import { CreateStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import type { Context, SQSEvent } from 'aws-lambda';
import type { RemediationPorts } from '../../functions/core/remediation/remediate';
import * as pacing from '../../functions/core/shared/token-bucket';

export type TriageHandler = (event: SQSEvent, context: Context) => Promise<{ batchItemFailures: unknown[] }>;

/**
 * The AWS request pacing (functions/core/shared/token-bucket.ts) on virtual time, as the
 * simulator runs it: every bucket still counts its tokens and serves its callers in order, but a
 * wait for a token moves this clock forward instead of sleeping. moto throttles nothing, and a
 * workflow test asserts what the steps do, not how fast they send requests
 * (test/unit/token-bucket.test.ts holds the pacing to its rate). Real sleeps were a third of
 * remediation-replace's time and a sixth of remediation-traffic's.
 */
function pacedOnVirtualTime(clock: pacing.Clock): void {
  let ahead = 0;
  clock.now = () => Date.now() + ahead;
  clock.sleep = (ms) => {
    ahead += ms;
    // As a real sleep does, let whatever else is under way (another actor's request) run first.
    return new Promise((resolve) => setImmediate(resolve));
  };
}

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
  // The handlers' modules are loaded afresh, and so is their clock; the test file's own imports
  // (its inventory sweep, say) keep the one loaded with it.
  pacedOnVirtualTime(pacing.realClock);
  pacedOnVirtualTime((await import('../../functions/core/shared/token-bucket')).realClock);
  return {
    triage,
    stepWith: step.remediationStepWith,
    ports: step.ports,
    machineArn: machine.stateMachineArn!,
  };
}
