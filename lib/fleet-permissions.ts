import { Aws, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { FleetFunction } from './fleet-function';

/**
 * What a function that acts on the fleet may do: each action on the resource type it names, in
 * this account and region, only where the resource carries the managed tag; the read-only calls
 * that name no resource type on `*`. Each wildcard that remains is acknowledged to cdk-nag with
 * its reason.
 *
 * Why which action is granted how (the Service Authorization Reference: "Actions, resources, and
 * condition keys for" AWS Elastic Load Balancing V2, Amazon EC2 Auto Scaling and Amazon EC2,
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_awselasticloadbalancingv2.html,
 * …/list_amazonec2autoscaling.html, …/list_amazonec2.html):
 * - The Describe calls list no resource type, so a policy can grant them only on `*`:
 *   elasticloadbalancing:DescribeTargetHealth, DescribeTargetGroups, DescribeTargetGroupAttributes
 *   and DescribeTags; autoscaling:DescribeAutoScalingGroups and DescribeAutoScalingInstances;
 *   ec2:DescribeInstances, DescribeInstanceStatus and DescribeSpotInstanceRequests. They are
 *   read-only (a target group's health and settings, a group's sizes and members, an instance's
 *   state, its Spot request's type).
 * - elasticloadbalancing:RegisterTargets and DeregisterTargets require the `targetgroup`
 *   resource type; autoscaling:EnterStandby, ExitStandby, SetDesiredCapacity and
 *   TerminateInstanceInAutoScalingGroup require `autoScalingGroup`; ec2:RebootInstances,
 *   StopInstances, StartInstances, CreateTags and GetConsoleOutput (and ssm:SendCommand) take
 *   `instance`. Each of those resource types supports the global `aws:ResourceTag/${TagKey}`
 *   (besides the services' own elasticloadbalancing:, autoscaling: and ec2:ResourceTag): one
 *   condition, the same in every statement, restricts them to the managed tag. Target groups
 *   and Auto Scaling groups are therefore managed the way instances are: by carrying the tag.
 */
export interface FleetGrants {
  readonly managedTag: { readonly key: string; readonly value: string };
  /** EC2 actions on instances carrying the managed tag (`ec2:RebootInstances`, …). */
  readonly instances: readonly string[];
  /** Auto Scaling actions in groups carrying the managed tag. @default none */
  readonly groups?: readonly string[];
  /** ELBv2 actions on target groups carrying the managed tag. @default none */
  readonly targetGroups?: readonly string[];
  /** Run Command on managed instances, with AWS-owned documents and the account's own. @default false */
  readonly ssm?: boolean;
  /** Read-only actions that support no resource-level permissions: granted on `*`. */
  readonly reads: readonly string[];
}

/**
 * Reading instances: their state and status checks, their root device (DescribeInstances: an
 * instance-store instance is never stopped) and whether a Spot instance's request is one-time.
 */
export const INSTANCE_READS = [
  'ec2:DescribeInstances',
  'ec2:DescribeInstanceStatus',
  'ec2:DescribeSpotInstanceRequests',
] as const;
/** Reading Auto Scaling groups: sizes, members, lifecycle states, attached target groups. */
export const GROUP_READS = [
  'autoscaling:DescribeAutoScalingGroups',
  'autoscaling:DescribeAutoScalingInstances',
] as const;
/** Reading target groups: their tags (which are managed), settings, attributes and target health. */
export const TRAFFIC_READS = [
  'elasticloadbalancing:DescribeTags',
  'elasticloadbalancing:DescribeTargetGroupAttributes',
  'elasticloadbalancing:DescribeTargetGroups',
  'elasticloadbalancing:DescribeTargetHealth',
] as const;
/** Taking an instance out of a target group and putting it back (the traffic protocol). */
export const TRAFFIC_MOVES = [
  'elasticloadbalancing:DeregisterTargets',
  'elasticloadbalancing:RegisterTargets',
] as const;
/**
 * What the disruptive actions do in a managed group: Standby around the action (desired capacity
 * decremented, then restored), and the group-safe replace (raise desired capacity, then terminate
 * decrementing; or terminate keeping capacity).
 */
export const GROUP_ACTIONS = [
  'autoscaling:EnterStandby',
  'autoscaling:ExitStandby',
  'autoscaling:SetDesiredCapacity',
  'autoscaling:TerminateInstanceInAutoScalingGroup',
] as const;
/** The instance actions of a rollout or a remediation, and the console output that proves a reboot happened. */
export const INSTANCE_ACTIONS = [
  'ec2:CreateTags',
  'ec2:GetConsoleOutput',
  'ec2:RebootInstances',
  'ec2:StartInstances',
  'ec2:StopInstances',
] as const;

/** The cdk-nag finding id of a wildcard resource (CloudFormation pseudo parameters as cdk-nag writes them). */
function wildcardFinding(resource: string): string {
  return `AwsSolutions-IAM5[Resource::${resource}]`;
}

export function grantFleetActions(fn: FleetFunction, grants: FleetGrants): void {
  const managed = {
    StringEquals: { [`aws:ResourceTag/${grants.managedTag.key}`]: grants.managedTag.value },
  };
  const tag = `${grants.managedTag.key}=${grants.managedTag.value}`;
  const principal = fn.grantPrincipal;
  const role = fn.role;
  const region = (service: string, rest: string) => ({
    arn: `arn:${Aws.PARTITION}:${service}:${Aws.REGION}:${Aws.ACCOUNT_ID}:${rest}`,
    finding: wildcardFinding(`arn:<AWS::Partition>:${service}:<AWS::Region>:<AWS::AccountId>:${rest}`),
  });
  const onManaged = (
    actions: readonly string[],
    resource: { arn: string; finding: string },
    what: string,
  ): void => {
    if (actions.length === 0) return;
    principal.addToPrincipalPolicy(
      new PolicyStatement({ actions: [...actions], resources: [resource.arn], conditions: managed }),
    );
    Validations.of(role).acknowledge({
      id: resource.finding,
      reason: `${actions.join(', ')} only on ${what} carrying the managed tag ${tag} (aws:ResourceTag condition): which ones is known only at run time, not at deploy time.`,
    });
  };

  onManaged(
    [...grants.instances, ...(grants.ssm ? ['ssm:SendCommand'] : [])],
    region('ec2', 'instance/*'),
    'instances',
  );
  onManaged(
    grants.groups ?? [],
    region('autoscaling', 'autoScalingGroup:*:autoScalingGroupName/*'),
    'Auto Scaling groups',
  );
  onManaged(grants.targetGroups ?? [], region('elasticloadbalancing', 'targetgroup/*'), 'target groups');

  principal.addToPrincipalPolicy(new PolicyStatement({ actions: [...grants.reads], resources: ['*'] }));
  Validations.of(role).acknowledge({
    id: wildcardFinding('*'),
    reason: `${grants.reads.join(', ')} name no resource type to scope them to (Service Authorization Reference), nor do X-Ray PutTraceSegments and PutTelemetryRecords; all are read-only or telemetry.`,
  });

  if (!grants.ssm) return;
  // The documents a change may run: AWS-owned ones and the account's own.
  const awsDocuments = `arn:${Aws.PARTITION}:ssm:${Aws.REGION}::document/*`;
  principal.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['ssm:SendCommand'],
      resources: [awsDocuments, region('ssm', 'document/*').arn],
    }),
  );
  Validations.of(role).acknowledge({
    id: wildcardFinding('arn:<AWS::Partition>:ssm:<AWS::Region>::document/*'),
    reason:
      'A change names the SSM document it runs (AWS-owned documents); the instances it may run on are tag-restricted.',
  });
  Validations.of(role).acknowledge({
    id: region('ssm', 'document/*').finding,
    reason:
      "A change names the SSM document it runs (the account's own documents); the instances are tag-restricted.",
  });
}
