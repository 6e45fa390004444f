/** Leases, budget reservations and fenced action records (DynamoDB: dynamo-lease-store; in memory: sim/adapters). */
import type { BudgetRoom } from '../safety/ledger';

export type { BudgetRoom } from '../safety/ledger';

/** What is holding an instance: a change or a remediation, with the lease's fencing token. */
export interface Lease {
  readonly instanceId: string;
  readonly owner: string;
  readonly token: number;
  /** Epoch milliseconds after which another owner may take the lease over. */
  readonly until: number;
  /** Whether a budget reservation covers the instance (false for non-disruptive actions). */
  readonly reserved?: boolean;
  /** The in-flight caps the lease counts against (`LeaseRequest.caps`' scopes), released with it. */
  readonly caps?: readonly string[];
}

/**
 * A limit on how many holders may be in flight at once in a scope (`account`, `zone:<name>`,
 * `service:<name>`): remediation's storm brake. Taken with the lease, in the same transaction,
 * and held as long as the lease is live; a request that would exceed it is refused whole.
 */
export interface InFlightCap {
  readonly scope: string;
  readonly max: number;
}

export interface LeaseRequest {
  /** The holder: a change id or a remediation case id. */
  readonly owner: string;
  /** The instances; their service and zone (the budgets they spend) are read from the inventory. */
  readonly instanceIds: readonly string[];
  /**
   * Services that declared the holder's action non-disruptive: their budget is not spent.
   * Every other service's is (disruptive is the safe default).
   */
  readonly nonDisruptiveServices: ReadonlySet<string>;
  readonly ttlMs: number;
  readonly now: number;
  /** In-flight caps the request counts against, one slot per holder and scope (at most one instance). */
  readonly caps?: readonly InFlightCap[];
}

export type LeaseOutcome =
  | { readonly acquired: true; readonly leases: readonly Lease[] }
  | {
      readonly acquired: false;
      readonly reason: string;
      readonly conflicts: ReadonlyArray<{ id: string; reason: string }>;
    };

export interface RecordedAction {
  readonly instanceId: string;
  readonly wave: number;
  /** Epoch milliseconds when the action was recorded (just before it was applied). */
  readonly at: number;
}

export interface LeaseStore {
  /** All or nothing: every instance leased and every budget reserved, or nothing held. */
  acquire(request: LeaseRequest): Promise<LeaseOutcome>;
  renew(leases: readonly Lease[], ttlMs: number, now: number): Promise<Lease[]>;
  /**
   * Releases what the owner still holds; leases taken over by others are left alone. Instances
   * in `stillUnavailable` keep counting against their budget until inventory sync sees them.
   */
  release(owner: string, leases: readonly Lease[], stillUnavailable?: ReadonlySet<string>): Promise<void>;
  releaseAll(owner: string, stillUnavailable?: ReadonlySet<string>): Promise<number>;
  /** Fenced and at most once per instance per change: the only way an owner records an applied action. */
  recordAction(
    lease: Lease,
    changeId: string,
    result: Record<string, unknown>,
    now: number,
  ): Promise<'recorded' | 'duplicate' | 'fenced'>;
  activeLeases(now: number): Promise<Lease[]>;
  /** Every action recorded for a change: which instance, in which wave, when. */
  actionsOf(changeId: string): Promise<RecordedAction[]>;
  /**
   * Each service's budget room now (overall and in these zones): what a new reservation may add.
   * One read per call whatever the fleet size (the services' ledgers).
   */
  room(services: readonly string[], zones: readonly string[]): Promise<Map<string, BudgetRoom>>;
  /**
   * How many holders are in flight in each scope now (those whose lease is live, or expired less
   * than the reservation grace ago: reclaimed by the sweep). One read per scope.
   */
  inFlight(scopes: readonly string[], now: number): Promise<Map<string, number>>;
  /** The live leases an owner holds on these instances. */
  heldBy(owner: string, instanceIds: readonly string[], now: number): Promise<Lease[]>;
}
