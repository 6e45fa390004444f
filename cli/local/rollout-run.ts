/**
 * A change in the local runtime: planned over the live fleet (and checked by the independent
 * plan checker), saved, and run through the rollout ASL with every Task state bound to the real
 * rollout step. The bindings answer the approval as a person would, let the scene's world act
 * before a gate, and record each wave (zones, services, verdict) for the report.
 */
import { planViolations } from '../../functions/core/change/plan/plan-check';
import { planChange } from '../../functions/core/change/plan/planner';
import { decideApproval, type RolloutPorts } from '../../functions/core/change/rollout/rollout';
import { type ChangeSpec, changeSpecSchema } from '../../functions/core/change/spec';
import { serviceCatalog } from '../../functions/core/fleet/services';
import { ROLLOUT_RELEASE_STATES, ROLLOUT_STATES } from '../../functions/steps/state-names';
import { type StateMachineRunDeps, truncate } from './collect';
import { runLocally } from './executions';
import { answeredLocally, noRetryWaits, noWaits } from './local-sfn';
import type { RunRecord, WaveRecord } from './report';
import type { LocalRuntime } from './runtime';

/** Local stand-ins for the waits a real run spends (bakes of minutes become a fraction of a second). */
export const ROLLOUT_WAITS: Record<string, number> = {
  [ROLLOUT_STATES.bake]: 250,
  [ROLLOUT_STATES.bakeLonger]: 250,
  [ROLLOUT_STATES.waitForAction]: 100,
  [ROLLOUT_STATES.waitForBudget]: 500,
};

/** What a scene does around a change: before each of its gates, once its canary is approved. */
export interface ChangeWorld {
  beforeGate?: () => Promise<void>;
  afterCanary?: () => void;
  /** This change's own local waits by state name (over ROLLOUT_WAITS), e.g. slower polls while instances drain. */
  waits?: Record<string, number>;
}

export type RolloutRunDeps = StateMachineRunDeps<RolloutPorts>;

type ChangeRecord = RunRecord['changes'][number];
type Carrier = { state?: { changeId?: string; wave?: number; waves?: number } };

/** Plans a change over the live fleet (checked by the independent plan checker), saves it, runs it. */
export async function runChange(deps: RolloutRunDeps, raw: unknown, world: ChangeWorld): Promise<string> {
  const { runtime, log, sampleBudgets } = deps;
  const { record, say } = log;
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
    observedAt: now,
  });
  const violations = planViolations(plan, { instances, catalog, spec });
  if (violations.length > 0)
    throw new Error(`plan ${spec.id} breaks its constraints: ${violations.join('; ')}`);
  await runtime.stores.changes.save(spec, plan, 'local-operator', now);
  const trafficSeconds = Math.round((plan.trafficMinutes ?? 0) * 60);
  say(
    `change ${spec.id}: planned ${plan.summary.planned} instances in ${plan.waves.length} waves (${plan.waves
      .slice(0, 4)
      .map((w) => `${w.size}`)
      .join(
        ', ',
      )}${plan.waves.length > 4 ? ', …' : ''}${trafficSeconds > 0 ? `; draining and readiness +${trafficSeconds} s in all` : ''}); ${spec.description}`,
  );
  const placement = {
    zoneOf: new Map(instances.map((i) => [i.id, i.zone])),
    serviceOf: new Map(instances.map((i) => [i.id, i.service])),
  };
  const waves = new Map<string, WaveRecord>();
  const changeRecord = (id: string): ChangeRecord => {
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
  if (trafficSeconds > 0) changeRecord(spec.id).plannedTrafficSeconds = trafficSeconds;
  else changeRecord(spec.id);

  const wrap: NonNullable<Parameters<typeof runLocally>[2]['wrap']> = (state, call) => async (input) => {
    const carrier = (
      state === ROLLOUT_STATES.waitForApproval ? (input as { Payload?: unknown }).Payload : input
    ) as Carrier;
    const s = carrier?.state ?? {};
    const changeId = s.changeId ?? spec.id;
    const key = `${changeId}#${s.wave}`;
    const startedAt = log.elapsed();
    if (state === ROLLOUT_STATES.healthGate && changeId === spec.id) {
      await world.beforeGate?.().catch((error: unknown) => {
        say(
          `the application's metrics could not be written: ${error instanceof Error ? error.message : String(error)}`,
        );
      });
    }
    if (state === ROLLOUT_STATES.waitForApproval) {
      await call((input as { Payload: unknown }).Payload);
      return approve(deps, changeRecord(changeId), changeId, s.wave, world);
    }
    let out: Record<string, unknown>;
    try {
      out = (await call(input)) as Record<string, unknown>;
      const took = log.elapsed() - startedAt;
      if (took > 30) say(`change ${changeId}: step "${state}" took ${took.toFixed(0)} s (a busy machine?)`);
    } catch (error) {
      say(
        `change ${changeId}: step "${state}" failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      throw error;
    }
    if (state === ROLLOUT_STATES.applyAction) {
      const wave = await waveApplied(runtime, placement, changeId, s.wave ?? 0, startedAt);
      waves.set(key, wave);
      changeRecord(changeId).waves.push(wave);
      say(
        `change ${changeId}: wave ${wave.index + 1}/${s.waves} (${wave.kind}, ${Object.entries(wave.zones)
          .map(([z, n]) => `${z} ${n}`)
          .join(', ')}; bound by ${wave.binding}): applied to ${out.applied} instances`,
      );
    } else if (state === ROLLOUT_STATES.healthGate) {
      const wave = waves.get(key);
      if (wave) {
        wave.verdict = String(out.verdict);
        wave.reason = String(out.reason);
      }
      say(
        `change ${changeId}: wave ${(s.wave ?? 0) + 1} gate: ${out.verdict} — ${truncate(String(out.reason), 160)}`,
      );
    } else if (state === ROLLOUT_STATES.checkAction && out.done === true) {
      const wave = waves.get(key);
      if (wave) wave.settled = log.elapsed();
    } else if (ROLLOUT_RELEASE_STATES.has(state)) {
      const wave = waves.get(key);
      if (wave) wave.end = log.elapsed();
    } else if (state === ROLLOUT_STATES.leaseWave && out.acquired === false) {
      say(
        `change ${changeId}: wave ${(s.wave ?? 0) + 1} waits for budget: ${truncate(String(out.reason), 140)}`,
      );
    } else if (state === ROLLOUT_STATES.planRollback && out.rollback === true) {
      say(`change ${changeId}: rolling back — ${truncate(String(out.reason), 200)}`);
      changeRecord(`${changeId}-rollback`);
    }
    void sampleBudgets();
    return out;
  };

  const execution = runLocally(
    deps.definition,
    { changeId: spec.id },
    {
      handler: (event) => deps.step(deps.ports, event),
      wrap,
      waits: { ...noWaits(deps.definition), ...ROLLOUT_WAITS, ...world.waits },
      retryWaits: noRetryWaits(deps.definition),
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
}

/**
 * The approval, as a person gives it with `fleetops change approve`: the state has moved on to
 * the next wave, so the approval is for the one that passed.
 */
async function approve(
  deps: RolloutRunDeps,
  change: ChangeRecord,
  changeId: string,
  wave: number | undefined,
  world: ChangeWorld,
) {
  const { runtime, log } = deps;
  const passed = Math.max((wave ?? 1) - 1, 0);
  log.say(`change ${changeId}: wave ${passed + 1} passed; waiting for a person's approval`);
  await new Promise((r) => setTimeout(r, 500));
  const reason = 'local runtime: approved automatically once the canary passed its gate';
  await decideApproval(
    { changes: runtime.stores.changes, fleet: runtime.stores.fleet, now: Date.now, answers: answeredLocally },
    changeId,
    'approve',
    'local-operator',
    reason,
  );
  change.approvals.push({ t: log.elapsed(), wave: passed, by: 'local-operator', reason });
  log.say(`change ${changeId}: approved by local-operator (${reason})`);
  world.afterCanary?.();
  return { approvedBy: 'local-operator' };
}

/** The wave just applied, from its plan: instances per zone and per service, what bound its size. */
async function waveApplied(
  runtime: LocalRuntime,
  placement: { zoneOf: Map<string, string>; serviceOf: Map<string, string> },
  changeId: string,
  index: number,
  startedAt: number,
): Promise<WaveRecord> {
  const wavePlan = await runtime.stores.changes.loadPlan(changeId);
  const w = wavePlan.waves[index];
  const zones: Record<string, number> = {};
  const services: Record<string, number> = {};
  for (const id of w.instances) {
    const zone = placement.zoneOf.get(id) ?? '?';
    zones[zone] = (zones[zone] ?? 0) + 1;
    const service = placement.serviceOf.get(id) ?? '?';
    services[service] = (services[service] ?? 0) + 1;
  }
  return {
    index,
    kind: w.kind,
    zones,
    services,
    size: w.size,
    binding: w.bindingConstraint,
    start: startedAt,
    end: startedAt,
    verdict: '',
    reason: '',
  };
}
