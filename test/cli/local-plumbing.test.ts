import type { SFNClient } from '@aws-sdk/client-sfn';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { LocalPlumbing } from '../../cli/local/executions';

/**
 * The local runtime's stand-in for Lambda's SQS event source: an invocation that throws (a
 * timeout under load) fails its whole batch, which stays in the queue, and the loop goes on;
 * before, the rejection escaped the loop and ended `npm start` with an unhandled error.
 */
describe('LocalPlumbing (cli/local/executions.ts)', () => {
  it('leaves a batch whose triage invocation threw in the queue, and keeps delivering', async () => {
    const sent: string[] = [];
    let receives = 0;
    const sqs = {
      send: async (command: { constructor: { name: string } }) => {
        sent.push(command.constructor.name);
        if (command.constructor.name !== 'ReceiveMessageCommand') return {};
        receives++;
        return receives <= 2
          ? { Messages: [{ MessageId: `m${receives}`, ReceiptHandle: 'r', Body: '{}' }] }
          : {};
      },
    } as unknown as SQSClient;
    const sfn = { send: async () => ({ executions: [] }) } as unknown as SFNClient;
    let calls = 0;
    const plumbing = new LocalPlumbing({
      sqs,
      sfn,
      queueUrl: 'local',
      triage: async () => {
        calls++;
        if (calls === 1) throw new Error('[AbortError]: The operation was aborted.');
        return { batchItemFailures: [] };
      },
      remediationArn: 'arn:aws:states:local:123456789012:stateMachine:remediation',
      remediate: async () => undefined,
      pollMs: 5,
    });
    plumbing.start();
    await new Promise((r) => setTimeout(r, 100));
    await plumbing.stop();
    expect(calls).toBe(2);
    // The thrown batch is not deleted; the one that succeeded is.
    expect(sent.filter((c) => c === 'DeleteMessageBatchCommand')).toHaveLength(1);
    expect(plumbing.delivered).toBe(2);
  });
});
