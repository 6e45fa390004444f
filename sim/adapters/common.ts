import type { Recoverer } from '../world/sim-world';

/**
 * In-memory implementations of the ports, over the simulated account (`SimWorld`). They keep
 * the adapters' semantics (all-or-nothing leases with fencing tokens, the disruption ledger,
 * at-most-once action records, conditional status updates, batched and paced EC2 requests),
 * with maps and indexes so that every call costs what its arguments cost, never the fleet.
 */

/** EC2 caps the instance ids of one request; FleetOps sends at most 100 (as `Ec2Actions`). */
export const EC2_IDS_PER_REQUEST = 100;
/** DescribeAutoScalingInstances / DescribeAutoScalingGroups take at most 50 ids or names. */
export const ASG_IDS_PER_REQUEST = 50;
/** SSM SendCommand takes at most 50 instance ids. */
export const SSM_IDS_PER_COMMAND = 50;

export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A 32-bit FNV-1a digest: names a lease request (the DynamoDB store uses SHA-256 of the same ids). */
export function digest(ids: readonly string[]): string {
  let h = 0x811c9dc5;
  for (const id of ids) {
    for (let k = 0; k < id.length; k++) h = Math.imul(h ^ id.charCodeAt(k), 0x01000193);
    h = Math.imul(h ^ 44, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** Requests sent per API, and how long the client's token bucket made them wait. */
export class ApiRequests {
  readonly counts = new Map<string, number>();
  readonly waitedMs = new Map<string, number>();

  count(api: string, waitedMs = 0): void {
    this.counts.set(api, (this.counts.get(api) ?? 0) + 1);
    if (waitedMs > 0) this.waitedMs.set(api, (this.waitedMs.get(api) ?? 0) + waitedMs);
  }
}

/** What a holder did to an instance, as the invariant checks see it (before the account changes). */
export type ActKind = 'reboot' | 'stop' | 'start' | 'terminate' | 'ssm';

export interface ActionObserver {
  acting(owner: string, by: Recoverer, kind: ActKind, instanceId: string): void;
}

/** What a holder did to an instance's traffic (EnterStandby, ExitStandby, DeregisterTargets, RegisterTargets). */
export type TrafficKind = 'standby' | 'exit-standby' | 'deregister' | 'register';

export interface TrafficObserver {
  traffic(owner: string, by: Recoverer, kind: TrafficKind, instanceId: string): void;
}

/** Who is acting through a port view: the lease owner (a change id or a case id) and its role. */
export interface Actor {
  owner(): string;
  readonly by: Recoverer;
}

/** DescribeAutoScalingGroups takes at most 100 names; EnterStandby and ExitStandby at most 20 instances. */
export const ASG_GROUPS_PER_REQUEST = 100;
export const STANDBY_IDS_PER_REQUEST = 20;
