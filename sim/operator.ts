import { planChange, selectTargets } from '../functions/core/change/plan/planner';
import { decideApproval, type RolloutPorts } from '../functions/core/change/rollout/rollout';
import type { ChangeSpec } from '../functions/core/change/spec';
import type { ServiceCatalog } from '../functions/core/fleet/services';
import type { MemoryChangeStore, MemoryLeaseStore } from './adapters';
import { SimulatorBug } from './asl/state-machines';
import type { VirtualClock } from './kernel/virtual-clock';
import type { SimWorld } from './world/sim-world';

/**
 * The person who runs the change in the simulation: answers each approval point the rollout
 * execution stops at, and, when a change fails, reads why and starts what is left as the next
 * change. Only the person's own habits are constants here; what the state machine does
 * (its waits, bounds, approval points) is the deployed ASL's.
 */

const MINUTE = 60_000;
/** A person answers an approval point this long after it is asked for. */
export const APPROVAL_MINUTES = 15;
/** A failed change is re-planned and started again at most this many times. */
export const MAX_RESTARTS = 5;

/** What the "Wait for approval" Task sends (its Parameters): the await-approval step is the Payload. */
interface ApprovalRequest {
  readonly Payload: { step: string; state: { changeId: string; wave: number }; token: string; point: string };
}

/** The canary judge failed the gate (gate.ts's reason: "…; judge: fail (score …)" or marginal). */
const JUDGE_FAILED = /; judge: (fail|marginal) /;

/**
 * The "Wait for approval" Task (`.waitForTaskToken`), which aws-local-stepfunctions does not
 * model: the real await-approval step keeps the token with the change, the person answers
 * `APPROVAL_MINUTES` later with `decideApproval` (as `fleetops change approve|reject` does), and
 * the Task ends with the output SendTaskSuccess would have carried, or fails with the error
 * SendTaskFailure would have (`Rejected`); `null` when nothing waited.
 *
 * The person's judgement: after a gate the canary judge failed (a metric regression against the
 * baseline), reject (the change itself is bad; `rejected` remembers it so that nothing left is
 * started again); everything else (the canary's review, risk containment, a gate failed by status
 * checks that faults explain) is approved.
 */
export async function answerApproval(
  clock: VirtualClock,
  ports: RolloutPorts,
  request: unknown,
  step: (payload: unknown) => Promise<unknown>,
  rejected?: Set<string>,
): Promise<Record<string, unknown> | null> {
  const { Payload } = request as ApprovalRequest;
  await step(Payload);
  await clock.sleep(APPROVAL_MINUTES * MINUTE);
  const changeId = Payload.state.changeId;
  const gate =
    Payload.point === 'gate-failed'
      ? (await ports.changes.waveRecords(changeId, Payload.state.wave - 1)).find((r) => r.part === 'result')
      : undefined;
  const regression = JUDGE_FAILED.test(String(gate?.body.reason ?? ''));
  let output: Record<string, unknown> | undefined;
  let failure: string | undefined;
  const taken = await decideApproval(
    {
      ...ports,
      answers: {
        succeed: async (_token, sent) => {
          output = sent;
          return 'sent';
        },
        fail: async (_token, error) => {
          failure = error;
          return 'sent';
        },
      },
    },
    changeId,
    regression ? 'reject' : 'approve',
    'operator',
    regression
      ? `simulated review of ${Payload.point}: the canary judge found a regression`
      : `simulated review of ${Payload.point}`,
  );
  // Nothing waits any more (the Task timed out and the execution ended the change): the person's
  // answer goes nowhere, as `fleetops change approve` would say.
  if (!taken) return null;
  if (taken.token !== Payload.token || (!output && !failure))
    throw new SimulatorBug(`approval of ${changeId}: expected token ${Payload.token}`);
  if (failure) {
    rejected?.add(changeId);
    const error = new Error(`rejected by the operator: the canary judge found a regression`);
    error.name = failure;
    throw error;
  }
  return output!;
}

/** What the person works with between changes. */
export interface OperatorDesk {
  readonly clock: VirtualClock;
  readonly world: SimWorld;
  readonly catalog: ServiceCatalog;
  readonly changes: MemoryChangeStore;
  readonly leaseStore: MemoryLeaseStore;
  readonly leases: Pick<RolloutPorts['leases'], 'actionsOf'>;
  /** The changes started (and when each was planned): the first, then what was left after each failure (appended to). */
  readonly attempts: Array<{ id: string; waves: number; plannedAt: number }>;
  /** Changes the person rejected (answerApproval): what is left of them is not started again. */
  readonly rejected: ReadonlySet<string>;
  /** The spec of the n-th change over these instances. */
  respec(target: { instanceIds: readonly string[] }, attempt: number): ChangeSpec;
}

/**
 * The change, as an operator runs it: stores it as `fleetops change start` does and runs its
 * execution; if it fails (a budget that never freed, a gate), the person reads why and, a while
 * later, plans what is left over the fleet as it is now (the instances of the first plan's waves
 * that no attempt changed, and those the first change's target matches that joined since) and
 * starts that as the next change, at most `MAX_RESTARTS` times.
 */
export async function runChanges(
  desk: OperatorDesk,
  first: { spec: ChangeSpec; plan: ReturnType<typeof planChange> },
  execute: (changeId: string) => Promise<void>,
): Promise<void> {
  let { spec, plan } = first;
  for (;;) {
    desk.attempts.push({ id: spec.id, waves: plan.waves.length, plannedAt: desk.clock.now() });
    await desk.changes.save(spec, plan, 'operator', desk.clock.now());
    await execute(spec.id);
    if (
      desk.changes.statusOf(spec.id).status !== 'failed' ||
      desk.rejected.has(spec.id) ||
      desk.attempts.length > MAX_RESTARTS
    )
      return;
    await desk.clock.sleep(APPROVAL_MINUTES * MINUTE);
    const changed = new Set<string>();
    for (const a of desk.attempts)
      for (const r of await desk.leases.actionsOf(a.id)) changed.add(r.instanceId);
    // What the first plan had in its waves, and what joined the target since (launched after it).
    const planned = new Set(first.plan.waves.flatMap((w) => w.instances));
    const known = new Set([...planned, ...first.plan.skipped.map((s) => s.id)]);
    const left = selectTargets(desk.world.instances, first.spec, [], [])
      .map((i) => i.id)
      .filter((id) => (planned.has(id) || !known.has(id)) && !changed.has(id));
    if (left.length === 0) return;
    spec = desk.respec({ instanceIds: left }, desk.attempts.length + 1);
    const held = new Map(
      (await desk.leaseStore.activeLeases(desk.clock.now())).map((l) => [l.instanceId, l.owner]),
    );
    plan = planChange({
      instances: desk.world.instances,
      catalog: desk.catalog,
      spec,
      held,
      observedAt: desk.clock.now(),
    });
    if (plan.waves.length === 0) return;
  }
}
