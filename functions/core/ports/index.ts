/**
 * The ports the core needs from the outside world, one file each. Adapters implement them with
 * the AWS SDK (functions/adapters); the simulator (sim/adapters) and tests implement them in memory.
 */
export type { InstanceCondition } from '../fleet/fleet';
export type * from './autoscaling';
export type * from './ec2';
export type * from './fleet-records';
export type * from './lease-store';
export type * from './ssm';
