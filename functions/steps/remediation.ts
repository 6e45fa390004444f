import * as z from 'zod';
import {
  actRemediation,
  backInServiceForRemediation,
  bringBackForRemediation,
  decideRemediation,
  drainedForRemediation,
  drainInstance,
  failRemediation,
  failureReason,
  holdForRemediation,
  type RemediationPorts,
  remediationSettled,
  takeOutForRemediation,
  verifyRemediation,
} from '../core/remediation/remediate';

/**
 * The remediation state machine's Task input, checked, and the use case each step runs. No AWS
 * here: the Lambda (handlers/remediation-step.ts) binds it to the DynamoDB and AWS adapters, the
 * simulator to its in-memory ports (state-machines/remediation.asl.json).
 */

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
  z.object({ step: z.literal('take-out'), state: stateSchema }),
  z.object({ step: z.literal('drained'), state: stateSchema }),
  z.object({ step: z.literal('act'), state: stateSchema }),
  z.object({ step: z.literal('settle'), state: stateSchema }),
  z.object({ step: z.literal('bring-back'), state: stateSchema }),
  z.object({ step: z.literal('in-service'), state: stateSchema }),
  z.object({ step: z.literal('verify'), state: stateSchema }),
  z.object({ step: z.literal('drain'), state: stateSchema }),
  z.object({ step: z.literal('fail'), state: stateSchema, error: errorSchema }),
]);

/** Runs one Task state's step; `keys` receives the ids to log it under. */
export async function remediationStepWith(
  p: RemediationPorts,
  raw: unknown,
  keys?: (k: Record<string, string>) => void,
): Promise<unknown> {
  const event = eventSchema.parse(raw);
  keys?.({ caseId: event.state.caseId, step: event.step });
  switch (event.step) {
    case 'decide':
      return decideRemediation(p, event.state);
    case 'hold':
      return holdForRemediation(p, event.state);
    case 'take-out':
      return takeOutForRemediation(p, event.state);
    case 'drained':
      return drainedForRemediation(p, event.state);
    case 'act':
      return actRemediation(p, event.state);
    case 'settle':
      return remediationSettled(p, event.state);
    case 'bring-back':
      return bringBackForRemediation(p, event.state);
    case 'in-service':
      return backInServiceForRemediation(p, event.state);
    case 'verify':
      return verifyRemediation(p, event.state);
    case 'drain':
      return drainInstance(p, event.state);
    case 'fail':
      return failRemediation(p, event.state, failureReason(event.error));
  }
}
