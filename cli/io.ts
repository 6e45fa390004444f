/** Where a command writes. Tests pass buffers; the binary passes the process's streams. */
export interface CliIO {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly color: boolean;
}

export const processIO = (): CliIO => ({
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  color: process.stdout.isTTY === true && !process.env.NO_COLOR,
});

/** Exit codes every command shares. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  invalidInput: 2,
  nothingCanProceed: 3,
} as const;

/** The command was given options that do not fit together: exit 2 with the message, no stack. */
export class UsageError extends Error {
  override name = 'UsageError';
}
