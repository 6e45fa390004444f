/** An SSM Run Command a change sends. */
export interface SsmCommand {
  readonly document: string;
  readonly parameters: Readonly<Record<string, readonly string[]>>;
  readonly timeoutSeconds: number;
  readonly comment: string;
}

/** Where one Run Command stands: still running, every invocation succeeded, or some failed. */
export type CommandState = 'pending' | 'success' | 'failed';

/** SSM Run Command as a change's `ssm-command` action uses it (SSM: ssm-commands; in memory: sim/adapters). */
export interface SsmPort {
  /** Sends the command to the instances (in batches); one entry per command sent. */
  send(
    ids: readonly string[],
    command: SsmCommand,
  ): Promise<Array<{ commandId: string; instanceIds: string[] }>>;
  states(commandIds: readonly string[]): Promise<Map<string, CommandState>>;
  /** The instances of a finished command whose invocation did not succeed, with their status. */
  failedInstances(commandId: string): Promise<Map<string, string>>;
}
