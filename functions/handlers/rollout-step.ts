import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import middy from '@middy/core';
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
import type { RolloutPorts } from '../core/change/rollout/rollout';
import { TokenBucket } from '../core/shared/token-bucket';
import { rolloutStepWith as run } from '../steps/rollout';
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

/**
 * One Lambda for every Task state of the rollout; the state machine names the step. Tests bind
 * the same steps to other ports (for example to inject a crash) with `rolloutStepWith`.
 */
export const rolloutStep = async (raw: unknown) => {
  const result = await rolloutStepWith(ports, raw);
  rolloutStepMetrics(String((raw as { step?: unknown }).step), result);
  return result;
};

/** The same step, logged under its ids (tests bind it to other ports to inject a crash). */
export const rolloutStepWith = (p: Parameters<typeof run>[0], raw: unknown) =>
  run(p, raw, (keys) => logger.appendKeys(keys));

export const handler = middy(rolloutStep).use(injectLambdaContext(logger)).use(logMetrics(metrics));
