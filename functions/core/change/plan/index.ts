/**
 * Planning a change: from the fleet, the services' budgets and the spec to ordered waves, each
 * wave with the constraint that bound its size, and the rules a plan must keep.
 *
 * - planner.ts: `planChange` (targets, zone order, canary, growth, budgets, risk containment);
 * - predict.ts: how long the waves take and when they end (`predictWaves`), and the expected end
 *   of a running change re-estimated from where it is (`expectedEnd`);
 * - plan-check.ts: the rules checked independently of the planner, at planning time
 *   (`planViolations`) and again when the rollout starts (`recheckPlan`);
 * - lower-bound.ts: the fewest waves any plan could have (the planner's own measure).
 *
 * The rollback's plan is the rollout's (../rollout/rollback.ts): it packs changed instances
 * newest first instead.
 */
export * from './lower-bound';
export * from './plan-check';
export * from './planner';
export * from './predict';
