import type { Lease } from './lease-store';

/** The leases inventory sync counts and the expired reservations it returns (DynamoDB: dynamo-lease-store). */
export interface LeaseView {
  activeLeases(now: number): Promise<Lease[]>;
  reclaimExpired(now: number): Promise<number>;
}
