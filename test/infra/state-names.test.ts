import { readFileSync } from 'node:fs';
import {
  REMEDIATION_STATES,
  ROLLOUT_RELEASE_STATES,
  ROLLOUT_STATES,
} from '../../functions/steps/state-names';

/**
 * The state names the local runtime and the tests depend on (functions/steps/state-names.ts)
 * exist in the ASL files with the Type the code expects: a renamed state fails here instead of
 * leaving the local runtime's report empty.
 */
type Step = { step?: string };
type States = Record<string, { Type: string; Parameters?: Step & { Payload?: Step } }>;
/** A Task's step: in its Parameters, or in their Payload for a `.waitForTaskToken` Lambda call. */
const stepOf = (state: States[string] | undefined) =>
  state?.Parameters?.Payload?.step ?? state?.Parameters?.step;
const statesOf = (file: string): States =>
  (JSON.parse(readFileSync(`state-machines/${file}`, 'utf8')) as { States: States }).States;

const rollout = statesOf('rollout.asl.json');
const remediation = statesOf('remediation.asl.json');

const ROLLOUT_TYPES: Record<keyof typeof ROLLOUT_STATES, string> = {
  loadPlan: 'Task',
  checkWindow: 'Task',
  leaseWave: 'Task',
  waitForBudget: 'Wait',
  applyAction: 'Task',
  waitForAction: 'Wait',
  checkAction: 'Task',
  bake: 'Wait',
  healthGate: 'Task',
  releaseWave: 'Task',
  releaseFailedWave: 'Task',
  releaseAfterError: 'Task',
  releasePausedWave: 'Task',
  releaseUnjudgedWave: 'Task',
  planRollback: 'Task',
  waitForApproval: 'Task',
  bakeLonger: 'Wait',
  bakeZone: 'Wait',
  checkBakedZone: 'Task',
};

const REMEDIATION_TYPES: Record<keyof typeof REMEDIATION_STATES, string> = {
  decide: 'Task',
  leaseInstance: 'Task',
  waitForBudget: 'Wait',
  act: 'Task',
  waitForAction: 'Wait',
  waitBeforeVerifying: 'Wait',
  takeOutOfTraffic: 'Task',
  waitForDraining: 'Wait',
  bringBackIntoTraffic: 'Task',
  waitForService: 'Wait',
  verify: 'Task',
};

/** The step a Task state sends its Lambda, as the local runtime reads its result. */
const ROLLOUT_STEPS: Partial<Record<keyof typeof ROLLOUT_STATES, string>> = {
  loadPlan: 'start',
  checkWindow: 'check-window',
  leaseWave: 'lease',
  applyAction: 'apply',
  checkAction: 'settle',
  healthGate: 'gate',
  planRollback: 'plan-rollback',
  waitForApproval: 'await-approval',
};
const REMEDIATION_STEPS: Partial<Record<keyof typeof REMEDIATION_STATES, string>> = {
  decide: 'decide',
  leaseInstance: 'hold',
  act: 'act',
  verify: 'verify',
  takeOutOfTraffic: 'take-out',
  bringBackIntoTraffic: 'bring-back',
};

describe('ASL state names used by code', () => {
  it.each(Object.entries(ROLLOUT_STATES))('rollout: %s is "%s" with its Type', (key, name) => {
    expect(rollout[name]?.Type).toBe(ROLLOUT_TYPES[key as keyof typeof ROLLOUT_STATES]);
  });

  it.each(Object.entries(REMEDIATION_STATES))('remediation: %s is "%s" with its Type', (key, name) => {
    expect(remediation[name]?.Type).toBe(REMEDIATION_TYPES[key as keyof typeof REMEDIATION_STATES]);
  });

  it('each Task state named sends the step the code expects of it', () => {
    const sent = (states: States, names: Record<string, string>, steps: Record<string, string | undefined>) =>
      Object.keys(steps).map((key) => [key, stepOf(states[names[key]])]);
    expect(sent(rollout, ROLLOUT_STATES, ROLLOUT_STEPS)).toEqual(Object.entries(ROLLOUT_STEPS));
    expect(sent(remediation, REMEDIATION_STATES, REMEDIATION_STEPS)).toEqual(
      Object.entries(REMEDIATION_STEPS),
    );
  });

  it('the release states are exactly the rollout Task states that send the release step', () => {
    const release = Object.entries(rollout)
      .filter(([, s]) => s.Type === 'Task' && stepOf(s) === 'release')
      .map(([name]) => name)
      .sort();
    expect([...ROLLOUT_RELEASE_STATES].sort()).toEqual(release);
  });
});
