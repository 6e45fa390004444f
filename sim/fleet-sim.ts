import { performance } from 'node:perf_hooks';
import { planChange } from '../functions/core/change/plan/planner';
import type { RolloutPorts } from '../functions/core/change/rollout/rollout';
import type { ChangeSpec } from '../functions/core/change/spec';
import { EC2_ACTION_RATE, ELB_DESCRIBE_RATE, ELB_REGISTRATION_RATE } from '../functions/core/defaults';
import type { Finding } from '../functions/core/events/findings';
import { ledgerObservations } from '../functions/core/fleet/inventory';
import { type ServiceCatalog, serviceCatalog } from '../functions/core/fleet/services';
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
import { simulatedTraffic, type TrafficBuckets } from './adapters/simulated-traffic';
import {
  deployedDefinitions,
  type SimDefinitions,
  type SimStateMachine,
  type StateObserver,
  stateMachineFor,
  type TaskCall,
} from './asl/state-machines';
import {
  checkFleetSimOptions,
  FLEET_SIM_DEFAULTS,
  type FleetSimOptions,
  isLeaseStoreDefect,
  simulatedChangeSpec,
} from './fleet-sim-options';
import { type FleetSimReport, fleetSimReport, MINUTE, type SimFigures, START } from './fleet-sim-report';
import { InvariantMonitor } from './invariant-monitor';
import { seededRandom } from './kernel/random';
import { VirtualClock } from './kernel/virtual-clock';
import { onVirtualTime } from './kernel/virtual-timers';
import { answerApproval, runChanges } from './operator';
import { TrafficTimes } from './traffic-times';
import { type Fault, type Recoverer, SimWorld } from './world/sim-world';
import { syntheticFleet } from './world/synthetic-fleet';
import { trafficLayout } from './world/traffic-layout';

export {
  checkFleetSimOptions,
  FLEET_SIM_DEFAULTS,
  type FleetSimOptions,
  SIM_ACTIONS,
  SIM_DEFECTS,
  type SimAction,
  type SimDefect,
  simulatedChangeSpec,
} from './fleet-sim-options';
export type { FleetSimReport, Quantiles } from './fleet-sim-report';

/**
 * `fleetops simulate`: FleetOps over a synthetic fleet on a virtual clock. The rollout and the
 * remediation cases are executions of the deployed state machines (asl/state-machines.ts) whose
 * Tasks run the Lambdas' steps over in-memory ports; what is left here is the world: the fleet,
 * its faults, the stores, the inventory sweep, and the person (operator.ts). The report:
 * fleet-sim-report.ts.
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
 * 3. meanwhile instance faults arrive (`faultRate`); each becomes a finding a few minutes later,
 *    goes through the real triage, which starts the case's execution of
 *    state-machines/remediation.asl.json (`remediationStepWith`: ladder, breaker, leases on the
 *    same ledger); what FleetOps leaves alone or pages about, a person fixes an hour later;
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
  const o = {
    ...options,
    action: options.action ?? FLEET_SIM_DEFAULTS.action,
    bakeMinutes: options.bakeMinutes ?? FLEET_SIM_DEFAULTS.bakeMinutes,
    retryRate: options.retryRate ?? FLEET_SIM_DEFAULTS.retryRate,
    autoScaling: options.autoScaling ?? FLEET_SIM_DEFAULTS.autoScaling,
    traffic: options.traffic ?? FLEET_SIM_DEFAULTS.traffic,
  };
  const sim = new Simulation(o, machinery);
  await sim.run();
  return fleetSimReport(sim, performance.now() - wallStarted);
}

type ResolvedOptions = FleetSimOptions &
  Required<Pick<FleetSimOptions, 'action' | 'bakeMinutes' | 'retryRate' | 'autoScaling' | 'traffic'>>;

/** The simulated world and its wiring: the fleet, the stores, the faults, the sweep, the two state machines. */
class Simulation implements SimFigures {
  readonly clock = new VirtualClock(START);
  /** Separate streams: the world's dice, the ladder's draws and Step Functions' retries never shift each other. */
  private readonly worldRng: () => number;
  private readonly policyRng: () => number;
  private readonly retryRng: () => number;
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
  readonly attempts: Array<{ id: string; waves: number }> = [];
  private readonly machines: { rollout: SimStateMachine; remediation: SimStateMachine };

  constructor(
    readonly o: ResolvedOptions,
    machinery: FleetSimMachinery,
  ) {
    const definitions = { ...deployedDefinitions(), ...machinery.definitions };
    this.machines = {
      rollout: stateMachineFor('rollout', definitions.rollout, machinery.onState),
      remediation: stateMachineFor('remediation', definitions.remediation, machinery.onState),
    };
    this.worldRng = seededRandom((o.seed ^ 0x9e3779b9) >>> 0);
    this.policyRng = seededRandom((o.seed ^ 0x5bd1e995) >>> 0);
    this.retryRng = seededRandom((o.seed ^ 0x85ebca6b) >>> 0);
    const synthetic = syntheticFleet({
      instances: o.instances,
      services: o.services,
      zones: o.zones,
      seed: o.seed,
    });
    const catalog = serviceCatalog(synthetic.services);
    this.catalog = catalog;
    this.world = new SimWorld(
      this.clock,
      synthetic.instances,
      (fault) => this.detected(fault),
      o.autoScaling,
      {
        ...(o.traffic
          ? {
              layout: trafficLayout(synthetic.instances, {
                seed: o.seed,
                groupShare: o.autoScaling ? 1 : 0.3,
              }),
            }
          : {}),
        random: seededRandom((o.seed ^ 0xc2b2ae35) >>> 0),
      },
    );
    // The ledger from the fleet as inventory sync would set it; the monitor's budgets as the planner resolves them.
    this.leaseStore = new MemoryLeaseStore(
      this.world,
      ledgerObservations(this.world.instances, catalog, new Set()),
      isLeaseStoreDefect(o.defect) ? o.defect : undefined,
    );
    this.monitor = new InvariantMonitor(
      this.clock,
      this.world,
      resolveBudgets(this.world.instances, catalog, o.action),
      catalog,
      o.action,
      START,
    );
    this.leases = this.monitor.watch(this.leaseStore);
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
    this.fleet = new MemoryFleetStore(this.world, synthetic.services);
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
    this.spec = simulatedChangeSpec(
      { services: Object.keys(synthetic.services.services) },
      o.action,
      o.bakeMinutes,
    );
    this.plan = planChange({ instances: this.world.instances, catalog, spec: this.spec });
  }

  exitsLeft = 0;

  async run(): Promise<void> {
    await onVirtualTime(this.clock, async () => {
      this.clock.spawn(() => this.rollout());
      this.clock.spawn(() => this.faults());
      this.clock.spawn(() => this.sweep());
      await this.clock.run();
    });
    this.exitsLeft = (await this.exits.all()).length;
  }

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
      respec: (target: { instanceIds: readonly string[] }, attempt: number) =>
        simulatedChangeSpec(target, this.o.action, this.o.bakeMinutes, attempt),
    };
    try {
      await runChanges(desk, { spec: this.spec, plan: this.plan }, (id) => this.execute(id));
    } finally {
      this.changeEndedAt = this.clock.now();
    }
  }

  /** One change's execution of the rollout state machine (the execution name, and its input, are the change id). */
  private async execute(changeId: string): Promise<void> {
    // The lease owner the EC2 and SSM views act for: the change, or its rollback (`<id>-rollback`).
    const actor = { changeId };
    const acting = { owner: () => actor.changeId, by: 'change' as const };
    const skip = this.o.defect === 'skip-standby';
    const ports: RolloutPorts = {
      changes: this.changes,
      leases: this.leases,
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
      metrics: simulatedMetrics(this.requests),
      notify: this.rolloutNotices,
      now: () => this.clock.now(),
      actor: 'rollout',
    };
    const step = (input: unknown) => rolloutStepWith(ports, input);
    await this.machines.rollout.run(
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
        if (call.step === 'await-approval')
          return this.task(
            call,
            (request) => answerApproval(this.clock, ports, request, run),
            (answer) => answer !== null && this.counts.approvals++,
          );
        return this.task(call, run, (result) => this.rolloutObserved(call, result));
      },
      { Task: { Token: `token-${changeId}` } },
    );
    await this.monitor.changeEnded(changeId, this.exits);
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
  ): Promise<unknown> {
    try {
      let result = await run(call.input);
      if (AT_LEAST_ONCE.has(call.step) && this.retryRng() < this.o.retryRate) {
        this.counts.retried++;
        result = await run(call.input);
      }
      observe(result);
      return result;
    } catch (error) {
      if (error instanceof Error && BUG_ERRORS.has(error.name)) this.clock.fail(error);
      throw error;
    }
  }

  // ── faults, triage and remediation (state-machines/remediation.asl.json) ─────

  private async faults(): Promise<void> {
    const perMs = (this.o.faultRate * this.o.instances) / (60 * MINUTE);
    if (perMs <= 0) return;
    for (;;) {
      await this.clock.sleep(-Math.log(1 - this.worldRng()) / perMs);
      if (this.changeEndedAt !== undefined) return;
      const target = this.world.instances[Math.floor(this.worldRng() * this.world.instances.length)];
      this.world.injectFault(target.id, this.worldRng);
    }
  }

  /** A status-check alarm fired: the finding goes through the real triage, which starts the case's execution. */
  private detected(fault: Fault): void {
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
        },
        finding,
      );
    });
  }

  /** One case's execution of the remediation state machine (named after the case, input as triage starts it). */
  private async remediate(caseId: string, input: object, fault: Fault): Promise<void> {
    const actor = { owner: () => caseId, by: 'remediation' as const };
    const skip = this.o.defect === 'skip-standby';
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
      await this.machines.remediation.run(
        input as Record<string, unknown>,
        (event) => remediationStepWith(ports, event),
        (call, run) => this.task(call, run),
      );
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
      await this.leaseStore.reclaimExpired(this.clock.now());
      await restoreAbandoned(deps);
    }
  }
}
