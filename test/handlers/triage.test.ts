import { readFileSync } from 'node:fs';
import { CreateStateMachineCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { DynamoRemediationStore } from '../../functions/adapters/dynamo-remediation-store';
import { freshTable } from '../support/aws';
import { loadDefinition } from '../support/local-sfn';

/**
 * The triage handler against moto: SQS batches of real-shaped EventBridge events → findings →
 * remediation cases → one execution per case (moto's Step Functions, the execution named after
 * the case), Powertools idempotency on the fleet-state table, partial batch responses.
 */
describe('triage handler (SQS → findings → remediation executions)', () => {
  const saved = { ...process.env };
  let stores: Awaited<ReturnType<typeof freshTable>>;
  let machineArn: string;
  let triage: (
    event: SQSEvent,
    context: Context,
  ) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;
  const sfn = new SFNClient({ region: 'eu-central-1' });
  const context = {
    functionName: 'triage',
    awsRequestId: 'local',
    getRemainingTimeInMillis: () => 60_000,
  } as unknown as Context;

  const fixture = (name: string) => readFileSync(`test/fixtures/events/${name}.json`, 'utf8');
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
      eventSourceARN: 'arn:aws:sqs:eu-central-1:123456789012:fleetops-events',
      awsRegion: 'eu-central-1',
    }) as SQSRecord;
  const executions = async () =>
    (await sfn.send(new ListExecutionsCommand({ stateMachineArn: machineArn }))).executions ?? [];

  beforeAll(async () => {
    process.env.AWS_REGION = 'eu-central-1';
    stores = await freshTable();
    machineArn = (
      await sfn.send(
        new CreateStateMachineCommand({
          name: `remediation-${stores.table}`,
          roleArn: 'arn:aws:iam::123456789012:role/fleetops-remediation',
          definition: JSON.stringify(
            loadDefinition('state-machines/remediation.asl.json', {
              RemediationStepFunctionArn:
                'arn:aws:lambda:eu-central-1:123456789012:function:remediation-step',
            }),
          ),
        }),
      )
    ).stateMachineArn!;
    process.env.TABLE_NAME = stores.table;
    process.env.REMEDIATION_STATE_MACHINE_ARN = machineArn;
    process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
    jest.resetModules();
    ({ triage } = (await import('../../functions/handlers/triage')) as unknown as { triage: typeof triage });
  });
  afterAll(() => {
    process.env = saved;
  });

  it('turns each finding into one case and one execution, however often the events are replayed', async () => {
    const bodies = [
      fixture('health-retirement.newer-fields'), // two instances (one as an ARN), a volume, a resolved one
      fixture('health-degraded-hardware.issue'),
      fixture('alarm-status-system'),
      fixture('ec2-state-stopped'), // recorded, nothing to act on
      fixture('health-reboot.page-1-of-2'),
      fixture('health-reboot.page-2-of-2'),
    ];
    for (let replay = 0; replay < 3; replay++) {
      const result = await triage({ Records: bodies.map(record) }, context);
      expect(result.batchItemFailures).toEqual([]);
    }
    const cases = await new DynamoRemediationStore(stores.db, stores.table).list();
    const kinds = cases.map((c) => `${c.finding.instanceId} ${c.finding.kind}`).sort();
    expect(new Set(kinds).size).toBe(kinds.length);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'i-0a1b2c3d4e5f60718 scheduled-retirement',
        'i-1a2b3c4d scheduled-retirement',
        'i-0123456789abcdef0 degraded-hardware',
        'i-0c0ffee0c0ffee001 system-status-check-failed',
        'i-0d15ea5e0d15ea5e0 unexpected-stop',
      ]),
    );
    // The stop is only recorded; every other case has exactly one execution, named after it.
    const stop = cases.find((c) => c.finding.kind === 'unexpected-stop')!;
    expect(stop.status).toBe('recorded');
    const names = (await executions()).map((e) => e.name).sort();
    expect(names).toEqual(
      cases
        .filter((c) => c.status !== 'recorded')
        .map((c) => c.id)
        .sort(),
    );
    // One audit record per finding, not per delivery.
    const audit = await stores.fleet.auditOf('instance:i-0a1b2c3d4e5f60718');
    expect(audit.filter((r) => r.action === 'finding.recorded')).toHaveLength(1);
  });

  it('fails only the malformed records (partial batch response); the rest are processed', async () => {
    const good = record(fixture('ec2-state-terminated'));
    const notJson = record('{"id": "x", ');
    const notAnEvent = record(JSON.stringify({ hello: 'world' }));
    const badId = record(
      fixture('alarm-status-system')
        .replaceAll('i-0c0ffee0c0ffee001', 'i-NOT-AN-ID')
        .replace('"ALARM"', '"ALARM"'),
    );
    const result = await triage({ Records: [notJson, good, notAnEvent, badId] }, context);
    expect(result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(
      [notJson.messageId, notAnEvent.messageId, badId.messageId].sort(),
    );
    const cases = await new DynamoRemediationStore(stores.db, stores.table).list();
    expect(cases.some((c) => c.finding.kind === 'unexpected-termination')).toBe(true);
  });
});
