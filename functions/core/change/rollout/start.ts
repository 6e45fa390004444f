import { serviceCatalog } from '../../fleet/services';
import type { RolloutPorts } from '../../ports/rollout-ports';
import { actionModule } from '../actions/index';
import { recheckPlan } from '../plan/plan-check';
import { planRollback, rollbackIdOf, rollbackSpec } from './rollback';
import { at, describeError, type RolloutState, setUnlessEnded } from './state';

/**
 * How an execution begins: a rollout starts from its stored plan (checked again first), a
 * rollback is planned from what the change did; and what is recorded when neither could begin.
 */

/** The error a start refused for: the stored plan breaks a rule ({@link recheckPlan}). */
export const PLAN_VIOLATION = 'PlanViolation';

/** How many broken rules the refusal names (the first ones, in wave order). */
const VIOLATIONS_SHOWN = 10;

/**
 * Starts the execution of a stored change:
 * 1. loads the plan (its digest is verified) and the spec, and the inventory and budgets now;
 * 2. checks the plan again against them ({@link recheckPlan}): one that breaks a rule is refused
 *    with a {@link PLAN_VIOLATION} error, which the state machine records as the change not
 *    started (instances that went away or down since planning are not violations: each wave
 *    skips or judges them);
 * 3. marks the change running and returns the execution's state.
 */
export async function startRollout(ports: RolloutPorts, changeId: string): Promise<RolloutState> {
  const [plan, spec, instances, services] = await Promise.all([
    ports.changes.loadPlan(changeId),
    ports.changes.loadSpec(changeId),
    ports.fleet.listInstances(),
    ports.fleet.getServices(),
  ]);
  const violations = recheckPlan(plan, { instances, catalog: serviceCatalog(services), spec });
  if (violations.length > 0) {
    const more = violations.length - VIOLATIONS_SHOWN;
    throw Object.assign(
      new Error(
        `the plan breaks ${violations.length} rule${violations.length > 1 ? 's' : ''}: ${violations
          .slice(0, VIOLATIONS_SHOWN)
          .join('; ')}${more > 0 ? `; and ${more} more` : ''}`,
      ),
      { name: PLAN_VIOLATION },
    );
  }
  await ports.changes.setStatus(changeId, 'running', `started: ${plan.waves.length} waves`, ports.now());
  return {
    changeId,
    wave: 0,
    waves: plan.waves.length,
    bakeSeconds: Math.round(spec.strategy.bakeMinutes * 60),
    rollbackOf: '',
  };
}

/**
 * Begins undoing a change (its gate failed, or an operator aborted it with --rollback): plans
 * the rollback from the actions recorded for it (newest first, larger waves, budgets kept),
 * saves it as the change `<id>-rollback` and returns that change's state, which the same
 * state machine then runs wave by wave. Planned once: a retried step reuses the saved plan.
 * `rollback: false` (with the reason) when there is nothing to undo or no way to undo it.
 */
export async function beginRollback(
  ports: RolloutPorts,
  changeId: string,
  why: string,
): Promise<{ rollback: boolean; reason: string; state: RolloutState }> {
  const rollbackId = rollbackIdOf(changeId);
  const stay = (reason: string) => ({
    rollback: false,
    reason: `${why}; ${reason}`,
    state: { changeId, wave: 0, waves: 0, bakeSeconds: 0, rollbackOf: '' },
  });
  const spec = await ports.changes.loadSpec(changeId);
  if (!spec.rollback) {
    return stay(
      actionModule(spec.action).undo === 'nothing'
        ? `nothing to undo: ${spec.action.type} leaves no change behind`
        : 'not rolled back: the spec declares no rollback action, so the changed instances keep the change',
    );
  }
  const existing = await ports.changes.get(rollbackId);
  let waves: number;
  if (existing) {
    if (
      existing.status !== 'planned' &&
      existing.status !== 'running' &&
      existing.status !== 'waiting-approval'
    )
      return stay(`the rollback ${rollbackId} has already ended (${existing.status})`);
    waves = existing.waves;
  } else {
    const changed = await ports.leases.actionsOf(changeId);
    const undo = rollbackSpec(
      spec,
      changed.map((c) => c.instanceId),
    );
    if (!undo) return stay('nothing to undo: no instance was changed');
    const [instances, services, original] = await Promise.all([
      ports.fleet.listInstances(),
      ports.fleet.getServices(),
      ports.changes.loadPlan(changeId),
    ]);
    const plan = planRollback({
      spec: undo,
      original,
      changed,
      instances,
      catalog: serviceCatalog(services),
      waveFactor: spec.rollback.waveFactor,
    });
    if (plan.waves.length === 0) return stay('nothing to undo: every changed instance is gone');
    await ports.changes.save(undo, plan, ports.actor, ports.now());
    waves = plan.waves.length;
  }
  const reason = `rolling back (${waves} waves, as ${rollbackId}): ${why}`;
  // An aborted change stays aborted; its rollback is its own change.
  await setUnlessEnded(ports, changeId, 'rolling-back', reason);
  await ports.changes.setStatus(rollbackId, 'running', `rolling back ${changeId}: ${why}`, ports.now());
  await ports.fleet.audit([
    { subject: `change:${changeId}`, actor: ports.actor, action: 'rollback.started', reason, at: at(ports) },
  ]);
  return {
    rollback: true,
    reason,
    state: {
      changeId: rollbackId,
      wave: 0,
      waves,
      bakeSeconds: Math.round(Math.min(spec.strategy.bakeMinutes, 2) * 60),
      rollbackOf: changeId,
    },
  };
}

/**
 * The execution could not load the change, refused its plan ({@link PLAN_VIOLATION}), or could
 * not plan its requested rollback: recorded on the change when it exists and is not ended, and
 * in its audit trail either way, so nothing is left `running` by an error (invariant 9).
 */
export async function recordNotStarted(
  ports: RolloutPorts,
  input: { changeId: string; rollback?: unknown; error?: { Error?: string; Cause?: string } },
): Promise<{ recorded: true }> {
  const requestedRollback = input.rollback !== undefined;
  const subject = requestedRollback ? rollbackIdOf(input.changeId) : input.changeId;
  const error = input.error ?? {};
  const why = requestedRollback
    ? `the requested rollback could not be planned: ${describeError(error)}`
    : error.Error === PLAN_VIOLATION
      ? `the change did not start: ${causeMessage(error.Cause)}`
      : `the change could not be loaded: ${describeError(error)}`;
  await setUnlessEnded(ports, subject, 'failed', why);
  await ports.fleet.audit([
    {
      subject: `change:${subject}`,
      actor: ports.actor,
      action: 'change.not-started',
      reason: why,
      at: at(ports),
    },
  ]);
  await ports.notify.publish(`FleetOps: ${subject} did not start`, why);
  return { recorded: true };
}

/** A Catch's Cause: Lambda's `{"errorType", "errorMessage", "trace"}`, or the message itself. */
function causeMessage(cause: string | undefined): string {
  try {
    const parsed: unknown = JSON.parse(cause ?? '');
    if (parsed && typeof parsed === 'object' && 'errorMessage' in parsed) return String(parsed.errorMessage);
  } catch {
    // Not JSON: the message itself (the local runtime, the tests).
  }
  return cause ?? 'no reason given';
}
