/**
 * The Run Command port (`SsmPort`) over SSM: send in batches, poll, list failed instances.
 */
import {
  type CommandInvocationStatus,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import type { SsmCommand } from '../core/ports/index';
import type { CommandState, SsmPort } from '../core/ports/ssm-commands';
import { chunks } from './dynamo-client';

/** SSM SendCommand takes at most 50 instance ids. */
export const SSM_IDS_PER_COMMAND = 50;

export type { CommandState } from '../core/ports/ssm-commands';

/** Run Command for the rollout: send in batches of 50, poll the commands, list failed instances. */
export class SsmCommands implements SsmPort {
  constructor(private readonly ssm: SSMClient) {}

  /**
   * Sends the document to the instances, 50 per command. Every instance runs at once
   * (`MaxConcurrency` 100%: the wave is the concurrency limit) and no error stops the others
   * (`MaxErrors` 100%: the health gate judges the outcome).
   */
  async send(
    ids: readonly string[],
    command: SsmCommand,
  ): Promise<Array<{ commandId: string; instanceIds: string[] }>> {
    const sent: Array<{ commandId: string; instanceIds: string[] }> = [];
    for (const batch of chunks(ids, SSM_IDS_PER_COMMAND)) {
      const result = await this.ssm.send(
        new SendCommandCommand({
          InstanceIds: batch,
          DocumentName: command.document,
          Parameters: Object.fromEntries(Object.entries(command.parameters).map(([k, v]) => [k, [...v]])),
          TimeoutSeconds: command.timeoutSeconds,
          Comment: command.comment.slice(0, 100),
          MaxConcurrency: '100%',
          MaxErrors: '100%',
        }),
      );
      const commandId = result.Command?.CommandId;
      if (!commandId) throw new Error('SSM SendCommand returned no command id');
      sent.push({ commandId, instanceIds: batch });
    }
    return sent;
  }

  /** Where each command stands: still running, every invocation succeeded, or some failed. */
  async states(commandIds: readonly string[]): Promise<Map<string, CommandState>> {
    const out = new Map<string, CommandState>();
    for (const CommandId of commandIds) {
      const result = await this.ssm.send(new ListCommandsCommand({ CommandId }));
      const command = result.Commands?.[0];
      const status = command?.Status;
      if (
        status === undefined ||
        status === 'Pending' ||
        status === 'InProgress' ||
        status === 'Cancelling'
      ) {
        out.set(CommandId, 'pending');
      } else if (status === 'Success' && (command?.ErrorCount ?? 0) === 0) {
        out.set(CommandId, 'success');
      } else {
        out.set(CommandId, 'failed');
      }
    }
    return out;
  }

  /** The instances of a finished command whose invocation did not succeed, with their status. */
  async failedInstances(commandId: string): Promise<Map<string, CommandInvocationStatus | string>> {
    const failed = new Map<string, string>();
    let NextToken: string | undefined;
    do {
      const page = await this.ssm.send(
        new ListCommandInvocationsCommand({ CommandId: commandId, NextToken, MaxResults: 50 }),
      );
      for (const invocation of page.CommandInvocations ?? []) {
        if (invocation.InstanceId && invocation.Status !== 'Success') {
          failed.set(invocation.InstanceId, invocation.Status ?? 'unknown');
        }
      }
      NextToken = page.NextToken;
    } while (NextToken);
    return failed;
  }
}
