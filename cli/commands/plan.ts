import { type Command, Option } from 'commander';
import { planChange } from '../../functions/core/change/plan/planner';
import type { Instance } from '../../functions/core/fleet/fleet';
import { type ServicesFile, serviceCatalog } from '../../functions/core/fleet/services';
import { loadChangeSpec, loadFleet, loadServices } from '../input-files';
import { type CliIO, ExitCode, UsageError } from '../io';
import { connect } from '../live';
import { renderPlan } from '../render-plan';

export function planCommand(program: Command, io: CliIO, setExit: (code: number) => void): void {
  program
    .command('plan')
    .description(
      'Plan a change: the waves, what bound each wave, the predicted duration and what is skipped. ' +
        'With --fleet and --services it works offline from files; without them it reads the live table ' +
        '(fleet, budgets, and the leases other changes hold).',
    )
    .requiredOption('-c, --spec <file>', 'the change spec (YAML)')
    .option('-f, --fleet <file>', 'fleet inventory (JSON); offline mode')
    .option('-s, --services <file>', 'services and their disruption budgets (YAML or JSON); offline mode')
    .option('-t, --table <name>', 'live mode: the fleet-state table (default: FLEETOPS_TABLE)')
    .addOption(new Option('--json', 'print the plan as JSON').default(false))
    .action(
      async (options: { fleet?: string; services?: string; spec: string; table?: string; json: boolean }) => {
        if ((options.fleet === undefined) !== (options.services === undefined)) {
          throw new UsageError(
            'give both --fleet and --services (offline), or neither (live, from the table)',
          );
        }
        const spec = await loadChangeSpec(options.spec);
        let instances: readonly Instance[];
        let services: ServicesFile;
        let held = new Map<string, string>();
        if (options.fleet && options.services) {
          const [fleet, file] = await Promise.all([loadFleet(options.fleet), loadServices(options.services)]);
          instances = fleet.instances;
          services = file;
        } else {
          const live = connect(options.table);
          const [fleet, file, leases] = await Promise.all([
            live.fleet.listInstances(),
            live.fleet.getServices(),
            live.leases.activeLeases(Date.now()),
          ]);
          instances = fleet;
          services = file;
          held = new Map(leases.map((l) => [l.instanceId, l.owner]));
        }
        const plan = planChange({ instances, catalog: serviceCatalog(services), spec, held });
        io.out(options.json ? `${JSON.stringify(plan, null, 2)}\n` : renderPlan(plan, io.color));
        if (plan.waves.length === 0) {
          if (!options.json) io.err('nothing can proceed: no targeted instance can be changed now\n');
          setExit(ExitCode.nothingCanProceed);
        }
      },
    );
}
