/**
 * The rollout's Lambda: one function for every Task state of the rollout state machine, which
 * names the step. Reads its settings once, composes its ports (functions/app/ports.ts), and runs
 * the step dispatch (functions/steps/rollout.ts) under middy with logs and metrics.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { settingsFromEnv } from '../app/environment';
import { rolloutPorts } from '../app/ports';
import type { RolloutPorts } from '../core/change/rollout/rollout';
import { SERVICE_NAME } from '../core/defaults';
import { rolloutStepWith as run } from '../steps/rollout';
import { metrics, rolloutStepMetrics } from './telemetry';

const settings = settingsFromEnv.rollout();
const logger = new Logger({ serviceName: SERVICE_NAME, persistentKeys: { component: 'rollout' } });
export const ports: RolloutPorts = rolloutPorts(settings);

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
