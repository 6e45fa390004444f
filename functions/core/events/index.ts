/**
 * Events into findings: the EventBridge events FleetOps listens to (AWS Health, EC2 state
 * changes and Spot interruptions, CloudWatch status-check alarms), parsed and validated, each
 * turned into findings or ignored with a reason; and the findings inventory sync derives from
 * what EC2 reports.
 *
 * - parse.ts: the entry (an event in, findings or a reason out), by source: health.ts, ec2.ts,
 *   alarm.ts; problems.ts, outcome.ts and times.ts are what the parsers share;
 * - findings.ts: a finding (kind, instance, occurrence) and the findings of an observed instance.
 *
 * May import: zod, core/shared, core/defaults, core/ports and core/fleet (an instance).
 */
export * from './alarm';
export * from './ec2';
export * from './findings';
export * from './health';
export * from './outcome';
export * from './parse';
export * from './problems';
export * from './times';
