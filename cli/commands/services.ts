import type { Command } from 'commander';
import { reconcileLedgers } from '../../functions/core/fleet/sync-inventory';
import { loadServices } from '../input-files';
import type { CliIO } from '../io';
import { connect, operator } from '../live';

export function servicesCommands(program: Command, io: CliIO): void {
  const services = program
    .command('services')
    .description('What each service tolerates (the reverse protocol)');
  services
    .command('apply')
    .description('Validate a services file and store its budgets; ledgers follow at once')
    .argument('<file>', 'services file (YAML or JSON)')
    .option('-t, --table <name>', 'table name (default: FLEETOPS_TABLE)')
    .action(async (file: string, options: { table?: string }) => {
      // Validate everything before writing anything: a bad file changes nothing.
      const parsed = await loadServices(file);
      const live = connect(options.table);
      const now = Date.now();
      await live.fleet.putServices(parsed, operator(), now);
      const instances = await live.fleet.listInstances();
      const { ledgers } = await reconcileLedgers({ store: live.fleet, leases: live.leases, now }, instances);
      const names = Object.keys(parsed.services);
      await live.fleet.audit([
        {
          subject: 'services',
          actor: operator(),
          action: 'services.applied',
          reason: `applied ${file}: ${names.length} services${parsed.defaults ? ' and defaults' : ''}`,
          at: new Date(now).toISOString(),
          details: { services: names },
        },
      ]);
      io.out(
        `applied ${names.length} service budget${names.length === 1 ? '' : 's'}; ${ledgers} ledger${ledgers === 1 ? '' : 's'} updated\n`,
      );
    });
}
