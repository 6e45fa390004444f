import { readFileSync } from 'node:fs';
import { checkDataFlow } from '../support/asl-dataflow';

/**
 * The deployed ASL, checked for data flow: every JSONPath any state reads exists on every path
 * into it, from the inputs the executions are really started with.
 */
const started: Record<string, unknown[]> = {
  // RolloutExecutions.start and .startRollback (functions/adapters/sfn-executions.ts).
  'rollout.asl.json': [{ changeId: 'chg-1' }, { changeId: 'chg-1', rollback: true }],
  // Triage (functions/core/remediation/triage.ts) starts one execution per case.
  'remediation.asl.json': [
    { state: { caseId: 'case-1', attempts: 0, polls: 0 }, at: '2030-01-01T00:00:00.000Z' },
  ],
};

describe.each(Object.entries(started))('data flow of state-machines/%s', (file, inputs) => {
  const definition = JSON.parse(readFileSync(`state-machines/${file}`, 'utf8'));
  const report = checkDataFlow(definition, { inputs });

  it('every JSONPath a state reads exists on every path into it', () => {
    expect(report.problems.sort()).toEqual([]);
  });

  it('every state is reachable from StartAt', () => {
    expect(report.unreachable).toEqual([]);
  });
});
