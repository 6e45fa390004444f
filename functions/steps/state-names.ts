/**
 * The names of the ASL states that code outside the state machines depends on: the local
 * runtime (cli/local/) shortens waits and reads results by state name, and the tests bind and
 * track states by name. Renaming a state in state-machines/*.asl.json without changing it here
 * fails test/infra/state-names.test.ts, which checks every name below against its file and
 * Type, instead of silently emptying the local runtime's report.
 */

/** States of state-machines/rollout.asl.json. */
export const ROLLOUT_STATES = {
  loadPlan: 'Load the plan',
  checkWindow: 'Check freeze and time window',
  leaseWave: 'Lease the wave',
  waitForBudget: 'Wait for budget',
  applyAction: 'Apply the action',
  waitForAction: 'Wait for the action',
  checkAction: 'Check the action',
  bake: 'Bake',
  healthGate: 'Health gate',
  releaseWave: 'Release the wave',
  releaseFailedWave: 'Release the failed wave',
  releaseAfterError: 'Release after an error',
  releasePausedWave: 'Release the paused wave',
  releaseUnjudgedWave: 'Release the unjudged wave',
  planRollback: 'Plan the rollback',
  waitForApproval: 'Wait for approval',
  bakeLonger: 'Bake longer',
  bakeZone: 'Bake the zone',
  checkBakedZone: 'Check the baked zone',
} as const;

/** Every rollout Task state that releases a wave's leases (the `release` step). */
export const ROLLOUT_RELEASE_STATES: ReadonlySet<string> = new Set([
  ROLLOUT_STATES.releaseWave,
  ROLLOUT_STATES.releaseFailedWave,
  ROLLOUT_STATES.releaseAfterError,
  ROLLOUT_STATES.releasePausedWave,
  ROLLOUT_STATES.releaseUnjudgedWave,
]);

/** States of state-machines/remediation.asl.json. */
export const REMEDIATION_STATES = {
  decide: 'Decide',
  leaseInstance: 'Lease the instance',
  waitForBudget: 'Wait for budget',
  act: 'Act',
  waitForAction: 'Wait for the action',
  waitBeforeVerifying: 'Wait before verifying',
  verify: 'Verify',
  takeOutOfTraffic: 'Take out of traffic',
  waitForDraining: 'Wait for draining',
  bringBackIntoTraffic: 'Bring back into traffic',
  waitForService: 'Wait for service',
} as const;
