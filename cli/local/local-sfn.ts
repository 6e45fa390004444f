/**
 * ASL files run locally: a definition loaded with its substitutions filled in as CDK deploys it,
 * its Task states bound to a Lambda handler, its waits and retry back-offs shortened. The local
 * runtime, the simulator and the workflow tests share these.
 */
import { readFileSync } from 'node:fs';
import type { Context } from 'aws-lambda';
import type { ApprovalAnswers } from '../../functions/core/change/rollout/rollout';

// aws-local-stepfunctions uses Promise.withResolvers, which Node 20 lacks.
const promise = Promise as unknown as { withResolvers?: () => unknown };
promise.withResolvers ??= () => {
  let resolve!: (value: unknown) => void;
  let reject!: (reason: unknown) => void;
  const p = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise: p, resolve, reject };
};

/** An ASL file with its `${…}` definition substitutions filled in, as CDK deploys it. */
export function loadDefinition(file: string, substitutions: Record<string, string>): Record<string, unknown> {
  let text = readFileSync(file, 'utf8');
  for (const [name, value] of Object.entries(substitutions)) text = text.replaceAll(`\${${name}}`, value);
  return JSON.parse(text);
}

type States = Record<string, { Type: string }>;

/**
 * The definition with every Task state that sets no TimeoutSeconds bounded by its Lambda's own
 * timeout, as in AWS (where such a Task waits as long as the invocation runs, and Lambda ends
 * it at its configured timeout: lib/rollout.ts, lib/remediation.ts). aws-local-stepfunctions
 * would otherwise time such a Task out after 60 s, which a step on a busy machine can exceed.
 */
export function withLambdaTimeout(
  definition: Record<string, unknown>,
  seconds: number,
): Record<string, unknown> {
  const states = Object.fromEntries(
    Object.entries(definition.States as Record<string, Record<string, unknown>>).map(([name, state]) => [
      name,
      state.Type === 'Task' && state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined
        ? { ...state, TimeoutSeconds: seconds }
        : state,
    ]),
  );
  return { ...definition, States: states };
}

/** Binds every Task state of a definition to a Lambda handler, called as Lambda would call it. */
export function bindTasks(
  definition: Record<string, unknown>,
  handler: (event: unknown, context: Context) => Promise<unknown>,
  wrap: (
    state: string,
    call: (input: unknown) => Promise<unknown>,
  ) => (input: unknown) => Promise<unknown> = (_s, c) => c,
) {
  // biome-ignore lint/suspicious/noExplicitAny: the library types task results as its own JSONValue.
  const bound: Record<string, (input: any) => Promise<any>> = {};
  let invocation = 0;
  for (const [name, state] of Object.entries(definition.States as States)) {
    if (state.Type !== 'Task') continue;
    const call = async (input: unknown) => {
      try {
        return await handler(input, {
          functionName: process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'fleetops-step',
          awsRequestId: `local-${++invocation}`,
        } as Context);
      } catch (error) {
        if (process.env.DEBUG_SFN) console.error(name, error);
        throw error;
      }
    };
    bound[name] = wrap(name, call);
  }
  return bound;
}

/** Every Wait state of a definition set to zero milliseconds. */
export function noWaits(definition: Record<string, unknown>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(definition.States as States)
      .filter(([, s]) => s.Type === 'Wait')
      .map(([name]) => [name, 0]),
  );
}

/** Every Task state's retries without their back-off (the retries themselves still happen). */
export function noRetryWaits(definition: Record<string, unknown>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(definition.States as States)
      .filter(([, s]) => s.Type === 'Task')
      .map(([name]) => [name, 0]),
  );
}

/**
 * aws-local-stepfunctions does not model `.waitForTaskToken`: the local "Wait for approval"
 * handler's promise stands in for SendTaskSuccess / SendTaskFailure, so the answer always arrives.
 */
export const answeredLocally: ApprovalAnswers = {
  succeed: async () => 'sent',
  fail: async () => 'sent',
};
