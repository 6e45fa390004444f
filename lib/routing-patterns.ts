// The routing rules' patterns, free of CDK code: the stack, the local runtime (which loads them
// into moto's EventBridge) and the tests all use these.
import type { EventPattern } from 'aws-cdk-lib/aws-events';

/**
 * What EventBridge routes to the triage queue: EC2 health from AWS Health (issues, scheduled
 * changes, account notifications), instances stopping or terminating, Spot interruption warnings
 * and rebalance recommendations, and FleetOps' own status-check alarms going into ALARM.
 */
export function routingPatterns(statusAlarmPrefix: string): Record<string, EventPattern> {
  return {
    HealthEvents: {
      source: ['aws.health'],
      detailType: ['AWS Health Event'],
      detail: { service: ['EC2'], eventTypeCategory: ['issue', 'scheduledChange', 'accountNotification'] },
    },
    StateChanges: {
      source: ['aws.ec2'],
      detailType: ['EC2 Instance State-change Notification'],
      detail: { state: ['stopped', 'terminated'] },
    },
    SpotWarnings: {
      source: ['aws.ec2'],
      detailType: ['EC2 Spot Instance Interruption Warning', 'EC2 Instance Rebalance Recommendation'],
    },
    StatusCheckAlarms: {
      source: ['aws.cloudwatch'],
      detailType: ['CloudWatch Alarm State Change'],
      detail: { alarmName: [{ prefix: statusAlarmPrefix }], state: { value: ['ALARM'] } },
    },
  };
}

/** CDK's EventPattern (camelCase keys) as CloudFormation and EventBridge take it. */
export function cfnPattern(pattern: EventPattern): Record<string, unknown> {
  const { detailType, ...rest } = pattern as Record<string, unknown>;
  return { ...rest, ...(detailType ? { 'detail-type': detailType } : {}) };
}
