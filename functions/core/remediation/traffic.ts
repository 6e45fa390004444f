/**
 * The traffic protocol around the ladder's disruptive steps (reboot, stop-start), one Task state
 * each (core/traffic/protocol.ts does the work, owner = the case id): take out of traffic, wait
 * until drained, (act, settle), bring back, wait until back in service; and the case's end that
 * restores whatever the case still holds out of traffic. Also the guards that keep stop-start
 * off instances it would harm.
 */
import { type Instance, type InstanceCondition, isInService } from '../fleet/fleet';
import type { CaseView } from '../ports/case-store';
import type { RemediationPorts } from '../ports/remediation';
import type { RemediationState } from '../ports/remediation-executions';
import {
  backInService,
  bringBack,
  drained,
  restore,
  shortArn,
  takeOut,
  trafficDeps,
} from '../traffic/protocol';
import { iso, LeaseLostError, load, page, releaseCase, renewLease } from './case';

/** The steps that take their instance out of traffic first (replace: the group deregisters it itself). */
export const DISRUPTIVE_STEPS: ReadonlySet<string> = new Set(['reboot', 'stop-start']);

/**
 * Tries to take an instance out of traffic while its group cannot lend it to Standby yet (others
 * must come back first), two minutes apart, before a person is paged.
 */
export const MAX_TAKE_OUT_TRIES = 10;

/** The protocol's ports, from the remediation's. */
export { trafficDeps } from '../traffic/protocol';

/**
 * Why stop-start must not be used on this instance, if it must not: an instance-store root device
 * loses its data on stop (EC2: instance store volumes do not persist across a stop), and a
 * one-time Spot instance cannot be stopped at all (only a persistent request's can). The live
 * condition says first, the inventory record otherwise.
 */
export function stopStartGuard(
  record: Partial<Pick<Instance, 'rootDevice' | 'spot'>> | undefined,
  condition: InstanceCondition | undefined,
): string | undefined {
  const rootDevice = condition?.rootDevice ?? record?.rootDevice;
  const spot = condition?.spot ?? record?.spot;
  if (rootDevice === 'instance-store') return 'its root device is instance store (its data is lost on stop)';
  if (spot === 'one-time') return 'it is a one-time Spot instance (it cannot be stopped)';
  return undefined;
}

/**
 * Take out of traffic (before Act). For reboot and stop-start: `takeOut` with the case as owner
 * (the exit is recorded before any call, so a retry carries it on):
 * - out (or on its way) → `drain`: wait until drained;
 * - in no group and no target group → `act` at once;
 * - its group cannot lend it to Standby now → `wait` (at most `MAX_TAKE_OUT_TRIES` times);
 * - refused (another party holds it in Standby or a lifecycle hook, another owner took it out,
 *   its group is at its minimum) or waited too long → not now: the case ends `paged`, its lease
 *   released, nothing counted against the step (the instance did not fail it).
 * Replace goes straight on (its group deregisters a terminating member with draining), unless
 * the group holds the instance in a state other than `InService`: then not now, as above.
 */
export async function takeOutForRemediation(
  ports: RemediationPorts,
  state: RemediationState,
): Promise<{ next: 'act' | 'drain' | 'wait' | 'paged'; polls: number; reason: string }> {
  const c = await load(ports, state.caseId);
  const id = c.finding.instanceId;
  const step = c.tried.at(-1) ?? 'none';
  const [lease] = await ports.leases.heldBy(c.id, [id], ports.now());
  if (!lease) throw new LeaseLostError(c.id, id);
  const deps = trafficDeps(ports);
  if (!DISRUPTIVE_STEPS.has(step)) {
    const name = step === 'replace' ? (await ports.autoscaling.groupsOf([id])).get(id) : undefined;
    const group = name !== undefined ? await ports.autoscaling.describeGroup(name) : undefined;
    const lifecycle = group?.members.find((m) => m.id === id)?.lifecycle;
    if (lifecycle !== undefined && lifecycle !== 'InService')
      return notNow(
        ports,
        c,
        `${lifecycle} in ${name} (the group, a lifecycle hook or another party holds it)`,
      );
    return { next: 'act', polls: 0, reason: `${step}: goes straight to the action` };
  }
  const record = (await ports.fleet.listInstances()).find((i) => i.id === id);
  const result = await takeOut(deps, c.id, [{ id, ...(record?.targets ? { targets: record.targets } : {}) }]);
  if (result.direct.includes(id))
    return { next: 'act', polls: 0, reason: `${step}: in no Auto Scaling group or target group` };
  if (result.out.includes(id)) {
    const exit = (await ports.exits.of([id])).get(id);
    const how = [
      ...(exit?.standby ? [`Standby in ${exit.standby}`] : []),
      ...(exit && exit.deregistered.length > 0
        ? [`deregistered from ${exit.deregistered.map((t) => shortArn(t.targetGroupArn)).join(', ')}`]
        : []),
    ].join(', ');
    const reason = `${step}: taken out of traffic (${how || 'nothing to do'}); waiting until drained`;
    await ports.fleet.audit([
      { subject: `instance:${id}`, actor: ports.actor, action: 'traffic.out', reason, at: iso(ports.now()) },
    ]);
    return { next: 'drain', polls: 0, reason };
  }
  const waiting = result.waiting.find((w) => w.id === id);
  const tries = state.polls + 1;
  if (waiting && tries < MAX_TAKE_OUT_TRIES) {
    const reason = `${step}: not taken out of traffic yet (try ${tries} of ${MAX_TAKE_OUT_TRIES}): ${waiting.reason}`;
    await ports.cases.setStatus(c.id, 'acting', reason, ports.now());
    return { next: 'wait', polls: tries, reason };
  }
  const refused =
    result.refused.find((r) => r.id === id)?.reason ?? waiting?.reason ?? 'not taken out of traffic';
  return notNow(ports, c, waiting ? `${refused} (after ${MAX_TAKE_OUT_TRIES} tries)` : refused);
}

/**
 * Not now: the instance cannot be taken out of traffic (someone else holds it). What the case took
 * out is restored, its lease released, a person paged; the case ends `paged`, no outcome counted.
 */
async function notNow(
  ports: RemediationPorts,
  c: CaseView,
  why: string,
): Promise<{ next: 'paged'; polls: number; reason: string }> {
  const step = c.tried.at(-1) ?? 'none';
  const reason = `not now: ${step} needs ${c.finding.instanceId} out of traffic, but ${why}; a person decides`;
  await restoreForCase(ports, c);
  await releaseCase(ports, c, reason, false);
  await page(ports, c, reason);
  await ports.cases.setStatus(c.id, 'paged', reason, ports.now());
  return { next: 'paged', polls: 0, reason };
}

/**
 * Drained yet? Each poll renews the lease (draining may outlast it: a deregistration delay is
 * up to an hour). The protocol bounds the wait by the target groups' deregistration delay; the
 * state machine bounds the polls.
 */
export async function drainedForRemediation(
  ports: RemediationPorts,
  state: RemediationState,
): Promise<{ done: boolean; polls: number }> {
  const c = await load(ports, state.caseId);
  const id = c.finding.instanceId;
  if (!(await renewLease(ports, c))) throw new LeaseLostError(c.id, id);
  const result = await drained(trafficDeps(ports), c.id, [id]);
  return { done: result.drained.includes(id), polls: state.polls + 1 };
}

/**
 * Bring back into traffic (after the action finished): an instance running with both checks `ok`
 * is put back (ExitStandby / RegisterTargets) and waited for; one that is not is kept out (an
 * impaired member back in service would be replaced by its group), verified as it is, and put
 * back when the case ends. `done`: nothing to wait for.
 */
export async function bringBackForRemediation(
  ports: RemediationPorts,
  state: RemediationState,
): Promise<{ done: boolean; polls: number; reason: string }> {
  const c = await load(ports, state.caseId);
  const id = c.finding.instanceId;
  const exit = (await ports.exits.of([id])).get(id);
  if (exit === undefined || exit.owner !== c.id)
    return { done: true, polls: 0, reason: 'not out of traffic' };
  if (exit.phase !== 'returning') {
    const condition = (await ports.ec2.conditions([id])).get(id);
    if (!isInService(condition)) {
      const reason = `kept out of traffic: ${condition?.state ?? 'not reported'} with checks ${condition?.health ?? 'unknown'}`;
      return { done: true, polls: 0, reason };
    }
  }
  await bringBack(trafficDeps(ports), c.id, [id]);
  return { done: false, polls: 0, reason: 'brought back into traffic; waiting until it serves' };
}

/**
 * Back in service yet (InService in its group, `healthy` in every target group)? Each poll renews
 * the lease. Not there after its groups' healthy threshold × interval: no longer waited for; the
 * exit is restored (it stays registered; the inventory counts it unavailable until healthy) and
 * why is recorded on the case, then the instance is verified as it is.
 */
export async function backInServiceForRemediation(
  ports: RemediationPorts,
  state: RemediationState,
): Promise<{ done: boolean; polls: number; reason: string }> {
  const c = await load(ports, state.caseId);
  const id = c.finding.instanceId;
  const polls = state.polls + 1;
  await renewLease(ports, c);
  const deps = trafficDeps(ports);
  const result = await backInService(deps, c.id, [id]);
  if (result.ready.includes(id)) return { done: true, polls, reason: 'back in service' };
  const late = result.late.find((l) => l.id === id);
  if (!late) return { done: false, polls, reason: 'waiting until it serves' };
  await restore(deps, c.id, [id]);
  const reason = `${c.tried.at(-1)}: back in traffic but not serving in time (${late.reason})`;
  await ports.fleet.audit([
    { subject: `instance:${id}`, actor: ports.actor, action: 'traffic.late', reason, at: iso(ports.now()) },
  ]);
  await ports.cases.setStatus(c.id, 'acting', reason, ports.now());
  return { done: true, polls, reason };
}

/**
 * A case that ends (failed, paged, recovered, not now) brings back what it still has out of
 * traffic (`restore`: a stopped instance is started and put back by the sweep once it runs). What
 * cannot be brought back yet stays recorded on the exit with why: the sweep retries and pages.
 */
/** How long a case holds an instance it takes again only to bring it back into traffic. */
const RESTORE_LEASE_MS = 5 * 60_000;

export async function restoreForCase(ports: RemediationPorts, c: CaseView): Promise<string | undefined> {
  const id = c.finding.instanceId;
  const exit = (await ports.exits.of([id])).get(id);
  if (exit === undefined || exit.owner !== c.id) return undefined;
  // Only the lease holder acts on an instance: a case that let go of it (between two rounds of its
  // ladder) takes a lease again for the restore, with its budget (an instance already out of
  // service spends nothing more); held by someone else meanwhile, the exit is left to the sweep.
  let [held] = await ports.leases.heldBy(c.id, [id], ports.now());
  let taken = false;
  if (held === undefined) {
    const outcome = await ports.leases.acquire({
      owner: c.id,
      instanceIds: [id],
      nonDisruptiveServices: new Set(),
      ttlMs: RESTORE_LEASE_MS,
      now: ports.now(),
    });
    if (outcome.acquired) [held, taken] = [outcome.leases[0], true];
  }
  if (held === undefined) {
    const reason =
      'left to the sweep to bring back into traffic (another holder has the instance, or no budget)';
    await ports.fleet.audit([
      {
        subject: `instance:${id}`,
        actor: ports.actor,
        action: 'traffic.deferred',
        reason,
        at: iso(ports.now()),
      },
    ]);
    return reason;
  }
  const result = await restore(trafficDeps(ports), c.id, [id]);
  if (taken) await ports.leases.release(c.id, [held]);
  const stuck = result.stuck.find((s) => s.id === id);
  const reason = stuck ? `left out of traffic: ${stuck.reason}` : 'back into traffic';
  await ports.fleet.audit([
    {
      subject: `instance:${id}`,
      actor: ports.actor,
      action: stuck ? 'traffic.stuck' : 'traffic.restored',
      reason: `${reason} (case ${c.id} ended)`,
      at: iso(ports.now()),
    },
  ]);
  return reason;
}
