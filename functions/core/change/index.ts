/**
 * A change: an operator's spec applied to part of the fleet in waves, each wave leased within
 * the services' disruption budgets, acted on, baked and judged, with a person's approval where
 * the risk asks for one, and undone by its own rollback change when a gate fails.
 *
 * - spec.ts: the change spec (target, action, strategy, gates, rollback, windows) and its schema;
 * - status.ts: a change's statuses and which are ends;
 * - windows.ts: the spec's time windows;
 * - actions/: one module per action type (reboot, stop-start, ssm-command, replace, set-tag) and
 *   the registry every other part looks an action up in;
 * - plan/: the planner (fleet + budgets + spec → waves), the plan check, the wave lower bound;
 * - rollout/: the rollout's steps, one Task state of state-machines/rollout.asl.json each, and the
 *   rollback's spec and plan;
 * - judge/: the canary judge (Mann–Whitney U, Hodges–Lehmann) the health gate asks.
 *
 * May import: zod, core/ports, core/fleet and core/safety (budgets, quantities, freezes, holds).
 */
export * from './actions/index';
export * from './judge/index';
export * from './plan/index';
export * from './rollout/rollout';
export * from './spec';
export * from './status';
export * from './windows';
