import { readFileSync } from 'node:fs';
import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { planViolations } from '../../functions/core/change/plan/plan-check';
import { planChange } from '../../functions/core/change/plan/planner';
import { decideApproval, type RolloutPorts } from '../../functions/core/change/rollout/rollout';
import { type ChangeSpec, changeSpecSchema } from '../../functions/core/change/spec';
import { serviceCatalog, servicesFileSchema } from '../../functions/core/fleet/services';
import type { Ec2Port } from '../../functions/core/ports/index';
import type { RemediationPorts } from '../../functions/core/remediation/remediate';
import { formatQuantity } from '../../functions/core/safety/quantity';
import { seededRandom } from '../../sim/kernel/random';
import { LocalPlumbing, runLocally } from './executions';
import { answeredLocally, loadDefinition, noRetryWaits, noWaits } from './local-sfn';
import { peaks, type RunRecord, type WaveRecord } from './report';
import { type LocalFleetSpec, type LocalRuntime, startLocalRuntime } from './runtime';

/** About 300 instances: six services over three zones, each with the budget it declares. */
export const DEMO_FLEET: LocalFleetSpec = {
  services: {
    web: { perZone: 30 },
    api: { perZone: 20 },
    worker: { perZone: 20 },
    cache: { perZone: 10 },
    db: { perZone: 10 },
    batch: { perZone: 10 },
  },
  budgets: servicesFileSchema.parse({
    services: {
      web: { maxUnavailable: '15%', maxUnavailablePerZone: '34%' },
      api: { maxUnavailable: '20%' },
      worker: { maxUnavailable: '25%' },
      cache: { maxUnavailable: 3, maxUnavailablePerZone: 1 },
      db: { maxUnavailable: 2, maxUnavailablePerZone: 1 },
      batch: { maxUnavailable: '30%' },
    },
  }),
};

/** A good change: November's patches over two services, approved after its canary. */
const PATCH = {
  id: 'patch-2026-11',
  description: 'Install November security patches (AWS-RunPatchBaseline)',
  target: { services: ['web', 'api'] },
  action: {
    type: 'ssm-command',
    document: 'AWS-RunPatchBaseline',
    parameters: { Operation: ['Install'], RebootOption: ['NoReboot'] },
    timeoutSeconds: 600,
  },
  risk: 'medium',
  strategy: { canary: 1, growth: { mode: 'exponential', factor: 2 }, maxWaveSize: '20%', bakeMinutes: 10 },
  gates: { statusChecks: true, errorThreshold: '5%', onFailure: 'pause' },
  approval: { afterCanary: true },
};

/** A bad change: config v43 makes the application 60% slower; the judge must catch it. */
const CONFIG = {
  id: 'config-v43',
  description: 'Roll out application config v43 (connection pool sizes)',
  target: { services: ['api', 'worker'] },
  action: { type: 'set-tag', tags: { 'app-config': 'v43' } },
  rollback: { action: { type: 'set-tag', tags: { 'app-config': 'v42' } }, waveFactor: 2 },
  risk: 'low',
  strategy: { canary: 3, growth: { mode: 'exponential', factor: 2 }, bakeMinutes: 10 },
  gates: {
    statusChecks: true,
    metrics: [
      { name: 'Latency', namespace: 'App', statistic: 'Average', direction: 'increase', critical: true },
    ],
    onFailure: 'rollback',
  },
};

/** Local stand-ins for the waits a real run spends (bakes of minutes become a fraction of a second). */
const ROLLOUT_WAITS = { Bake: 250, 'Bake longer': 250, 'Wait for the action': 100, 'Wait for budget': 500 };
const REMEDIATION_WAITS = {
  'Wait for the action': 100,
  'Wait before verifying': 300,
  'Wait for budget': 500,
};

type Fault = 'hardware' | 'software';

export interface DemoOptions {
  /** Progress lines, as they happen. */
  readonly progress: (line: string) => void;
  /** The fleet to seed (default: DEMO_FLEET, about 300 instances); tests use a smaller one. */
  readonly fleet?: LocalFleetSpec;
  /** How many instances of each service the failing rack in zone c holds. */
  readonly rack?: Readonly<Record<string, number>>;
}

/** The failing rack: a few instances of every service; no service is hit hard, the zone is. */
export const DEMO_RACK: Readonly<Record<string, number>> = {
  web: 7,
  api: 5,
  worker: 5,
  batch: 5,
  cache: 1,
  db: 1,
};

/**
 * The main job on its embedded default: FleetOps' real state machines, handlers, routing and
 * store against moto, through three scenes (a change with an approval; health events, one of
 * them delivered twice, while it runs; a bad change caught by the judge and rolled back while a
 * storm trips the breaker). Returns what happened, for the report.
 */
export async function runDemo(options: DemoOptions): Promise<RunRecord> {
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
  const say = (line: string) => {
    record.log.push({ t: elapsed(), line });
    options.progress(`[${elapsed().toFixed(1).padStart(5)}s] ${line}`);
  };
  say('starting a moto server and seeding the fleet…');
  const runtime = await startLocalRuntime(options.fleet ?? DEMO_FLEET, { log: say });
  let plumbing: LocalPlumbing | undefined;
  try {
    record.zones = [...runtime.zones];
    const services = serviceCatalog(await runtime.stores.fleet.getServices());
    for (const [service, byZone] of runtime.instances) {
      const { budget } = services.budgetOf(service);
      record.services.push({
        name: service,
        instances: [...byZone.values()].reduce((n, ids) => n + ids.length, 0),
        budget: budget.maxUnavailablePerZone
          ? `${formatQuantity(budget.maxUnavailable)} (${formatQuantity(budget.maxUnavailablePerZone)} per zone)`
          : formatQuantity(budget.maxUnavailable),
      });
    }
    say(
      `fleet: ${record.services.reduce((n, s) => n + s.instances, 0)} instances, ${record.services.length} services, ${runtime.zones.length} zones (${record.services.map((s) => `${s.name} ${s.instances}, budget ${s.budget}`).join('; ')})`,
    );

    // The Lambda handler modules, loaded as Lambda loads them (after the environment is set).
    const rolloutModule = await import('../../functions/handlers/rollout-step');
    const remediationModule = await import('../../functions/handlers/remediation-step');
    const triageModule = await import('../../functions/handlers/triage');
    const inventoryModule = await import('../../functions/handlers/inventory-sync');

    // moto never impairs an instance: this fault model stands in for EC2's status checks. An
    // instance with a hardware fault recovers only by a stop-start (a new host), a software hang
    // also by a reboot. Every call still goes to moto's EC2.
    const faults = new Map<string, Fault>();
    const withFaults = (ec2: Ec2Port): Ec2Port => ({
      setTags: (ids, tags) => ec2.setTags(ids, tags),
      start: (ids) => ec2.start(ids),
      reboot: async (ids) => {
        for (const id of ids) if (faults.get(id) === 'software') faults.delete(id);
        await ec2.reboot(ids);
      },
      stop: async (ids) => {
        for (const id of ids) faults.delete(id);
        await ec2.stop(ids);
      },
      conditions: async (ids) => {
        const real = await ec2.conditions(ids);
        for (const id of ids) {
          const c = real.get(id);
          if (c && faults.has(id)) real.set(id, { ...c, health: 'impaired' });
        }
        return real;
      },
    });
    const rolloutPorts: RolloutPorts = { ...rolloutModule.ports, ec2: withFaults(rolloutModule.ports.ec2) };
    const remediationPorts: RemediationPorts = {
      ...remediationModule.ports,
      ec2: withFaults(remediationModule.ports.ec2),
      rng: seededRandom(20261128),
    };

    // Budget use over time: every ledger in one read, sampled as steps finish (at most every
    // 500 ms: moto serves one request at a time, and the scenes' own requests come first).
    let lastSample = 0;
    let sampling: Promise<void> | undefined;
    const sampleBudgets = (force = false) => {
      if (sampling || (!force && Date.now() - lastSample < 500)) return sampling;
      lastSample = Date.now();
      sampling = (async () => {
        const t = elapsed();
        const ledgers = await runtime.stores.leases.ledgers(record.services.map((s) => s.name));
        for (const [service, ledger] of ledgers) {
          record.budgets.push({
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
    await sampleBudgets(true);

    // The application's latency as CloudWatch sees it: v43 of the config is 60% slower.
    const writeLatency = async (targetServices: readonly string[]) => {
      const described = await runtime.ec2.send(
        new DescribeInstancesCommand({
          Filters: [{ Name: 'tag:fleetops:service', Values: [...targetServices] }],
        }),
      );
      const now = Date.now();
      const data = (described.Reservations ?? [])
        .flatMap((r) => r.Instances ?? [])
        .flatMap((i, k) => {
          const slow = (i.Tags ?? []).some((t) => t.Key === 'app-config' && t.Value === 'v43');
          return [1, 2, 3, 4, 5, 6].map((m) => ({
            MetricName: 'Latency',
            Dimensions: [{ Name: 'InstanceId', Value: i.InstanceId ?? '' }],
            Timestamp: new Date(now - m * 60_000),
            Value: (slow ? 160 : 100) + ((k * 7 + m * 3) % 10),
          }));
        });
      // moto takes at most 20 data points per call (CloudWatch takes 1,000).
      for (let i = 0; i < data.length; i += 20) {
        await runtime.cloudwatch.send(
          new PutMetricDataCommand({ Namespace: 'App', MetricData: data.slice(i, i + 20) }),
        );
      }
    };

    const rolloutDefinition = loadDefinition('state-machines/rollout.asl.json', {
      RolloutStepFunctionArn: `arn:aws:lambda:${runtime.region}:123456789012:function:fleetops-rollout-step`,
    });
    const remediationDefinition = loadDefinition('state-machines/remediation.asl.json', {
      RemediationStepFunctionArn: `arn:aws:lambda:${runtime.region}:123456789012:function:fleetops-remediation-step`,
    });

    /** Plans a change over the live fleet (checked by the independent plan checker), saves it, runs it. */
    const runChange = async (
      raw: unknown,
      world: { beforeGate?: () => Promise<void>; afterCanary?: () => void },
    ) => {
      const spec: ChangeSpec = changeSpecSchema.parse(raw);
      const now = Date.now();
      const [instances, servicesFile, leases] = await Promise.all([
        runtime.stores.fleet.listInstances(),
        runtime.stores.fleet.getServices(),
        runtime.stores.leases.activeLeases(now),
      ]);
      const catalog = serviceCatalog(servicesFile);
      const plan = planChange({
        instances,
        catalog,
        spec,
        held: new Map(leases.map((l) => [l.instanceId, l.owner])),
      });
      const violations = planViolations(plan, { instances, catalog, spec });
      if (violations.length > 0)
        throw new Error(`plan ${spec.id} breaks its constraints: ${violations.join('; ')}`);
      await runtime.stores.changes.save(spec, plan, 'local-operator', now);
      say(
        `change ${spec.id}: planned ${plan.summary.planned} instances in ${plan.waves.length} waves (${plan.waves
          .slice(0, 4)
          .map((w) => `${w.size}`)
          .join(', ')}${plan.waves.length > 4 ? ', …' : ''}); ${spec.description}`,
      );
      const zoneOf = new Map(instances.map((i) => [i.id, i.zone]));
      const serviceOf = new Map(instances.map((i) => [i.id, i.service]));
      const waves = new Map<string, WaveRecord>();
      const changeRecord = (id: string) => {
        let found = record.changes.find((c) => c.id === id);
        if (!found) {
          found = {
            id,
            description: id === spec.id ? spec.description : `undo ${spec.id}`,
            status: 'running',
            reason: '',
            waves: [],
            approvals: [],
          };
          record.changes.push(found);
        }
        return found;
      };
      changeRecord(spec.id);
      const wrap: NonNullable<Parameters<typeof runLocally>[2]['wrap']> = (state, call) => async (input) => {
        const carrier = (
          state === 'Wait for approval' ? (input as { Payload?: unknown }).Payload : input
        ) as {
          state?: { changeId?: string; wave?: number; waves?: number };
        };
        const s = carrier?.state ?? {};
        const changeId = s.changeId ?? spec.id;
        const key = `${changeId}#${s.wave}`;
        const startedAt = elapsed();
        if (state === 'Health gate' && changeId === spec.id) {
          await world.beforeGate?.().catch((error: unknown) => {
            say(
              `the application's metrics could not be written: ${error instanceof Error ? error.message : String(error)}`,
            );
          });
        }
        if (state === 'Wait for approval') {
          await call((input as { Payload: unknown }).Payload);
          // The state has moved on to the next wave: the approval is for the one that passed.
          const passed = Math.max((s.wave ?? 1) - 1, 0);
          say(`change ${changeId}: wave ${passed + 1} passed; waiting for a person's approval`);
          await new Promise((r) => setTimeout(r, 500));
          const reason = 'local runtime: approved automatically once the canary passed its gate';
          await decideApproval(
            {
              changes: runtime.stores.changes,
              fleet: runtime.stores.fleet,
              now: Date.now,
              answers: answeredLocally,
            },
            changeId,
            'approve',
            'local-operator',
            reason,
          );
          changeRecord(changeId).approvals.push({
            t: elapsed(),
            wave: passed,
            by: 'local-operator',
            reason,
          });
          say(`change ${changeId}: approved by local-operator (${reason})`);
          world.afterCanary?.();
          return { approvedBy: 'local-operator' };
        }
        let out: Record<string, unknown>;
        try {
          out = (await call(input)) as Record<string, unknown>;
        } catch (error) {
          say(
            `change ${changeId}: step "${state}" failed: ${error instanceof Error ? error.message : String(error)}`,
          );
          throw error;
        }
        if (state === 'Apply the action') {
          const wavePlan = await runtime.stores.changes.loadPlan(changeId);
          const w = wavePlan.waves[s.wave ?? 0];
          const zoneCounts: Record<string, number> = {};
          const serviceCounts: Record<string, number> = {};
          for (const id of w.instances) {
            const zone = zoneOf.get(id) ?? '?';
            zoneCounts[zone] = (zoneCounts[zone] ?? 0) + 1;
            const service = serviceOf.get(id) ?? '?';
            serviceCounts[service] = (serviceCounts[service] ?? 0) + 1;
          }
          const wave: WaveRecord = {
            index: s.wave ?? 0,
            kind: w.kind,
            zones: zoneCounts,
            services: serviceCounts,
            size: w.size,
            binding: w.bindingConstraint,
            start: startedAt,
            end: startedAt,
            verdict: '',
            reason: '',
          };
          waves.set(key, wave);
          changeRecord(changeId).waves.push(wave);
          say(
            `change ${changeId}: wave ${wave.index + 1}/${s.waves} (${w.kind}, ${Object.entries(zoneCounts)
              .map(([z, n]) => `${z} ${n}`)
              .join(', ')}; bound by ${w.bindingConstraint}): applied to ${out.applied} instances`,
          );
        } else if (state === 'Health gate') {
          const wave = waves.get(key);
          if (wave) {
            wave.verdict = String(out.verdict);
            wave.reason = String(out.reason);
          }
          say(
            `change ${changeId}: wave ${(s.wave ?? 0) + 1} gate: ${out.verdict} — ${truncate(String(out.reason), 160)}`,
          );
        } else if (state.startsWith('Release')) {
          const wave = waves.get(key);
          if (wave) wave.end = elapsed();
        } else if (state === 'Lease the wave' && out.acquired === false) {
          say(
            `change ${changeId}: wave ${(s.wave ?? 0) + 1} waits for budget: ${truncate(String(out.reason), 140)}`,
          );
        } else if (state === 'Plan the rollback' && out.rollback === true) {
          say(`change ${changeId}: rolling back — ${truncate(String(out.reason), 200)}`);
          changeRecord(`${changeId}-rollback`);
        }
        void sampleBudgets();
        return out;
      };
      const execution = runLocally(
        rolloutDefinition,
        { changeId: spec.id },
        {
          handler: (event) => rolloutModule.rolloutStepWith(rolloutPorts, event),
          wrap,
          waits: { ...noWaits(rolloutDefinition), ...ROLLOUT_WAITS },
          retryWaits: noRetryWaits(rolloutDefinition),
          taskToken: `local-token-${spec.id}`,
        },
      );
      const outcome = await execution.result.then(
        () => 'succeeded',
        (error: unknown) => (error instanceof Error ? error.name || error.message : String(error)),
      );
      for (const c of record.changes.filter((c) => c.id === spec.id || c.id === `${spec.id}-rollback`)) {
        const stored = await runtime.stores.changes.get(c.id);
        c.status = stored?.status ?? c.status;
        c.reason = stored?.statusReason ?? '';
        say(`change ${c.id}: ${c.status}${c.reason ? ` — ${truncate(c.reason, 200)}` : ''}`);
      }
      await sampleBudgets(true);
      return outcome;
    };

    // Remediation: each execution triage started runs through the remediation ASL.
    const placement = new Map<string, { service: string; zone: string }>();
    for (const [service, byZone] of runtime.instances) {
      for (const [zone, ids] of byZone) for (const id of ids) placement.set(id, { service, zone });
    }
    const remediate = async (name: string, input: unknown) => {
      const caseId = (input as { state?: { caseId?: string } }).state?.caseId ?? name;
      const steps: Array<{ t: number; step: string; detail: string }> = [];
      const execution = runLocally(remediationDefinition, input, {
        handler: (event) => remediationModule.remediationStepWith(remediationPorts, event),
        wrap: (state, call) => async (stepInput) => {
          let out: Record<string, unknown>;
          try {
            out = (await call(stepInput)) as Record<string, unknown>;
          } catch (error) {
            say(
              `case ${caseId.slice(0, 18)}: step "${state}" failed: ${error instanceof Error ? error.message : String(error)}`,
            );
            throw error;
          }
          const detail =
            state === 'Decide'
              ? `${out.action}: ${out.reason}`
              : state === 'Act'
                ? `${out.step}`
                : state === 'Verify'
                  ? `${out.recovered ? 'recovered' : 'not recovered'}: ${out.reason}`
                  : state === 'Lease the instance'
                    ? String(out.reason ?? '')
                    : '';
          steps.push({ t: elapsed(), step: state, detail });
          if (state === 'Decide') say(`case ${caseId.slice(0, 18)}: decide → ${truncate(detail, 150)}`);
          if (state === 'Act') say(`case ${caseId.slice(0, 18)}: ${out.step} sent`);
          void sampleBudgets();
          return out;
        },
        waits: { ...noWaits(remediationDefinition), ...REMEDIATION_WAITS },
        retryWaits: noRetryWaits(remediationDefinition),
      });
      const opened = elapsed();
      await execution.result.catch(() => undefined);
      const stored = await runtime.stores.cases.get(caseId);
      if (stored) {
        record.remediations.push({
          caseId,
          instanceId: stored.finding.instanceId,
          service: placement.get(stored.finding.instanceId)?.service ?? '',
          zone: placement.get(stored.finding.instanceId)?.zone ?? '',
          kind: stored.finding.kind,
          opened,
          closed: elapsed(),
          status: stored.status,
          reason: stored.reason,
          tried: [...stored.tried],
          steps,
        });
        say(
          `case ${caseId.slice(0, 18)} (${stored.finding.kind} on ${stored.finding.instanceId}): ${stored.status} — ${truncate(stored.reason, 150)}`,
        );
      }
    };

    plumbing = new LocalPlumbing({
      sqs: runtime.sqs,
      sfn: runtime.sfn,
      queueUrl: runtime.queueUrl,
      triage: triageModule.handler as unknown as (event: unknown, context: Context) => Promise<unknown>,
      remediationArn: runtime.remediationArn,
      remediate,
      pollMs: 200,
    });
    plumbing.start();

    // The scheduled inventory sweep (every few minutes when deployed; every 30 s here): the real
    // handler, as the schedule rule invokes it. It brings the table and the ledgers back in line
    // with EC2, e.g. an instance a remediation stopped and started.
    let sweeping = true;
    const sweeps = (async () => {
      while (sweeping) {
        await new Promise((r) => setTimeout(r, 30_000));
        if (!sweeping) break;
        const out = (await inventoryModule.handler(
          { time: new Date().toISOString(), 'detail-type': 'Scheduled Event' } as never,
          { functionName: 'fleetops-inventory-sync', awsRequestId: `sweep-${Date.now()}` } as Context,
        )) as { findings?: number };
        record.sweeps++;
        if (out?.findings) say(`inventory sweep: ${out.findings} new findings`);
        void sampleBudgets();
      }
    })();

    const inject = async (what: string, events: ReadonlyArray<Record<string, unknown>>) => {
      for (let i = 0; i < events.length; i += 10) {
        const put = await runtime.events.send(
          new PutEventsCommand({
            Entries: events.slice(i, i + 10).map((e) => ({
              Source: String(e.source),
              DetailType: String(e['detail-type']),
              Detail: JSON.stringify(e.detail),
              Resources: e.resources as string[],
            })),
          }),
        );
        if ((put.FailedEntryCount ?? 0) > 0) throw new Error(`EventBridge refused ${what}`);
      }
      say(`injected ${what} (${events.length} event${events.length === 1 ? '' : 's'} on the bus)`);
    };
    const pick = (service: string, zone: number, k: number) => {
      const ids = runtime.instances.get(service)?.get(runtime.zones[zone]) ?? [];
      return ids[k % ids.length] ?? '';
    };
    const events = eventTemplates();

    // Scene 1: the patch rolls out; health events arrive while it runs.
    say('scene 1: a change rolls out in waves while health events arrive');
    // Instances of services the change does not touch: a case on an instance a wave holds is
    // recorded and left alone (see the README), which is not what this scene is about.
    const hang = pick('batch', 0, 5);
    const hardware = pick('worker', 1, 7);
    const hostFault = pick('worker', 2, 1);
    let eventsSent: Promise<void> = Promise.resolve();
    let injected = false;
    const patch = runChange(PATCH, {
      afterCanary: () => {
        // Once: a medium-risk change also stops at its containment point.
        if (injected) return;
        injected = true;
        eventsSent = (async () => {
          faults.set(hang, 'software');
          const alarm = events.alarm(hang, 'Instance', 'hang-1');
          await inject(`a status-check alarm for ${hang} (batch; a software hang), delivered twice`, [
            alarm,
            alarm,
          ]);
          faults.set(hardware, 'hardware');
          await inject(`an AWS Health degraded-hardware issue for ${hardware} (worker)`, [
            events.degradedHardware(hardware),
          ]);
          faults.set(hostFault, 'hardware');
          await inject(`a system status-check alarm for ${hostFault} (worker; a failing host)`, [
            events.alarm(hostFault, 'System', 'host-1'),
          ]);
        })();
      },
    });
    await patch;
    await eventsSent;
    await plumbing.settled();

    // Scene 2: a bad config; the judge compares the canary with the rest and rolls it back.
    // Meanwhile a rack in zone c fails: more than 20% of the zone at once trips the breaker.
    say('scene 2: a bad change regresses latency on its canary; meanwhile a rack fails in zone c');
    const zoneC = runtime.zones[2];
    const zoneSize = [...runtime.instances.values()].reduce(
      (n, byZone) => n + (byZone.get(zoneC)?.length ?? 0),
      0,
    );
    const rack = Object.entries(options.rack ?? DEMO_RACK).flatMap(([service, n]) =>
      (runtime.instances.get(service)?.get(zoneC) ?? []).slice(-n),
    );
    const config = runChange(CONFIG, {
      beforeGate: () => writeLatency(CONFIG.target.services),
    });
    const stormSent = (async () => {
      await new Promise((r) => setTimeout(r, 1500));
      for (const id of rack) faults.set(id, 'hardware');
      await inject(
        `system status-check alarms for ${rack.length} instances of one rack in ${zoneC} (${Math.round((100 * rack.length) / zoneSize)}% of the zone)`,
        rack.map((id, k) => events.alarm(id, 'System', `rack-${k}`)),
      );
    })();
    await Promise.all([config, stormSent]);
    await plumbing.settled();
    sweeping = false;
    await sweeps;
    await plumbing.stop();

    // What FleetOps told people: the topic's messages.
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
    for (const page of record.pages) say(`page: ${page.subject}`);

    // The invariants, checked on what the store recorded.
    await runtime.sync('local-runtime');
    await sampleBudgets(true);
    record.checks = await checkInvariants(runtime, record, plumbing.delivered);
    for (const check of record.checks)
      say(`check: ${check.ok ? 'ok' : 'VIOLATED'} — ${check.what}: ${check.detail}`);
    record.seconds = elapsed();
    return record;
  } finally {
    await plumbing?.stop();
    await runtime.stop();
  }
}

async function checkInvariants(
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
  const held = await runtime.stores.leases.activeLeases(Date.now());
  checks.push({
    ok: held.length === 0,
    what: 'every lease released at the end',
    detail:
      held.length === 0 ? 'no instance held' : held.map((l) => `${l.instanceId} by ${l.owner}`).join(', '),
  });
  return checks;
}

const truncate = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);

/** Events as EventBridge delivers them, from the shapes in examples/events. */
function eventTemplates() {
  const read = (name: string) => readFileSync(`examples/events/${name}`, 'utf8');
  const alarmTemplate = read('alarm-status-system.json');
  const hardwareTemplate = read('health-degraded-hardware.issue.json');
  return {
    alarm(instanceId: string, check: 'System' | 'Instance', occurrence: string): Record<string, unknown> {
      const at = new Date().toISOString();
      return JSON.parse(
        alarmTemplate
          .replaceAll('i-0c0ffee0c0ffee001', instanceId)
          .replaceAll('StatusCheckFailed_System', `StatusCheckFailed_${check}`)
          .replaceAll('system status check', `${check.toLowerCase()} status check`)
          .replace('2026-04-14T09:31:12.405+0000', at.replace('Z', '+0000'))
          .replace('2026-04-14T09:31:12Z', at.replace(/\.\d+Z$/, 'Z'))
          .replace('e2b3c4d5-6f70-4a81-9b2c-3d4e5f6a7b8c', `local-${occurrence}`),
      );
    },
    degradedHardware(instanceId: string): Record<string, unknown> {
      return JSON.parse(
        hardwareTemplate
          .replaceAll('i-0123456789abcdef0', instanceId)
          .replaceAll(
            'AWS_EC2_DEGRADED_HARDWARE_ISSUE_3d9f',
            `AWS_EC2_DEGRADED_HARDWARE_ISSUE_${instanceId.slice(-6)}`,
          )
          .replaceAll(
            '2026-02-10T10:58:00Z',
            new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z'),
          ),
      );
    },
  };
}
