import { readFileSync } from 'node:fs';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { DynamoRemediationStore } from '../../functions/adapters/dynamo-remediation-store';
import type { TriagePorts } from '../../functions/core/remediation/triage';
import { freshTable } from '../support/aws';
import { loadDefinition } from '../support/local-sfn';
import { CrashPoints, WRITES } from './crash-points';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
  /** The handler's own ports (module state, as Lambda keeps it between invocations). */
  let handlerPorts: TriagePorts;
  let realPorts: TriagePorts;
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
    ({ triage, ports: handlerPorts } = (await import('../../functions/handlers/triage')) as unknown as {
      triage: typeof triage;
      ports: TriagePorts;
    });
    realPorts = { ...handlerPorts };
  });
  afterAll(() => {
    process.env = saved;
  });
  afterEach(() => {
    Object.assign(handlerPorts, realPorts);
  });

  /** Every write of the handler's ports counted, and the k-th followed by a crash. */
  const crashAfter = (k?: number) => {
    const crash = new CrashPoints(k);
    Object.assign(handlerPorts, {
      fleet: crash.wrap('fleet', realPorts.fleet, WRITES.fleet),
      cases: crash.wrap('cases', realPorts.cases, WRITES.cases),
      executions: crash.wrap('executions', realPorts.executions, WRITES.executions),
    });
    return crash;
  };
  /** The AWS documentation's retirement event, for an instance of its own. */
  const retirementOf = (instanceId: string) =>
    fixture('health-instance-retirement.aws-docs')
      .replaceAll('i-1234567890abcdef0', instanceId)
      .replaceAll('90353408594353983', instanceId.slice(2));
  const store = () => new DynamoRemediationStore(stores.db, stores.table);
  /** Exactly one case for the instance and one execution of it, whose input is the case's own. */
  const expectOneCaseOneExecution = async (instanceId: string) => {
    const cases = (await store().list(1000)).filter((c) => c.finding.instanceId === instanceId);
    expect(cases).toHaveLength(1);
    const [c] = cases;
    const runs = (await executions()).filter((e) => e.name?.startsWith(instanceId));
    expect(runs.map((e) => e.name)).toEqual([c.id]);
    const input = JSON.parse(
      (await sfn.send(new DescribeExecutionCommand({ executionArn: runs[0].executionArn }))).input ?? '{}',
    );
    expect(input).toEqual({ state: { caseId: c.id, attempts: 0, polls: 0 }, at: c.at });
    expect(c.startedAt).toBeDefined();
    const unsettled = await stores.fleet.unsettledFindings(Date.now());
    expect(unsettled.filter((f) => f.instanceId === instanceId)).toEqual([]);
  };

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

  it('crashed after any write (a thrown error), the redelivered event ends in one case and one execution', async () => {
    // Prepare: how many writes a clean intake of one finding makes.
    const count = crashAfter();
    expect(
      (await triage({ Records: [record(retirementOf('i-0cafe000000000000'))] }, context)).batchItemFailures,
    ).toEqual([]);
    const writes = count.writes;
    expect(writes).toEqual([
      'fleet.recordFinding',
      'cases.open',
      'executions.start',
      'cases.markStarted',
      'fleet.audit',
      'fleet.settleFinding',
    ]);
    for (let k = 1; k <= writes.length; k++) {
      const instanceId = `i-0cafe00000000000${k}`;
      const body = retirementOf(instanceId);
      // Act: the k-th write completes, then the invocation throws (its only record failed: the
      // whole batch fails); SQS delivers the event again.
      const crash = crashAfter(k);
      await expect(triage({ Records: [record(body)] }, context)).rejects.toThrow('All records failed');
      expect(crash.crashed).toBe(true);
      Object.assign(handlerPorts, realPorts);
      // Assess: Powertools deleted the failed invocation's in-progress record, so the redelivery
      // runs, and carries on from where the crash left the intake.
      expect((await triage({ Records: [record(body)] }, context)).batchItemFailures).toEqual([]);
      await expectOneCaseOneExecution(instanceId);
      // A further delivery finds it done.
      expect((await triage({ Records: [record(body)] }, context)).batchItemFailures).toEqual([]);
      await expectOneCaseOneExecution(instanceId);
    }
  });

  it('timed out after any write (the invocation frozen), the redelivery after its deadline ends in one case and one execution', async () => {
    for (let k = 1; k <= 6; k++) {
      const instanceId = `i-0dead00000000000${k}`;
      const body = retirementOf(instanceId);
      // The k-th write completes and the invocation never returns (Lambda stops it at its
      // deadline, here 50 ms away): its idempotency record stays in progress until then.
      const crash = new CrashPoints(k);
      const frozen = new Promise<never>(() => {});
      const freeze = <T extends object>(name: keyof typeof WRITES, target: T) =>
        new Proxy(crash.wrap(name, target, WRITES[name]), {
          get: (t, prop) => {
            const value = Reflect.get(t, prop, t);
            if (typeof value !== 'function') return value;
            return async (...args: unknown[]) => {
              try {
                return await value.apply(t, args);
              } catch (error) {
                if (crash.crashed) return frozen;
                throw error;
              }
            };
          },
        });
      Object.assign(handlerPorts, {
        fleet: freeze('fleet', realPorts.fleet),
        cases: freeze('cases', realPorts.cases),
        executions: freeze('executions', realPorts.executions),
      });
      const short = { ...context, getRemainingTimeInMillis: () => 50 } as Context;
      void triage({ Records: [record(body)] }, short);
      for (let waited = 0; !crash.crashed && waited < 5000; waited += 20) await sleep(20);
      expect(crash.crashed).toBe(true);
      await sleep(100); // past the frozen invocation's deadline
      Object.assign(handlerPorts, realPorts);
      expect((await triage({ Records: [record(body)] }, context)).batchItemFailures).toEqual([]);
      await expectOneCaseOneExecution(instanceId);
    }
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
