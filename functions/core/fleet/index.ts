/**
 * The fleet: the managed instances as FleetOps knows them, the services they belong to, and the
 * sync that brings the fleet-state table in line with EC2.
 *
 * - fleet.ts: an instance (state, health, tags, scheduled events) and its health words;
 * - services.ts: the services file (each service's budget policy and action impact);
 * - inventory.ts: what changed between EC2 and the table, and each service's ledger observation;
 * - sync-inventory.ts: the inventory sync use case (and the ledger reconciliation).
 *
 * May import: zod, core/shared, core/defaults, core/ports, core/events (findings), core/safety
 * (quantities) and the change's spec (action types).
 */
export * from './fleet';
export * from './inventory';
export * from './services';
export * from './sync-inventory';
