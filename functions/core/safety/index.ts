/**
 * The guard rails every change and remediation goes through before it touches an instance.
 *
 * - budget.ts: disruption budgets per service and zone (how many may be down at once);
 * - quantity.ts: a count or a percentage of a population, resolved to a count;
 * - freeze.ts: whether the freezes in force allow an action (or an emergency overrides them);
 * - ledger.ts: the disruption ledger's arithmetic, once (both lease stores ask it);
 * - hold.ts: leasing instances with their budget, releasing them, checking freezes, each recorded
 *   in the audit trail.
 *
 * May import: zod, core/shared, core/defaults, core/ports, core/fleet and the change's spec
 * (action types).
 */
export * from './budget';
export * from './freeze';
export * from './hold';
export * from './ledger';
export * from './quantity';
