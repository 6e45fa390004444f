import { performance } from 'node:perf_hooks';
import { planChange, selectTargets, whyNotChangeable } from '../functions/core/change/plan/planner';
import type { RolloutPorts } from '../functions/core/change/rollout/rollout';
import { type ChangeSpec, ROLLBACK_SUFFIX } from '../functions/core/change/spec';
import {
  ACCUMULATE_MINUTES,
  EC2_ACTION_RATE,
  ELB_DESCRIBE_RATE,
  ELB_REGISTRATION_RATE,
} from '../functions/core/defaults';
import type { Finding } from '../functions/core/events/findings';
import type { Instance } from '../functions/core/fleet/fleet';
import { ledgerObservations } from '../functions/core/fleet/inventory';
import { type ServiceCatalog, type ServicesFile, serviceCatalog } from '../functions/core/fleet/services';
import type { RemediationPorts } from '../functions/core/remediation/remediate';
import { triageFinding } from '../functions/core/remediation/triage';
import { resolveBudgets } from '../functions/core/safety/budget';
import { TokenBucket } from '../functions/core/shared/token-bucket';
import { restoreAbandoned } from '../functions/core/traffic/protocol';
import { remediationStepWith } from '../functions/steps/remediation';
import { rolloutStepWith } from '../functions/steps/rollout';
import {
  type ActionObserver,
  type ActKind,
  ApiRequests,
  MemoryChangeStore,
  MemoryFleetStore,
  MemoryLeaseStore,
  MemoryRemediationStore,
  RecordingNotifier,
  SimulatedEc2,
  simulatedAutoScaling,
  simulatedMetrics,
  simulatedSsm,
} from './adapters';
import type { TrafficKind } from './adapters/common';
import { MemoryTrafficExits } from './adapters/memory-traffic-exits';
import { countingReads } from './adapters/read-counter';
import { SimulatedMetrics } from './adapters/simulated-metrics';
import { simulatedTraffic, type TrafficBuckets } from './adapters/simulated-traffic';
import {
  deployedDefinitions,
  type SimDefinitions,
  type SimStateMachine,
  type StateObserver,
  stateMachineFor,
  type TaskCall,
  TaskOverrun,
} from './asl/state-machines';
import {
  checkFleetSimOptions,
  checkRehearsalOptions,
  FLEET_SIM_DEFAULTS,
  type FleetSimOptions,
  isFleetStoreDefect,
  isLeaseStoreDefect,
  type RehearsalOptions,
  type SimDefect,
  STORM_AT_MINUTE,
  STORM_MINUTES,
  simulatedChangeSpec,
} from './fleet-sim-options';
import {
  type ChurnFigures,
  type FleetSimReport,
  fleetSimReport,
  MINUTE,
  type RehearsalFigures,
  type ReportedRevision,
  type SimFigures,
  type SimParameters,
  START,
} from './fleet-sim-report';
import {
  FAILING_HOSTS_AFTER_MINUTE,
  failingHosts,
  type IncidentFaults,
  ZONE_EVENT_AT_MINUTE,
  zoneEvent,
} from './incidents';
import { type Coverage, InvariantMonitor } from './invariant-monitor';
import { seededRandom } from './kernel/random';
import { VirtualClock } from './kernel/virtual-clock';
import { onVirtualTime } from './kernel/virtual-timers';
import { answerApproval, runChanges } from './operator';
import { formatOffset, howManyOf, matches, type Scenario, type ScenarioEvent } from './scenario';
import { TrafficTimes } from './traffic-times';
import { Churn, shuffled } from './world/churn';
import { fleetLayout } from './world/fleet-layout';
import { type Fault, type Recoverer, SimWorld, type Slot } from './world/sim-world';
import { syntheticFleet } from './world/synthetic-fleet';
import { type ServiceTraffic, trafficLayout } from './world/traffic-layout';

export {
  checkFleetSimOptions,
  checkRehearsalOptions,
  FLEET_SIM_DEFAULTS,
  type FleetSimOptions,
  type RehearsalOptions,
  SIM_ACTIONS,
  SIM_DEFECTS,
  type SimAction,
  type SimDefect,
  STORM_AT_MINUTE,
  simulatedChangeSpec,
} from './fleet-sim-options';
export type { FleetSimReport, Quantiles } from './fleet-sim-report';

/**
 * `fleetops simulate`: FleetOps over a synthetic fleet (or, for a rehearsal, the operator's own
 * fleet, services and change) on a virtual clock. The rollout and the remediation cases are
 * executions of the deployed state machines (asl/state-machines.ts) whose Tasks run the Lambdas'
 * steps over in-memory ports; what is left here is the world: the fleet, its faults and churn,
 * a scenario's events, the stores, the inventory sweep, and the person (operator.ts). The
 * report: fleet-sim-report.ts.
 */

/** The EC2 request bucket each Lambda function builds for its mutating and Describe calls (rollout-step, remediation-step). */
/** A paged person (or one who finds an instance FleetOps left alone) fixes it in this long. */
const PERSON_MINUTES = 60;
/** The inventory sweep returns expired reservations this often. */
const SWEEP_MINUTES = 5;
/** The steps Step Functions may deliver twice (`retryRate`): the ones that act or judge. */
const AT_LEAST_ONCE = new Set(['apply', 'decide', 'act', 'verify']);
/** Errors no use case throws on purpose: a simulator bug, never a Catch path of the ASL. */
const BUG_ERRORS = new Set([
  'TypeError',
  'ReferenceError',
  'RangeError',
  'SyntaxError',
  'ZodError',
  'SimulatorBug',
]);

/**
 * Test hooks: other definitions than the deployed ones (a modified copy), and an observer of
 * every state the executions enter.
 */
export interface FleetSimMachinery {
  readonly definitions?: Partial<SimDefinitions>;
  readonly onState?: StateObserver;
}

/**
 * One simulated run of FleetOps over a synthetic fleet, with the real core doing the work:
 * 1. a synthetic fleet and its budgets (`syntheticFleet`), a change spec over every service and
 *    its plan from the real planner, stored as `fleetops change start` stores it;
 * 2. the rollout execution: state-machines/rollout.asl.json run by aws-local-stepfunctions, each
 *    Task bound to the step the Lambda runs (`rolloutStepWith`); a person answers approval points
 *    and re-plans after a failed change (operator.ts);
 * 3. meanwhile instance faults arrive (`faultRate`), besides the default scenario's incidents
 *    (incidents.ts: failing hosts under the canary, a zone event) or a storm (`storm`); each
 *    becomes a finding a few minutes later, goes through the real triage, which starts the case's
 *    execution of state-machines/remediation.asl.json (`remediationStepWith`: ladder, breaker,
 *    leases on the same ledger); what FleetOps leaves alone or pages about, a person fixes an
 *    hour later;
 * 4. all over in-memory ports on a virtual clock (nothing sleeps: the ASL's waits, retries and
 *    timeouts too, see kernel/virtual-timers.ts), EC2 requests paced by each function's token
 *    bucket, every lease grant, act and record checked by `InvariantMonitor`;
 * 5. ends when the change has ended and every remediation has finished; reports the figures.
 */
export async function simulateFleet(
  options: FleetSimOptions,
  machinery: FleetSimMachinery = {},
): Promise<FleetSimReport> {
  checkFleetSimOptions(options);
  const wallStarted = performance.now();
  const action = options.action ?? FLEET_SIM_DEFAULTS.action;
  const bakeMinutes = options.bakeMinutes ?? FLEET_SIM_DEFAULTS.bakeMinutes;
  const autoScaling = options.autoScaling ?? FLEET_SIM_DEFAULTS.autoScaling;
  const traffic = options.traffic ?? FLEET_SIM_DEFAULTS.traffic;
  // A storm is the run's incident: it replaces the default ones.
  const incidents = options.storm === undefined && (options.incidents ?? FLEET_SIM_DEFAULTS.incidents);
  const synthetic = syntheticFleet({
    instances: options.instances,
    services: options.services,
    zones: options.zones,
    seed: options.seed,
    // Launch times as a fleet churning at the rate given has them: what the planner's estimate of
    // scale-outs reads, as it reads the sweep's LaunchTime.
    launchedBefore: START,
    churnRate: options.churnRate ?? FLEET_SIM_DEFAULTS.churnRate,
  });
  const setup: SimSetup = {
    instances: synthetic.instances,
    services: synthetic.services,
    ...(traffic
      ? {
          layout: trafficLayout(synthetic.instances, {
            seed: options.seed,
            groupShare: autoScaling ? 1 : 0.3,
            scalingRoom: (options.churnRate ?? 0) > 0,
          }),
        }
      : {}),
    autoScaling,
    ...(options.storm !== undefined ? { scenario: stormScenario(synthetic.instances, options.storm) } : {}),
    incidents,
    spec: simulatedChangeSpec({ services: Object.keys(synthetic.services.services) }, action, bakeMinutes),
    respec: (target, attempt) => simulatedChangeSpec(target, action, bakeMinutes, attempt),
    faultRate: options.faultRate,
    churnRate: options.churnRate ?? FLEET_SIM_DEFAULTS.churnRate,
    seed: options.seed,
    retryRate: options.retryRate ?? FLEET_SIM_DEFAULTS.retryRate,
    ...(options.defect ? { defect: options.defect } : {}),
    parameters: {
      instances: options.instances,
      zones: options.zones,
      services: options.services,
      faultRate: options.faultRate,
      churnRate: options.churnRate ?? FLEET_SIM_DEFAULTS.churnRate,
      seed: options.seed,
      action,
      bakeMinutes,
      retryRate: options.retryRate ?? FLEET_SIM_DEFAULTS.retryRate,
      autoScaling,
      traffic,
      defect: options.defect ?? null,
      ...(options.storm !== undefined ? { storm: options.storm } : {}),
      incidents,
    },
  };
  const sim = new Simulation(setup, machinery);
  await sim.run();
  return fleetSimReport(sim, performance.now() - wallStarted);
}

/**
 * The storm of `--storm F`: a fraction F of the first zone's instances (by name: the zone the
 * fleet lists first) fail their system status check at once, {@link STORM_AT_MINUTE} minutes in,
 * their causes drawn as random faults' are; the event ends {@link STORM_MINUTES} minutes later
 * (those still impaired recover by themselves), so the breaker can close and the held cases resume.
 */
function stormScenario(instances: readonly Instance[], fraction: number): Scenario {
  const zone = [...new Set(instances.map((i) => i.zone))].sort()[0];
  return {
    description: `storm: ${fraction} of ${zone} at minute ${STORM_AT_MINUTE} for ${STORM_MINUTES} min`,
    events: [
      {
        at: STORM_AT_MINUTE * MINUTE,
        index: 0,
        kind: 'fault',
        zone,
        fraction,
        fault: 'system-status-check-failed',
        // A zone event AWS resolves: the instances still impaired then recover by themselves.
        duration: STORM_MINUTES * MINUTE,
      },
    ],
  };
}

/**
 * A rehearsal: the operator's change over their fleet and services, on the simulator.
 * 1. the fleet file's instances as the account (their target groups and groups from what the
 *    sweep recorded: world/fleet-layout.ts), the services file's budgets, the spec as written,
 *    planned by the real planner, stored and run as in the synthetic mode;
 * 2. the scenario's events at their offsets (faults by zone, service or fraction; scale-ins and
 *    scale-outs; a latency regression on changed instances, which the canary judge reads from
 *    the simulated CloudWatch; freezes stored as `fleetops freeze` stores them), besides random
 *    faults and churn at the rates given (none by default);
 * 3. the same report, with the plan's revisions and the scenario's events as they were applied.
 */
export async function rehearseChange(
  options: RehearsalOptions,
  machinery: FleetSimMachinery = {},
): Promise<FleetSimReport> {
  checkRehearsalOptions(options);
  const wallStarted = performance.now();
  const traffic = options.traffic ?? true;
  const { layout, warnings } = traffic
    ? fleetLayout(options.fleet.instances)
    : { layout: new Map(), warnings: [] };
  // The world's target groups and groups are the layout's; what the file recorded of them is the sweep's to say again.
  const instances = options.fleet.instances.map(({ targets: _t, asg: _a, ...i }) => i);
  const live = instances.filter((i) => i.state !== 'terminated');
  const spec = options.spec;
  const faultRate = options.faultRate ?? 0;
  const churnRate = options.churnRate ?? 0;
  const retryRate = options.retryRate ?? FLEET_SIM_DEFAULTS.retryRate;
  const sources = options.sources ?? { fleet: 'fleet', services: 'services', spec: 'spec' };
  const setup: SimSetup = {
    instances,
    services: options.services,
    ...(layout.size > 0 ? { layout } : {}),
    autoScaling: false,
    spec,
    respec: (target, attempt) => ({
      ...spec,
      id: `${spec.id}-${attempt}`,
      description: `${spec.description}: what is left after attempt ${attempt - 1} failed`,
      target: { instanceIds: [...target.instanceIds] },
    }),
    ...(options.scenario ? { scenario: options.scenario } : {}),
    publishesMetrics: true,
    faultRate,
    churnRate,
    seed: options.seed,
    retryRate,
    ...(options.defect ? { defect: options.defect } : {}),
    parameters: {
      instances: live.length,
      zones: new Set(live.map((i) => i.zone)).size,
      services: new Set(live.map((i) => i.service)).size,
      faultRate,
      churnRate,
      seed: options.seed,
      action: spec.action.type,
      bakeMinutes: spec.strategy.bakeMinutes,
      retryRate,
      autoScaling: false,
      traffic: layout.size > 0,
      defect: options.defect ?? null,
    },
    rehearsal: {
      fleet: sources.fleet,
      services: sources.services,
      spec: sources.spec,
      scenario: sources.scenario ?? null,
      warnings,
    },
  };
  const sim = new Simulation(setup, machinery);
  await sim.run();
  return fleetSimReport(sim, performance.now() - wallStarted);
}

/** What a run simulates: the fleet, its budgets and traffic layout, the change, the rates, and what the report says of it. */
interface SimSetup {
  readonly instances: readonly Instance[];
  readonly services: ServicesFile;
  /** Target groups and groups per service; absent: none (groups for every service with `autoScaling`). */
  readonly layout?: ReadonlyMap<string, ServiceTraffic>;
  readonly autoScaling: boolean;
  readonly spec: ChangeSpec;
  /** The n-th change over what is left after a failed one. */
  respec(target: { instanceIds: readonly string[] }, attempt: number): ChangeSpec;
  readonly scenario?: Scenario;
  /** The default scenario's incidents (incidents.ts; synthetic mode). */
  readonly incidents?: boolean;
  /** Every instance publishes the metrics a spec gates on (adapters/simulated-metrics.ts); else none does. */
  readonly publishesMetrics?: boolean;
  readonly faultRate: number;
  readonly churnRate: number;
  readonly seed: number;
  readonly retryRate: number;
  readonly defect?: SimDefect;
  readonly parameters: SimParameters;
  readonly rehearsal?: Omit<RehearsalFigures, 'events'>;
}

/** The simulated world and its wiring: the fleet, the stores, the faults, the sweep, the two state machines. */
class Simulation implements SimFigures {
  readonly clock = new VirtualClock(START);
  readonly parameters: SimParameters;
  /** Separate streams: the world's dice, the ladder's draws and Step Functions' retries never shift each other. */
  private readonly worldRng: () => number;
  private readonly policyRng: () => number;
  private readonly retryRng: () => number;
  /** The scenario's draws (which instances an event takes): their own stream, as churn's. */
  private readonly scenarioRng: () => number;
  /** The incidents' draws: their own stream, so a storm's draws stay what they were. */
  private readonly incidentRng: () => number;
  /** The incidents as applied (synthetic mode with `incidents`), for the report. */
  readonly incidents: Array<{ at: string; kind: string; applied: string }> | undefined;
  /** The failing hosts wait for the change's next wave lease from their minute on. */
  private failingHostsArmed = false;
  readonly world: SimWorld;
  readonly monitor: InvariantMonitor;
  private readonly leases: RolloutPorts['leases'] & RemediationPorts['leases'];
  private readonly leaseStore: MemoryLeaseStore;
  private readonly fleet: MemoryFleetStore;
  readonly changes = new MemoryChangeStore();
  readonly cases = new MemoryRemediationStore();
  readonly notifier = new RecordingNotifier();
  /** What the rollout publishes (approvals waiting, gates failed, ends): counted apart from pages. */
  private readonly rolloutNotices = new RecordingNotifier();
  readonly requests = new ApiRequests();
  private readonly observer: ActionObserver & {
    traffic(owner: string, by: Recoverer, kind: TrafficKind, id: string): void;
  };
  private readonly rolloutEc2: SimulatedEc2;
  private readonly remediationEc2: SimulatedEc2;
  /** The inventory sweep's own EC2 view (it starts what an abandoned stop-start left stopped). */
  private readonly sweepEc2: SimulatedEc2;
  private readonly rolloutElb: TrafficBuckets;
  private readonly remediationElb: TrafficBuckets;
  private readonly sweepElb: TrafficBuckets;
  /** The traffic exits of the fleet table (TRAFFIC#<instance>), shared by every execution and the sweep. */
  readonly exits = new MemoryTrafficExits();
  readonly trafficTimes: TrafficTimes;
  /** The wave each change's execution is at (for the per-wave traffic figures). */
  private readonly waveOf = new Map<string, number>();
  readonly spec: ChangeSpec;
  readonly plan: ReturnType<typeof planChange>;
  readonly acted: Record<Recoverer, Map<ActKind, number>> = {
    change: new Map(),
    remediation: new Map(),
    person: new Map(),
  };
  private readonly started = new Set<string>();
  readonly counts = { approvals: 0, leaseRefusals: 0, retried: 0, pass: 0, fail: 0, extend: 0 };
  readonly gatedWaves = new Set<string>();
  changeEndedAt: number | undefined;
  private readonly catalog: ServiceCatalog;
  readonly attempts: Array<{ id: string; waves: number; plannedAt: number }> = [];
  /** When each change's execution ended. */
  readonly attemptEnds = new Map<string, number>();
  private readonly machines: { rollout: SimStateMachine; remediation: SimStateMachine };
  private readonly churner: Churn;
  private readonly metricsWorld: SimulatedMetrics | undefined;
  /** Services whose population changed since the last sweep (instances launched or terminated). */
  private readonly populationChanged = new Set<string>();
  private readonly gone = new Set<string>();
  /** When each change last leased a wave (the "Lease the wave" Task). */
  private readonly lastLease = new Map<string, number>();
  private readonly events: Array<{ at: string; kind: string; applied: string }> = [];
  /** Changes the person rejected at an approval point. */
  private readonly rejected = new Set<string>();
  revisions: ReportedRevision[] = [];
  coverage: Coverage | null = null;
  readonly rehearsal: RehearsalFigures | undefined;

  constructor(
    private readonly setup: SimSetup,
    machinery: FleetSimMachinery,
  ) {
    const o = setup;
    this.parameters = setup.parameters;
    const definitions = { ...deployedDefinitions(), ...machinery.definitions };
    this.machines = {
      rollout: stateMachineFor('rollout', definitions.rollout, machinery.onState),
      remediation: stateMachineFor('remediation', definitions.remediation, machinery.onState),
    };
    this.worldRng = seededRandom((o.seed ^ 0x9e3779b9) >>> 0);
    this.policyRng = seededRandom((o.seed ^ 0x5bd1e995) >>> 0);
    this.retryRng = seededRandom((o.seed ^ 0x85ebca6b) >>> 0);
    this.scenarioRng = seededRandom((o.seed ^ 0x165667b1) >>> 0);
    this.incidentRng = seededRandom((o.seed ^ 0x7feb352d) >>> 0);
    this.incidents = o.incidents ? [] : undefined;
    const catalog = serviceCatalog(o.services);
    this.catalog = catalog;
    this.world = new SimWorld(this.clock, o.instances, (fault) => this.detected(fault), o.autoScaling, {
      ...(o.layout ? { layout: o.layout } : {}),
      random: seededRandom((o.seed ^ 0xc2b2ae35) >>> 0),
    });
    this.churner = new Churn(this.world, seededRandom((o.seed ^ 0x27220a95) >>> 0));
    this.world.listen({
      added: (slot) => {
        if (slot.instance.state !== 'terminated') this.populationChanged.add(slot.instance.service);
      },
      changed: (slot) => {
        const i = slot.instance;
        if (i.state !== 'terminated' || this.gone.has(i.id)) return;
        this.gone.add(i.id);
        this.populationChanged.add(i.service);
      },
    });
    this.rehearsal = o.rehearsal ? { ...o.rehearsal, events: this.events } : undefined;
    // The ledger from the fleet as inventory sync would set it; the monitor's budgets as the planner resolves them.
    this.leaseStore = new MemoryLeaseStore(
      this.world,
      ledgerObservations(this.world.instances, catalog, new Set()),
      isLeaseStoreDefect(o.defect) ? o.defect : undefined,
    );
    this.monitor = new InvariantMonitor(
      this.clock,
      this.world,
      resolveBudgets(this.world.instances, catalog, o.spec.action.type),
      catalog,
      o.spec.action.type,
      START,
    );
    this.metricsWorld = o.publishesMetrics
      ? new SimulatedMetrics((id) => this.world.slot(id)?.instance)
      : undefined;
    const watched = this.monitor.watch(this.leaseStore);
    this.leases = {
      ...watched,
      recordAction: async (lease, changeId, result, now) => {
        const outcome = await watched.recordAction(lease, changeId, result, now);
        // What a latency regression slows down: instances a change (not its rollback) acted on.
        if (outcome === 'recorded' && !this.gone.has(lease.instanceId) && !changeId.endsWith(ROLLBACK_SUFFIX))
          this.metricsWorld?.changed(lease.instanceId, now);
        return outcome;
      },
    };
    this.trafficTimes = new TrafficTimes(this.clock);
    this.world.listen(this.trafficTimes);
    this.observer = {
      acting: (owner, by, kind, id) => {
        const counts = this.acted[by];
        counts.set(kind, (counts.get(kind) ?? 0) + 1);
        this.monitor.acting(owner, by, kind, id);
      },
      traffic: (owner, by, kind, id) => {
        this.monitor.traffic(owner, by, kind, id);
        const slot = this.world.slot(id);
        const wave = this.waveOf.get(owner);
        if (slot)
          this.trafficTimes.traffic(
            by === 'change' && wave !== undefined ? `${owner}#${wave}` : undefined,
            kind,
            slot,
          );
      },
    };
    this.fleet = new MemoryFleetStore(
      this.world,
      o.services,
      [],
      isFleetStoreDefect(o.defect) ? o.defect : undefined,
    );
    const bucket = () => new TokenBucket(EC2_ACTION_RATE.ratePerSecond, EC2_ACTION_RATE.capacity, this.clock);
    this.rolloutEc2 = new SimulatedEc2(this.world, this.clock, bucket(), this.requests, this.observer);
    this.remediationEc2 = new SimulatedEc2(this.world, this.clock, bucket(), this.requests, this.observer);
    this.sweepEc2 = new SimulatedEc2(this.world, this.clock, bucket(), this.requests);
    const elb = (): TrafficBuckets => ({
      describe: new TokenBucket(ELB_DESCRIBE_RATE.ratePerSecond, ELB_DESCRIBE_RATE.capacity, this.clock),
      registration: new TokenBucket(
        ELB_REGISTRATION_RATE.ratePerSecond,
        ELB_REGISTRATION_RATE.capacity,
        this.clock,
      ),
    });
    this.rolloutElb = elb();
    this.remediationElb = elb();
    this.sweepElb = elb();
    this.spec = o.spec;
    this.plan = planChange({
      instances: this.world.instances,
      catalog,
      spec: this.spec,
      observedAt: this.clock.now(),
    });
  }

  exitsLeft = 0;

  async run(): Promise<void> {
    await onVirtualTime(this.clock, async () => {
      // Armed before the rollout starts: from minute 0, the failing hosts strike at its canary.
      this.failingHostsArmed = this.incidents !== undefined && FAILING_HOSTS_AFTER_MINUTE === 0;
      this.clock.spawn(() => this.rollout());
      this.clock.spawn(() => this.faults());
      this.clock.spawn(() => this.sweep());
      this.churner.run(this.clock, this.setup.churnRate, () => this.changeEndedAt !== undefined);
      if (this.setup.scenario) this.clock.spawn(() => this.scenario(this.setup.scenario!));
      if (this.incidents) this.clock.spawn(() => this.incidentTimes());
      await this.clock.run();
    });
    if (this.failingHostsArmed)
      this.incidents?.push({
        at: formatOffset(FAILING_HOSTS_AFTER_MINUTE * MINUTE),
        kind: 'failing-hosts',
        applied: 'nothing: the change leased no wave after this',
      });
    this.exitsLeft = (await this.exits.all()).length;
    for (const a of this.attempts) {
      for (const r of (await this.changes.loadPlan(a.id)).revisions ?? [])
        this.revisions.push({
          change: a.id,
          revision: r.revision,
          wave: r.wave,
          at: r.at,
          reason: r.reason,
          waves: r.waves,
          ...((r.lateCount ?? r.late?.length) ? { late: r.lateCount ?? r.late!.length } : {}),
          ...((r.revisitCount ?? r.revisits?.length)
            ? { revisits: r.revisitCount ?? r.revisits!.length }
            : {}),
          ...(r.postponedCount ? { postponed: r.postponedCount } : {}),
        });
    }
  }

  /** Churn's figures, when there was any (a rate, or a scenario's terminate or launch). */
  get churn(): ChurnFigures | undefined {
    const c = this.churner;
    if (this.setup.churnRate === 0 && c.terminated === 0 && c.launched.size === 0 && c.refused.size === 0)
      return undefined;
    const targeted = new Set(selectTargets(this.world.instances, this.spec, [], []).map((i) => i.id));
    let launchedTargeted = 0;
    let launchedChanged = 0;
    for (const id of c.launched) {
      if (targeted.has(id)) launchedTargeted++;
      if (this.changedIds.has(id)) launchedChanged++;
    }
    return {
      rate: this.setup.churnRate,
      terminated: c.terminated,
      launched: c.launched.size,
      refused: Object.fromEntries([...c.refused].sort(([a], [b]) => (a < b ? -1 : 1))),
      launchedTargeted,
      launchedChanged,
    };
  }

  /** Instances an attempt of the change recorded its action on (filled when the last attempt ends). */
  private changedIds = new Set<string>();

  // ── the rollout (state-machines/rollout.asl.json) ────────────────────────────

  private async rollout(): Promise<void> {
    const desk = {
      clock: this.clock,
      world: this.world,
      catalog: this.catalog,
      changes: this.changes,
      leaseStore: this.leaseStore,
      leases: this.leases,
      attempts: this.attempts,
      rejected: this.rejected,
      respec: (target: { instanceIds: readonly string[] }, attempt: number) =>
        this.setup.respec(target, attempt),
    };
    try {
      await runChanges(desk, { spec: this.spec, plan: this.plan }, (id) => this.execute(id));
      await this.checkCoverage();
    } finally {
      this.changeEndedAt = this.clock.now();
    }
  }

  /**
   * change-coverage at the change's end (invariant-monitor.ts): the first spec's target as the
   * fleet is now, what every attempt changed, what their plans and waves list as skipped, the
   * planner's own rule for what may be changed now (leases of others counted), and the last look.
   */
  private async checkCoverage(): Promise<void> {
    for (const a of this.attempts)
      for (const r of await this.leaseStore.actionsOf(a.id)) this.changedIds.add(r.instanceId);
    const last = this.attempts.at(-1);
    if (!last || this.changes.statusOf(last.id).status !== 'completed') return;
    // Listed with why: skipped by a plan, or by a wave since (its `skipped#` records, which `change status` shows).
    const listed = new Map<string, string>();
    for (const a of this.attempts) {
      for (const s of (await this.changes.loadPlan(a.id)).skipped) listed.set(s.id, s.reason);
      for (const r of await this.changes.waveRecords(a.id))
        if (r.part.startsWith('skipped#'))
          for (const x of (r.body.instances ?? []) as Array<{ id: string; reason: string }>)
            listed.set(x.id, x.reason);
    }
    const now = this.clock.now();
    const held = new Map((await this.leaseStore.activeLeases(now)).map((l) => [l.instanceId, l.owner]));
    const budgets = resolveBudgets(this.world.instances, this.catalog, this.spec.action.type, held);
    // A re-planned attempt targets the ids left when it was planned; what joined later it never looks for.
    const ids = (await this.changes.loadSpec(last.id)).target.instanceIds;
    const named = ids && last.id !== this.spec.id ? new Set(ids) : undefined;
    const lastLease = this.lastLease.get(last.id) ?? last.plannedAt;
    this.coverage = this.monitor.checkCoverage({
      changeId: this.spec.id,
      targeted: selectTargets(this.world.instances, this.spec, [], []),
      changed: this.changedIds,
      listed,
      whyNot: (i) => {
        const owner = held.get(i.id);
        return owner ? `held by ${owner}` : whyNotChangeable(i, budgets.get(i.service)!, this.spec);
      },
      lastLook: (i) => (named === undefined || named.has(i.id) ? lastLease : last.plannedAt),
    });
  }

  /** One change's execution of the rollout state machine (the execution name, and its input, are the change id). */
  private async execute(changeId: string): Promise<void> {
    // The lease owner the EC2 and SSM views act for: the change, or its rollback (`<id>-rollback`).
    const actor = { changeId };
    const acting = { owner: () => actor.changeId, by: 'change' as const };
    const skip = this.setup.defect === 'skip-standby';
    const ports: RolloutPorts = {
      changes: this.changes,
      leases: {
        ...this.leases,
        acquire: async (request) => {
          const outcome = await this.leases.acquire(request);
          if (outcome.acquired && this.failingHostsArmed && outcome.leases.length > 0)
            await this.hostsFail(outcome.leases.map((l) => l.instanceId));
          return outcome;
        },
      },
      fleet: this.fleet,
      ec2: this.rolloutEc2.forActor(acting),
      ssm: simulatedSsm(this.world, this.requests, acting, this.observer),
      autoscaling: simulatedAutoScaling(this.world, this.requests, acting, this.observer, skip),
      traffic: simulatedTraffic(
        this.world,
        this.clock,
        this.rolloutElb,
        this.requests,
        acting,
        this.observer,
        skip,
      ),
      exits: this.exits,
      metrics: this.metricsWorld ? this.metricsWorld.port(this.requests) : simulatedMetrics(this.requests),
      notify: this.rolloutNotices,
      now: () => this.clock.now(),
      actor: 'rollout',
    };
    const step = (input: unknown) => rolloutStepWith(ports, input);
    const ended = await this.machines.rollout
      .run(
        { changeId },
        step,
        (call, run) => {
          const input = call.input as {
            state?: { changeId?: string; wave?: number };
            Payload?: { state?: { changeId?: string; wave?: number } };
          };
          actor.changeId = input.state?.changeId ?? input.Payload?.state?.changeId ?? actor.changeId;
          const wave = input.state?.wave ?? input.Payload?.state?.wave;
          if (wave !== undefined) this.waveOf.set(actor.changeId, wave);
          if (call.step === 'lease') this.lastLease.set(actor.changeId, this.clock.now());
          if (call.step === 'await-approval')
            return this.task(
              call,
              (request) => answerApproval(this.clock, ports, request, run, this.rejected),
              (answer) => answer !== null && this.counts.approvals++,
            );
          return this.task(call, run, (result) => this.rolloutObserved(call, result), changeId);
        },
        { Task: { Token: `token-${changeId}` } },
      )
      .catch((error: unknown) => this.overrun(error));
    this.attemptEnds.set(changeId, this.clock.now());
    const status = this.changes.statusOf(changeId);
    const error = this.taskErrors.get(changeId);
    await this.monitor.changeEnded(changeId, this.exits, {
      ...status,
      // How the execution ended, and the last error a Task of it threw: what an ended-but-running change needs said.
      reason: `${status.reason}; execution ${ended}${error ? `; last Task error: ${error}` : ''}`,
    });
  }

  /** The report's rollout counts, from what the bound Tasks were sent and answered. */
  private rolloutObserved(call: TaskCall, result: unknown): void {
    if (call.step === 'gate') {
      const { state } = call.input as { state: { changeId: string; wave: number } };
      this.gatedWaves.add(`${state.changeId}#${state.wave}`);
      this.counts[(result as { verdict: 'pass' | 'fail' | 'extend' }).verdict]++;
    } else if (call.step === 'lease' && (result as { acquired: boolean }).acquired === false) {
      this.counts.leaseRefusals++;
    }
  }

  /**
   * One Task's run: at least once (`retryRate`: a Task that acts or judges runs again with the
   * same input after it succeeded, as when the Lambda's response was lost), then observed. An
   * error that is a simulator bug stops the simulation; any other takes the ASL's Retry and Catch.
   */
  private async task(
    call: TaskCall,
    run: (input: unknown) => Promise<unknown>,
    observe: (result: unknown) => void = () => {},
    changeId?: string,
  ): Promise<unknown> {
    try {
      let result = await run(call.input);
      if (AT_LEAST_ONCE.has(call.step) && this.retryRng() < this.setup.retryRate) {
        this.counts.retried++;
        result = await run(call.input);
      }
      observe(result);
      return result;
    } catch (error) {
      if (error instanceof Error && BUG_ERRORS.has(error.name)) this.clock.fail(error);
      if (changeId !== undefined)
        this.taskErrors.set(
          changeId,
          `${call.state}: ${error instanceof Error ? `${error.name}: ${error.message.slice(0, 300)}` : String(error)}`,
        );
      throw error;
    }
  }

  /** The last error a Task of each change's execution threw (for the every-path-ends violation's detail). */
  private readonly taskErrors = new Map<string, string>();

  // ── faults, triage and remediation (state-machines/remediation.asl.json) ─────

  /** Random faults: a Poisson process at `faultRate` per live instance per hour, each on a live instance drawn at random. */
  private async faults(): Promise<void> {
    if (this.setup.faultRate <= 0) return;
    for (;;) {
      const perMs = (this.setup.faultRate * this.world.population) / (60 * MINUTE);
      if (perMs <= 0) return;
      await this.clock.sleep(-Math.log(1 - this.worldRng()) / perMs);
      if (this.changeEndedAt !== undefined) return;
      const target = this.world.drawLive(this.worldRng);
      if (target) this.world.injectFault(target.instance.id, this.worldRng);
    }
  }

  // ── the scenario (scenario.ts) ─────────────────────────────────────────────

  /** Each event at its offset, while the change runs (the report says what each did). */
  private async scenario(scenario: Scenario): Promise<void> {
    for (const e of scenario.events) {
      await this.clock.sleep(START + e.at - this.clock.now());
      const at = formatOffset(e.at);
      if (this.changeEndedAt !== undefined) {
        this.events.push({ at, kind: e.kind, applied: 'nothing: the change had ended' });
        continue;
      }
      this.events.push({ at, kind: e.kind, applied: this.apply(e) });
    }
  }

  /** Applies one event now; says what it did. */
  private apply(e: ScenarioEvent): string {
    const now = this.clock.now();
    if (e.kind === 'freeze') {
      const scopes = e.services ? e.services.map((s) => `service:${s}`) : ['account'];
      const end = new Date(now + e.duration).toISOString();
      for (const [k, scope] of scopes.entries())
        this.fleet.addFreeze({
          id: `scenario-${e.index}${scopes.length > 1 ? `-${k}` : ''}`,
          scope,
          start: new Date(now).toISOString(),
          end,
          reason: e.reason,
          createdBy: 'scenario',
        });
      return `froze ${scopes.join(', ')} until ${end} (${e.reason})`;
    }
    const matching: Slot[] = [];
    for (const i of this.world.instances)
      if (i.state !== 'terminated' && matches(e, i)) matching.push(this.world.slot(i.id)!);
    const what = `${e.services ? e.services.join(', ') : 'every service'}${e.zone ? ` in ${e.zone}` : ''}`;
    if (e.kind === 'latency-regression') {
      const metrics = this.spec.gates.metrics.map((m) => m.name);
      this.metricsWorld!.regress({
        ...(e.services ? { services: e.services } : {}),
        ...(e.zone ? { zone: e.zone } : {}),
        ...(e.metric ? { metric: e.metric } : {}),
        factor: e.factor,
        from: now,
      });
      const read = e.metric ? metrics.filter((m) => m === e.metric) : metrics;
      return read.length === 0
        ? `${e.metric ?? 'every metric'} × ${e.factor} on changed instances of ${what}; the spec gates on ${metrics.length === 0 ? 'no metric' : `${metrics.join(', ')} only`}, so no gate reads it`
        : `${read.join(', ')} × ${e.factor} on changed instances of ${what}, read by the canary judge`;
    }
    const n = howManyOf(e, matching.length);
    if (e.kind === 'terminate') {
      const done = this.churner.scaleInOf(matching, n);
      return `scaled in ${done} of ${n} asked among ${matching.length} instances of ${what}${done < n ? ' (the others not in service)' : ''}`;
    }
    if (e.kind === 'launch') {
      let launched = 0;
      for (let k = 0; k < n && matching.length > 0; k++) {
        const like = matching[Math.floor(this.scenarioRng() * matching.length)];
        if (this.churner.scaleOutLike(like)) launched++;
      }
      return `launched ${launched} like the ${matching.length} instances of ${what}`;
    }
    const chosen = shuffled(matching, this.scenarioRng).slice(0, n);
    let faulted = 0;
    for (const slot of chosen) {
      const fault = this.world.injectFault(slot.instance.id, this.scenarioRng, {
        kind: e.fault,
        ...(e.cause ? { cause: e.cause } : {}),
      });
      if (!fault) continue;
      faulted++;
      if (e.duration !== undefined) this.clock.at(now + e.duration, () => this.world.clearFault(fault));
    }
    return (
      `${e.fault} on ${faulted} of ${n} chosen among ${matching.length} instances of ${what}` +
      (faulted < n ? ` (${n - faulted} already down)` : '') +
      (e.duration !== undefined ? `, clearing by itself after ${formatOffset(e.duration)}` : '')
    );
  }

  // ── the default scenario's incidents (incidents.ts) ──────────────────────────

  /**
   * Arms the failing hosts at their minute (they strike at the change's next wave lease), then the
   * zone event at its own.
   */
  private async incidentTimes(): Promise<void> {
    if (FAILING_HOSTS_AFTER_MINUTE > 0) {
      await this.clock.sleep(START + FAILING_HOSTS_AFTER_MINUTE * MINUTE - this.clock.now());
      if (this.changeEndedAt === undefined) this.failingHostsArmed = true;
      else
        this.incidents!.push({
          at: formatOffset(FAILING_HOSTS_AFTER_MINUTE * MINUTE),
          kind: 'failing-hosts',
          applied: 'nothing: the change had ended',
        });
    }
    await this.clock.sleep(START + ZONE_EVENT_AT_MINUTE * MINUTE - this.clock.now());
    const at = formatOffset(ZONE_EVENT_AT_MINUTE * MINUTE);
    if (this.changeEndedAt !== undefined) {
      this.incidents!.push({ at, kind: 'zone-event', applied: 'nothing: the change had ended' });
      return;
    }
    const now = this.clock.now();
    const held = new Set(
      (await this.leaseStore.activeLeases(now))
        .filter((l) => this.attempts.some((a) => l.owner === a.id || l.owner === `${a.id}${ROLLBACK_SUFFIX}`))
        .map((l) => l.instanceId),
    );
    const event = zoneEvent(this.world, held, this.incidentRng);
    this.incidents!.push({
      at,
      kind: 'zone-event',
      applied: event ? this.failAll(event) : 'nothing: no instance to fail',
    });
  }

  /** The failing hosts, as a wave of the change has just leased these instances. */
  private async hostsFail(leased: readonly string[]): Promise<void> {
    this.failingHostsArmed = false;
    const services = Object.keys(this.setup.services.services).sort();
    const zones = [...new Set(this.world.instances.map((i) => i.zone))].sort();
    const room = await this.leaseStore.room(services, zones);
    const hosts = failingHosts(this.world, leased, this.incidentRng, (service, zone) => {
      const r = room.get(service);
      return r ? Math.min(r.overall, r.zones.get(zone) ?? 0) : 0;
    });
    this.incidents!.push({
      at: formatOffset(this.clock.now() - START),
      kind: 'failing-hosts',
      applied: hosts
        ? this.failAll(hosts)
        : "nothing: no instance outside Auto Scaling groups with budget to spare in the wave's zones",
    });
  }

  private failAll(incident: IncidentFaults): string {
    const now = this.clock.now();
    let failed = 0;
    for (const [k, slot] of incident.slots.entries()) {
      const kind = incident.kind(k);
      const fault = this.world.injectFault(slot.instance.id, this.incidentRng, {
        ...(kind ? { kind } : {}),
        ...(incident.cause ? { cause: incident.cause } : {}),
      });
      if (!fault) continue;
      failed++;
      if (incident.duration !== undefined)
        this.clock.at(now + incident.duration, () => this.world.clearFault(fault));
    }
    return `${incident.what}${failed < incident.slots.length ? ` (${incident.slots.length - failed} already down)` : ''}`;
  }

  /** A status-check alarm fired: the finding goes through the real triage, which starts the case's execution. */
  private detected(fault: Fault): void {
    this.monitor.alarmed(fault);
    const finding: Finding = {
      instanceId: fault.instanceId,
      kind: fault.kind,
      key: `since-${new Date(fault.at).toISOString()}`,
      detail: `${fault.kind === 'instance-status-check-failed' ? 'instance' : 'system'} status check impaired`,
      source: 'status-check-alarm',
    };
    this.clock.spawn(async () => {
      await triageFinding(
        {
          fleet: this.fleet,
          cases: this.cases,
          executions: {
            start: async (name, input) => {
              if (this.started.has(name)) return { started: false };
              this.started.add(name);
              this.clock.spawn(() => this.remediate(name, input, fault));
              return { started: true };
            },
          },
          now: () => this.clock.now(),
          actor: 'triage',
          accumulate: ACCUMULATE_MINUTES,
        },
        finding,
      );
    });
  }

  /** One case's execution of the remediation state machine (named after the case, input as triage starts it). */
  private async remediate(caseId: string, input: object, fault: Fault): Promise<void> {
    const actor = { owner: () => caseId, by: 'remediation' as const };
    const skip = this.setup.defect === 'skip-standby';
    const ports: RemediationPorts = {
      cases: this.cases,
      leases: this.leases,
      fleet: this.fleet,
      ec2: this.remediationEc2.forActor(actor),
      autoscaling: simulatedAutoScaling(this.world, this.requests, actor, this.observer, skip),
      traffic: simulatedTraffic(
        this.world,
        this.clock,
        this.remediationElb,
        this.requests,
        actor,
        this.observer,
        skip,
      ),
      exits: this.exits,
      notify: this.notifier,
      now: () => this.clock.now(),
      rng: this.policyRng,
      actor: 'remediation',
    };
    try {
      await this.machines.remediation
        .run(
          input as Record<string, unknown>,
          async (event) => {
            if ((event as { step?: string }).step !== 'decide') return remediationStepWith(ports, event);
            // What one decision reads from the table (the report's remediation.itemsReadPerDecision).
            const count = { items: 0 };
            try {
              return await remediationStepWith(countingReads(ports, count), event);
            } finally {
              this.decisionReads.push(count.items);
            }
          },
          (call, run) => this.task(call, run),
        )
        .catch((error: unknown) => this.overrun(error));
    } finally {
      // What FleetOps leaves broken (paged, breaker open, failed), a person fixes.
      this.clock.at(this.clock.now() + PERSON_MINUTES * MINUTE, () => this.world.personRepairs(fault));
    }
  }

  /**
   * The inventory sweep's parts that matter here: expired reservations go back to their ledgers,
   * and instances an owner left out of traffic (it let go, or died) are brought back.
   */
  private async sweep(): Promise<void> {
    const sweeper = { owner: () => 'inventory-sweep', by: 'change' as const };
    const deps = {
      traffic: simulatedTraffic(this.world, this.clock, this.sweepElb, this.requests, sweeper),
      autoscaling: simulatedAutoScaling(this.world, this.requests, sweeper),
      exits: this.exits,
      ec2: this.sweepEc2.forActor(sweeper),
      now: () => this.clock.now(),
      leases: this.leaseStore,
      audit: this.fleet,
      notify: this.notifier,
      actor: 'inventory-sweep',
    };
    while (this.changeEndedAt === undefined || this.clock.running > 1) {
      await this.clock.sleep(SWEEP_MINUTES * MINUTE);
      if (this.populationChanged.size > 0) this.reconcilePopulation();
      this.fleet.sweepHealth(this.clock.now());
      this.monitor.swept();
      try {
        await this.leaseStore.reclaimExpired(this.clock.now());
        await restoreAbandoned(deps);
      } catch (error) {
        // A run that throws fails as the scheduled Lambda's invocation would: the next run tries again.
        if (error instanceof Error && BUG_ERRORS.has(error.name)) throw error;
        this.sweepErrors.count++;
        this.sweepErrors.first ??= `${this.minuteNow()}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
      }
    }
  }

  /** Items each remediation decision read from the fleet-state table, in order. */
  readonly decisionReads: number[] = [];

  /** Sweep runs that failed (an AWS error the sweep does not handle), and the first one's error. */
  readonly sweepErrors: { count: number; first: string | null } = { count: 0, first: null };
  /** Tasks that ran past their Lambda's timeout, counted when a defect is injected (else a SimulatorBug). */
  readonly overruns: { count: number; first: string | null } = { count: 0, first: null };

  /**
   * A Task ran past its Lambda's timeout: with a defect injected, a consequence of it to report
   * (the execution's end stands); without one, the simulator's bug, which stops the run.
   */
  private overrun(error: unknown): string {
    if (!(error instanceof TaskOverrun) || !this.setup.defect) throw error;
    this.overruns.count++;
    this.overruns.first ??= `${this.minuteNow()}: ${error.message}`;
    return error.ended;
  }

  private minuteNow(): string {
    return `minute ${Math.round((this.clock.now() - START) / MINUTE)}`;
  }

  /**
   * The sweep's ledger reconciliation where the population changed: each such service's capacity
   * from its declared budget over its instances now (the ledgers), and the monitor's budgets alike.
   */
  private reconcilePopulation(): void {
    const services = [...this.populationChanged].sort();
    this.populationChanged.clear();
    const instances = services.flatMap((s) => this.world.instancesOf(s));
    this.leaseStore.reconcileCapacities(ledgerObservations(instances, this.catalog, new Set()));
    this.monitor.rebudget(resolveBudgets(instances, this.catalog, this.spec.action.type));
  }
}
