/**
 * The main job on its embedded default (`npm start`): FleetOps' real state machines, handlers,
 * routing and store against moto, through the scenes (scenes.ts). This module wires them: the
 * runtime (runtime.ts), the Lambda handler modules, the fault model (world.ts), the ASL
 * bindings (rollout-run.ts, remediation-run.ts), what AWS does between them (executions.ts),
 * the scheduled sweep, and what is collected for the report (collect.ts, report.ts).
 */
import type { Context } from 'aws-lambda';
import type { RolloutPorts } from '../../functions/core/change/rollout/rollout';
import { serviceCatalog } from '../../functions/core/fleet/services';
import type { RemediationPorts } from '../../functions/core/remediation/remediate';
import { formatQuantity } from '../../functions/core/safety/quantity';
import { seededRandom } from '../../sim/kernel/random';
import {
  type BudgetSampler,
  budgetSampler,
  checkInvariants,
  collectPages,
  type RunLog,
  startRunLog,
  summarizeTraffic,
  trafficSampler,
} from './collect';
import { CONFIG, DEMO_FLEET, DEMO_RACK, HOSTS, PATCH } from './demo-fleet';
import { LocalPlumbing } from './executions';
import { loadDefinition, withLambdaTimeout } from './local-sfn';
import { remediationRunner } from './remediation-run';
import { type RunRecord, trafficLine } from './report';
import { runChange } from './rollout-run';
import { type LocalFleetSpec, type LocalRuntime, startLocalRuntime } from './runtime';
import { badChangeDuringStorm, patchWithHealthEvents, rollingChangeBehindLoadBalancer } from './scenes';
import { TrafficModel } from './traffic-model';
import { eventTemplates, FaultModel } from './world';

export { DEMO_FLEET, DEMO_RACK } from './demo-fleet';

export interface DemoOptions {
  /** Progress lines, as they happen. */
  readonly progress: (line: string) => void;
  /** The fleet to seed (default: DEMO_FLEET, 324 instances); tests use a smaller one. */
  readonly fleet?: LocalFleetSpec;
  /** How many instances of each service the failing rack in zone c holds. */
  readonly rack?: Readonly<Record<string, number>>;
}

/**
 * The main job on its embedded default: FleetOps' real state machines, handlers, routing and
 * store against moto, through three scenes (a change with an approval; health events, one of
 * them delivered twice, while it runs; a bad change caught by the judge and rolled back while a
 * storm trips the breaker) and, alongside them, a rolling stop-start of the service in an Auto
 * Scaling group behind a target group, through the traffic model (traffic-model.ts). Returns
 * what happened, for the report.
 */
export async function runDemo(options: DemoOptions): Promise<RunRecord> {
  const log = startRunLog(options.progress);
  const { record, say } = log;
  say('starting a moto server and seeding the fleet…');
  const runtime = await startLocalRuntime(options.fleet ?? DEMO_FLEET, { log: say });
  let plumbing: LocalPlumbing | undefined;
  let trafficTicker: NodeJS.Timeout | undefined;
  try {
    await describeFleet(runtime, log);

    // The Lambda handler modules, loaded as Lambda loads them (after the environment is set).
    const rolloutModule = await import('../../functions/handlers/rollout-step');
    const remediationModule = await import('../../functions/handlers/remediation-step');
    const triageModule = await import('../../functions/handlers/triage');
    const inventoryModule = await import('../../functions/handlers/inventory-sync');

    // The handlers' own ports, their EC2 seen through the fault model, their ELB, Auto Scaling
    // and EC2 through the traffic model (what moto's load balancers and groups do not do).
    const faults = new FaultModel();
    const traffic = runtime.traffic ? new TrafficModel(runtime, runtime.traffic, log.elapsed) : undefined;
    const throughTraffic = <P extends RolloutPorts | RemediationPorts>(ports: P): P =>
      traffic ? traffic.wrap(ports) : ports;
    const rolloutPorts: RolloutPorts = throughTraffic({
      ...rolloutModule.ports,
      ec2: faults.wrap(rolloutModule.ports.ec2),
    });
    const remediationPorts: RemediationPorts = throughTraffic({
      ...remediationModule.ports,
      ec2: faults.wrap(remediationModule.ports.ec2),
      rng: seededRandom(20261128),
    });

    const sampleTraffic = traffic ? await startTrafficRecord(runtime, log, traffic) : undefined;
    const sampleLedgers = budgetSampler(runtime, log);
    const sampleBudgets: BudgetSampler = (force) => {
      void sampleTraffic?.();
      return sampleLedgers(force);
    };
    await sampleBudgets(true);
    trafficTicker = setInterval(() => void sampleTraffic?.(), 1000);

    // Each Task bounded by its Lambda's timeout (lib/rollout.ts: 15 min; lib/remediation.ts: 2 min).
    const rolloutDefinition = withLambdaTimeout(
      loadDefinition('state-machines/rollout.asl.json', {
        RolloutStepFunctionArn: `arn:aws:lambda:${runtime.region}:123456789012:function:fleetops-rollout-step`,
      }),
      900,
    );
    const remediationDefinition = withLambdaTimeout(
      loadDefinition('state-machines/remediation.asl.json', {
        RemediationStepFunctionArn: `arn:aws:lambda:${runtime.region}:123456789012:function:fleetops-remediation-step`,
      }),
      120,
    );
    const rolloutDeps = {
      runtime,
      log,
      sampleBudgets,
      definition: rolloutDefinition,
      step: rolloutModule.rolloutStepWith,
      ports: rolloutPorts,
    };

    // Remediation: each execution triage started runs through the remediation ASL.
    const active = new LocalPlumbing({
      sqs: runtime.sqs,
      sfn: runtime.sfn,
      queueUrl: runtime.queueUrl,
      triage: triageModule.handler as unknown as (event: unknown, context: Context) => Promise<unknown>,
      remediationArn: runtime.remediationArn,
      remediate: remediationRunner({
        runtime,
        log,
        sampleBudgets,
        definition: remediationDefinition,
        step: remediationModule.remediationStepWith,
        ports: remediationPorts,
      }),
      pollMs: 200,
    });
    plumbing = active;
    active.start();

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

    const scene = {
      runtime,
      say,
      faults,
      events: eventTemplates(),
      runChange: (raw: unknown, world: Parameters<typeof runChange>[2]) => runChange(rolloutDeps, raw, world),
      settled: () => active.settled(),
    };
    const patched = patchWithHealthEvents(scene, PATCH);
    const hosts = rollingChangeBehindLoadBalancer(scene, HOSTS);
    await patched;
    await badChangeDuringStorm(scene, CONFIG, options.rack ?? DEMO_RACK);
    await hosts;
    clearInterval(trafficTicker);
    await sampleTraffic?.();
    if (traffic && runtime.traffic) {
      await summarizeTraffic(runtime, record, traffic, HOSTS.id, HOSTS.action.type);
      say(trafficLine(record));
    }
    sweeping = false;
    await sweeps;
    await active.stop();

    await collectPages(runtime, record);
    for (const page of record.pages) say(`page: ${page.subject}`);

    // The invariants, checked on what the store recorded.
    await runtime.sync('local-runtime');
    await sampleBudgets(true);
    record.checks = await checkInvariants(runtime, record, active.delivered);
    for (const check of record.checks)
      say(`check: ${check.ok ? 'ok' : 'VIOLATED'} — ${check.what}: ${check.detail}`);
    record.seconds = log.elapsed();
    return record;
  } finally {
    clearInterval(trafficTicker);
    await plumbing?.stop();
    await runtime.stop();
  }
}

/** The traffic service's record, and its sampler (at the start: every instance serving). */
async function startTrafficRecord(runtime: LocalRuntime, log: RunLog, model: TrafficModel) {
  const layout = runtime.traffic;
  if (!layout) return undefined;
  const services = serviceCatalog(await runtime.stores.fleet.getServices());
  log.record.traffic = {
    service: layout.service,
    group: layout.group,
    targetGroup: layout.targetGroup.name,
    deregistrationDelaySeconds: layout.targetGroup.deregistrationDelaySeconds,
    readySeconds: layout.targetGroup.healthyThresholdCount * layout.targetGroup.healthCheckIntervalSeconds,
    samples: [],
    waves: [],
    replaced: [],
    violations: [],
    maxActionsPerInstance: 0,
  };
  return trafficSampler(
    model,
    log.record.traffic,
    log,
    services.budgetOf(layout.service).budget.maxUnavailable,
  );
}

/** The fleet as seeded: services, their instances and budgets, for the record and the log. */
async function describeFleet(runtime: LocalRuntime, log: RunLog): Promise<void> {
  const { record } = log;
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
  log.say(
    `fleet: ${record.services.reduce((n, s) => n + s.instances, 0)} instances, ${record.services.length} services, ${runtime.zones.length} zones (${record.services.map((s) => `${s.name} ${s.instances}, budget ${s.budget}`).join('; ')})`,
  );
}
