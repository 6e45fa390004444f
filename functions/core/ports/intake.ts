import type { AuditSink } from './audit';
import type { IntakeCaseStore } from './case-store';
import type { FindingStore } from './finding-store';
import type { RemediationExecutions } from './remediation-executions';

/** Everything triage (core/remediation/triage.ts) needs: it records a finding, then opens its case. */
export interface TriagePorts {
  readonly fleet: AuditSink & Pick<FindingStore, 'recordFinding' | 'settleFinding'>;
  readonly cases: IntakeCaseStore;
  readonly executions: RemediationExecutions;
  readonly now: () => number;
  readonly actor: string;
}

/** What taking up a finding already recorded needs (the sweep records its findings itself). */
export type IntakePorts = Omit<TriagePorts, 'fleet'> & {
  readonly fleet: AuditSink & Pick<FindingStore, 'settleFinding'>;
};

/** What the sweep's hand-over needs: the intake's, and the findings left unsettled. */
export type HandOverPorts = IntakePorts & {
  readonly fleet: IntakePorts['fleet'] & Pick<FindingStore, 'unsettledFindings'>;
};
