import { Aws, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { FleetFunction } from './fleet-function';

/**
 * What a function that acts on the fleet may do: mutating EC2 actions (and, with `ssm`, Run
 * Command) only on instances carrying the managed tag, Auto Scaling replacement only in groups
 * carrying it, and the read-only calls it names (which support no resource-level permissions).
 * Each wildcard that remains is acknowledged to cdk-nag with its reason.
 */
export function grantFleetActions(
  fn: FleetFunction,
  options: {
    readonly managedTag: { readonly key: string; readonly value: string };
    readonly ssm: boolean;
    /**
     * Whether the function may also set an Auto Scaling group's desired capacity (replace launches
     * before it terminates), in groups carrying the managed tag. @default false
     */
    readonly launchBeforeTerminate?: boolean;
    /** Read-only actions besides DescribeInstanceStatus and the Auto Scaling Describe calls. */
    readonly reads?: readonly string[];
  },
): void {
  const managed = {
    StringEquals: { [`aws:ResourceTag/${options.managedTag.key}`]: options.managedTag.value },
  };
  const instances = `arn:${Aws.PARTITION}:ec2:*:${Aws.ACCOUNT_ID}:instance/*`;
  const principal = fn.grantPrincipal;
  principal.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['ec2:RebootInstances', 'ec2:StopInstances', 'ec2:StartInstances', 'ec2:CreateTags'],
      resources: [instances],
      conditions: managed,
    }),
  );
  principal.addToPrincipalPolicy(
    new PolicyStatement({
      actions: [
        'autoscaling:TerminateInstanceInAutoScalingGroup',
        ...(options.launchBeforeTerminate ? ['autoscaling:SetDesiredCapacity'] : []),
      ],
      resources: [
        `arn:${Aws.PARTITION}:autoscaling:*:${Aws.ACCOUNT_ID}:autoScalingGroup:*:autoScalingGroupName/*`,
      ],
      conditions: managed,
    }),
  );
  const reads = [
    'ec2:DescribeInstanceStatus',
    'autoscaling:DescribeAutoScalingInstances',
    'autoscaling:DescribeAutoScalingGroups',
    ...(options.reads ?? []),
  ];
  principal.addToPrincipalPolicy(new PolicyStatement({ actions: reads, resources: ['*'] }));
  const role = fn.role;
  Validations.of(role).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason: `${reads.join(', ')} support no resource-level permissions, nor do X-Ray PutTraceSegments and PutTelemetryRecords; all are read-only or telemetry.`,
  });
  Validations.of(role).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:*:<AWS::AccountId>:instance/*]',
    reason: `Reboot, stop, start, tag${options.ssm ? ' and run commands' : ''} only on instances carrying the managed tag (aws:ResourceTag condition); their ids are not known at deploy time.`,
  });
  Validations.of(role).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:autoscaling:*:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/*]',
    reason: options.launchBeforeTerminate
      ? 'Replace (raise desired capacity, then terminate decrementing; or terminate keeping capacity) only in Auto Scaling groups carrying the managed tag (aws:ResourceTag condition).'
      : 'Replace (terminate without decrementing) only in Auto Scaling groups carrying the managed tag (aws:ResourceTag condition).',
  });
  if (!options.ssm) return;
  principal.addToPrincipalPolicy(
    new PolicyStatement({ actions: ['ssm:SendCommand'], resources: [instances], conditions: managed }),
  );
  // The documents a change may run: AWS-owned ones and the account's own.
  principal.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['ssm:SendCommand'],
      resources: [
        `arn:${Aws.PARTITION}:ssm:*::document/*`,
        `arn:${Aws.PARTITION}:ssm:*:${Aws.ACCOUNT_ID}:document/*`,
      ],
    }),
  );
  Validations.of(role).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:*::document/*]',
    reason:
      'A change names the SSM document it runs (AWS-owned documents); the instances it may run on are tag-restricted.',
  });
  Validations.of(role).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:*:<AWS::AccountId>:document/*]',
    reason:
      "A change names the SSM document it runs (the account's own documents); the instances are tag-restricted.",
  });
}
