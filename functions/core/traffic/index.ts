/**
 * Traffic: taking instances out of load balancer traffic and Auto Scaling service around a
 * disruptive action, and bringing them back only once they truly serve again (protocol.ts), for
 * the rollout and the remediation alike; the sweep restores what an owner left behind.
 *
 * May import: core/ports, core/fleet (instance shapes), core/defaults.
 */
export * from './protocol';
