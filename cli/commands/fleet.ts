import { writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { isUnavailable } from '../../functions/core/fleet/fleet';
import type { DisruptionBudget, ServicesFile } from '../../functions/core/fleet/services';
import type { Quantity } from '../../functions/core/safety/quantity';
import { type CliIO, UsageError } from '../io';
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
  exportCommand(fleet, io);
}

/**
 * `fleetops fleet export`: the fleet as the table holds it, in the files `fleetops plan --fleet
 * --services` and `fleetops simulate --fleet --services` read:
 * 1. the instances through the same store `fleet status` reads (every one the table holds, with
 *    the target groups and Auto Scaling group the sweep recorded), as `{ "instances": [...] }` JSON,
 *    to `--out` or standard output;
 * 2. the services and their budgets (and defaults) as a services file: to `--services-out`, else
 *    next to the fleet file (`<name>.services.yaml`); JSON when its name ends in `.json`;
 * 3. what was written, as a line (or `--json`) on standard output (standard error when the fleet
 *    itself went there).
 */
function exportCommand(fleet: Command, io: CliIO): void {
  fleet
    .command('export')
    .description(
      'Write the fleet as the table holds it (instances, and the services file with their budgets) ' +
        'in the format `fleetops plan --fleet --services` and `fleetops simulate --fleet --services` read',
    )
    .option('-o, --out <file>', 'the fleet file (JSON); default: standard output')
    .option(
      '--services-out <file>',
      'the services file (YAML, or JSON by its name); default: next to --out as <name>.services.yaml',
    )
    .option('-t, --table <name>', 'table name (default: FLEETOPS_TABLE)')
    .option('--json', 'say what was written as JSON', false)
    .action(async (options: { out?: string; servicesOut?: string; table?: string; json: boolean }) => {
      const servicesOut =
        options.servicesOut ??
        (options.out
          ? join(dirname(options.out), `${basename(options.out).replace(/\.json$/i, '')}.services.yaml`)
          : undefined);
      if (servicesOut !== undefined && options.out !== undefined && servicesOut === options.out)
        throw new UsageError('--services-out: expected another file than --out');
      const live = connect(options.table);
      const [instances, services] = await Promise.all([live.fleet.listInstances(), live.fleet.getServices()]);
      // The store hands out instances parsed by the fleet file's own schema: they are written as they are.
      const fleetText = `${JSON.stringify({ instances }, null, 2)}\n`;
      if (options.out) await writeFile(options.out, fleetText);
      else io.out(fleetText);
      if (servicesOut !== undefined) await writeFile(servicesOut, servicesText(services, servicesOut));
      const summary = {
        instances: instances.length,
        terminated: instances.filter((i) => i.state === 'terminated').length,
        services: Object.keys(services.services).length,
        defaults: services.defaults !== undefined,
        fleet: options.out ?? '-',
        servicesFile: servicesOut ?? null,
      };
      const say = options.out ? io.out : io.err;
      if (options.json) say(`${JSON.stringify(summary, null, 2)}\n`);
      else
        say(
          `exported ${summary.instances} instances (${summary.terminated} terminated) to ${summary.fleet}` +
            (servicesOut
              ? `, ${summary.services} service budgets${summary.defaults ? ' and defaults' : ''} to ${servicesOut}`
              : '; services not written (give --services-out)') +
            '\n',
        );
    });
}

/** The services file as an operator writes it: counts as numbers, percentages as "10%". */
function servicesText(file: ServicesFile, path: string): string {
  const quantity = (q: Quantity) => (q.kind === 'count' ? q.value : `${q.value}%`);
  const policy = (b: DisruptionBudget) => ({
    maxUnavailable: quantity(b.maxUnavailable),
    ...(b.maxUnavailablePerZone ? { maxUnavailablePerZone: quantity(b.maxUnavailablePerZone) } : {}),
    ...(Object.keys(b.impact).length > 0 ? { impact: { ...b.impact } } : {}),
  });
  const out = {
    ...(file.defaults ? { defaults: policy(file.defaults) } : {}),
    services: Object.fromEntries(
      Object.entries(file.services)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([name, b]) => [name, policy(b)]),
    ),
  };
  if (/\.json$/i.test(path)) return `${JSON.stringify(out, null, 2)}\n`;
  return `# Exported by fleetops fleet export: what each service tolerates (fleetops services apply takes it back).\n${stringify(out)}`;
}

const numberOrNull = (v: unknown) => (typeof v === 'number' ? v : null);
const budget = (used: number | null, capacity: number | null) =>
  capacity === null ? 'no ledger yet' : `${used ?? 0}/${capacity}`;
