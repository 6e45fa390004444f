import type { FindingKind } from '../events/findings';
import type { Instance } from '../fleet/fleet';
import type { ServicesFile } from '../fleet/services';
import type { AuditSink } from './audit';
import type { IntakeCaseStore } from './case-store';
import type { FindingStore } from './finding-store';
import type { RemediationExecutions } from './remediation-executions';

/**
 * Where a scheduled event's quiet time comes from: the instance's service (the inventory) and the
 * services file's quiet windows (core/fleet/services.ts).
 */
export interface QuietWindowSource {
  getInstances(ids: readonly string[]): Promise<Instance[]>;
  getServices(): Promise<ServicesFile>;
}

/** Everything triage (core/remediation/triage.ts) needs: it records a finding, then opens its case. */
export interface TriagePorts {
  readonly fleet: AuditSink & Pick<FindingStore, 'recordFinding' | 'settleFinding'> & QuietWindowSource;
  readonly cases: IntakeCaseStore;
  readonly executions: RemediationExecutions;
  readonly now: () => number;
  readonly actor: string;
  /**
   * Minutes a finding of these kinds waits before its case's first action (the accumulation
   * window; the deployed handlers use core/defaults.ts ACCUMULATE_MINUTES). Absent: at once.
   */
  readonly accumulate?: Readonly<Partial<Record<FindingKind, number>>>;
}

/** What taking up a finding already recorded needs (the sweep records its findings itself). */
export type IntakePorts = Omit<TriagePorts, 'fleet'> & {
  readonly fleet: AuditSink & Pick<FindingStore, 'settleFinding'> & QuietWindowSource;
};

/** What the sweep's hand-over needs: the intake's, and the findings left unsettled. */
export type HandOverPorts = IntakePorts & {
  readonly fleet: IntakePorts['fleet'] & Pick<FindingStore, 'unsettledFindings'>;
};
