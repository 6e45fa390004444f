import { type Command, InvalidArgumentError } from 'commander';
import { activeFreezes } from '../../functions/core/safety/freeze';
import { checkFreeze } from '../../functions/core/safety/hold';
import { type CliIO, ExitCode, UsageError } from '../io';
import { connect, operator } from '../live';

const isoTime = (value: string) => {
  if (Number.isNaN(Date.parse(value)))
    throw new InvalidArgumentError(`expected an ISO 8601 time, found "${value}"`);
  return new Date(value).toISOString();
};
const minutes = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`expected a whole number of minutes ≥ 1, found "${value}"`);
  return n;
};

export function freezeCommands(program: Command, io: CliIO, setExit: (code: number) => void): void {
  const freeze = program
    .command('freeze')
    .description('Change freezes: no mutating action runs while one is in force');
  freeze
    .command('start')
    .description('Start a freeze, account-wide or for one service')
    .requiredOption('-r, --reason <text>', 'why (recorded, shown to whoever is blocked)')
    .option('-s, --service <name>', 'freeze one service only (default: the whole account)')
    .option('--from <time>', 'when it starts (ISO 8601; default: now)', isoTime)
    .option('--until <time>', 'when it ends (ISO 8601)', isoTime)
    .option('--minutes <n>', 'or: how long it lasts', minutes)
    .option('-t, --table <name>', 'table name (default: FLEETOPS_TABLE)')
    .action(
      async (options: {
        reason: string;
        service?: string;
        from?: string;
        until?: string;
        minutes?: number;
        table?: string;
      }) => {
        if ((options.until === undefined) === (options.minutes === undefined)) {
          throw new UsageError('give exactly one of --until and --minutes');
        }
        const start = options.from ?? new Date().toISOString();
        const end = options.until ?? new Date(Date.parse(start) + options.minutes! * 60_000).toISOString();
        if (Date.parse(end) <= Date.parse(start))
          throw new UsageError(`the freeze ends (${end}) before it starts (${start})`);
        const live = connect(options.table);
        const stored = await live.fleet.putFreeze({
          scope: options.service ? `service:${options.service}` : 'account',
          start,
          end,
          reason: options.reason,
          createdBy: operator(),
        });
        await live.fleet.audit([
          {
            subject: `freeze:${stored.id}`,
            actor: operator(),
            action: 'freeze.started',
            reason: options.reason,
            at: new Date().toISOString(),
            details: { ...stored },
          },
        ]);
        io.out(`${stored.id}: ${stored.scope} frozen from ${start} until ${end} (${stored.reason})\n`);
      },
    );
  freeze
    .command('end')
    .description('End a freeze now')
    .argument('<id>', 'the freeze id (see freeze list)')
    .option('-t, --table <name>', 'table name (default: FLEETOPS_TABLE)')
    .action(async (id: string, options: { table?: string }) => {
      const live = connect(options.table);
      const ended = await live.fleet.endFreeze(id, new Date().toISOString());
      if (!ended) {
        io.err(`no freeze ${id} in force (unknown, or already ended)\n`);
        setExit(ExitCode.invalidInput);
        return;
      }
      await live.fleet.audit([
        {
          subject: `freeze:${id}`,
          actor: operator(),
          action: 'freeze.ended',
          reason: 'ended by an operator',
          at: ended.endedAt!,
        },
      ]);
      io.out(`${id}: ended at ${ended.endedAt}\n`);
    });
  freeze
    .command('check')
    .description(
      'May a mutating action on these services run now? Exit 0 yes, 3 frozen; blocks and overrides are recorded',
    )
    .requiredOption('-s, --services <names>', 'comma-separated services the action touches')
    .option('--emergency-reason <text>', 'override a freeze for an emergency (recorded with this reason)')
    .option('--subject <subject>', 'what the check is for, for the audit trail', 'cli')
    .option('-t, --table <name>', 'table name (default: FLEETOPS_TABLE)')
    .action(
      async (options: { services: string; emergencyReason?: string; subject: string; table?: string }) => {
        const live = connect(options.table);
        const services = options.services
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        const decision = await checkFreeze(
          { freezes: live.fleet, audit: live.fleet },
          { subject: options.subject, services, emergencyReason: options.emergencyReason },
          operator(),
          Date.now(),
        );
        io.out(`${decision.allowed ? 'allowed' : 'frozen'}: ${decision.reason}\n`);
        if (!decision.allowed) setExit(ExitCode.nothingCanProceed);
      },
    );
  freeze
    .command('list')
    .description('Freezes in force and to come (--all: ended ones too)')
    .option('--all', 'include freezes that are over', false)
    .option('--json', 'print as JSON', false)
    .option('-t, --table <name>', 'table name (default: FLEETOPS_TABLE)')
    .action(async (options: { all: boolean; json: boolean; table?: string }) => {
      const live = connect(options.table);
      const now = Date.now();
      const freezes = (await live.fleet.listFreezes())
        .filter((f) => options.all || (Date.parse(f.end) > now && f.endedAt === undefined))
        .sort((a, b) => (a.start < b.start ? -1 : 1));
      const active = new Set(activeFreezes(freezes, now).map((f) => f.id));
      if (options.json) {
        io.out(
          `${JSON.stringify(
            freezes.map((f) => ({ ...f, active: active.has(f.id) })),
            null,
            2,
          )}\n`,
        );
        return;
      }
      if (freezes.length === 0) io.out('no freezes\n');
      for (const f of freezes) {
        const state = active.has(f.id)
          ? 'IN FORCE'
          : f.endedAt || Date.parse(f.end) <= now
            ? 'over'
            : 'scheduled';
        io.out(
          `${f.id}  ${state.padEnd(9)}  ${f.scope}  ${f.start} → ${f.endedAt ?? f.end}  ${f.reason} (${f.createdBy})\n`,
        );
      }
    });
}
