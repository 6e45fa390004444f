/**
 * The remediation's Lambda: one function for every Task state of the remediation state machine,
 * which names the step. Reads its settings once (the breaker's thresholds among them), composes
 * its ports (functions/app/ports.ts), and runs the step dispatch (functions/steps/remediation.ts)
 * under middy with logs and metrics.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { settingsFromEnv } from '../app/environment';
import { remediationPorts } from '../app/ports';
import { SERVICE_NAME } from '../core/defaults';
import type { RemediationPorts } from '../core/remediation/remediate';
import { remediationStepWith as run } from '../steps/remediation';
import { metrics, remediationStepMetrics } from './telemetry';

const settings = settingsFromEnv.remediation();
const logger = new Logger({ serviceName: SERVICE_NAME, persistentKeys: { component: 'remediation' } });
export const ports: RemediationPorts = remediationPorts(settings);

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
