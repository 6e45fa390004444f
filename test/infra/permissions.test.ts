/**
 * Least privilege, role by role: each Lambda function's role has exactly the fleet actions its
 * workflow calls (EC2, Auto Scaling, ELBv2, SSM, CloudWatch), every action that changes something
 * (and GetConsoleOutput) only on its resource type in this account and region where the resource
 * carries the managed tag, and `*` only for the reads that support no resource-level permissions
 * (lib/fleet-permissions.ts says why, with the Service Authorization Reference).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { MANAGED_TAG } from '../../functions/core/defaults';
import { FleetOpsStack } from '../../lib/fleetops-stack';
import { readSettings } from '../../lib/settings';

interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: unknown;
}

/** A CloudFormation value as text: Fn::Join joined, Ref as ${Name}, Fn::GetAtt as ${Id.Attr}. */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if ('Ref' in v) return `\${${v.Ref}}`;
  if ('Fn::GetAtt' in v) return `\${${(v['Fn::GetAtt'] as string[]).join('.')}}`;
  if ('Fn::Join' in v) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(text).join(sep);
  }
  throw new Error(`unexpected value ${JSON.stringify(value)}`);
}

const FLEET_SERVICES = /^(ec2|autoscaling|elasticloadbalancing|ssm|cloudwatch):/;
const managed = { StringEquals: { [`aws:ResourceTag/${MANAGED_TAG.key}`]: MANAGED_TAG.value } };
const ARN = (service: string, rest: string) =>
  `arn:\${AWS::Partition}:${service}:\${AWS::Region}:\${AWS::AccountId}:${rest}`;
const INSTANCES = ARN('ec2', 'instance/*');
const GROUPS = ARN('autoscaling', 'autoScalingGroup:*:autoScalingGroupName/*');
const TARGET_GROUPS = ARN('elasticloadbalancing', 'targetgroup/*');

/** One grant as a line: the action, on what, and under which condition. */
const grant = (action: string, resource: string, condition?: unknown) =>
  `${action} on ${resource}${condition === undefined ? '' : ` if ${JSON.stringify(condition)}`}`;
const onManaged = (resource: string, actions: readonly string[]) =>
  actions.map((a) => grant(a, resource, managed));
const onAny = (actions: readonly string[]) => actions.map((a) => grant(a, '*'));

const TRAFFIC_READS = [
  'elasticloadbalancing:DescribeTags',
  'elasticloadbalancing:DescribeTargetGroupAttributes',
  'elasticloadbalancing:DescribeTargetGroups',
  'elasticloadbalancing:DescribeTargetHealth',
];
const GROUP_READS = ['autoscaling:DescribeAutoScalingGroups', 'autoscaling:DescribeAutoScalingInstances'];
// DescribeInstances for the root device (Ec2Actions.conditions), in every workflow that reads conditions.
const INSTANCE_READS = [
  'ec2:DescribeInstances',
  'ec2:DescribeInstanceStatus',
  'ec2:DescribeSpotInstanceRequests',
];

describe('IAM: least privilege for the fleet actions', () => {
  const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'fleetops-cdk-')) });
  const stack = new FleetOpsStack(app, 'FleetOps', { settings: readSettings(app) });
  // cdk-nag as a validation plugin: an unacknowledged wildcard would throw here.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  app.synth();
  const template = Template.fromStack(stack);
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Array<{
    Properties: { Roles: unknown[]; PolicyDocument: { Statement: Statement[] } };
  }>;

  /** The statements of the role of the function with this description. */
  function statementsOf(description: string): Statement[] {
    const functions = Object.values(
      template.findResources('AWS::Lambda::Function', { Properties: { Description: description } }),
    ) as Array<{ Properties: { Role: { 'Fn::GetAtt': [string, string] } } }>;
    expect(functions).toHaveLength(1);
    const [roleId] = functions[0].Properties.Role['Fn::GetAtt'];
    return policies
      .filter((p) => p.Properties.Roles.some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleId })))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);
  }

  /** Every fleet grant of a role, one line per action and resource, sorted. */
  function fleetGrants(statements: readonly Statement[]): string[] {
    return statements
      .flatMap((st) => {
        expect(st.Effect).toBe('Allow');
        const resources = [st.Resource].flat().map(text);
        return [st.Action]
          .flat()
          .filter((a) => FLEET_SERVICES.test(a))
          .flatMap((a) => resources.map((r) => grant(a, r, st.Condition)));
      })
      .sort();
  }

  it('rollout step: the action registry inside the traffic protocol, the group-safe replace, Run Command, the gate', () => {
    expect(fleetGrants(statementsOf('FleetOps: one step of a gray-scale rollout'))).toEqual(
      [
        ...onManaged(INSTANCES, [
          'ec2:CreateTags',
          'ec2:GetConsoleOutput',
          'ec2:RebootInstances',
          'ec2:StartInstances',
          'ec2:StopInstances',
          'ssm:SendCommand',
        ]),
        ...onManaged(GROUPS, [
          'autoscaling:EnterStandby',
          'autoscaling:ExitStandby',
          'autoscaling:SetDesiredCapacity',
          'autoscaling:TerminateInstanceInAutoScalingGroup',
        ]),
        ...onManaged(TARGET_GROUPS, [
          'elasticloadbalancing:DeregisterTargets',
          'elasticloadbalancing:RegisterTargets',
        ]),
        // The documents a change runs (the instances they run on are tag-restricted above).
        grant('ssm:SendCommand', `arn:\${AWS::Partition}:ssm:\${AWS::Region}::document/*`),
        grant('ssm:SendCommand', ARN('ssm', 'document/*')),
        grant('cloudwatch:DescribeAlarms', ARN('cloudwatch', 'alarm:*')),
        ...onAny([
          ...INSTANCE_READS,
          ...GROUP_READS,
          ...TRAFFIC_READS,
          'cloudwatch:GetMetricData',
          'ssm:ListCommandInvocations',
          'ssm:ListCommands',
        ]),
      ].sort(),
    );
  });

  it('remediation step: the ladder inside the traffic protocol and the group-safe replace, no Run Command', () => {
    expect(fleetGrants(statementsOf('FleetOps: one step of a remediation'))).toEqual(
      [
        ...onManaged(INSTANCES, [
          'ec2:CreateTags',
          'ec2:GetConsoleOutput',
          'ec2:RebootInstances',
          'ec2:StartInstances',
          'ec2:StopInstances',
        ]),
        ...onManaged(GROUPS, [
          'autoscaling:EnterStandby',
          'autoscaling:ExitStandby',
          'autoscaling:SetDesiredCapacity',
          'autoscaling:TerminateInstanceInAutoScalingGroup',
        ]),
        ...onManaged(TARGET_GROUPS, [
          'elasticloadbalancing:DeregisterTargets',
          'elasticloadbalancing:RegisterTargets',
        ]),
        ...onAny([...INSTANCE_READS, ...GROUP_READS, ...TRAFFIC_READS]),
      ].sort(),
    );
  });

  it('inventory sweep: reads, and only brings abandoned instances back (never takes one out)', () => {
    expect(fleetGrants(statementsOf('FleetOps: sweep EC2 into the fleet-state table'))).toEqual(
      [
        ...onManaged(INSTANCES, ['ec2:StartInstances']),
        ...onManaged(GROUPS, ['autoscaling:ExitStandby', 'autoscaling:SetDesiredCapacity']),
        ...onManaged(TARGET_GROUPS, ['elasticloadbalancing:RegisterTargets']),
        ...onAny([...INSTANCE_READS, ...GROUP_READS, ...TRAFFIC_READS]),
      ].sort(),
    );
  });

  it('triage: no fleet action at all', () => {
    expect(fleetGrants(statementsOf('FleetOps: health events → findings → remediation executions'))).toEqual(
      [],
    );
  });

  it('grants traffic, Standby, capacity and instance changes nowhere without the managed-tag condition', () => {
    const guarded =
      /^(elasticloadbalancing:(Register|Deregister)Targets|autoscaling:(EnterStandby|ExitStandby|SetDesiredCapacity|TerminateInstanceInAutoScalingGroup)|ec2:(RebootInstances|StopInstances|StartInstances|CreateTags|GetConsoleOutput))$/;
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
    const guardedStatements = statements.filter((st) => [st.Action].flat().some((a) => guarded.test(a)));
    expect(guardedStatements.length).toBeGreaterThanOrEqual(9);
    for (const st of guardedStatements) {
      expect(st.Condition).toEqual(managed);
      for (const r of [st.Resource].flat().map(text))
        expect(r).toMatch(
          /^arn:\$\{AWS::Partition\}:[a-z0-9]+:\$\{AWS::Region\}:\$\{AWS::AccountId\}:(instance|autoScalingGroup|targetgroup)[:/]/,
        );
    }
    // No service-wide action wildcards, and no Allow of a fleet action on `*` but the reads.
    for (const st of statements) {
      for (const a of [st.Action].flat())
        expect(a).not.toMatch(/^(ec2|autoscaling|elasticloadbalancing|ssm):.*\*/);
      if ([st.Resource].flat().includes('*')) {
        for (const a of [st.Action].flat().filter((x) => FLEET_SERVICES.test(x))) {
          expect(a).toMatch(/^[a-z0-9]+:(Describe|List|GetMetricData$)/);
        }
      }
    }
  });
});
