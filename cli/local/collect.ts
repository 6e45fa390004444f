/**
 * What the local runtime collects for its report (cli/local/report.ts renders it): the run's
 * record and log, the budget ledgers sampled over time, the pages and notices the topic
 * carried, and the invariants checked at the end on what the store recorded.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { type Quantity, resolveQuantity } from '../../functions/core/safety/quantity';
import { peaks, type RunRecord, type TrafficRecord } from './report';
import type { LocalRuntime } from './runtime';
import type { TrafficModel } from './traffic-model';

/** The run's record, its clock and its log (every line also goes to `progress`, as it happens). */
export interface RunLog {
  readonly record: RunRecord;
  /** Seconds since the start of the run. */
  elapsed(): number;
  say(line: string): void;
}

export function startRunLog(progress: (line: string) => void): RunLog {
  const t0 = Date.now();
  const elapsed = () => (Date.now() - t0) / 1000;
  const record: RunRecord = {
    startedAt: new Date(t0).toISOString(),
    seconds: 0,
    zones: [],
    services: [],
    changes: [],
    budgets: [],
    remediations: [],
    pages: [],
    log: [],
    checks: [],
    sweeps: 0,
  };
  return {
    record,
    elapsed,
    say(line) {
      record.log.push({ t: elapsed(), line });
      progress(`[${elapsed().toFixed(1).padStart(5)}s] ${line}`);
    },
  };
}

/**
 * Budget use over time: every ledger in one read, sampled as steps finish (at most every 500 ms:
 * moto serves one request at a time, and the scenes' own requests come first). `force` samples
 * now, unless a sample is already under way.
 */
export type BudgetSampler = (force?: boolean) => Promise<void> | undefined;

/** What a state machine's local runner needs: the runtime, the log, the budget sampler, the definition and its step. */
export interface StateMachineRunDeps<Ports> {
  readonly runtime: LocalRuntime;
  readonly log: RunLog;
  readonly sampleBudgets: BudgetSampler;
  readonly definition: Record<string, unknown>;
  /** The state machine's step, bound to ports (the handler module's `…StepWith`). */
  readonly step: (ports: Ports, event: unknown) => Promise<unknown>;
  readonly ports: Ports;
}

export function budgetSampler(runtime: LocalRuntime, log: RunLog): BudgetSampler {
  let lastSample = 0;
  let sampling: Promise<void> | undefined;
  return (force = false) => {
    if (sampling || (!force && Date.now() - lastSample < 500)) return sampling;
    lastSample = Date.now();
    sampling = (async () => {
      const t = log.elapsed();
      const ledgers = await runtime.stores.leases.ledgers(log.record.services.map((s) => s.name));
      for (const [service, ledger] of ledgers) {
        log.record.budgets.push({
          t,
          service,
          used: Number(ledger.used ?? 0),
          capacity: Number(ledger.capacity ?? 0),
        });
      }
    })().finally(() => {
      sampling = undefined;
    });
    return sampling;
  };
}

/**
 * The traffic service's in-service targets over time (at most every 250 ms; the run samples it
 * every second and after each step): instances InService and healthy in its target group,
 * against the floor its budget keeps (instances − maxUnavailable of them).
 */
export type TrafficSampler = () => Promise<void> | undefined;

export function trafficSampler(
  model: TrafficModel,
  record: TrafficRecord,
  log: RunLog,
  maxUnavailable: Quantity,
): TrafficSampler {
  let last = 0;
  let sampling: Promise<void> | undefined;
  return () => {
    if (sampling || Date.now() - last < 250) return sampling;
    last = Date.now();
    sampling = (async () => {
      const t = log.elapsed();
      const c = await model.count();
      record.samples.push({ t, ...c, floor: c.targets - resolveQuantity(maxUnavailable, c.targets) });
    })()
      .catch(() => undefined)
      .finally(() => {
        sampling = undefined;
      });
    return sampling;
  };
}

/**
 * The rolling change over the traffic service, per wave, from what the model saw: draining (the
 * first instance out of traffic → the first action) and readiness (the first back into traffic →
 * settle's done, when every one serves again); with what the plan predicted, what the group
 * replaced, and any action that reached a serving instance.
 */
export async function summarizeTraffic(
  runtime: LocalRuntime,
  record: RunRecord,
  model: TrafficModel,
  changeId: string,
  action: string,
): Promise<void> {
  const traffic = record.traffic;
  if (!traffic) return;
  const change = record.changes.find((c) => c.id === changeId);
  const plan = await runtime.stores.changes.loadPlan(changeId);
  const first = (kind: 'out' | 'act' | 'back', ids: ReadonlySet<string>) =>
    Math.min(
      ...model.events.filter((e) => e.kind === kind && e.ids.some((id) => ids.has(id))).map((e) => e.t),
    );
  const seconds = (x: number) => (Number.isFinite(x) ? Math.round(Math.max(0, x) * 10) / 10 : 0);
  traffic.waves = (change?.waves ?? []).map((w) => {
    const ids = new Set(plan.waves[w.index]?.instances ?? []);
    return {
      index: w.index,
      size: w.size,
      start: w.start,
      end: w.end,
      drainSeconds: seconds(first('act', ids) - first('out', ids)),
      readySeconds: seconds((w.settled ?? w.end) - first('back', ids)),
    };
  });
  traffic.change = {
    id: changeId,
    action,
    predictedSecondsPerWave: traffic.deregistrationDelaySeconds + traffic.readySeconds,
    plannedSeconds: change?.plannedTrafficSeconds ?? 0,
  };
  traffic.replaced = [...model.replaced];
  traffic.violations = [...model.violations];
  traffic.maxActionsPerInstance = Math.max(0, ...model.acted.values());
}

/** What FleetOps told people: the topic's messages, read from the queue subscribed to it. */
export async function collectPages(runtime: LocalRuntime, record: RunRecord): Promise<void> {
  for (let round = 0; round < 20; round++) {
    const got = await runtime.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: runtime.pagesUrl, MaxNumberOfMessages: 10 }),
    );
    if (!got.Messages?.length) break;
    for (const m of got.Messages) {
      const body = JSON.parse(m.Body ?? '{}') as { Subject?: string; Message?: string };
      record.pages.push({ subject: body.Subject ?? '', message: body.Message ?? '' });
    }
    await runtime.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: runtime.pagesUrl,
        Entries: got.Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })),
      }),
    );
  }
}

/** The invariants, checked on what the store recorded. */
export async function checkInvariants(
  runtime: LocalRuntime,
  record: RunRecord,
  delivered: number,
): Promise<RunRecord['checks']> {
  const checks: RunRecord['checks'] = [];
  const over = record.budgets.filter((b) => b.used > b.capacity);
  checks.push({
    ok: over.length === 0,
    what: 'disruption ledger: no service ever above its budget',
    detail:
      over.length === 0
        ? `${record.budgets.length} ledger samples, peak use ${[...peaks(record)].map(([s, p]) => `${s} ${p.used}/${p.capacity}`).join(', ')}`
        : over.map((b) => `${b.service} ${b.used}/${b.capacity} at ${b.t.toFixed(1)}s`).join(', '),
  });
  const twice: string[] = [];
  for (const change of record.changes) {
    const actions = await runtime.stores.leases.actionsOf(change.id);
    const seen = new Set<string>();
    for (const a of actions) {
      if (seen.has(a.instanceId)) twice.push(`${change.id}: ${a.instanceId}`);
      seen.add(a.instanceId);
    }
  }
  checks.push({
    ok: twice.length === 0,
    what: 'at most once: each change acted on each instance at most once',
    detail: twice.length === 0 ? `${record.changes.length} changes` : twice.join(', '),
  });
  const cases = await runtime.stores.cases.list(1000);
  const perFinding = new Map<string, number>();
  for (const c of cases) {
    const key = `${c.finding.instanceId}|${c.finding.kind}|${c.finding.key}`;
    perFinding.set(key, (perFinding.get(key) ?? 0) + 1);
  }
  const dup = [...perFinding].filter(([, n]) => n > 1);
  checks.push({
    ok: dup.length === 0,
    what: 'at most once: one case per finding, however often its event was delivered',
    detail:
      dup.length === 0
        ? `${delivered} messages delivered, ${cases.length} cases`
        : dup.map(([k]) => k).join(', '),
  });
  if (record.traffic) checks.push(trafficCheck(record.traffic));
  const held = await runtime.stores.leases.activeLeases(Date.now());
  checks.push({
    ok: held.length === 0,
    what: 'every lease released at the end',
    detail:
      held.length === 0 ? 'no instance held' : held.map((l) => `${l.instanceId} by ${l.owner}`).join(', '),
  });
  return checks;
}

/** The traffic service: never below its floor, no action on a serving instance, none replaced, each acted on once. */
export function trafficCheck(t: TrafficRecord): RunRecord['checks'][number] {
  const below = t.samples.filter((s) => s.inService < s.floor);
  const low = Math.min(...t.samples.map((s) => s.inService));
  const problems = [
    ...below.slice(0, 3).map((s) => `${s.inService} in service < floor ${s.floor} at ${s.t.toFixed(1)}s`),
    ...t.violations.slice(0, 3),
    ...(t.replaced.length > 0 ? [`${t.replaced.length} replaced by ${t.group}`] : []),
    ...(t.maxActionsPerInstance > 1 ? [`an instance acted on ${t.maxActionsPerInstance} times`] : []),
    ...(t.samples.length === 0 ? ['no samples'] : []),
  ];
  return {
    ok: problems.length === 0,
    what: `traffic: ${t.service} never below its budget's floor in service, no action on a serving instance, none replaced`,
    detail:
      problems.length === 0
        ? `${t.samples.length} samples, at least ${low} of ${t.samples[0]?.targets ?? 0} in service (floor ${t.samples[0]?.floor ?? 0})`
        : problems.join('; '),
  };
}

export const truncate = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);
