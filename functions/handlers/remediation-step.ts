import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { SNSClient } from '@aws-sdk/client-sns';
import middy from '@middy/core';
import * as z from 'zod';
import { AsgReplacer } from '../adapters/asg-replacer';
import { documentClient } from '../adapters/dynamo-client';
import { DynamoFleetStore } from '../adapters/dynamo-fleet-store';
import { DynamoLeaseStore } from '../adapters/dynamo-lease-store';
import { DynamoRemediationStore } from '../adapters/dynamo-remediation-store';
import { Ec2Actions } from '../adapters/ec2-actions';
import { pacedEc2Client } from '../adapters/ec2-inventory';
import { SnsNotify } from '../adapters/sns-notify';
import {
  actRemediation,
  decideRemediation,
  drainInstance,
  failRemediation,
  failureReason,
  holdForRemediation,
  type RemediationPorts,
  remediationSettled,
  verifyRemediation,
} from '../core/remediation/remediate';
import { TokenBucket } from '../core/token-bucket';
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

const stateSchema = z.object({
  caseId: z.string().min(1),
  attempts: z.number().int().min(0).default(0),
  polls: z.number().int().min(0).default(0),
  checks: z.number().int().min(0).default(0),
});

/** What a Catch leaves at its ResultPath (or a Pass state that names a failure the same way). */
const errorSchema = z.object({ Error: z.string().min(1), Cause: z.string().optional() });

/** What each Task state of the remediation state machine sends: the step and the case. */
const eventSchema = z.discriminatedUnion('step', [
  z.object({ step: z.literal('decide'), state: stateSchema }),
  z.object({ step: z.literal('hold'), state: stateSchema }),
  z.object({ step: z.literal('act'), state: stateSchema }),
  z.object({ step: z.literal('settle'), state: stateSchema }),
  z.object({ step: z.literal('verify'), state: stateSchema }),
  z.object({ step: z.literal('drain'), state: stateSchema }),
  z.object({ step: z.literal('fail'), state: stateSchema, error: errorSchema }),
]);

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

export async function remediationStepWith(p: RemediationPorts, raw: unknown): Promise<unknown> {
  const event = eventSchema.parse(raw);
  logger.appendKeys({ caseId: event.state.caseId, step: event.step });
  switch (event.step) {
    case 'decide':
      return decideRemediation(p, event.state);
    case 'hold':
      return holdForRemediation(p, event.state);
    case 'act':
      return actRemediation(p, event.state);
    case 'settle':
      return remediationSettled(p, event.state);
    case 'verify':
      return verifyRemediation(p, event.state);
    case 'drain':
      return drainInstance(p, event.state);
    case 'fail':
      return failRemediation(p, event.state, failureReason(event.error));
  }
}

export const handler = middy(remediationStep).use(injectLambdaContext(logger)).use(logMetrics(metrics));
