import * as z from 'zod';
import {
  actionSettled,
  applyWave,
  beginRollback,
  checkBakedZone,
  checkWindow,
  finishRollout,
  gateWave,
  leaseWave,
  type RolloutPorts,
  recordNotStarted,
  releaseWave,
  requestApproval,
  startRollout,
} from '../core/change/rollout/rollout';

/**
 * The rollout state machine's Task input, checked, and the use case each step runs. No AWS here:
 * the Lambda (handlers/rollout-step.ts) binds it to the DynamoDB and AWS adapters, the simulator
 * to its in-memory ports; both run the same state machine (state-machines/rollout.asl.json).
 */

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
  z.object({ step: z.literal('release'), state: stateSchema, final: z.boolean().default(false) }),
  z.object({ step: z.literal('zone-check'), state: stateSchema }),
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

/** Runs one Task state's step; `keys` receives the ids to log it under. */
export async function rolloutStepWith(
  ports: RolloutPorts,
  raw: unknown,
  keys?: (k: Record<string, string>) => void,
): Promise<unknown> {
  const event = eventSchema.parse(raw);
  const changeId =
    'changeId' in event ? event.changeId : 'input' in event ? event.input.changeId : event.state.changeId;
  keys?.({ changeId, step: event.step });
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
    case 'zone-check':
      return checkBakedZone(ports, event.state);
    case 'release':
      return releaseWave(ports, event.state, { final: event.final });
    case 'await-approval':
      return requestApproval(ports, event.state, event.token, event.point);
    case 'finish':
      return finishRollout(ports, event.state, event.outcome, event.reason, event.error);
    case 'not-started':
      return recordNotStarted(ports, event.input);
  }
}
