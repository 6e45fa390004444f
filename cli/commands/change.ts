import { createInterface } from 'node:readline/promises';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { Command } from 'commander';
import {
  type ChangeRecord,
  DynamoChangeStore,
  type WaveRecord,
} from '../../functions/adapters/dynamo-change-store';
import { RolloutExecutions } from '../../functions/adapters/sfn-executions';
import { SfnTaskAnswers } from '../../functions/adapters/sfn-task-answers';
import { rolloutPorts } from '../../functions/app/ports';
import { type Plan, planChange } from '../../functions/core/change/plan/planner';
import { type Estimate, expectedEnd } from '../../functions/core/change/plan/predict';
import { abortRollout, decideApproval } from '../../functions/core/change/rollout/rollout';
import { ROLLBACK_SUFFIX } from '../../functions/core/change/spec';
import { serviceCatalog } from '../../functions/core/fleet/services';
import { loadChangeSpec } from '../input-files';
import { type CliIO, ExitCode, UsageError } from '../io';
import { connect, type Live, operator } from '../live';
import { renderPlan } from '../render-plan';
import {
  expectedEndJson,
  finalWavesOf,
  hasEnded,
  progressOf,
  renderProgress,
  type WaveProgress,
  waveProgress,
} from '../render-progress';

function executions(option: string | undefined): RolloutExecutions {
  const arn = option ?? process.env.FLEETOPS_ROLLOUT_ARN;
  if (!arn)
    throw new UsageError(
      'the rollout state machine is unknown: pass --state-machine ARN or set FLEETOPS_ROLLOUT_ARN',
    );
  return new RolloutExecutions(new SFNClient({}), arn);
}

export function changeCommands(
  program: Command,
  io: CliIO,
  setExit: (code: number) => void,
  confirm: (question: string) => Promise<boolean> = askOnTerminal,
): void {
  const change = program.command('change').description('Run changes through the rollout state machine');
  change
    .command('start')
    .description(
      'Plan a change against the live fleet, show the plan, ask for confirmation (unless --yes), store it and start its rollout',
    )
    .argument('<spec>', 'the change spec (YAML)')
    .option('-y, --yes', 'do not ask for confirmation', false)
    .option('-t, --table <name>', 'table name (default: FLEETOPS_TABLE)')
    .option('--state-machine <arn>', 'the rollout state machine (default: FLEETOPS_ROLLOUT_ARN)')
    .option(
      '--emergency-reason <text>',
      'an emergency change: it goes through freezes, each override recorded with this reason',
    )
    .action(
      async (
        file: string,
        options: { yes: boolean; table?: string; stateMachine?: string; emergencyReason?: string },
      ) => {
        const loaded = await loadChangeSpec(file);
        if (options.emergencyReason !== undefined && options.emergencyReason.trim().length < 10) {
          throw new UsageError('--emergency-reason: say why in at least 10 characters (it is recorded)');
        }
        const spec = options.emergencyReason
          ? { ...loaded, emergency: { reason: options.emergencyReason.trim() } }
          : loaded;
        const live = connect(options.table);
        const rollouts = executions(options.stateMachine);
        const now = Date.now();
        const [instances, services, leases] = await Promise.all([
          live.fleet.listInstances(),
          live.fleet.getServices(),
          live.leases.activeLeases(now),
        ]);
        const plan = planChange({
          instances,
          catalog: serviceCatalog(services),
          spec,
          held: new Map(leases.map((l) => [l.instanceId, l.owner])),
          startAt: now,
          observedAt: now,
        });
        io.out(renderPlan(plan, io.color));
        if (plan.waves.length === 0) {
          io.err('nothing can proceed: no targeted instance can be changed now\n');
          setExit(ExitCode.nothingCanProceed);
          return;
        }
        if (
          !options.yes &&
          !(await confirm(`Start change ${spec.id} (${plan.waves.length} waves)? [y/N] `))
        ) {
          io.out('not started\n');
          return;
        }
        const changes = new DynamoChangeStore(live.db, live.table);
        const saved = await changes.save(spec, plan, operator(), now);
        // Same name and input as a running execution: Step Functions answers with that execution.
        const execution = await rollouts.start(spec.id);
        const first = saved.created && execution.started;
        await live.fleet.audit([
          {
            subject: `change:${spec.id}`,
            actor: operator(),
            action: first ? 'change.started' : 'change.start-repeated',
            reason: `${plan.waves.length} waves, ${plan.summary.planned} instances`,
            at: new Date(now).toISOString(),
          },
        ]);
        io.out(
          first
            ? `started ${spec.id}: ${execution.arn}\n`
            : `${spec.id} was already started with this plan: ${execution.arn}\n`,
        );
      },
    );
  for (const decision of ['approve', 'reject'] as const) {
    change
      .command(decision)
      .description(
        decision === 'approve'
          ? 'Approve a change waiting at an approval point: the rollout goes on (SendTaskSuccess)'
          : 'Reject a change waiting at an approval point: it ends as failed, holding nothing (SendTaskFailure)',
      )
      .argument('<id>', 'the change id')
      .requiredOption('-r, --reason <text>', 'why (recorded)')
      .option('-t, --table <name>', 'table name (default: FLEETOPS_TABLE)')
      .action(async (id: string, options: { reason: string; table?: string }) => {
        const live = connect(options.table);
        const changes = new DynamoChangeStore(live.db, live.table);
        const taken = await decideApproval(
          { changes, fleet: live.fleet, now: Date.now, answers: new SfnTaskAnswers(new SFNClient({})) },
          id,
          decision,
          operator(),
          options.reason,
        );
        if (!taken) {
          io.err(`change ${id} is not waiting for an approval (or another answer to it is under way)\n`);
          setExit(ExitCode.invalidInput);
          return;
        }
        if (taken.answer === 'closed')
          io.err(`${id}: the approval point had already been answered or had timed out; recorded\n`);
        io.out(`${id}: ${decision === 'approve' ? 'approved' : 'rejected'} before wave ${taken.wave}\n`);
      });
  }
  change
    .command('abort')
    .description(
      'Abort a change: stop its execution, release every lease and budget it holds, end it as aborted',
    )
    .argument('<id>', 'the change id')
    .requiredOption('-r, --reason <text>', 'why (recorded)')
    .option('-t, --table <name>', 'table name (default: FLEETOPS_TABLE)')
    .option('--state-machine <arn>', 'the rollout state machine (default: FLEETOPS_ROLLOUT_ARN)')
    .option(
      '--rollback',
      "then undo what it changed: start <id>-rollback (the spec's rollback action, newest first)",
      false,
    )
    .action(
      async (
        id: string,
        options: { reason: string; table?: string; stateMachine?: string; rollback: boolean },
      ) => {
        const live = connect(options.table);
        const changes = new DynamoChangeStore(live.db, live.table);
        const record = await changes.get(id);
        if (!record) {
          io.err(`no change ${id}\n`);
          setExit(ExitCode.invalidInput);
          return;
        }
        if (options.rollback && !(await changes.loadSpec(id)).rollback) {
          io.err(
            `change ${id} declares no rollback action: abort without --rollback, or undo it with a new change\n`,
          );
          setExit(ExitCode.invalidInput);
          return;
        }
        const rollouts = executions(options.stateMachine);
        // Stop the execution first, so it takes nothing new while its holds are released.
        const stopped = await rollouts.stop(id, options.reason);
        // Out of traffic back in: the same adapters the rollout uses (ELB, Auto Scaling, EC2, the exits).
        const aws = rolloutPorts({ table: live.table, topicArn: process.env.FLEETOPS_TOPIC_ARN ?? '' });
        const { released, stuck } = await abortRollout(
          { ...aws, changes, fleet: live.fleet, leases: live.leases, now: Date.now },
          id,
          operator(),
          options.reason,
        );
        io.out(
          `${id}: aborted (${stopped ? 'execution stopped' : 'no running execution'}; ${released} leases released${
            stuck > 0 ? `; ${stuck} not back in traffic yet: the sweep brings them back` : ''
          })\n`,
        );
        if (options.rollback) {
          const rollback = await rollouts.startRollback(id);
          io.out(
            `${id}${ROLLBACK_SUFFIX}: ${rollback.started ? 'started' : 'already started'}: ${rollback.arn}\n`,
          );
        }
      },
    );
  change
    .command('watch')
    .description('Follow a change wave by wave until it ends (exit 0 completed, 1 otherwise)')
    .argument('<id>', 'the change id')
    .option('--interval <seconds>', 'seconds between looks', '5')
    .option('-t, --table <name>', 'table name (default: FLEETOPS_TABLE)')
    .action(async (id: string, options: { interval: string; table?: string }) => {
      const interval = Number(options.interval);
      if (!Number.isFinite(interval) || interval < 0)
        throw new UsageError('--interval: expected seconds ≥ 0');
      const live = connect(options.table);
      const changes = new DynamoChangeStore(live.db, live.table);
      const printed = new Set<string>();
      // Re-estimated when the change moves (a wave begins or ends, a revision, an approval), not
      // at every look: the estimate reads the whole fleet.
      let estimated: { key: string; estimate: Estimate | undefined } | undefined;
      for (;;) {
        const record = await changes.get(id);
        if (!record) {
          io.err(`no change ${id}\n`);
          setExit(ExitCode.invalidInput);
          return;
        }
        const plan = await changes.loadPlan(id);
        const records = await changes.waveRecords(id);
        const waves = waveProgress(plan, records);
        const key = [record.status, record.planRevision, ...waves.map((w) => w.state)].join(' ');
        if (estimated?.key !== key) {
          estimated = { key, estimate: await estimateEnd(live, changes, record, plan, records, waves) };
        }
        const lines = renderProgress(record, waves, { plan, estimate: estimated.estimate });
        // Only what changed since the last look.
        for (const line of lines) {
          if (!printed.has(line)) {
            io.out(`${line}\n`);
            printed.add(line);
          }
        }
        if (hasEnded(record)) {
          const rollback = await changes.get(`${id}${ROLLBACK_SUFFIX}`);
          if (rollback) io.out(`rollback ${rollback.id}: ${rollback.status}\n`);
          setExit(record.status === 'completed' ? ExitCode.ok : ExitCode.failure);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, interval * 1000));
      }
    });
  change
    .command('status')
    .description('A change: its status, its execution, and what it did, newest first')
    .argument('<id>', 'the change id')
    .option('--json', 'print as JSON', false)
    .option('-t, --table <name>', 'table name (default: FLEETOPS_TABLE)')
    .option('--state-machine <arn>', 'the rollout state machine (default: FLEETOPS_ROLLOUT_ARN)')
    .action(async (id: string, options: { json: boolean; table?: string; stateMachine?: string }) => {
      const live = connect(options.table);
      const record = await new DynamoChangeStore(live.db, live.table).get(id);
      if (!record) {
        io.err(`no change ${id}\n`);
        setExit(ExitCode.invalidInput);
        return;
      }
      const execution =
        options.stateMachine || process.env.FLEETOPS_ROLLOUT_ARN
          ? await executions(options.stateMachine).describe(id)
          : undefined;
      const history = await live.fleet.auditOf(`change:${id}`, 50);
      const changes = new DynamoChangeStore(live.db, live.table);
      const [plan, records] = await Promise.all([changes.loadPlan(id), changes.waveRecords(id)]);
      const waves = waveProgress(plan, records);
      const estimate = await estimateEnd(live, changes, record, plan, records, waves);
      if (options.json) {
        const shown = {
          change: record,
          execution: execution ?? null,
          expectedEnd: expectedEndJson(estimate),
          revisions: plan.revisions ?? [],
          finalWaves: finalWavesOf(plan),
          waves,
          history,
        };
        io.out(`${JSON.stringify(shown, null, 2)}\n`);
        return;
      }
      io.out(`${record.description} (${record.waves} waves, by ${record.createdBy})\n`);
      for (const line of renderProgress(record, waves, { plan, estimate })) io.out(`${line}\n`);
      if (execution) io.out(`execution: ${execution.status} ${execution.arn}\n`);
      for (const h of history) io.out(`  ${h.at}  ${h.action.padEnd(18)} ${h.reason}\n`);
    });
  change
    .command('list')
    .description('Changes, newest first')
    .option('--json', 'print as JSON', false)
    .option('-t, --table <name>', 'table name (default: FLEETOPS_TABLE)')
    .action(async (options: { json: boolean; table?: string }) => {
      const live = connect(options.table);
      const list = await new DynamoChangeStore(live.db, live.table).list();
      if (options.json) {
        io.out(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      if (list.length === 0) io.out('no changes\n');
      for (const c of list) {
        io.out(
          `${c.id}  ${c.status.padEnd(12)} ${String(c.waves).padStart(4)} waves  ${new Date(c.createdAt).toISOString()}  ${c.description}\n`,
        );
      }
    });
}

/**
 * When the change is expected to end, re-estimated now from where it is (the plan as it stands,
 * the fleet's target groups for draining and readiness); undefined once it has ended.
 */
async function estimateEnd(
  live: Live,
  changes: DynamoChangeStore,
  record: ChangeRecord,
  plan: Plan,
  records: readonly WaveRecord[],
  waves: readonly WaveProgress[],
): Promise<Estimate | undefined> {
  const progress = progressOf(record, records, waves);
  if (!progress) return undefined;
  const [spec, instances, services] = await Promise.all([
    changes.loadSpec(record.id),
    live.fleet.listInstances(),
    live.fleet.getServices(),
  ]);
  return expectedEnd({
    waves: plan.waves,
    spec,
    instances,
    catalog: serviceCatalog(services),
    progress,
    now: Date.now(),
  });
}

async function askOnTerminal(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}
