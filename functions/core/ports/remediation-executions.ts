/**
 * The remediation state machine's executions, one per case and named after it (Step Functions:
 * sfn-executions' NamedExecutions; in memory: the simulator), and the input each one carries.
 */

/**
 * What a remediation execution carries from step to step: only the case id and counters; the
 * case (finding, decisions, steps tried) is in the table.
 */
export interface RemediationState {
  readonly caseId: string;
  readonly attempts: number;
  readonly polls: number;
  /** Verifications of this step that found the status checks still initializing (none: 0). */
  readonly checks?: number;
}

/** The remediation execution's input. */
export interface RemediationInput {
  readonly state: RemediationState;
  readonly at: string;
}

/**
 * Starts the remediation execution named after the case. The same name with the same input is
 * the same execution (Step Functions answers a repeat while it runs with success); a different
 * input, or an execution that has closed, starts nothing (`started: false`).
 */
export interface RemediationExecutions {
  start(name: string, input: RemediationInput): Promise<{ started: boolean }>;
}
