import type { Instance } from '../fleet/fleet';
import type { ServicesFile } from '../fleet/services';
import type { BreakerThresholds } from '../remediation/breaker';
import type { RelapseSettings } from '../remediation/relapse';
import type { ScopeHealthSource } from '../remediation/scope-health';
import type { AuditSink } from './audit';
import type { AutoScalingPort } from './autoscaling';
import type { CaseStore } from './case-store';
import type { Ec2Port } from './ec2';
import type { FindingStore } from './finding-store';
import type { Freeze } from './fleet-records';
import type { LeaseStore } from './lease-store';
import type { Notifier } from './notifier';
import type { TrafficExits, TrafficPort } from './traffic';

/** The fleet-state table as the remediation steps use it: inventory, freezes, findings, audit. */
export interface RemediationFleet
  extends AuditSink,
    Pick<FindingStore, 'openFindings' | 'closeFinding'>,
    ScopeHealthSource {
  listInstances(): Promise<Instance[]>;
  /** These instances (those the table does not hold are absent). */
  getInstances(ids: readonly string[]): Promise<Instance[]>;
  listFreezes(): Promise<Freeze[]>;
  /** The services file: a scheduled event's quiet window (core/fleet/services.ts). */
  getServices(): Promise<ServicesFile>;
}

/** Everything the remediation steps (core/remediation/remediate.ts) need from outside. */
export interface RemediationPorts {
  readonly cases: CaseStore;
  readonly leases: Pick<
    LeaseStore,
    'acquire' | 'renew' | 'release' | 'recordAction' | 'heldBy' | 'actionsOf'
  >;
  readonly fleet: RemediationFleet;
  readonly ec2: Ec2Port;
  readonly autoscaling: AutoScalingPort;
  /** ELBv2 target groups: deregistering and registering around a disruptive action. */
  readonly traffic: TrafficPort;
  /** The instances taken out of traffic, kept until they are back (the fleet table). */
  readonly exits: TrafficExits;
  readonly notify: Notifier;
  readonly now: () => number;
  readonly rng: () => number;
  readonly actor: string;
  /** The breaker's thresholds (deployment settings); the breaker's defaults otherwise. */
  readonly breaker?: BreakerThresholds;
  /** The relapse window and flap limit (deployment settings); core/defaults.ts otherwise. */
  readonly relapse?: RelapseSettings;
}
