import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { StateMachine } from 'aws-local-stepfunctions';
// bindTasks, and the Promise.withResolvers polyfill aws-local-stepfunctions needs on Node 20.
import { bindTasks, loadDefinition } from '../../cli/local/local-sfn';

/**
 * The deployed state machines, run by the simulator: `state-machines/rollout.asl.json` and
 * `remediation.asl.json` as CDK deploys them (definition substitutions filled), interpreted by
 * aws-local-stepfunctions with each Task state bound to a local handler. The simulator states no
 * limit of its own: every wait, retry, bound and path is the definition's, so a change to the
 * ASL changes what the simulation does (the clock is virtual: see kernel/virtual-timers.ts).
 */

export type AslDefinition = Record<string, unknown>;

/** An error that is the simulator's own bug: it stops the simulation instead of taking an ASL Catch. */
export class SimulatorBug extends Error {
  override readonly name = 'SimulatorBug';
}

/**
 * A Task ran past its Lambda's timeout: a simulator bug when FleetOps runs as built (a step that
 * could outrun its Lambda would fail in AWS), a consequence to report when a defect is injected
 * (a lease store ignoring budgets hands a wave more instances than a step can take out of traffic
 * in time). The execution itself ended as `ended`.
 */
export class TaskOverrun extends SimulatorBug {
  constructor(
    message: string,
    readonly ended: string,
  ) {
    super(message);
  }
}

interface TaskState {
  Type: string;
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  Parameters?: { step?: unknown; Payload?: { step?: unknown } };
}

/** The two definitions a simulation runs; tests may pass modified copies. */
export interface SimDefinitions {
  readonly rollout: AslDefinition;
  readonly remediation: AslDefinition;
}

/**
 * The definition files, found from this module so `fleetops simulate` runs from any directory:
 * sim/asl/ in the source tree, dist/ in the bundled CLI.
 */
const FILES =
  [join(__dirname, '..', '..', 'state-machines'), join(__dirname, '..', 'state-machines')].find((dir) =>
    existsSync(join(dir, 'rollout.asl.json')),
  ) ?? join(process.cwd(), 'state-machines');
let deployed: SimDefinitions | undefined;

/** The deployed definitions, their Lambda ARN substituted as CDK would (read once). */
export function deployedDefinitions(): SimDefinitions {
  deployed ??= {
    rollout: loadDefinition(join(FILES, 'rollout.asl.json'), {
      RolloutStepFunctionArn: 'arn:aws:lambda:eu-north-1:123456789012:function:fleetops-rollout-step',
    }),
    remediation: loadDefinition(join(FILES, 'remediation.asl.json'), {
      RemediationStepFunctionArn: 'arn:aws:lambda:eu-north-1:123456789012:function:fleetops-remediation-step',
    }),
  };
  return deployed;
}

/** What a bound Task saw: its state, the step its Parameters name, its input and its result (or error). */
export interface TaskCall {
  readonly state: string;
  readonly step: string;
  readonly input: unknown;
}

/** Sees every state an execution entered, in order (tests; it costs draining the event log). */
export type StateObserver = (machine: 'rollout' | 'remediation', state: string) => void;

// biome-ignore lint/suspicious/noExplicitAny: the library types task inputs and results as its own JSONValue.
type LocalHandler = (input: any) => Promise<any>;

/**
 * aws-local-stepfunctions times a Task out after 60 s when the state sets no TimeoutSeconds (the
 * States Language's default); Step Functions itself waits 99,999,999 s: the Lambda's own timeout
 * ends it first. So the simulator runs each Task that sets none with the timeout of the function
 * it invokes (lib/rollout.ts: 15 min; lib/remediation.ts: 2 min), and a Task that ran that long is
 * a bug (the Lambda would have been cut off): the simulation stops.
 */
export const LAMBDA_TIMEOUT_SECONDS = { rollout: 900, remediation: 120 } as const;

/**
 * One definition, validated and built once, and run once per change or case. Each Task state is
 * bound to `step(input)`, wrapped by `wrap` with the step its Parameters name (the use case
 * dispatch of functions/steps/, as the Lambda runs it).
 */
export class SimStateMachine {
  private readonly machine: StateMachine;
  /** Task state name → the `step` its Parameters (or the Payload of a `.waitForTaskToken` Task) send. */
  readonly steps: ReadonlyMap<string, string>;
  /** Task states that set no timeout of their own (the library's default applies). */
  private readonly untimed = new Set<string>();

  constructor(
    readonly name: 'rollout' | 'remediation',
    readonly definition: AslDefinition,
    private readonly observe?: StateObserver,
  ) {
    // The library writes into the definition it is given (a QueryLanguage on each state): its
    // own copy, so the caller's stays as read. Through JSON, since the library evaluates paths
    // only in objects of this realm's Object prototype (a structuredClone under Jest is not).
    const copy = JSON.parse(JSON.stringify(definition)) as { States: Record<string, TaskState> };
    const steps = new Map<string, string>();
    for (const [state, s] of Object.entries(definition.States as Record<string, TaskState>)) {
      if (s.Type !== 'Task') continue;
      const step = s.Parameters?.step ?? s.Parameters?.Payload?.step;
      if (typeof step !== 'string') throw new Error(`${name}: Task "${state}" names no step`);
      steps.set(state, step);
      if (s.TimeoutSeconds === undefined && s.TimeoutSecondsPath === undefined) {
        this.untimed.add(state);
        // The Lambda's timeout, not the library's 60 s (the states entered are the definition's all
        // the same), for each of two attempts: a Task delivered twice (its first response lost, the
        // simulation's `retryRate`) runs twice within one Task here, where Step Functions would
        // time each attempt on its own. Each attempt's own bound is checked by `run` (`overran`).
        copy.States[state].TimeoutSeconds = 2 * LAMBDA_TIMEOUT_SECONDS[name] + 1;
      }
    }
    this.machine = new StateMachine(copy as unknown as ConstructorParameters<typeof StateMachine>[0]);
    this.steps = steps;
  }

  /**
   * Runs one execution to its end and says how it ended: 'succeeded', or the Error of its
   * Fail state (the outcome itself is what the steps recorded in the stores). Throws when a
   * Task without a timeout of its own ran as long as its Lambda's timeout (see LAMBDA_TIMEOUT_SECONDS).
   */
  async run(
    input: Record<string, unknown>,
    step: (input: unknown) => Promise<unknown>,
    wrap: (call: TaskCall, run: (input: unknown) => Promise<unknown>) => Promise<unknown>,
    context: Record<string, unknown> = {},
  ): Promise<string> {
    let overran: string | undefined;
    // A Task the execution stopped waiting for (timed out) still runs, as a Lambda would.
    const inFlight = new Set<Promise<unknown>>();
    const handlers: Record<string, LocalHandler> = bindTasks(
      this.definition,
      (event) => step(event),
      (state, call) => (taskInput) => {
        // A Task delivered twice (at least once: the first response lost) is two attempts, each
        // with the whole timeout: what counts is the Task's time since its last attempt began.
        const started = Date.now();
        let lastAttempt = started;
        const attempt = (input: unknown) => {
          lastAttempt = Date.now();
          return call(input);
        };
        const task = wrap(
          { state, step: this.steps.get(state) as string, input: taskInput },
          attempt,
        ).finally(() => {
          inFlight.delete(task);
          const ran = Date.now() - lastAttempt;
          if (this.untimed.has(state) && ran >= LAMBDA_TIMEOUT_SECONDS[this.name] * 1000)
            overran ??= `${state} ran ${ran / 1000} s`;
        });
        inFlight.add(task);
        return task;
      },
    );
    const execution = this.machine.run(input as never, {
      overrides: { taskResourceLocalHandlers: handlers },
      context,
    });
    let ended = 'succeeded';
    try {
      await execution.result;
    } catch (error) {
      const cause = (error as { cause?: { name?: string } }).cause;
      ended = cause?.name ?? (error instanceof Error ? error.name : String(error));
    }
    await Promise.allSettled([...inFlight]);
    if (overran)
      throw new TaskOverrun(
        `${this.name}: Task ${overran}, past the ${LAMBDA_TIMEOUT_SECONDS[this.name]} s a Task without a TimeoutSeconds is given ` +
          `(the ${this.name} step Lambda's timeout; Step Functions has no default, aws-local-stepfunctions 60 s)`,
        ended,
      );
    if (this.observe) {
      for await (const event of execution.eventLogs as AsyncIterable<{
        type: string;
        state?: { name: string };
      }>)
        if (event.type === 'StateEntered' && event.state) this.observe(this.name, event.state.name);
    }
    return ended;
  }
}

const built = new WeakMap<AslDefinition, SimStateMachine>();

/** The machine for a definition, built on first use (the observer is fixed by the first build). */
export function stateMachineFor(
  name: 'rollout' | 'remediation',
  definition: AslDefinition,
  observe?: StateObserver,
): SimStateMachine {
  if (observe) return new SimStateMachine(name, definition, observe);
  const known = built.get(definition);
  if (known) return known;
  const machine = new SimStateMachine(name, definition);
  built.set(definition, machine);
  return machine;
}
