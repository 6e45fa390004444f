/**
 * The ports the core needs from the outside world, one file each. Adapters implement them with
 * the AWS SDK (functions/adapters); the simulator (sim/adapters) and tests implement them in memory.
 * Every implementation says `implements` the port it fills.
 */
export type { InstanceCondition } from '../fleet/fleet';
export type * from './apply-record';
export type * from './approval-answers';
export type * from './audit';
export type * from './autoscaling';
export type * from './case-store';
export type * from './change-store';
export type * from './ec2';
export type * from './ec2-inventory';
export type * from './finding-store';
export type * from './fleet-records';
export type * from './intake';
export type * from './inventory-store';
export type * from './lease-store';
export type * from './lease-view';
export type * from './metrics';
export type * from './notifier';
export type * from './remediation';
export type * from './remediation-executions';
export type * from './rollout-ports';
export type * from './ssm-commands';
export type * from './traffic';
