import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { SNSClient } from '@aws-sdk/client-sns';
import middy from '@middy/core';
import { AsgReplacer } from '../adapters/asg-replacer';
import { documentClient } from '../adapters/dynamo-client';
import { DynamoFleetStore } from '../adapters/dynamo-fleet-store';
import { DynamoLeaseStore } from '../adapters/dynamo-lease-store';
import { DynamoRemediationStore } from '../adapters/dynamo-remediation-store';
import { Ec2Actions } from '../adapters/ec2-actions';
import { pacedEc2Client } from '../adapters/ec2-inventory';
import { SnsNotify } from '../adapters/sns-notify';
import type { RemediationPorts } from '../core/remediation/remediate';
import { TokenBucket } from '../core/shared/token-bucket';
import { remediationStepWith as run } from '../steps/remediation';
import { readConfig } from './config';
import { metrics, remediationStepMetrics } from './telemetry';

const config = readConfig(['TABLE_NAME', 'TOPIC_ARN'] as const);
const logger = new Logger({ serviceName: 'fleetops', persistentKeys: { component: 'remediation' } });
const db = documentClient();

export const ports: RemediationPorts = {
  cases: new DynamoRemediationStore(db, config.TABLE_NAME),
  leases: new DynamoLeaseStore(db, config.TABLE_NAME),
  fleet: new DynamoFleetStore(db, config.TABLE_NAME),
  ec2: new Ec2Actions(pacedEc2Client(new TokenBucket(5, 10))),
  autoscaling: new AsgReplacer(new AutoScalingClient({ retryMode: 'adaptive', maxAttempts: 8 })),
  notify: new SnsNotify(new SNSClient({}), config.TOPIC_ARN),
  now: () => Date.now(),
  rng: Math.random,
  actor: 'remediation',
  breaker: {
    maxUnhealthyFraction: Number(process.env.BREAKER_MAX_UNHEALTHY_PERCENT ?? 20) / 100,
    maxInFlightPerScope: Number(process.env.BREAKER_MAX_IN_FLIGHT ?? 5),
  },
};

/**
 * One Lambda for every Task state of the remediation; the state machine names the step. Tests
 * bind the same steps to other ports with `remediationStepWith`.
 */
export const remediationStep = async (raw: unknown) => {
  const result = await remediationStepWith(ports, raw);
  const step = String((raw as { step?: unknown }).step);
  // A verification still waiting for the status checks is no outcome yet: counted as a step only.
  const pending = step === 'verify' && (result as { pending?: unknown }).pending === true;
  remediationStepMetrics(pending ? 'verify-pending' : step, result);
  return result;
};

/** The same step, logged under its ids (tests bind it to other ports to inject a crash). */
export const remediationStepWith = (p: Parameters<typeof run>[0], raw: unknown) =>
  run(p, raw, (keys) => logger.appendKeys(keys));

export const handler = middy(remediationStep).use(injectLambdaContext(logger)).use(logMetrics(metrics));
