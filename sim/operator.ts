import { planChange } from '../functions/core/change/plan/planner';
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
  readonly Payload: { step: string; state: { changeId: string }; token: string; point: string };
}

/**
 * The "Wait for approval" Task (`.waitForTaskToken`), which aws-local-stepfunctions does not
 * model: the real await-approval step keeps the token with the change, the person approves
 * `APPROVAL_MINUTES` later with `decideApproval` (as `fleetops change approve` does), and the
 * Task ends with the output SendTaskSuccess would have carried; `null` when nothing waited.
 */
export async function answerApproval(
  clock: VirtualClock,
  ports: RolloutPorts,
  request: unknown,
  step: (payload: unknown) => Promise<unknown>,
): Promise<Record<string, unknown> | null> {
  const { Payload } = request as ApprovalRequest;
  await step(Payload);
  await clock.sleep(APPROVAL_MINUTES * MINUTE);
  let output: Record<string, unknown> | undefined;
  const taken = await decideApproval(
    {
      ...ports,
      answers: {
        succeed: async (_token, sent) => {
          output = sent;
          return 'sent';
        },
        fail: async () => 'sent',
      },
    },
    Payload.state.changeId,
    'approve',
    'operator',
    `simulated review of ${Payload.point}`,
  );
  // Nothing waits any more (the Task timed out and the execution ended the change): the person's
  // answer goes nowhere, as `fleetops change approve` would say.
  if (!taken) return null;
  if (taken.token !== Payload.token || !output)
    throw new SimulatorBug(`approval of ${Payload.state.changeId}: expected token ${Payload.token}`);
  return output;
}

/** What the person works with between changes. */
export interface OperatorDesk {
  readonly clock: VirtualClock;
  readonly world: SimWorld;
  readonly catalog: ServiceCatalog;
  readonly changes: MemoryChangeStore;
  readonly leaseStore: MemoryLeaseStore;
  readonly leases: Pick<RolloutPorts['leases'], 'actionsOf'>;
  /** The changes started: the first, then what was left after each failure (appended to). */
  readonly attempts: Array<{ id: string; waves: number }>;
  /** The spec of the n-th change over these instances. */
  respec(target: { instanceIds: readonly string[] }, attempt: number): ChangeSpec;
}

/**
 * The change, as an operator runs it: stores it as `fleetops change start` does and runs its
 * execution; if it fails (a budget that never freed, a gate), the person reads why and, a while
 * later, plans what is left over the fleet as it is now and starts that as the next change, at
 * most `MAX_RESTARTS` times.
 */
export async function runChanges(
  desk: OperatorDesk,
  first: { spec: ChangeSpec; plan: ReturnType<typeof planChange> },
  execute: (changeId: string) => Promise<void>,
): Promise<void> {
  let { spec, plan } = first;
  for (;;) {
    desk.attempts.push({ id: spec.id, waves: plan.waves.length });
    await desk.changes.save(spec, plan, 'operator', desk.clock.now());
    await execute(spec.id);
    if (desk.changes.statusOf(spec.id).status !== 'failed' || desk.attempts.length > MAX_RESTARTS) return;
    await desk.clock.sleep(APPROVAL_MINUTES * MINUTE);
    const changed = new Set<string>();
    for (const a of desk.attempts)
      for (const r of await desk.leases.actionsOf(a.id)) changed.add(r.instanceId);
    const left = first.plan.waves.flatMap((w) => w.instances).filter((id) => !changed.has(id));
    if (left.length === 0) return;
    spec = desk.respec({ instanceIds: left }, desk.attempts.length + 1);
    const held = new Map(
      (await desk.leaseStore.activeLeases(desk.clock.now())).map((l) => [l.instanceId, l.owner]),
    );
    plan = planChange({ instances: desk.world.instances, catalog: desk.catalog, spec, held });
    if (plan.waves.length === 0) return;
  }
}
