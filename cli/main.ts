import { Command, CommanderError, Option } from 'commander';
import { formatProblem, InputError } from '../functions/core/config';
import { planChange } from '../functions/core/planner';
import { serviceCatalog } from '../functions/core/services';
import { loadChangeSpec, loadFleet, loadServices } from './input-files';
import { type CliIO, ExitCode } from './io';
import { renderPlan } from './render-plan';

declare const FLEETOPS_VERSION: string | undefined;
const version = typeof FLEETOPS_VERSION === 'string' ? FLEETOPS_VERSION : '0.0.0-dev';

/**
 * Runs the `fleetops` command line and returns its exit code:
 * 0 done, 1 unexpected failure, 2 invalid input or usage, 3 nothing can proceed.
 */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const program = new Command('fleetops')
    .description(
      'Operate large EC2 fleets safely: plan and run gray-scale changes, remediate unhealthy instances.',
    )
    .version(version, '-v, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });

  program
    .command('plan')
    .description('Plan a change: the waves, what bound each wave, the predicted duration and what is skipped')
    .requiredOption('-f, --fleet <file>', 'fleet inventory (JSON)')
    .requiredOption('-s, --services <file>', 'services and their disruption budgets (YAML or JSON)')
    .requiredOption('-c, --spec <file>', 'the change spec (YAML)')
    .addOption(new Option('--json', 'print the plan as JSON').default(false))
    .action(async (options: { fleet: string; services: string; spec: string; json: boolean }) => {
      const [fleet, services, spec] = await Promise.all([
        loadFleet(options.fleet),
        loadServices(options.services),
        loadChangeSpec(options.spec),
      ]);
      const plan = planChange({ instances: fleet.instances, catalog: serviceCatalog(services), spec });
      io.out(options.json ? `${JSON.stringify(plan, null, 2)}\n` : renderPlan(plan, io.color));
      if (plan.waves.length === 0) {
        if (!options.json) io.err('nothing can proceed: no targeted instance can be changed now\n');
        exitCode = ExitCode.nothingCanProceed;
      }
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, successfully.
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.invalidInput;
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
