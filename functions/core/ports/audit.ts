import type { AuditRecord } from './fleet-records';

/** The audit trail: every decision, doing nothing included (DynamoDB: dynamo-fleet-store; in memory: sim/adapters). */
export interface AuditSink {
  audit(records: readonly AuditRecord[]): Promise<void>;
}
