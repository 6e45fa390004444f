import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Code } from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { FleetOpsStack } from '../../lib/fleetops-stack';
import { routingPatterns } from '../../lib/remediation';
import { cfnPattern } from '../../lib/routing-patterns';
import { readSettings } from '../../lib/settings';

/**
 * Each handler bundled once for this file: its four synths ask for the same four bundles, and a
 * bundle depends only on the handler's source (lib/bundling.ts). The first ask runs the real
 * command (tsx lib/bundle-handler.ts, about 2 s each); later ones take its output directory.
 * `npx cdk synth` below still bundles all four itself.
 */
const bundles = new Map<string, string>();
const bundleOnce = Code.fromCustomCommand.bind(Code);
jest.spyOn(Code, 'fromCustomCommand').mockImplementation((output, command, options) => {
  // The last argument is the output directory, fresh for each function.
  const handler = JSON.stringify(command.slice(0, -1));
  const done = bundles.get(handler);
  if (done) return Code.fromAsset(done, options);
  const code = bundleOnce(output, command, options);
  bundles.set(handler, output);
  return code;
});

/** Synthesizes the stack with cdk-nag as a validation plugin: any unacknowledged finding throws. */
function synth(context: Record<string, unknown> = {}) {
  const app = new App({ context, outdir: mkdtempSync(join(tmpdir(), 'fleetops-cdk-')) });
  const stack = new FleetOpsStack(app, 'FleetOps', { settings: readSettings(app) });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  const assembly = app.synth();
  return { stack, template: Template.fromStack(stack), assembly };
}

describe('FleetOpsStack', () => {
  const { template, assembly } = synth();

  it('passes cdk-nag AwsSolutions and Serverless with no unacknowledged finding', () => {
    // synth() above would have thrown ValidationFailed otherwise; the report says so too.
    const report = require(join(assembly.directory, 'validation-report.json'));
    expect(report.pluginReports.flatMap((r: { violations?: unknown[] }) => r.violations ?? [])).toEqual([]);
  });

  it('keeps fleet state safe: PITR, encryption, TTL, retained with deletion protection', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        DeletionProtectionEnabled: true,
      }),
    });
    template.hasOutput('FleetTableName', {});
  });

  it('destroys the table only when asked to, and rejects bad settings at synth time, naming each', () => {
    const { template: destroy } = synth({ 'fleetops:removalPolicy': 'destroy' });
    destroy.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
    expect(() => synth({ 'fleetops:removalPolicy': 'keep', 'fleetops:inventoryRateMinutes': 0 })).toThrow(
      'context fleetops:removalPolicy: expected retain or destroy, found "keep"\n' +
        'context fleetops:inventoryRateMinutes: expected a whole number of minutes from 1 to 1440, found 0',
    );
  });

  it('indexes the table for the store: gsi1 (by service, by owner) and gsi2 (collections)', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: [
        Match.objectLike({ IndexName: 'gsi1', Projection: { ProjectionType: 'ALL' } }),
        Match.objectLike({ IndexName: 'gsi2', Projection: { ProjectionType: 'ALL' } }),
      ],
    });
  });

  it('sweeps EC2 on a schedule with a house function: Node 24, ARM64, traced, its own log group', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: Match.objectLike({ LogFormat: 'JSON' }),
      Environment: {
        Variables: Match.objectLike({
          MANAGED_TAG_KEY: 'fleetops:managed',
          SERVICE_TAG_KEY: 'fleetops:service',
        }),
      },
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      Targets: [
        Match.objectLike({ DeadLetterConfig: Match.anyValue(), RetryPolicy: { MaximumRetryAttempts: 2 } }),
      ],
    });
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
  });

  it('allows mutating fleet actions only on managed instances, groups and target groups, never on *, and no managed policies', () => {
    type Statement = {
      Action: string | string[];
      Resource: unknown;
      Condition?: Record<string, Record<string, string>>;
    };
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) =>
        (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
          .Statement,
    );
    const mutating = statements.filter((st) =>
      [st.Action]
        .flat()
        .some(
          (a) => /^(ec2|ssm|autoscaling|elasticloadbalancing):/.test(a) && !/:(Describe|List|Get)/.test(a),
        ),
    );
    expect([...new Set(mutating.flatMap((st) => [st.Action].flat()))].sort()).toEqual([
      // The traffic protocol: Standby around the action, and back.
      'autoscaling:EnterStandby',
      'autoscaling:ExitStandby',
      // The group-safe replace raises a managed group's capacity before it terminates.
      'autoscaling:SetDesiredCapacity',
      'autoscaling:TerminateInstanceInAutoScalingGroup',
      'ec2:CreateTags',
      // Read-only, but on managed instances too (in their statement): proof that a reboot happened.
      'ec2:GetConsoleOutput',
      'ec2:RebootInstances',
      'ec2:StartInstances',
      'ec2:StopInstances',
      // Out of a target group and back into it.
      'elasticloadbalancing:DeregisterTargets',
      'elasticloadbalancing:RegisterTargets',
      'ssm:SendCommand',
    ]);
    for (const st of mutating) {
      expect(st.Resource).not.toBe('*');
      expect(JSON.stringify(st.Resource)).not.toMatch(/"\*"/);
      // Instances, groups and target groups only with the managed tag; SSM documents are not instances.
      if (!JSON.stringify(st.Resource).includes(':document/')) {
        expect(st.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/fleetops:managed': 'true' } });
      }
    }
    // The health gate reads CloudWatch metrics.
    expect(statements.some((st) => [st.Action].flat().includes('cloudwatch:GetMetricData'))).toBe(true);
    for (const role of Object.values(template.findResources('AWS::IAM::Role'))) {
      expect(
        (role as { Properties: { ManagedPolicyArns?: unknown } }).Properties.ManagedPolicyArns,
      ).toBeUndefined();
    }
  });

  it('routes health events through rules to an encrypted queue with a dead-letter queue, alarmed', () => {
    const rules = Object.values(template.findResources('AWS::Events::Rule'))
      .map((r) => (r as { Properties: { EventPattern?: unknown } }).Properties.EventPattern)
      .filter((p) => p !== undefined);
    expect(rules).toEqual(
      expect.arrayContaining(
        Object.values(routingPatterns('fleetops-status-')).map((p) => cfnPattern(p as never)),
      ),
    );
    expect(rules).toHaveLength(4);
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 5 },
      SqsManagedSseEnabled: true,
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      DefinitionSubstitutions: { RemediationStepFunctionArn: Match.anyValue() },
    });
    template.hasOutput('RemediationStateMachineArn', {});
    template.hasOutput('NotificationTopicArn', {});
  });

  it('watches itself: a dashboard and alarms that page through the topic', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as Array<{
      Properties: { AlarmActions?: unknown[]; MetricName?: string; Namespace?: string };
    }>;
    // 4 handlers' errors, 2 state machines' failed executions, the breaker, 2 dead-letter queues.
    expect(alarms).toHaveLength(9);
    for (const a of alarms) expect(a.Properties.AlarmActions).toHaveLength(1);
    expect(alarms.map((a) => `${a.Properties.Namespace}/${a.Properties.MetricName}`).sort()).toEqual(
      [
        ...Array(4).fill('AWS/Lambda/Errors'),
        ...Array(2).fill('AWS/States/ExecutionsFailed'),
        'FleetOps/BreakerOpen',
        ...Array(2).fill('AWS/SQS/ApproximateNumberOfMessagesVisible'),
      ].sort(),
    );
    const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(
      (dashboards[0] as { Properties: { DashboardBody: unknown } }).Properties.DashboardBody,
    );
    for (const metric of [
      'GateVerdicts',
      'RemediationDecisions',
      'RemediationOutcomes',
      'BreakerOpen',
      'WavesApplied',
    ]) {
      expect(body).toContain(metric);
    }
    template.hasOutput('DashboardName', {});
  });

  it('subscribes the notification e-mail when set, and validates the remediation settings', () => {
    const { template: withEmail } = synth({ 'fleetops:notificationEmail': 'oncall@example.com' });
    withEmail.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    expect(() =>
      synth({ 'fleetops:notificationEmail': 'not-an-address', 'fleetops:breakerMaxUnhealthyPercent': 0 }),
    ).toThrow(
      'context fleetops:notificationEmail: expected an e-mail address, or empty for none, found "not-an-address"\n' +
        'context fleetops:breakerMaxUnhealthyPercent: expected a percentage from 1 to 100, found 0',
    );
  });

  it("gives each function the remediation settings it reads, from the context or FleetOps' defaults", () => {
    const variablesOf = (t: Template, description: string) => {
      const [fn] = Object.values(
        t.findResources('AWS::Lambda::Function', { Properties: { Description: description } }),
      );
      return (fn as { Properties: { Environment: { Variables: Record<string, unknown> } } }).Properties
        .Environment.Variables;
    };
    const STEP = 'FleetOps: one step of a remediation';
    const TRIAGE = 'FleetOps: health events → findings → remediation executions';
    const SWEEP = 'FleetOps: sweep EC2 into the fleet-state table';
    // The defaults (functions/core/defaults.ts); in-flight caps unset: scaled to the fleet.
    expect(variablesOf(template, STEP)).toMatchObject({
      BREAKER_RECHECK_MINUTES: '10',
      BREAKER_HOLD_MINUTES: '360',
      RELAPSE_WINDOW_MINUTES: '1440',
      FLAP_LIMIT: '3',
    });
    expect(Object.keys(variablesOf(template, STEP)).filter((k) => k.startsWith('IN_FLIGHT'))).toEqual([]);
    for (const fn of [TRIAGE, SWEEP]) {
      expect(variablesOf(template, fn)).toMatchObject({
        ACCUMULATE_INSTANCE_CHECK_MINUTES: '5',
        ACCUMULATE_SYSTEM_CHECK_MINUTES: '10',
      });
    }
    const { template: tuned } = synth({
      'fleetops:accumulateSystemCheckMinutes': 15,
      'fleetops:relapseWindowMinutes': 720,
      'fleetops:flapLimit': 2,
      'fleetops:inFlightPerZone': 40,
    });
    expect(variablesOf(tuned, STEP)).toMatchObject({
      RELAPSE_WINDOW_MINUTES: '720',
      FLAP_LIMIT: '2',
      IN_FLIGHT_PER_ZONE: '40',
    });
    expect(variablesOf(tuned, TRIAGE)).toMatchObject({ ACCUMULATE_SYSTEM_CHECK_MINUTES: '15' });
    expect(variablesOf(tuned, SWEEP)).toMatchObject({ ACCUMULATE_SYSTEM_CHECK_MINUTES: '15' });
    expect(() =>
      synth({
        'fleetops:accumulateSystemCheckMinutes': 90,
        'fleetops:flapLimit': 0,
        'fleetops:inFlightPerService': 'x',
      }),
    ).toThrow(
      'context fleetops:inFlightPerService: expected a whole number from 1 to 10000, or empty to scale with the fleet, found "x"\n' +
        'context fleetops:accumulateSystemCheckMinutes: expected a whole number of minutes from 0 to 60, found 90\n' +
        'context fleetops:flapLimit: expected a whole number from 1 to 20, found 0',
    );
  });

  it('deploys the rollout ASL file as written: Standard, traced, logged, the step function substituted', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
      DefinitionSubstitutions: { RolloutStepFunctionArn: Match.anyValue() },
    });
    // The ASL file itself is the deployed artifact: an asset staged byte for byte from the file.
    const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
    const location = (machine as { Properties: { DefinitionS3Location: { Key: string } } }).Properties
      .DefinitionS3Location;
    const staged = readFileSync(join(assembly.directory, `asset.${location.Key}`));
    expect(staged.equals(readFileSync('state-machines/rollout.asl.json'))).toBe(true);
    template.hasOutput('RolloutStateMachineArn', {});
  });

  it('lets the rollout publish to the notification topic: its function knows the topic and may publish', () => {
    const functions = template.findResources('AWS::Lambda::Function', {
      Properties: { Description: 'FleetOps: one step of a gray-scale rollout' },
    });
    const [[, rollout]] = Object.entries(functions) as Array<
      [string, { Properties: { Environment: { Variables: Record<string, unknown> }; Role: unknown } }]
    >;
    const [topicId] = Object.keys(template.findResources('AWS::SNS::Topic'));
    expect(rollout.Properties.Environment.Variables.TOPIC_ARN).toEqual({ Ref: topicId });
    const roleRef = JSON.stringify(rollout.Properties.Role);
    const publishes = Object.values(template.findResources('AWS::IAM::Policy')).some((p) => {
      const props = (
        p as {
          Properties: {
            Roles: unknown[];
            PolicyDocument: { Statement: Array<{ Action: unknown; Resource: unknown }> };
          };
        }
      ).Properties;
      return (
        JSON.stringify(props.Roles).includes(JSON.parse(roleRef)['Fn::GetAtt']?.[0] ?? roleRef) &&
        props.PolicyDocument.Statement.some(
          (st) =>
            [st.Action].flat().includes('sns:Publish') &&
            JSON.stringify(st.Resource) === JSON.stringify({ Ref: topicId }),
        )
      );
    });
    expect(publishes).toBe(true);
  });

  it('fails the cdk-nag check when a resource breaks a rule (the check can fail)', () => {
    const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'fleetops-cdk-')) });
    const stack = new FleetOpsStack(app, 'FleetOps', { settings: readSettings(app) });
    const { Table, AttributeType } = require('aws-cdk-lib/aws-dynamodb');
    new Table(stack, 'Careless', { partitionKey: { name: 'pk', type: AttributeType.STRING } });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-DDB3/);
  });

  it('passes cfn-lint with no errors', () => {
    const cfnLint = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
    if (cfnLint.status !== 0)
      throw new Error('cfn-lint is not installed: run `pip install cfn-lint` (see README)');
    const file = join(mkdtempSync(join(tmpdir(), 'fleetops-lint-')), 'template.json');
    writeFileSync(file, JSON.stringify(template.toJSON()));
    // Exit code 0: no errors or warnings. W3005 (a DependsOn also implied by a GetAtt) is how CDK
    // orders a function after its role's policy; it is redundant, not wrong.
    const result = spawnSync('cfn-lint', ['--format', 'parseable', '--ignore-checks', 'W3005', '--', file], {
      encoding: 'utf8',
    });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('synthesizes from the real app entry offline (npx cdk synth)', () => {
    const out = mkdtempSync(join(tmpdir(), 'fleetops-synth-'));
    execFileSync('npx', ['cdk', 'synth', '--quiet', '--output', out], {
      stdio: 'pipe',
      env: { ...process.env, CI: 'true' },
    });
    const synthesized = require(join(out, 'FleetOps.template.json'));
    expect(
      Object.values(synthesized.Resources).some(
        (r) => (r as { Type: string }).Type === 'AWS::DynamoDB::Table',
      ),
    ).toBe(true);
  });
});
