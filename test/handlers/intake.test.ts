import { readFileSync } from 'node:fs';
import { CreateStateMachineCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { Context, ScheduledEvent, SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoRemediationStore } from '../../functions/adapters/dynamo-remediation-store';
import { MANAGED_TAG, SERVICE_TAG_KEY } from '../../functions/core/defaults';
import { freshTable } from '../support/aws';
import { loadDefinition } from '../support/local-sfn';

const REGION = 'sa-east-1';

/**
 * One scheduled retirement reaches FleetOps twice: as an AWS Health event (through SQS to the
 * triage handler) and in the sweep's DescribeInstanceStatus (the inventory-sync handler). Both
 * real handlers run against moto (DynamoDB, Step Functions); EC2 is a narrow mock because moto
 * schedules no events. Whatever the order, and when both run at once, the instance gets one case
 * and one execution (one stop-start).
 */
describe('one case per instance and underlying event: AWS Health and the sweep (real handlers)', () => {
  const saved = { ...process.env };
  let stores: Awaited<ReturnType<typeof freshTable>>;
  let machineArn: string;
  let triage: (event: SQSEvent, context: Context) => Promise<unknown>;
  let sweep: (event: ScheduledEvent, context: Context) => Promise<Record<string, unknown>>;
  let ec2Mock: ReturnType<typeof mockClient>;
  let ec2: typeof import('@aws-sdk/client-ec2');
  const sfn = new SFNClient({ region: REGION });
  const context = {
    functionName: 'fleetops',
    awsRequestId: 'local',
    getRemainingTimeInMillis: () => 60_000,
  } as unknown as Context;

  let seq = 0;
  const record = (body: string): SQSRecord =>
    ({
      messageId: `m-${++seq}`,
      receiptHandle: 'r',
      body,
      attributes: {},
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: `arn:aws:sqs:${REGION}:123456789012:fleetops-events`,
      awsRegion: REGION,
    }) as SQSRecord;

  /** The AWS documentation's retirement event for this instance, starting at `start` (RFC 7231). */
  const healthEvent = (instanceId: string, start = 'Wed, 27 Jan 2027 13:19:03 GMT', arnSuffix = '1') =>
    readFileSync('test/fixtures/events/health-instance-retirement.aws-docs.json', 'utf8')
      .replaceAll('i-1234567890abcdef0', instanceId)
      .replaceAll('90353408594353983', `${instanceId.slice(2)}${arnSuffix}`)
      .replace('Thu, 27 Aug 2026 13:19:03 GMT', start);

  /** What DescribeInstances and DescribeInstanceStatus say about these instances. */
  const ec2Reports = (instances: ReadonlyArray<{ id: string; notBefore?: string; eventId?: string }>) => {
    ec2Mock.reset();
    ec2Mock.on(ec2.DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: instances.map(({ id }) => ({
            InstanceId: id,
            Placement: { AvailabilityZone: `${REGION}a` },
            State: { Name: 'running' as const },
            Tags: [
              { Key: MANAGED_TAG.key, Value: MANAGED_TAG.value },
              { Key: SERVICE_TAG_KEY, Value: 'web' },
            ],
          })),
        },
      ],
    });
    ec2Mock.on(ec2.DescribeInstanceStatusCommand).resolves({
      InstanceStatuses: instances.map(({ id, notBefore, eventId }) => ({
        InstanceId: id,
        SystemStatus: { Status: 'ok' as const },
        InstanceStatus: { Status: 'ok' as const },
        Events: notBefore
          ? [
              {
                InstanceEventId: eventId ?? `instance-event-${id.slice(2)}`,
                Code: 'instance-retirement' as const,
                Description: 'The instance is running on degraded hardware',
                NotBefore: new Date(notBefore),
              },
            ]
          : [],
      })),
    });
  };

  const deliver = async (body: string) => {
    const result = (await triage({ Records: [record(body)] }, context)) as {
      batchItemFailures: unknown[];
    };
    expect(result.batchItemFailures).toEqual([]);
  };
  const sweepNow = () => sweep({ time: new Date().toISOString() } as ScheduledEvent, context);
  const casesOf = async (instanceId: string) =>
    (await new DynamoRemediationStore(stores.db, stores.table).list(1000)).filter(
      (c) => c.finding.instanceId === instanceId,
    );
  const executionsOf = async (instanceId: string) =>
    ((await sfn.send(new ListExecutionsCommand({ stateMachineArn: machineArn }))).executions ?? [])
      .map((e) => e.name ?? '')
      .filter((name) => name.startsWith(instanceId));
  /** One case with both sources on it, and one execution named after it. */
  const expectOneCase = async (instanceId: string) => {
    const cases = await casesOf(instanceId);
    expect(cases).toHaveLength(1);
    expect(await executionsOf(instanceId)).toEqual([cases[0].id]);
    expect(cases[0].sources.map((s) => s.source).sort()).toEqual([
      'aws.health:AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED',
      'inventory-sync',
    ]);
    return cases[0];
  };

  beforeAll(async () => {
    process.env.AWS_REGION = REGION;
    stores = await freshTable();
    machineArn = (
      await sfn.send(
        new CreateStateMachineCommand({
          name: `remediation-${stores.table}`,
          roleArn: 'arn:aws:iam::123456789012:role/fleetops-remediation',
          definition: JSON.stringify(
            loadDefinition('state-machines/remediation.asl.json', {
              RemediationStepFunctionArn: `arn:aws:lambda:${REGION}:123456789012:function:remediation-step`,
            }),
          ),
        }),
      )
    ).stateMachineArn!;
    Object.assign(process.env, {
      TABLE_NAME: stores.table,
      REMEDIATION_STATE_MACHINE_ARN: machineArn,
      MANAGED_TAG_KEY: MANAGED_TAG.key,
      MANAGED_TAG_VALUE: MANAGED_TAG.value,
      SERVICE_TAG_KEY,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    });
    jest.resetModules();
    // The EC2 module the handler loads, so the mock is on the class it builds its client from.
    ec2 = await import('@aws-sdk/client-ec2');
    ec2Mock = mockClient(ec2.EC2Client);
    ({ triage } = (await import('../../functions/handlers/triage')) as unknown as { triage: typeof triage });
    ({ handler: sweep } = (await import('../../functions/handlers/inventory-sync')) as unknown as {
      handler: typeof sweep;
    });
  });
  afterAll(() => {
    ec2Mock.restore();
    process.env = saved;
  });

  it('AWS Health first, then the sweep: one case, one execution', async () => {
    const id = 'i-0a11ce00000000001';
    await deliver(healthEvent(id));
    ec2Reports([{ id, notBefore: '2027-01-27T13:19:03Z' }]);
    await sweepNow();
    await sweepNow(); // and every sweep after, while EC2 still lists the event
    await expectOneCase(id);
  });

  it('the sweep first, then AWS Health: one case, one execution', async () => {
    const id = 'i-0a11ce00000000002';
    ec2Reports([{ id, notBefore: '2027-01-27T13:19:03Z' }]);
    await sweepNow();
    await deliver(healthEvent(id));
    await deliver(healthEvent(id)); // a repeat of the event
    await expectOneCase(id);
  });

  it('both at once: one case, one execution', async () => {
    const ids = ['i-0a11ce00000000003', 'i-0a11ce00000000004', 'i-0a11ce00000000005'];
    ec2Reports(ids.map((id) => ({ id, notBefore: '2027-01-27T13:19:03Z' })));
    // One batch for the three Health events (one triage invocation), racing the sweep.
    const [, batch] = await Promise.all([
      sweepNow(),
      triage({ Records: ids.map((id) => record(healthEvent(id))) }, context),
    ]);
    expect(batch).toEqual({ batchItemFailures: [] });
    for (const id of ids) await expectOneCase(id);
  });

  it('after the case ended, a new retirement opens a new case (a relapse); a late report of the old one does not', async () => {
    const id = 'i-0a11ce00000000006';
    const upcoming = healthEvent(id).replace('"statusCode": "open"', '"statusCode": "upcoming"');
    await deliver(upcoming);
    ec2Reports([{ id, notBefore: '2027-01-27T13:19:03Z' }]);
    await sweepNow();
    const first = await expectOneCase(id);
    // The remediation moved the instance to new hardware; the case ended.
    await new DynamoRemediationStore(stores.db, stores.table).setStatus(
      first.id,
      'recovered',
      'stop-start recovered the instance',
      Date.now(),
    );
    // Health's update of the same event (upcoming → open) comes after the case ended: a new
    // finding, the same event, no new case.
    await deliver(healthEvent(id));
    expect(await casesOf(id)).toHaveLength(1);
    expect((await casesOf(id))[0].sources).toHaveLength(3);
    // A later retirement of the new host: a new case, and its own execution.
    await deliver(healthEvent(id, 'Mon, 15 Mar 2027 08:00:00 GMT', '2'));
    const cases = await casesOf(id);
    expect(cases.map((c) => c.status).sort()).toEqual(['open', 'recovered']);
    expect((await executionsOf(id)).sort()).toEqual(cases.map((c) => c.id).sort());
  });
});
