import { Command, CommanderError } from 'commander';
import { formatProblem, InputError } from '../functions/core/input/files';
import { changeCommands } from './commands/change';
import { fleetCommands } from './commands/fleet';
import { freezeCommands } from './commands/freeze';
import { inventoryCommands } from './commands/inventory';
import { judgeCommand } from './commands/judge';
import { planCommand } from './commands/plan';
import { remediateCommands } from './commands/remediate';
import { servicesCommands } from './commands/services';
import { simulateCommand } from './commands/simulate';
import { storeCommands } from './commands/store';
import { type CliIO, ExitCode, UsageError } from './io';

declare const FLEETOPS_VERSION: string | undefined;
const version = typeof FLEETOPS_VERSION === 'string' ? FLEETOPS_VERSION : '0.0.0-dev';

/**
 * Runs the `fleetops` command line and returns its exit code:
 * 0 done, 1 unexpected failure, 2 invalid input or usage, 3 nothing can proceed.
 */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const setExit = (code: number) => {
    exitCode = code;
  };
  const program = new Command('fleetops')
    .description(
      'Operate large EC2 fleets safely: plan and run gray-scale changes, remediate unhealthy instances.',
    )
    .version(version, '-v, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });

  planCommand(program, io, setExit);
  storeCommands(program, io);
  inventoryCommands(program, io);
  fleetCommands(program, io);
  servicesCommands(program, io);
  freezeCommands(program, io, setExit);
  judgeCommand(program, io, setExit);
  changeCommands(program, io, setExit);
  remediateCommands(program, io, setExit);
  simulateCommand(program, io, setExit);
  for (const command of allCommands(program)) {
    command
      .exitOverride()
      .configureOutput({ writeOut: io.out, writeErr: io.err })
      .showHelpAfterError('(run with --help for usage)');
  }

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, successfully.
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.invalidInput;
    }
    if (error instanceof UsageError) {
      io.err(`error: ${error.message}\n(run with --help for usage)\n`);
      return ExitCode.invalidInput;
    }
    if (error instanceof InputError) {
      for (const problem of error.problems) io.err(`error: ${formatProblem(error.source, problem)}\n`);
      return ExitCode.invalidInput;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.err(`fleetops: unexpected failure: ${message}\n`);
    if (process.env.FLEETOPS_DEBUG && error instanceof Error) io.err(`${error.stack}\n`);
    return ExitCode.failure;
  }
}

function allCommands(command: Command): Command[] {
  return command.commands.flatMap((c) => [c, ...allCommands(c)]);
}
