import type { Command } from 'commander';
import { DynamoRemediationStore } from '../../functions/adapters/dynamo-remediation-store';
import { EventError, parseEvent } from '../../functions/core/events/parse';
import { serviceCatalog } from '../../functions/core/fleet/services';
import { dryRunDecisions } from '../../functions/core/remediation/dry-run';
import { loadFleet, loadServices, readText } from '../input-files';
import { type CliIO, ExitCode, UsageError } from '../io';
import { connect } from '../live';

export function remediateCommands(program: Command, io: CliIO, setExit: (code: number) => void): void {
  program
    .command('remediate')
    .description(
      'Show what remediation would decide for an event (AWS Health, EC2 state change, Spot warning, status-check alarm), offline, acting on nothing',
    )
    .requiredOption('--dry-run', 'decide only (the only mode: live remediation runs in the state machine)')
    .requiredOption('-e, --event <file>', 'the EventBridge event (JSON)')
    .option('-f, --fleet <file>', 'the fleet inventory (JSON): instances not in it are only recorded')
    .option('-s, --services <file>', 'the services and their budgets (YAML or JSON)')
    .option('--now <time>', 'decide as of this time (ISO 8601; default: now)')
    .option('--json', 'print the findings and decisions as JSON', false)
    .action(
      async (options: { event: string; fleet?: string; services?: string; now?: string; json: boolean }) => {
        if (options.services && !options.fleet) throw new UsageError('--services needs --fleet');
        const now = options.now ? Date.parse(options.now) : Date.now();
        if (Number.isNaN(now))
          throw new UsageError(`--now: expected an ISO 8601 time, found "${options.now}"`);
        const text = await readText(options.event);
        let parsed: ReturnType<typeof parseEvent>;
        try {
          parsed = parseEvent(text);
        } catch (error) {
          if (error instanceof EventError) {
            io.err(`${options.event}: ${error.message}\n`);
            setExit(ExitCode.invalidInput);
            return;
          }
          throw error;
        }
        const [fleet, services] = await Promise.all([
          options.fleet ? loadFleet(options.fleet) : undefined,
          options.services ? loadServices(options.services) : undefined,
        ]);
        const decisions = dryRunDecisions({
          findings: parsed.findings,
          instances: fleet?.instances,
          catalog: services ? serviceCatalog(services) : undefined,
          now,
        });
        const findings = parsed.findings.map((f) => ({
          instanceId: f.instanceId,
          kind: f.kind,
          deadline: f.deadline ?? null,
        }));
        if (options.json) {
          io.out(`${JSON.stringify({ findings, decisions }, null, 2)}\n`);
          return;
        }
        io.out(`${parsed.source} · ${parsed.detailType} · ${parsed.eventId}\n`);
        if (parsed.ignored) io.out(`ignored: ${parsed.ignored}\n`);
        for (const [k, f] of parsed.findings.entries()) {
          const d = decisions[k];
          io.out(
            `${f.instanceId}  ${f.kind}${f.deadline ? ` (deadline ${f.deadline})` : ''}\n` +
              `  → ${d.action} at ${d.at}: ${d.reason}\n`,
          );
        }
        if (parsed.findings.length === 0 && !parsed.ignored) io.out('no findings\n');
      },
    );

  const remediation = program.command('remediation').description('The remediation history (from the table)');
  remediation
    .command('list')
    .description('Remediation cases, newest first')
    .option('-n, --limit <n>', 'how many', '50')
    .option('--json', 'print as JSON', false)
    .option('-t, --table <name>', 'table name (default: FLEETOPS_TABLE)')
    .action(async (options: { limit: string; json: boolean; table?: string }) => {
      const live = connect(options.table);
      const cases = await new DynamoRemediationStore(live.db, live.table).list(Number(options.limit));
      if (options.json) {
        io.out(`${JSON.stringify(cases, null, 2)}\n`);
        return;
      }
      if (cases.length === 0) io.out('no remediation cases\n');
      for (const c of cases) {
        io.out(
          `${new Date(c.createdAt).toISOString()}  ${c.id}  ${c.status.padEnd(9)} ${c.tried.join(' → ') || '-'}  ${c.reason}\n`,
        );
      }
    });
  remediation
    .command('show')
    .description('One case: the finding, every decision with its reason, the steps tried')
    .argument('<id>', 'the case id')
    .option('--json', 'print as JSON', false)
    .option('-t, --table <name>', 'table name (default: FLEETOPS_TABLE)')
    .action(async (id: string, options: { json: boolean; table?: string }) => {
      const live = connect(options.table);
      const c = await new DynamoRemediationStore(live.db, live.table).get(id);
      if (!c) {
        io.err(`no remediation case ${id}\n`);
        setExit(ExitCode.invalidInput);
        return;
      }
      if (options.json) {
        io.out(`${JSON.stringify(c, null, 2)}\n`);
        return;
      }
      io.out(
        `${c.id}: ${c.status} — ${c.reason}\n` +
          `finding: ${c.finding.kind} on ${c.finding.instanceId} (${c.finding.detail}; ${c.finding.source})\n` +
          `act at: ${c.at}; tried: ${c.tried.join(' → ') || 'nothing'}\n`,
      );
      for (const d of c.decisions) io.out(`  ${d.at}  ${d.action.padEnd(11)} ${d.reason}\n`);
    });
}
