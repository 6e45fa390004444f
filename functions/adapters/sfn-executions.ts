/**
 * Step Functions executions named by FleetOps: a change's rollout (and its rollback), and the
 * remediation executions port (`RemediationExecutions`), one per case.
 */
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';

import { ROLLBACK_SUFFIX } from '../core/change/spec';
import type { RemediationExecutions } from '../core/ports/remediation-executions';

export interface ExecutionView {
  readonly arn: string;
  readonly status: string;
  readonly startDate?: string;
  readonly stopDate?: string;
}

/**
 * Rollout executions: one per change, named after it, so starting the same change twice is
 * harmless (Step Functions refuses a second execution of the same name; an identical input is
 * the same execution).
 */
export class RolloutExecutions {
  private readonly named: NamedExecutions;

  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
  ) {
    this.named = new NamedExecutions(sfn, stateMachineArn);
  }

  async start(changeId: string): Promise<{ arn: string; started: boolean }> {
    return this.named.start(changeId, { changeId });
  }

  /** Starts `<id>-rollback`, which plans the change's rollback and runs it (same state machine). */
  async startRollback(changeId: string): Promise<{ arn: string; started: boolean }> {
    return this.named.start(`${changeId}${ROLLBACK_SUFFIX}`, { changeId, rollback: true });
  }

  /** Stops the change's execution if it is running; returns whether it was. */
  async stop(changeId: string, cause: string): Promise<boolean> {
    const execution = await this.describe(changeId);
    if (execution?.status !== 'RUNNING') return false;
    await this.sfn.send(new StopExecutionCommand({ executionArn: execution.arn, error: 'Aborted', cause }));
    return true;
  }

  async describe(changeId: string): Promise<ExecutionView | undefined> {
    try {
      const result = await this.sfn.send(
        new DescribeExecutionCommand({ executionArn: this.executionArn(changeId) }),
      );
      return {
        arn: result.executionArn!,
        status: result.status ?? 'UNKNOWN',
        ...(result.startDate ? { startDate: result.startDate.toISOString() } : {}),
        ...(result.stopDate ? { stopDate: result.stopDate.toISOString() } : {}),
      };
    } catch (error) {
      if (
        error instanceof ExecutionDoesNotExist ||
        (error as { name?: string }).name === 'ExecutionDoesNotExist'
      )
        return undefined;
      throw error;
    }
  }

  /** arn:…:stateMachine:<name> → arn:…:execution:<name>:<change id> */
  private executionArn(changeId: string): string {
    return `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${changeId}`;
  }
}

/**
 * Executions named by the caller (remediation: the case id), with a JSON input. Step Functions
 * keeps a name for 90 days: a start with the name of an execution that is still running and the
 * same input is that execution (success again: `started: true`, so a retry must send the very
 * same input); a different input, or an execution of that name that has closed, is
 * ExecutionAlreadyExists and starts nothing (`started: false`).
 */
export class NamedExecutions implements RemediationExecutions {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  async start(name: string, input: unknown): Promise<{ arn: string; started: boolean }> {
    try {
      const result = await this.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name,
          input: JSON.stringify(input),
        }),
      );
      return { arn: result.executionArn!, started: true };
    } catch (error) {
      if (
        error instanceof ExecutionAlreadyExists ||
        (error as { name?: string }).name === 'ExecutionAlreadyExists'
      ) {
        return {
          arn: `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`,
          started: false,
        };
      }
      throw error;
    }
  }
}
