/**
 * The FleetOps core: the domain, in plain TypeScript that a test can call without AWS. It may
 * import only zod and yaml; the outside world comes in through the ports. One folder per
 * sub-domain, each with an `index.ts` that says what it is, what is in it and what it may import,
 * and re-exports its public modules:
 *
 * - change/: a change's spec, status, plan (planner, plan check), actions, rollout and rollback,
 *   the health judge, time windows;
 * - remediation/: findings into cases, and the remediation of each case step by step;
 * - fleet/: the instances, the services file, inventory sync;
 * - safety/: disruption budgets, quantities, freezes, holds (leases with their budget);
 * - events/: EventBridge events into findings;
 * - input/: the operator's input files, parsed and validated;
 * - ports/: every port the core needs, one file each (adapters in functions/adapters, in-memory
 *   ones in sim/adapters);
 * - shared/: what several sub-domains share (the token bucket); defaults.ts: every default.
 *
 * Sub-domains depend on ports, shared and defaults, and on each other only as their entries say
 * (e.g. remediation on safety and fleet; no other sub-domain imports remediation, only its ports
 * name its types).
 */
export * as change from './change/index';
export * as defaults from './defaults';
export * as events from './events/index';
export * as fleet from './fleet/index';
export * as input from './input/index';
export type * as ports from './ports/index';
export * as remediation from './remediation/index';
export * as safety from './safety/index';
export * as shared from './shared/index';
export * as traffic from './traffic/index';
