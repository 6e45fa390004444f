import type { Impairment } from '../events/findings';
import type { Instance } from '../fleet/fleet';

/** An instance as EC2 reports it, with which status check failed (and since when) when it is impaired. */
export interface ObservedInstance {
  readonly instance: Instance;
  readonly impairment?: Impairment;
  /** When the failing check started failing (EC2's `ImpairedSince`), when EC2 says. */
  readonly impairedSince?: string;
}

/**
 * The managed fleet as EC2 reports it, each instance with its tags (the Auto Scaling group's
 * name among them), root device type and Spot request type (EC2: ec2-inventory; in memory:
 * sim/adapters). Its Auto Scaling lifecycle state and target health are not EC2's: the sweep
 * adds them (core/fleet/placement.ts).
 */
export interface Ec2Inventory {
  listManagedInstances(): Promise<ObservedInstance[]>;
}
