import type { Command } from 'commander';
import { ec2DescribeClient, inventoryPorts } from '../../functions/app/ports';
import { MANAGED_TAG, SERVICE_TAG_KEY } from '../../functions/core/defaults';
import { syncInventory, trafficDepsOf } from '../../functions/core/fleet/sync-inventory';
import type { CliIO } from '../io';
import { connect, operator } from '../live';

export function inventoryCommands(program: Command, io: CliIO): void {
  const inventory = program.command('inventory').description('The fleet as EC2 reports it');
  inventory
    .command('sync')
    .description('Reconcile EC2 into the table now (what the scheduled sweep does)')
    .option('-t, --table <name>', 'table name (default: FLEETOPS_TABLE)')
    .option(
      '--managed-tag <key=value>',
      'the tag of managed instances',
      `${MANAGED_TAG.key}=${MANAGED_TAG.value}`,
    )
    .option('--service-tag <key>', 'the tag naming an instance’s service', SERVICE_TAG_KEY)
    .option('--json', 'print the report as JSON', false)
    .action(async (options: { table?: string; managedTag: string; serviceTag: string; json: boolean }) => {
      const live = connect(options.table);
      const [key, ...rest] = options.managedTag.split('=');
      const ports = inventoryPorts(
        { table: live.table, managedTag: { key, value: rest.join('=') }, serviceTagKey: options.serviceTag },
        { db: live.db, ec2: ec2DescribeClient() },
      );
      const ec2 = ports.inventory;
      const report = await syncInventory({
        ec2,
        store: live.fleet,
        leases: live.leases,
        now: Date.now(),
        actor: operator(),
        ...trafficDepsOf(ports),
      });
      const byService = {
        ec2Requests: Object.fromEntries(ec2.requests),
        elbRequests: Object.fromEntries(ports.traffic.requests),
        autoscalingRequests: Object.fromEntries(ports.autoscaling.requests),
      };
      const requests = {
        ...byService.ec2Requests,
        ...byService.elbRequests,
        ...byService.autoscalingRequests,
      };
      if (options.json) {
        io.out(`${JSON.stringify({ ...report, ...byService }, null, 2)}\n`);
        return;
      }
      io.out(
        `synced ${report.observed} instances: ${report.written} written (${report.terminated} terminated), ` +
          `${report.unchanged} unchanged; ${report.findings.length} new findings; ${report.ledgers} ledgers updated; ` +
          `${report.reclaimedReservations} expired reservations reclaimed; ` +
          `${report.trafficRestored} instances brought back into traffic, ${report.trafficStuck} stuck out of it\n`,
      );
      for (const f of report.findings) {
        io.out(
          `  finding ${f.instanceId} ${f.kind}${f.deadline ? ` before ${f.deadline}` : ''}: ${f.detail}\n`,
        );
      }
      io.out(
        `EC2, ELB and Auto Scaling requests: ${Object.entries(requests)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}\n`,
      );
    });
}
