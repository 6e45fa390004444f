import type { Instance } from '../fleet/fleet';
import type { ServicesFile } from '../fleet/services';
import type { AuditSink } from './audit';
import type { AutoScalingPort } from './autoscaling';
import type { ChangeStore } from './change-store';
import type { Ec2Port } from './ec2';
import type { Freeze } from './fleet-records';
import type { LeaseStore } from './lease-store';
import type { MetricsPort } from './metrics';
import type { Notifier } from './notifier';
import type { SsmPort } from './ssm-commands';
import type { TrafficExits, TrafficPort } from './traffic';

/** The fleet-state table as the rollout reads it: freezes, budgets, the inventory, and the audit trail. */
export interface RolloutFleetView extends AuditSink {
  listFreezes(): Promise<Freeze[]>;
  getServices(): Promise<ServicesFile>;
  listInstances(): Promise<Instance[]>;
  /** These instances as the inventory has them (those it has; a few reads, whatever the fleet size). */
  getInstances(ids: readonly string[]): Promise<Instance[]>;
}

/**
 * Everything a rollout step reaches (the Lambda: handlers/rollout-step.ts over DynamoDB and AWS;
 * the simulator and the tests: in memory).
 */
export interface RolloutPorts {
  readonly changes: ChangeStore;
  readonly leases: Pick<
    LeaseStore,
    'acquire' | 'release' | 'recordAction' | 'heldBy' | 'actionsOf' | 'renew' | 'room'
  >;
  readonly fleet: RolloutFleetView;
  readonly ec2: Ec2Port;
  readonly ssm: SsmPort;
  readonly autoscaling: AutoScalingPort;
  /** ELBv2 target groups: deregistering and registering around a disruptive action. */
  readonly traffic: TrafficPort;
  /** The instances taken out of traffic, kept until they are back (the fleet table). */
  readonly exits: TrafficExits;
  readonly metrics: MetricsPort;
  /** The FleetOps topic: approvals waiting, gates failed, changes ended. */
  readonly notify: Notifier;
  readonly now: () => number;
  readonly actor: string;
}
