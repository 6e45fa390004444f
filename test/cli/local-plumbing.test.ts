import type { SFNClient } from '@aws-sdk/client-sfn';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { trafficCheck } from '../../cli/local/collect';
import { LocalPlumbing } from '../../cli/local/executions';
import { type TrafficRecord, trafficLine } from '../../cli/local/report';

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

/**
 * The local runtime's traffic check and summary line (cli/local/collect.ts, report.ts): in
 * service below the budget's floor at any sample, an action on a serving instance, or a member
 * the group replaced fails the run.
 */
describe('the traffic service in the local runtime report', () => {
  const sample = (t: number, inService: number) => ({
    t,
    targets: 24,
    inService,
    floor: 18,
    standby: 24 - inService,
    draining: 0,
    initial: 0,
  });
  const record = (over: Partial<TrafficRecord> = {}): TrafficRecord => ({
    service: 'checkout',
    group: 'checkout-group',
    targetGroup: 'checkout-http',
    deregistrationDelaySeconds: 5,
    readySeconds: 10,
    samples: [sample(0, 24), sample(1, 18), sample(2, 22), sample(3, 24)],
    change: { id: 'hosts', action: 'stop-start', predictedSecondsPerWave: 15, plannedSeconds: 30 },
    waves: [
      { index: 0, size: 6, start: 0, end: 3, drainSeconds: 5.2, readySeconds: 10.4 },
      { index: 1, size: 2, start: 3, end: 6, drainSeconds: 5.6, readySeconds: 10.8 },
    ],
    replaced: [],
    violations: [],
    maxActionsPerInstance: 1,
    ...over,
  });

  it('passes when in service never fell below the floor, and says so in one line', () => {
    expect(trafficCheck(record())).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/at least 18 of 24/),
    });
    expect(trafficLine({ traffic: record() })).toBe(
      'traffic: checkout 24 targets, at least 18 in service throughout (budget floor 18), 0 replaced, draining+readiness +16 s per wave over 2 waves (planned +15 s: 5 s delay + 10 s health checks)',
    );
  });

  it('fails on a sample below the floor, an action on a serving instance, a replacement or a second action', () => {
    expect(trafficCheck(record({ samples: [sample(0, 24), sample(4.5, 17)] }))).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/17 in service < floor 18 at 4.5s/),
    });
    expect(trafficCheck(record({ violations: ['stop i-1 while InService in checkout-group'] })).ok).toBe(
      false,
    );
    expect(trafficCheck(record({ replaced: ['i-1'] })).detail).toMatch(/1 replaced by checkout-group/);
    expect(trafficCheck(record({ maxActionsPerInstance: 2 })).ok).toBe(false);
    expect(trafficCheck(record({ samples: [] })).ok).toBe(false);
  });
});
