import type { Command } from 'commander';
import { isUnavailable } from '../../functions/core/fleet/fleet';
import type { CliIO } from '../io';
import { connect } from '../live';

interface ZoneStatus {
  zone: string;
  instances: number;
  running: number;
  impaired: number;
  unavailable: number;
  held: number;
  used: number | null;
  capacity: number | null;
}

export function fleetCommands(program: Command, io: CliIO): void {
  const fleet = program.command('fleet').description('The fleet as the table holds it');
  fleet
    .command('status')
    .description(
      'Per service and zone: running, impaired and held instances, and budget in use against budget',
    )
    .option('-t, --table <name>', 'table name (default: FLEETOPS_TABLE)')
    .option('--json', 'print as JSON', false)
    .action(async (options: { table?: string; json: boolean }) => {
      const live = connect(options.table);
      const now = Date.now();
      const [instances, leases] = await Promise.all([
        live.fleet.listInstances(),
        live.leases.activeLeases(now),
      ]);
      const held = new Set(leases.map((l) => l.instanceId));
      const live_ = instances.filter((i) => i.state !== 'terminated');
      const services = [...new Set(live_.map((i) => i.service))].sort();
      const ledgers = await live.fleet.getLedgers(services);
      const status = services.map((service) => {
        const members = live_.filter((i) => i.service === service);
        const ledger = ledgers.get(service);
        const zones: ZoneStatus[] = [...new Set(members.map((i) => i.zone))].sort().map((zone) => {
          const z = members.filter((i) => i.zone === zone);
          return {
            zone,
            instances: z.length,
            running: z.filter((i) => i.state === 'running').length,
            impaired: z.filter((i) => i.health === 'impaired').length,
            unavailable: z.filter(isUnavailable).length,
            held: z.filter((i) => held.has(i.id)).length,
            used: numberOrNull(ledger?.[`used@${zone}`]),
            capacity: numberOrNull(ledger?.[`capacity@${zone}`]),
          };
        });
        return {
          service,
          instances: members.length,
          used: numberOrNull(ledger?.used),
          capacity: numberOrNull(ledger?.capacity),
          zones,
        };
      });
      if (options.json) {
        io.out(`${JSON.stringify({ services: status, leases: leases.length }, null, 2)}\n`);
        return;
      }
      const rows = [
        ['service', 'zone', 'instances', 'running', 'impaired', 'unavailable', 'held', 'budget used'],
      ];
      for (const s of status) {
        rows.push([s.service, '(all)', String(s.instances), '', '', '', '', budget(s.used, s.capacity)]);
        for (const z of s.zones) {
          rows.push([
            '',
            z.zone,
            String(z.instances),
            String(z.running),
            String(z.impaired),
            String(z.unavailable),
            String(z.held),
            budget(z.used, z.capacity),
          ]);
        }
      }
      const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
      for (const row of rows)
        io.out(
          `${row
            .map((cell, c) => (c >= 2 ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
            .join('  ')
            .trimEnd()}\n`,
        );
      io.out(`${leases.length} active lease${leases.length === 1 ? '' : 's'}\n`);
    });
}

const numberOrNull = (v: unknown) => (typeof v === 'number' ? v : null);
const budget = (used: number | null, capacity: number | null) =>
  capacity === null ? 'no ledger yet' : `${used ?? 0}/${capacity}`;
