import type { Finding, FindingRecord } from '../events/findings';

/**
 * Findings as the fleet-state table keeps them (DynamoDB: dynamo-fleet-store; in memory:
 * sim/adapters): recorded once per instance, kind and occurrence; unsettled until their intake
 * finished (their case started, took them in, or recorded them); open until their case closes them.
 */
export interface FindingStore {
  /** `settled` when it was recorded before and its intake finished (a replayed event stops there). */
  recordFinding(finding: Finding, now: number): Promise<FindingRecord>;
  /** The finding's intake finished (its case started, took it in, or recorded it). */
  settleFinding(finding: Finding, caseId: string, now: number): Promise<void>;
  /** Findings recorded before this time whose intake never finished (a crash, a timeout). */
  unsettledFindings(recordedBefore: number): Promise<Finding[]>;
  openFindings(): Promise<Array<Finding & { readonly createdAt: number }>>;
  closeFinding(
    finding: Pick<Finding, 'instanceId' | 'kind' | 'key'>,
    outcome: string,
    now: number,
  ): Promise<void>;
}
