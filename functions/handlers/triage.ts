/**
 * Triage's Lambda: EventBridge events (AWS Health, EC2 state changes, status-check alarms) from
 * SQS, each finding taken in once and handed to a remediation case. Reads its settings once,
 * composes its ports (functions/app/ports.ts), and runs under middy with a partial batch response.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { TTL_ATTRIBUTE } from '../adapters/table-design';
import { settingsFromEnv } from '../app/environment';
import { triagePorts } from '../app/ports';
import { SERVICE_NAME } from '../core/defaults';
import type { Finding } from '../core/events/findings';
import { EventError, parseEvent } from '../core/events/parse';
import { type TriagePorts, triageFinding } from '../core/remediation/triage';
import { count, countBy, metrics } from './telemetry';

const settings = settingsFromEnv.triage();
const logger = new Logger({ serviceName: SERVICE_NAME, persistentKeys: { component: 'triage' } });

/** Tests swap single ports in this object (crash points): the handler reads it at every call. */
export const ports: TriagePorts = triagePorts(settings);

/**
 * Each finding is handled once per (instance, kind, occurrence): the occurrence comes from the
 * event (Health: event ARN and status; state change: state and time; alarm: name and time), so
 * a replayed event, or one delivered twice, is acted on once. Powertools idempotency on the
 * fleet-state table answers a repeat of a finding that was handled; it does not make a crash
 * safe. A thrown error deletes its in-progress record, and a Lambda timeout leaves it in
 * progress only until the invocation's deadline: either way the redelivery runs the intake again,
 * which carries on from whatever step did not complete (`triageFinding`: the finding stays
 * unsettled until its case's execution is recorded as started).
 */
const idempotency = new IdempotencyConfig({
  eventKeyJmesPath: 'idempotencyKey',
  expiresAfterSeconds: 7 * 24 * 3600,
});
const handleFinding = makeIdempotent(
  (finding: Finding & { idempotencyKey: string }) => {
    const { idempotencyKey: _key, ...plain } = finding;
    return triageFinding(ports, plain);
  },
  {
    persistenceStore: new DynamoDBPersistenceLayer({
      tableName: settings.table,
      keyAttr: 'pk',
      sortKeyAttr: 'sk',
      staticPkValue: 'IDEMPOTENCY#triage',
      expiryAttr: TTL_ATTRIBUTE,
    }),
    config: idempotency,
  },
);

/**
 * One SQS record: an EventBridge event. A malformed event throws with the parser's reason: that
 * record alone fails (partial batch response), is retried, and ends in the dead-letter queue.
 */
export async function triageRecord(record: SQSRecord): Promise<void> {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    throw new EventError(`the message body is not JSON: ${record.body.slice(0, 80)}`);
  }
  const parsed = parseEvent(body);
  logger.info('event', {
    eventId: parsed.eventId,
    source: parsed.source,
    detailType: parsed.detailType,
    findings: parsed.findings.length,
    ...(parsed.ignored ? { ignored: parsed.ignored } : {}),
  });
  for (const finding of parsed.findings) {
    const outcome = await handleFinding({
      ...finding,
      idempotencyKey: `${finding.instanceId}#${finding.kind}#${finding.key}`,
    });
    logger.info('finding', { instanceId: finding.instanceId, kind: finding.kind, ...outcome });
    if (outcome.outcome !== 'seen-before') countBy('Findings', 'kind', finding.kind);
  }
}

const processor = new BatchProcessor(EventType.SQS);

/** A failed record is logged with its reason (then retried by SQS, and dead-lettered in the end). */
async function loggedRecord(record: SQSRecord): Promise<void> {
  try {
    await triageRecord(record);
  } catch (error) {
    count('EventsRejected');
    logger.error('record rejected', {
      messageId: record.messageId,
      reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    });
    throw error;
  }
}

export async function triage(event: SQSEvent, context: Context) {
  idempotency.registerLambdaContext(context);
  count('EventsReceived', event.Records.length);
  // One record after another: two deliveries of one event in a batch then meet as "done", not
  // as "in progress" (which would fail the second and send it round again).
  return processPartialResponse(event, loggedRecord, processor, { context, processInParallel: false });
}

export const handler = middy(triage).use(injectLambdaContext(logger)).use(logMetrics(metrics));
