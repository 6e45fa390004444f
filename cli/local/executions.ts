/**
 * Executions in the local runtime: one ASL run by aws-local-stepfunctions with its Task states
 * bound to a handler (runLocally), and what AWS does between the pieces (LocalPlumbing).
 */
import { DescribeExecutionCommand, ListExecutionsCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent } from 'aws-lambda';
import { StateMachine } from 'aws-local-stepfunctions';
import { bindTasks } from './local-sfn';

type Handler = (event: unknown, context: Context) => Promise<unknown>;
type Wrap = NonNullable<Parameters<typeof bindTasks>[2]>;

/** One execution of an ASL file, its Task states bound to a handler, run by aws-local-stepfunctions. */
export function runLocally(
  definition: Record<string, unknown>,
  input: unknown,
  options: {
    handler: Handler;
    wrap?: Wrap;
    /** Wait state name → milliseconds (the local runtime shortens bakes and polls). */
    waits: Record<string, number>;
    retryWaits: Record<string, number>;
    taskToken?: string;
  },
) {
  return new StateMachine(definition as never).run(input as never, {
    overrides: {
      taskResourceLocalHandlers: bindTasks(definition, options.handler, options.wrap),
      waitTimeOverrides: options.waits,
      retryIntervalOverrides: options.retryWaits,
    },
    ...(options.taskToken ? { context: { Task: { Token: options.taskToken } } } : {}),
  });
}

/**
 * What AWS does between the pieces the local runtime runs itself: Lambda's SQS event source
 * (receive a batch, call the function, delete what it did not report as failed) and Step
 * Functions running the executions a handler started (moto records StartExecution; this runs
 * each new one locally, at once, as the service would).
 */
export class LocalPlumbing {
  private readonly seen = new Set<string>();
  private readonly running = new Set<Promise<unknown>>();
  private stopped = false;
  private loop: Promise<void> | undefined;
  private messages = 0;

  constructor(
    private readonly deps: {
      sqs: SQSClient;
      sfn: SFNClient;
      queueUrl: string;
      triage: Handler;
      remediationArn: string;
      /** Runs one remediation execution's input to its end. */
      remediate: (name: string, input: unknown) => Promise<unknown>;
      pollMs: number;
    },
  ) {}

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        const busy = (await this.deliverBatch()) + (await this.startExecutions());
        if (busy === 0) await new Promise((r) => setTimeout(r, this.deps.pollMs));
      }
    })();
  }

  /** Resolves once the queue is empty and every execution started so far has ended (twice in a row). */
  async settled(): Promise<void> {
    let quiet = 0;
    while (quiet < 2) {
      await new Promise((r) => setTimeout(r, this.deps.pollMs * 2));
      const delivered = await this.deliverBatch();
      const started = await this.startExecutions();
      await Promise.allSettled([...this.running]);
      quiet = delivered + started === 0 && this.running.size === 0 ? quiet + 1 : 0;
    }
  }

  get delivered(): number {
    return this.messages;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await Promise.allSettled([...this.running]);
  }

  private async deliverBatch(): Promise<number> {
    const received = await this.deps.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.deps.queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
    );
    const messages = received.Messages ?? [];
    if (messages.length === 0) return 0;
    this.messages += messages.length;
    const event = {
      Records: messages.map((m) => ({
        messageId: m.MessageId ?? '',
        receiptHandle: m.ReceiptHandle ?? '',
        body: m.Body ?? '',
        attributes: { ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1' },
        messageAttributes: {},
        md5OfBody: m.MD5OfBody ?? '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:local:123456789012:fleetops-triage',
        awsRegion: process.env.AWS_REGION ?? 'us-east-1',
      })),
    } as unknown as SQSEvent;
    const context = {
      functionName: 'fleetops-triage',
      awsRequestId: `local-${messages[0].MessageId}`,
      getRemainingTimeInMillis: () => 60_000,
    } as unknown as Context;
    // An invocation that throws (a timeout under load, say) fails its whole batch, as Lambda's
    // event source treats it: every message stays in the queue and comes round again.
    const response = (await this.deps.triage(event, context).catch((error: unknown) => {
      if (process.env.DEBUG_SFN) console.error('triage', error);
      return { batchItemFailures: messages.map((m) => ({ itemIdentifier: m.MessageId ?? '' })) };
    })) as {
      batchItemFailures?: Array<{ itemIdentifier: string }>;
    };
    const failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    const done = messages.filter((m) => !failed.has(m.MessageId ?? ''));
    if (done.length > 0) {
      await this.deps.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.deps.queueUrl,
          Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })),
        }),
      );
    }
    return messages.length;
  }

  private async startExecutions(): Promise<number> {
    const listed = await this.deps.sfn.send(
      new ListExecutionsCommand({ stateMachineArn: this.deps.remediationArn, statusFilter: 'RUNNING' }),
    );
    let started = 0;
    for (const execution of listed.executions ?? []) {
      const arn = execution.executionArn ?? '';
      if (this.seen.has(arn)) continue;
      this.seen.add(arn);
      const described = await this.deps.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
      const run = this.deps
        .remediate(execution.name ?? arn, JSON.parse(described.input ?? '{}'))
        .catch(() => undefined)
        .finally(() => this.running.delete(run));
      this.running.add(run);
      started++;
    }
    return started;
  }
}
