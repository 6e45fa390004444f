/**
 * Remediation: what FleetOps does about a finding on one instance (a failed status check, a
 * scheduled event, a Spot interruption), one case per instance and problem.
 *
 * - triage.ts: finding intake (record the finding once, open or join its case, start its
 *   execution once), from an event or from the inventory sweep;
 * - remediate.ts: the steps of state-machines/remediation.asl.json, one module each (decide.ts,
 *   traffic.ts, act.ts, replace.ts, verify.ts, drain.ts, fail.ts; case.ts what they share);
 * - case-status.ts: the case lifecycle (its statuses, which are active);
 * - timing.ts (when to act on a finding), ladder.ts with beta.ts (the learning escalation
 *   ladder), breaker.ts (stop during an outage), dry-run.ts (`remediate --dry-run`), types.ts.
 *
 * May import: zod, core/shared, core/defaults, core/ports, core/events, core/fleet, core/safety,
 * core/traffic (the drain → act → return protocol, traffic.ts), and the change's spec and windows
 * (quiet windows). Nothing here imports the AWS SDK.
 */
export * from './breaker';
export * from './case-status';
export * from './dry-run';
export * from './ladder';
export * from './relapse';
export * from './remediate';
export * from './timing';
export * from './triage';
export * from './types';
