import type { Command } from 'commander';
import { createFleetTable } from '../../functions/adapters/table-admin';
import type { CliIO } from '../io';
import { connect } from '../live';

export function storeCommands(program: Command, io: CliIO): void {
  const store = program.command('store').description('The fleet-state table');
  store
    .command('init')
    .description(
      'Create the fleet-state table (keys, indexes, TTL as in the CDK stack), e.g. on a local endpoint',
    )
    .option('-t, --table <name>', 'table name (default: FLEETOPS_TABLE)')
    .action(async (options: { table?: string }) => {
      const live = connect(options.table);
      const created = await createFleetTable(live.client, live.table);
      io.out(created ? `created table ${live.table}\n` : `table ${live.table} already exists\n`);
    });
}
