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
    .option(
      '--start <time>',
      'when the change is to start (ISO 8601), for the waits for its time windows (default: now)',
    )
    .addOption(new Option('--json', 'print the plan as JSON').default(false))
    .action(
      async (options: {
        fleet?: string;
        services?: string;
        spec: string;
        table?: string;
        start?: string;
        json: boolean;
      }) => {
        if ((options.fleet === undefined) !== (options.services === undefined)) {
          throw new UsageError(
            'give both --fleet and --services (offline), or neither (live, from the table)',
          );
        }
        const startAt = options.start === undefined ? Date.now() : startTime(options.start);
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
        // The launches the prediction expects are those of the day before the inventory was read:
        // now for the table's, the planned start for a fleet file (as exported then).
        const observedAt = options.fleet ? startAt : Date.now();
        const plan = planChange({
          instances,
          catalog: serviceCatalog(services),
          spec,
          held,
          startAt,
          observedAt,
        });
        io.out(options.json ? `${JSON.stringify(plan, null, 2)}\n` : renderPlan(plan, io.color));
        if (plan.waves.length === 0) {
          if (!options.json) io.err('nothing can proceed: no targeted instance can be changed now\n');
          setExit(ExitCode.nothingCanProceed);
        }
      },
    );
}

/** A date and time with its zone ("2026-03-03T09:00:00-05:00", "2026-03-03T14:00Z"). */
function startTime(text: string): number {
  const at = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text) || Number.isNaN(at)) {
    throw new UsageError(
      `--start: expected an ISO 8601 date and time with its zone, such as 2026-03-03T14:00Z, found "${text}"`,
    );
  }
  return at;
}
