/**
 * In-memory implementations of the ports, over the simulated account (`SimWorld`). They keep
 * the adapters' semantics (all-or-nothing leases with fencing tokens, the disruption ledger,
 * at-most-once action records, conditional status updates, batched and paced EC2 requests),
 * with maps and indexes so that every call costs what its arguments cost, never the fleet.
 */
export { type ActionObserver, type ActKind, type Actor, ApiRequests } from './common';
export { MemoryChangeStore } from './memory-change-store';
export { FLEET_STORE_DEFECTS, type FleetStoreDefect, MemoryFleetStore } from './memory-fleet-store';
export { LEASE_STORE_DEFECTS, type LeaseStoreDefect, MemoryLeaseStore } from './memory-lease-store';
export { type MemoryCase, MemoryRemediationStore } from './memory-remediation-store';
export { MemoryTrafficExits } from './memory-traffic-exits';
export {
  RecordingNotifier,
  SimulatedEc2,
  simulatedAutoScaling,
  simulatedMetrics,
  simulatedSsm,
} from './simulated-aws';
