import type { Finding } from '../events/findings';
import type { Instance } from '../fleet/fleet';
import type { LedgerObservation } from '../fleet/inventory';
import type { ServicesFile } from '../fleet/services';
import type { AuditRecord } from './fleet-records';

/** What inventory sync reads and writes in the fleet-state table (DynamoDB: dynamo-fleet-store). */
export interface InventoryStore {
  listInstances(): Promise<Instance[]>;
  putInstances(instances: readonly Instance[], now: number): Promise<number>;
  recordFindings(findings: readonly Finding[], now: number): Promise<Finding[]>;
  getServices(): Promise<ServicesFile>;
  /** Brings ledgers to the observations; returns how many had to be written. */
  reconcileLedgers(observations: readonly LedgerObservation[]): Promise<number>;
  audit(records: readonly AuditRecord[]): Promise<void>;
  /** Open findings (the sweep leaves instances with a health finding out of `unavailable`). */
  openFindings(): Promise<Finding[]>;
  /** The breaker's members and unavailable instances per scope (scope-health.ts); returns how many changed. */
  putPopulation(population: ReadonlyMap<string, { members: number; unavailable: number }>): Promise<number>;
}
