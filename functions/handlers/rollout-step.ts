import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import middy from '@middy/core';
import * as z from 'zod';
import { AsgReplacer } from '../adapters/asg-replacer';
import { CloudWatchSamples } from '../adapters/cloudwatch-metrics';
import { DynamoChangeStore } from '../adapters/dynamo-change-store';
import { documentClient } from '../adapters/dynamo-client';
import { DynamoFleetStore } from '../adapters/dynamo-fleet-store';
import { DynamoLeaseStore } from '../adapters/dynamo-lease-store';
import { Ec2Actions } from '../adapters/ec2-actions';
import { pacedEc2Client } from '../adapters/ec2-inventory';
import { SnsNotify } from '../adapters/sns-notify';
import { SsmCommands } from '../adapters/ssm-commands';
import {
  actionSettled,
  applyWave,
  beginRollback,
  checkWindow,
  finishRollout,
  gateWave,
  leaseWave,
  type RolloutPorts,
  recordNotStarted,
  releaseWave,
  requestApproval,
  startRollout,
} from '../core/rollout';
import { TokenBucket } from '../core/token-bucket';
import { readConfig } from './config';
import { metrics, rolloutStepMetrics } from './telemetry';

const config = readConfig(['TABLE_NAME', 'TOPIC_ARN'] as const);
const logger = new Logger({ serviceName: 'fleetops', persistentKeys: { component: 'rollout' } });
const db = documentClient();
export const ports: RolloutPorts = {
  changes: new DynamoChangeStore(db, config.TABLE_NAME),
  leases: new DynamoLeaseStore(db, config.TABLE_NAME),
  fleet: new DynamoFleetStore(db, config.TABLE_NAME),
  // EC2's mutating actions have their own, smaller request bucket.
  ec2: new Ec2Actions(pacedEc2Client(new TokenBucket(5, 10))),
  ssm: new SsmCommands(new SSMClient({ retryMode: 'adaptive', maxAttempts: 8 })),
  autoscaling: new AsgReplacer(new AutoScalingClient({ retryMode: 'adaptive', maxAttempts: 8 })),
  metrics: new CloudWatchSamples(new CloudWatchClient({})),
  notify: new SnsNotify(new SNSClient({}), config.TOPIC_ARN),
  now: () => Date.now(),
  actor: 'rollout',
};

const stateSchema = z.object({
  changeId: z.string().min(1),
  wave: z.number().int().min(0),
  waves: z.number().int().min(0),
  bakeSeconds: z.number().min(0),
  rollbackOf: z.string().default(''),
});

/** A Catch's `{ Error, Cause }`. */
const errorSchema = z.looseObject({ Error: z.string().optional(), Cause: z.string().optional() });

/** What each Task state of the rollout state machine sends: the step and the execution's state. */
const eventSchema = z.discriminatedUnion('step', [
  z.object({ step: z.literal('start'), changeId: z.string().min(1) }),
  z.object({ step: z.literal('plan-rollback'), changeId: z.string().min(1), reason: z.string() }),
  z.object({
    step: z.literal('check-window'),
    state: stateSchema,
    waits: z.number().int().min(0).default(0),
  }),
  z.object({ step: z.literal('lease'), state: stateSchema, attempts: z.number().int().min(0) }),
  z.object({ step: z.literal('apply'), state: stateSchema }),
  z.object({ step: z.literal('settle'), state: stateSchema, polls: z.number().int().min(0) }),
  z.object({ step: z.literal('gate'), state: stateSchema, extensions: z.number().int().min(0).default(0) }),
  z.object({ step: z.literal('release'), state: stateSchema }),
  z.object({
    step: z.literal('await-approval'),
    state: stateSchema,
    token: z.string().min(1),
    point: z.string(),
  }),
  z.object({
    step: z.literal('finish'),
    state: z.object({
      changeId: z.string().min(1),
      rollbackOf: z.string().default(''),
      wave: z.number().int().min(0).optional(),
    }),
    outcome: z.enum(['completed', 'failed']),
    reason: z.string(),
    error: errorSchema.optional(),
  }),
  z.object({
    step: z.literal('not-started'),
    input: z.looseObject({
      changeId: z.string().min(1),
      rollback: z.unknown().optional(),
      error: errorSchema.optional(),
    }),
  }),
]);

export type RolloutStepEvent = z.input<typeof eventSchema>;

/**
 * One Lambda for every Task state of the rollout; the state machine names the step. Tests bind
 * the same steps to other ports (for example to inject a crash) with `rolloutStepWith`.
 */
export const rolloutStep = async (raw: unknown) => {
  const result = await rolloutStepWith(ports, raw);
  rolloutStepMetrics(String((raw as { step?: unknown }).step), result);
  return result;
};

export async function rolloutStepWith(ports: RolloutPorts, raw: unknown): Promise<unknown> {
  const event = eventSchema.parse(raw);
  const changeId =
    'changeId' in event ? event.changeId : 'input' in event ? event.input.changeId : event.state.changeId;
  logger.appendKeys({ changeId, step: event.step });
  switch (event.step) {
    case 'start':
      return startRollout(ports, event.changeId);
    case 'plan-rollback':
      return beginRollback(ports, event.changeId, event.reason);
    case 'check-window':
      return checkWindow(ports, event.state, event.waits);
    case 'lease':
      return leaseWave(ports, event.state, event.attempts);
    case 'apply':
      return applyWave(ports, event.state);
    case 'settle':
      return actionSettled(ports, event.state, event.polls);
    case 'gate':
      return gateWave(ports, event.state, event.extensions);
    case 'release':
      return releaseWave(ports, event.state);
    case 'await-approval':
      return requestApproval(ports, event.state, event.token, event.point);
    case 'finish':
      return finishRollout(ports, event.state, event.outcome, event.reason, event.error);
    case 'not-started':
      return recordNotStarted(ports, event.input);
  }
}

export const handler = middy(rolloutStep).use(injectLambdaContext(logger)).use(logMetrics(metrics));
