import { performance } from 'node:perf_hooks';
import { planChange } from '../functions/core/change/plan/planner';
import {
  actionSettled,
  applyWave,
  beginRollback,
  checkWindow,
  decideApproval,
  finishRollout,
  gateWave,
  leaseWave,
  type RolloutPorts,
  type RolloutState,
  releaseWave,
  requestApproval,
  startRollout,
} from '../functions/core/change/rollout/rollout';
import { type ChangeSpec, changeSpecSchema } from '../functions/core/change/spec';
import type { Finding } from '../functions/core/events/findings';
import { ledgerObservations } from '../functions/core/fleet/inventory';
import { type ServiceCatalog, serviceCatalog } from '../functions/core/fleet/services';
import {
  actRemediation,
  decideRemediation,
  drainInstance,
  failRemediation,
  holdForRemediation,
  type RemediationPorts,
  type RemediationState,
  remediationSettled,
  verifyRemediation,
} from '../functions/core/remediation/remediate';
import { triageFinding } from '../functions/core/remediation/triage';
import { LADDER } from '../functions/core/remediation/types';
import { resolveBudgets } from '../functions/core/safety/budget';
import { TokenBucket } from '../functions/core/shared/token-bucket';
import {
  type ActionObserver,
  type ActKind,
  ApiRequests,
  type LeaseStoreDefect,
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
import { CHECKED_INVARIANTS, InvariantMonitor, type Violation } from './invariant-monitor';
import { seededRandom } from './kernel/random';
import { VirtualClock } from './kernel/virtual-clock';
import { type Fault, type Recoverer, SimWorld } from './world/sim-world';
import { syntheticFleet } from './world/synthetic-fleet';

/** The simulated change's action: a fleet-wide reboot, or a Run Command document on every instance. */
export const SIM_ACTIONS = ['reboot', 'ssm-command'] as const;
export type SimAction = (typeof SIM_ACTIONS)[number];

export interface FleetSimOptions {
  readonly instances: number;
  readonly zones: number;
  readonly services: number;
  /**
   * Instance faults per instance per simulated hour: faults arrive as a Poisson process at
   * `faultRate × instances` an hour, each on an instance drawn at random (0.0001 = 0.01% of the
   * fleet an hour = 10 an hour at 100,000). A fault on an instance already down changes nothing.
   */
  readonly faultRate: number;
  readonly seed: number;
  /** @default 'reboot' */
  readonly action?: SimAction;
  /** @default 10 */
  readonly bakeMinutes?: number;
  /**
   * Probability that Step Functions delivers an apply, decide, act or verify Task twice (the Lambda's response
   * was lost and the state retried it): the at-most-once machinery must absorb it. @default 0.02
   */
  readonly retryRate?: number;
  /**
   * Every service in an Auto Scaling group, so the ladder may replace an instance. Off, the
   * ladder pages instead (replace needs a group). @default false
   */
  readonly autoScaling?: boolean;
  /** A deliberately broken lease store, to prove the checks catch it. @default none */
  readonly defect?: LeaseStoreDefect;
}

/**
 * The defaults: the design scale, and a fault rate of 0.002% of the fleet an hour (2 an hour at
 * 100,000, about 75 over the two days the change takes). Each remediation decision evaluates the
 * breaker over the whole inventory (~100 ms at 100,000 instances): that, not the simulation,
 * is what a higher fault rate costs in wall-clock time.
 */
export const FLEET_SIM_DEFAULTS = {
  instances: 100_000,
  zones: 3,
  services: 500,
  faultRate: 0.00002,
  seed: 1,
  action: 'reboot' as SimAction,
  bakeMinutes: 10,
  retryRate: 0.02,
  autoScaling: false,
} as const;

/** Simulated time starts on a Monday at midnight UTC (the spec has no time windows). */
const START = Date.parse('2026-01-05T00:00:00Z');
const MINUTE = 60_000;
/** The EC2 request bucket each Lambda function builds for its mutating and Describe calls (rollout-step, remediation-step). */
const EC2_ACTION_RATE = { ratePerSecond: 5, capacity: 10 } as const;
/** A person answers an approval point this long after it is asked for. */
const APPROVAL_MINUTES = 15;
/** A paged person (or one who finds an instance FleetOps left alone) fixes it in this long. */
const PERSON_MINUTES = 60;
/** A failed change is re-planned and started again at most this many times. */
const MAX_RESTARTS = 5;
/** The inventory sweep returns expired reservations this often. */
const SWEEP_MINUTES = 5;
/** The state machines' limits (state-machines/*.asl.json). */
const ROLLOUT = {
  leaseWaitMs: 60_000,
  leaseAttempts: 30,
  extensions: 3,
};
const REMEDIATION = {
  holdWaitMs: 120_000,
  holdAttempts: 10,
  settleWaitMs: 30_000,
  settlePolls: 40,
  quietMs: 300_000,
  checksWaitMs: 60_000,
};

export interface Quantiles {
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly max: number;
}

/** The simulation's figures. Deterministic by options, except `wallClock`. */
export interface FleetSimReport {
  readonly parameters: Required<Omit<FleetSimOptions, 'defect'>> & {
    readonly defect: LeaseStoreDefect | null;
  };
  readonly change: {
    readonly id: string;
    /** How the last change started for it ended, and why. */
    readonly status: string;
    readonly reason: string;
    /** The change, then each re-plan of what was left after a failure. */
    readonly attempts: ReadonlyArray<{ id: string; waves: number; status: string; reason: string }>;
    readonly planned: number;
    readonly skipped: number;
    readonly waves: number;
    readonly wavesRun: number;
    readonly predictedMinutes: number;
    readonly makespanMinutes: number;
    readonly gates: { readonly pass: number; readonly fail: number; readonly extend: number };
    readonly approvals: number;
    readonly leaseRefusals: number;
    readonly retriedTasks: number;
  };
  readonly budgets: {
    readonly services: number;
    readonly withoutBudget: number;
    readonly maxRatio: number;
    /** Services whose peak reached their budget (100%). */
    readonly atBudget: number;
    /** Services that went over their budget: faults alone can do that, FleetOps never may. */
    readonly overBudget: number;
    readonly top: ReadonlyArray<{
      service: string;
      /** Peak unavailable over the whole service, against its overall budget. */
      peak: number;
      budget: number;
      /** The highest use of a per-zone budget, as a fraction of it. */
      zoneRatio: number;
      /** The larger of the two fractions. */
      ratio: number;
    }>;
  };
  readonly faults: {
    readonly injected: number;
    readonly absorbed: number;
    readonly recovered: number;
    readonly unrecovered: number;
    readonly recoveredBy: Readonly<Record<Recoverer, number>>;
    readonly recoveryMinutes: Quantiles | null;
    readonly recoveryMinutesByRemediation: Quantiles | null;
  };
  readonly remediation: {
    readonly cases: number;
    readonly outcomes: Readonly<Record<string, number>>;
    readonly decisions: Readonly<Record<string, number>>;
    readonly pages: { readonly breaker: number; readonly instance: number };
  };
  /** Instance actions sent, by who and what (a stop-start counts its stop). */
  readonly actions: {
    readonly change: Readonly<Record<string, number>>;
    readonly remediation: Readonly<Record<string, number>>;
  };
  readonly requests: {
    readonly ec2: Readonly<Record<string, number>>;
    readonly ec2Total: number;
    /** Seconds requests waited for a token, per API, summed over requests (waits overlap across executions). */
    readonly ec2TokenWaitSeconds: Readonly<Record<string, number>>;
    readonly ec2TokenWaitSecondsTotal: number;
    readonly other: Readonly<Record<string, number>>;
  };
  readonly invariants: {
    readonly checked: readonly string[];
    readonly checks: { readonly grants: number; readonly acts: number; readonly records: number };
    readonly violations: number;
    /** The first 100. */
    readonly list: readonly Violation[];
  };
  readonly simulation: { readonly simulatedMinutes: number; readonly instants: number };
  /** Wall-clock figures: the only part that differs between runs with the same options. */
  readonly wallClock: { readonly ms: number };
}

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Validates options; throws an Error that says what was expected and what was found. */
export function checkFleetSimOptions(o: FleetSimOptions): void {
  const whole = (name: string, value: number, min: number, max: number) => {
    if (!Number.isInteger(value) || value < min || value > max)
      throw new Error(`${name}: expected a whole number from ${min} to ${max}, found ${value}`);
  };
  whole('instances', o.instances, 1, 1_000_000);
  whole('zones', o.zones, 1, 26);
  whole('services', o.services, 1, o.instances);
  whole('seed', o.seed, 0, 2 ** 32 - 1);
  if (!(o.faultRate >= 0 && o.faultRate <= 1))
    throw new Error(
      `faultRate: expected a fraction from 0 to 1 (per instance per hour), found ${o.faultRate}`,
    );
  const retry = o.retryRate ?? FLEET_SIM_DEFAULTS.retryRate;
  if (!(retry >= 0 && retry <= 1))
    throw new Error(`retryRate: expected a probability from 0 to 1, found ${retry}`);
  const bake = o.bakeMinutes ?? FLEET_SIM_DEFAULTS.bakeMinutes;
  if (!(bake >= 0 && bake <= 1440)) throw new Error(`bakeMinutes: expected 0 to 1440, found ${bake}`);
}

/** The change the simulation rolls out: every service, gated on status checks, paused (not stopped) by a failed gate. */
export function simulatedChangeSpec(
  target: { services: readonly string[] } | { instanceIds: readonly string[] },
  action: SimAction,
  bakeMinutes: number,
  attempt = 1,
): ChangeSpec {
  const what =
    action === 'reboot' ? 'simulated fleet-wide reboot' : 'simulated fleet-wide security patch (Run Command)';
  return changeSpecSchema.parse({
    id: attempt === 1 ? `sim-${action}` : `sim-${action}-${attempt}`,
    description: attempt === 1 ? what : `${what}: what is left after attempt ${attempt - 1} failed`,
    target,
    action:
      action === 'reboot'
        ? { type: 'reboot' }
        : {
            type: 'ssm-command',
            document: 'AWS-RunShellScript',
            parameters: { commands: ['dnf -y upgrade --security'] },
            timeoutSeconds: 900,
          },
    risk: 'medium',
    strategy: { bakeMinutes },
    gates: { statusChecks: true, errorThreshold: '5%', onFailure: 'pause', rollbackThreshold: '50%' },
  });
}

/**
 * One simulated run of FleetOps over a synthetic fleet, with the real core doing the work:
 * 1. a synthetic fleet and its budgets (`syntheticFleet`), a change spec over every service and
 *    its plan from the real planner, stored as `fleetops change start` stores it;
 * 2. the rollout execution: the use cases of `rollout.ts` called in the order, with the waits,
 *    retries and limits of state-machines/rollout.asl.json; a person answers approval points;
 * 3. meanwhile instance faults arrive (`faultRate`); each becomes a finding a few minutes later,
 *    goes through the real triage and runs the remediation use cases in the order of
 *    state-machines/remediation.asl.json (ladder, breaker, leases on the same ledger); what
 *    FleetOps leaves alone or pages about, a person fixes an hour later;
 * 4. all over in-memory ports on a virtual clock (nothing sleeps), EC2 requests paced by each
 *    function's token bucket, every lease grant, act and record checked by `InvariantMonitor`;
 * 5. ends when the change has ended and every remediation has finished; reports the figures.
 */
export async function simulateFleet(options: FleetSimOptions): Promise<FleetSimReport> {
  checkFleetSimOptions(options);
  const wallStarted = performance.now();
  const o = {
    ...options,
    action: options.action ?? FLEET_SIM_DEFAULTS.action,
    bakeMinutes: options.bakeMinutes ?? FLEET_SIM_DEFAULTS.bakeMinutes,
    retryRate: options.retryRate ?? FLEET_SIM_DEFAULTS.retryRate,
    autoScaling: options.autoScaling ?? FLEET_SIM_DEFAULTS.autoScaling,
  };
  const sim = new Simulation(o);
  await sim.run();
  return sim.report(performance.now() - wallStarted);
}

type ResolvedOptions = FleetSimOptions &
  Required<Pick<FleetSimOptions, 'action' | 'bakeMinutes' | 'retryRate' | 'autoScaling'>>;

class Simulation {
  private readonly clock = new VirtualClock(START);
  /** Separate streams: the world's dice, the ladder's draws and Step Functions' retries never shift each other. */
  private readonly worldRng: () => number;
  private readonly policyRng: () => number;
  private readonly retryRng: () => number;
  private readonly world: SimWorld;
  private readonly monitor: InvariantMonitor;
  private readonly leases: RolloutPorts['leases'] & RemediationPorts['leases'];
  private readonly leaseStore: MemoryLeaseStore;
  private readonly fleet: MemoryFleetStore;
  private readonly changes = new MemoryChangeStore();
  private readonly cases = new MemoryRemediationStore();
  private readonly notifier = new RecordingNotifier();
  /** What the rollout publishes (approvals waiting, gates failed, ends): counted apart from pages. */
  private readonly rolloutNotices = new RecordingNotifier();
  private readonly requests = new ApiRequests();
  private readonly observer: ActionObserver;
  private readonly rolloutEc2: SimulatedEc2;
  private readonly remediationEc2: SimulatedEc2;
  private readonly spec: ChangeSpec;
  private readonly plan: ReturnType<typeof planChange>;
  private readonly acted: Record<Recoverer, Map<ActKind, number>> = {
    change: new Map(),
    remediation: new Map(),
    person: new Map(),
  };
  private readonly faultOfFinding = new Map<string, Fault>();
  private readonly started = new Set<string>();
  private readonly counts = { approvals: 0, leaseRefusals: 0, retried: 0, pass: 0, fail: 0, extend: 0 };
  private readonly gatedWaves = new Set<string>();
  private changeEndedAt: number | undefined;
  private readonly catalog: ServiceCatalog;
  /** The changes started: the first, then what was left after each failure. */
  private readonly attempts: Array<{ id: string; waves: number }> = [];

  constructor(private readonly o: ResolvedOptions) {
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
    );
    // The ledger from the fleet as inventory sync would set it; the monitor's budgets as the planner resolves them.
    this.leaseStore = new MemoryLeaseStore(
      this.world,
      ledgerObservations(this.world.instances, catalog, new Set()),
      o.defect,
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
    this.observer = {
      acting: (owner, by, kind, id) => {
        const counts = this.acted[by];
        counts.set(kind, (counts.get(kind) ?? 0) + 1);
        this.monitor.acting(owner, by, kind, id);
      },
    };
    this.fleet = new MemoryFleetStore(this.world, synthetic.services);
    const bucket = () => new TokenBucket(EC2_ACTION_RATE.ratePerSecond, EC2_ACTION_RATE.capacity, this.clock);
    this.rolloutEc2 = new SimulatedEc2(this.world, this.clock, bucket(), this.requests, this.observer);
    this.remediationEc2 = new SimulatedEc2(this.world, this.clock, bucket(), this.requests, this.observer);
    this.spec = simulatedChangeSpec(
      { services: Object.keys(synthetic.services.services) },
      o.action,
      o.bakeMinutes,
    );
    this.plan = planChange({ instances: this.world.instances, catalog, spec: this.spec });
  }

  async run(): Promise<void> {
    this.clock.spawn(() => this.rollout());
    this.clock.spawn(() => this.faults());
    this.clock.spawn(() => this.sweep());
    await this.clock.run();
  }

  // ── the rollout execution (state-machines/rollout.asl.json) ─────────────────

  /**
   * The change, as an operator runs it: its execution; if it fails (a budget that never freed, a
   * gate), a person reads why and, a while later, plans what is left over the fleet as it is now
   * and starts that as the next change, at most `MAX_RESTARTS` times.
   */
  private async rollout(): Promise<void> {
    let spec = this.spec;
    let plan = this.plan;
    try {
      for (;;) {
        this.attempts.push({ id: spec.id, waves: plan.waves.length });
        await this.changes.save(spec, plan, 'operator', this.clock.now());
        await this.execute(spec.id);
        if (this.changes.statusOf(spec.id).status !== 'failed' || this.attempts.length > MAX_RESTARTS) return;
        await this.clock.sleep(APPROVAL_MINUTES * MINUTE);
        const changed = new Set<string>();
        for (const a of this.attempts)
          for (const r of await this.leases.actionsOf(a.id)) changed.add(r.instanceId);
        const left = this.plan.waves.flatMap((w) => w.instances).filter((id) => !changed.has(id));
        if (left.length === 0) return;
        spec = simulatedChangeSpec(
          { instanceIds: left },
          this.o.action,
          this.o.bakeMinutes,
          this.attempts.length + 1,
        );
        const held = new Map(
          (await this.leaseStore.activeLeases(this.clock.now())).map((l) => [l.instanceId, l.owner]),
        );
        plan = planChange({ instances: this.world.instances, catalog: this.catalog, spec, held });
        if (plan.waves.length === 0) return;
      }
    } finally {
      this.changeEndedAt = this.clock.now();
    }
  }

  /** One change's execution (state-machines/rollout.asl.json). */
  private async execute(changeId: string): Promise<void> {
    const actor = { changeId };
    const ports: RolloutPorts = {
      changes: this.changes,
      leases: this.leases,
      fleet: this.fleet,
      ec2: this.rolloutEc2.forActor({ owner: () => actor.changeId, by: 'change' }),
      ssm: simulatedSsm(
        this.world,
        this.requests,
        { owner: () => actor.changeId, by: 'change' },
        this.observer,
      ),
      autoscaling: simulatedAutoScaling(
        this.world,
        this.requests,
        { owner: () => actor.changeId, by: 'change' },
        this.observer,
      ),
      metrics: simulatedMetrics(this.requests),
      notify: this.rolloutNotices,
      now: () => this.clock.now(),
      actor: 'rollout',
    };
    {
      let state: RolloutState = await startRollout(ports, changeId);
      const fail = (s: Pick<RolloutState, 'changeId' | 'rollbackOf'>, reason: string) =>
        finishRollout(ports, s, 'failed', reason);
      const failure = 'a step failed or the budget never freed: see the execution’s events';
      for (;;) {
        actor.changeId = state.changeId;
        const window = await caught(() => checkWindow(ports, state));
        if (window instanceof Error) return void (await fail(state, failure));
        if (window.decision !== 'go') {
          await this.clock.sleep(window.waitSeconds * 1000);
          continue;
        }
        const leased = await this.leaseWave(ports, state);
        if (leased !== true) return void (await fail(state, failure));
        const gate = await caught(async () => {
          await this.delivered(() => applyWave(ports, state));
          await this.settleWave(ports, state);
          return this.gate(ports, state);
        });
        if (gate instanceof Error) {
          await releaseWave(ports, state);
          return void (await fail(state, failure));
        }
        if (gate.verdict === 'pass' || gate.verdict === 'extend' || gate.onFailure === 'pause') {
          const released = await releaseWave(ports, state);
          state = pickState(released.state);
          const point =
            gate.verdict === 'pass'
              ? released.approval
              : gate.verdict === 'extend'
                ? 'gate-inconclusive'
                : 'gate-failed';
          // After a failed or unjudged gate a person decides, even after the last wave.
          if ((released.more || gate.verdict !== 'pass') && point !== 'none')
            await this.approval(ports, state, point);
          if (released.more) continue;
          const reason =
            state.rollbackOf === '' ? 'every wave passed its gate' : 'every rollback wave passed its gate';
          await finishRollout(ports, state, 'completed', reason);
          return;
        }
        // The gate failed and the spec says roll back.
        await releaseWave(ports, state);
        const rollback = await caught(() => beginRollback(ports, state.changeId, gate.reason));
        if (rollback instanceof Error) return void (await fail(state, gate.reason));
        if (!rollback.rollback) return void (await fail(rollback.state, rollback.reason));
        state = rollback.state;
      }
    }
  }

  /** "Lease the wave" until leased, waiting a minute between attempts, at most 30. */
  private async leaseWave(ports: RolloutPorts, state: RolloutState): Promise<boolean> {
    let attempts = 0;
    for (;;) {
      const lease = await caught(() => leaseWave(ports, state, attempts));
      if (lease instanceof Error) return false;
      if (lease.acquired) return true;
      this.counts.leaseRefusals++;
      if (lease.attempts >= ROLLOUT.leaseAttempts) return false;
      await this.clock.sleep(ROLLOUT.leaseWaitMs);
      attempts = lease.attempts;
    }
  }

  /** "Wait for the action" / "Check the action" until done (then bake) or expired (then straight to the gate). */
  private async settleWave(ports: RolloutPorts, state: RolloutState): Promise<void> {
    let polls = 0;
    let waitSeconds = 15;
    for (;;) {
      await this.clock.sleep(waitSeconds * 1000);
      const settled = await actionSettled(ports, state, polls);
      polls = settled.polls;
      waitSeconds = settled.waitSeconds;
      if (settled.done) return this.clock.sleep(state.bakeSeconds * 1000);
      if (settled.expired) return;
    }
  }

  /** "Health gate", baking longer up to three times while the judge has too few samples. */
  private async gate(ports: RolloutPorts, state: RolloutState) {
    this.gatedWaves.add(`${state.changeId}#${state.wave}`);
    let extensions = 0;
    for (;;) {
      const gate = await gateWave(ports, state, extensions);
      this.counts[gate.verdict]++;
      if (gate.verdict !== 'extend' || gate.extensions > ROLLOUT.extensions) return gate;
      extensions = gate.extensions;
      await this.clock.sleep(state.bakeSeconds * 1000);
    }
  }

  /** "Wait for approval": the token is kept with the change; a person approves a while later. */
  private async approval(ports: RolloutPorts, state: RolloutState, point: string): Promise<void> {
    const token = `token-${state.changeId}-${state.wave}`;
    await requestApproval(ports, state, token, point);
    await this.clock.sleep(APPROVAL_MINUTES * MINUTE);
    const taken = await decideApproval(
      { ...ports, answers: SENT },
      state.changeId,
      'approve',
      'operator',
      `simulated review of ${point}`,
    );
    if (taken?.token !== token) throw new Error(`approval of ${state.changeId}: expected token ${token}`);
    this.counts.approvals++;
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
    this.faultOfFinding.set(`${finding.instanceId}|${finding.kind}|${finding.key}`, fault);
    this.clock.spawn(async () => {
      await triageFinding(
        {
          fleet: this.fleet,
          cases: this.cases,
          executions: {
            start: async (name, input) => {
              if (this.started.has(name)) return { started: false };
              this.started.add(name);
              this.clock.spawn(() => this.remediate(input.state, Date.parse(input.at), fault));
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

  private async remediate(initial: RemediationState, at: number, fault: Fault): Promise<void> {
    const caseId = initial.caseId;
    const actor = { owner: () => caseId, by: 'remediation' as const };
    const ports: RemediationPorts = {
      cases: this.cases,
      leases: this.leases,
      fleet: this.fleet,
      ec2: this.remediationEc2.forActor(actor),
      autoscaling: simulatedAutoScaling(this.world, this.requests, actor, this.observer),
      notify: this.notifier,
      now: () => this.clock.now(),
      rng: this.policyRng,
      actor: 'remediation',
    };
    const failure = 'a step failed: see this execution’s events';
    let state = initial;
    await this.clock.sleep(at - this.clock.now());
    try {
      for (;;) {
        const decision = await caught(() => this.delivered(() => decideRemediation(ports, state)));
        if (decision instanceof Error) return void (await failRemediation(ports, state, failure));
        if (decision.action === 'drain') return void (await drainInstance(ports, state));
        if (!(LADDER as readonly string[]).includes(decision.action)) return; // paged, recorded or skipped
        for (;;) {
          const hold = await holdForRemediation(ports, state);
          if (hold.acquired) break;
          if (hold.attempts >= REMEDIATION.holdAttempts) {
            const why = `nothing freed up in 20 minutes (${hold.reason})`;
            return void (await failRemediation(ports, state, why));
          }
          await this.clock.sleep(REMEDIATION.holdWaitMs);
          state = { caseId, attempts: hold.attempts, polls: 0 };
        }
        const acted = await caught(() => this.delivered(() => actRemediation(ports, state)));
        if (acted instanceof Error) return void (await failRemediation(ports, state, failure));
        for (;;) {
          await this.clock.sleep(REMEDIATION.settleWaitMs);
          const settled = await caught(() => remediationSettled(ports, state));
          if (settled instanceof Error) return void (await failRemediation(ports, state, failure));
          state = { ...state, polls: settled.polls };
          if (settled.done || settled.polls >= REMEDIATION.settlePolls) break;
        }
        await this.clock.sleep(REMEDIATION.quietMs);
        let verified = await this.delivered(() => verifyRemediation(ports, state));
        while (verified.pending) {
          // "Wait for the checks" / "Carry the checks": the checks are still initializing.
          await this.clock.sleep(REMEDIATION.checksWaitMs);
          state = { ...state, checks: verified.checks };
          verified = await this.delivered(() => verifyRemediation(ports, state));
        }
        if (verified.recovered) return;
        state = { caseId, attempts: 0, polls: 0, checks: 0 }; // "Escalate": decide again
      }
    } finally {
      // What FleetOps leaves broken (paged, breaker open, failed), a person fixes.
      this.clock.at(this.clock.now() + PERSON_MINUTES * MINUTE, () => this.world.personRepairs(fault));
    }
  }

  /** The inventory sweep's part that matters here: expired reservations go back to their ledgers. */
  private async sweep(): Promise<void> {
    while (this.changeEndedAt === undefined || this.clock.running > 1) {
      await this.clock.sleep(SWEEP_MINUTES * MINUTE);
      await this.leaseStore.reclaimExpired(this.clock.now());
    }
  }

  /** At-least-once delivery: with `retryRate`, the Task runs again with the same input after it succeeded. */
  private async delivered<T>(task: () => Promise<T>): Promise<T> {
    const first = await task();
    if (this.retryRng() >= this.o.retryRate) return first;
    this.counts.retried++;
    return task();
  }

  // ── the report ───────────────────────────────────────────────────────────────

  report(wallMs: number): FleetSimReport {
    const attempts = this.attempts.map((a) => ({ id: a.id, waves: a.waves, ...this.changes.statusOf(a.id) }));
    const last = attempts.at(-1) ?? { status: 'not started', reason: '' };
    const peaks = this.monitor.peaks();
    const budgeted = peaks.filter((p) => p.budget > 0);
    const ratio = (p: (typeof peaks)[number]) => Math.max(p.peak / p.budget, p.zonePeakRatio);
    const ranked = [...budgeted].sort((a, b) => ratio(b) - ratio(a) || (a.service < b.service ? -1 : 1));
    const faults = this.world.faults;
    const recovered = faults.filter((f) => f.recoveredAt !== undefined);
    const minutes = (fs: readonly Fault[]) => quantiles(fs.map((f) => (f.recoveredAt! - f.at) / MINUTE));
    const outcomes: Record<string, number> = {};
    const decisions: Record<string, number> = {};
    for (const c of this.cases.cases.values()) {
      outcomes[c.status] = (outcomes[c.status] ?? 0) + 1;
      for (const d of c.decisions) decisions[d.action] = (decisions[d.action] ?? 0) + 1;
    }
    const ec2 = new Set([
      'RebootInstances',
      'StopInstances',
      'StartInstances',
      'CreateTags',
      'DescribeInstanceStatus',
    ]);
    const byApi = [...this.requests.counts].sort(([a], [b]) => (a < b ? -1 : 1));
    const waits = [...this.requests.waitedMs].sort(([a], [b]) => (a < b ? -1 : 1));
    const end = this.changeEndedAt ?? this.clock.now();
    return {
      parameters: {
        instances: this.o.instances,
        zones: this.o.zones,
        services: this.o.services,
        faultRate: this.o.faultRate,
        seed: this.o.seed,
        action: this.o.action,
        bakeMinutes: this.o.bakeMinutes,
        retryRate: this.o.retryRate,
        autoScaling: this.o.autoScaling,
        defect: this.o.defect ?? null,
      },
      change: {
        id: this.spec.id,
        status: last.status,
        reason: last.reason,
        attempts,
        planned: this.plan.summary.planned,
        skipped: this.plan.summary.skipped,
        waves: this.plan.waves.length,
        wavesRun: this.gatedWaves.size,
        predictedMinutes: this.plan.predictedMinutes,
        makespanMinutes: round((end - START) / MINUTE),
        gates: { pass: this.counts.pass, fail: this.counts.fail, extend: this.counts.extend },
        approvals: this.counts.approvals,
        leaseRefusals: this.counts.leaseRefusals,
        retriedTasks: this.counts.retried,
      },
      budgets: {
        services: peaks.length,
        withoutBudget: peaks.length - budgeted.length,
        maxRatio: ranked.length > 0 ? round(ratio(ranked[0]), 3) : 0,
        atBudget: budgeted.filter((p) => ratio(p) >= 1).length,
        overBudget: budgeted.filter((p) => ratio(p) > 1).length,
        top: ranked.slice(0, 5).map((p) => ({
          service: p.service,
          peak: p.peak,
          budget: p.budget,
          zoneRatio: round(p.zonePeakRatio, 3),
          ratio: round(ratio(p), 3),
        })),
      },
      faults: {
        injected: faults.length,
        absorbed: this.world.absorbedFaults,
        recovered: recovered.length,
        unrecovered: faults.length - recovered.length,
        recoveredBy: {
          remediation: recovered.filter((f) => f.recoveredBy === 'remediation').length,
          change: recovered.filter((f) => f.recoveredBy === 'change').length,
          person: recovered.filter((f) => f.recoveredBy === 'person').length,
        },
        recoveryMinutes: minutes(recovered),
        recoveryMinutesByRemediation: minutes(recovered.filter((f) => f.recoveredBy === 'remediation')),
      },
      remediation: {
        cases: this.cases.cases.size,
        outcomes: sortedRecord(outcomes),
        decisions: sortedRecord(decisions),
        pages: { breaker: this.notifier.breakerPages, instance: this.notifier.instancePages },
      },
      actions: {
        change: sortedRecord(Object.fromEntries(this.acted.change)),
        remediation: sortedRecord(Object.fromEntries(this.acted.remediation)),
      },
      requests: {
        ec2: Object.fromEntries(byApi.filter(([api]) => ec2.has(api))),
        ec2Total: byApi.filter(([api]) => ec2.has(api)).reduce((n, [, k]) => n + k, 0),
        ec2TokenWaitSeconds: Object.fromEntries(waits.map(([api, ms]) => [api, round(ms / 1000, 1)])),
        ec2TokenWaitSecondsTotal: round(waits.reduce((n, [, ms]) => n + ms, 0) / 1000, 1),
        other: Object.fromEntries(byApi.filter(([api]) => !ec2.has(api))),
      },
      invariants: {
        checked: [...CHECKED_INVARIANTS],
        checks: { ...this.monitor.checked },
        violations: this.monitor.violationCount,
        list: this.monitor.violations,
      },
      simulation: {
        simulatedMinutes: round((this.clock.now() - START) / MINUTE),
        instants: this.clock.instants,
      },
      wallClock: { ms: round(wallMs, 1) },
    };
  }
}

/** The state a "Release …" step passes on (its ResultSelector). */
/** The simulated person's answer always reaches the waiting execution. */
const SENT = { succeed: async () => 'sent' as const, fail: async () => 'sent' as const };

function pickState(r: RolloutState): RolloutState {
  return {
    changeId: r.changeId,
    wave: r.wave,
    waves: r.waves,
    bakeSeconds: r.bakeSeconds,
    rollbackOf: r.rollbackOf,
  };
}

/** A Task's Catch: the error as a value, so the execution can take its failure path. */
async function caught<T>(task: () => Promise<T>): Promise<T | Error> {
  try {
    return await task();
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

function quantiles(values: readonly number[]): Quantiles | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => {
    const i = q * (sorted.length - 1);
    const lo = Math.floor(i);
    const hi = Math.min(sorted.length - 1, lo + 1);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (i - lo);
  };
  return {
    mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length),
    p50: round(at(0.5)),
    p90: round(at(0.9)),
    max: round(sorted[sorted.length - 1]),
  };
}

function sortedRecord(r: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1)));
}
