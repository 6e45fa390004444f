import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { CreateStateMachineCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { DynamoRemediationStore } from '../../functions/adapters/dynamo-remediation-store';
import { NamedExecutions } from '../../functions/adapters/sfn-executions';
import { type ObservedInstance, syncInventory } from '../../functions/core/fleet/sync-inventory';
import { handOverFindings } from '../../functions/core/remediation/triage';
import { freshTable } from '../support/aws';
import { loadDefinition } from '../support/local-sfn';
import { Crash, CrashPoints, WRITES } from './crash-points';

const REGION = 'ap-southeast-2';

describe('inventory-sync handler (real handler, moto EC2 and DynamoDB)', () => {
  const saved = { ...process.env };
  afterAll(() => {
    process.env = saved;
  });

  it('fails fast at load when its configuration is missing', async () => {
    jest.resetModules();
    delete process.env.TABLE_NAME;
    await expect(import('../../functions/handlers/inventory-sync')).rejects.toThrow(
      'missing environment variables: TABLE_NAME, MANAGED_TAG_KEY, MANAGED_TAG_VALUE, SERVICE_TAG_KEY',
    );
  });

  it('sweeps managed instances into the table when the schedule fires', async () => {
    // Prepare
    process.env.AWS_REGION = REGION;
    const stores = await freshTable();
    const ec2 = new EC2Client({ region: REGION });
    await ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-12c6146b',
        MinCount: 12,
        MaxCount: 12,
        Placement: { AvailabilityZone: `${REGION}a` },
        TagSpecifications: [
          {
            ResourceType: 'instance',
            Tags: [
              { Key: 'acme:managed', Value: 'yes' },
              { Key: 'acme:service', Value: 'checkout' },
            ],
          },
        ],
      }),
    );
    Object.assign(process.env, {
      TABLE_NAME: stores.table,
      MANAGED_TAG_KEY: 'acme:managed',
      MANAGED_TAG_VALUE: 'yes',
      SERVICE_TAG_KEY: 'acme:service',
      POWERTOOLS_LOG_LEVEL: 'WARN',
    });
    jest.resetModules();
    const { handler } = await import('../../functions/handlers/inventory-sync');

    // Act
    const result = await handler(
      { time: '2026-11-27T21:00:00Z' } as ScheduledEvent,
      {
        functionName: 'sync',
        awsRequestId: 'req-1',
      } as Context,
    );

    // Assess
    expect(result).toMatchObject({
      observed: 12,
      written: 12,
      findings: 0,
      trafficRestored: 0,
      trafficStuck: 0,
    });
    const instances = await stores.fleet.listInstances();
    expect(instances.map((i) => i.service)).toEqual(Array(12).fill('checkout'));
  });
});

describe('inventory sweep → remediation cases: crash-safe (core use cases, moto DynamoDB and Step Functions)', () => {
  const sfn = new SFNClient({ region: REGION });
  let machineArn: string;
  beforeAll(async () => {
    machineArn = (
      await sfn.send(
        new CreateStateMachineCommand({
          name: `remediation-sweep-${Date.now()}`,
          roleArn: 'arn:aws:iam::123456789012:role/fleetops-remediation',
          definition: JSON.stringify(
            loadDefinition('state-machines/remediation.asl.json', {
              RemediationStepFunctionArn: `arn:aws:lambda:${REGION}:123456789012:function:remediation-step`,
            }),
          ),
        }),
      )
    ).stateMachineArn!;
  });

  /**
   * What EC2 says: one instance with a scheduled retirement (seen by every sweep until it is
   * done), one impaired without `ImpairedSince` (a finding only on the sweep that first sees it).
   */
  const observed = (retiring: string, impaired: string): ObservedInstance[] => [
    {
      instance: {
        id: retiring,
        service: 'web',
        zone: `${REGION}a`,
        state: 'running',
        health: 'ok',
        tags: {},
        scheduledEvents: [
          {
            id: `instance-event-${retiring.slice(2)}`,
            code: 'instance-retirement',
            notBefore: '2027-01-27T13:19:03.000Z',
            description: 'The instance is running on degraded hardware',
          },
        ],
      },
    },
    {
      instance: {
        id: impaired,
        service: 'web',
        zone: `${REGION}a`,
        state: 'running',
        health: 'impaired',
        tags: {},
      },
      impairment: 'system',
    },
  ];

  /** One sweep, as the handler runs it: sync, then hand the findings to remediation. */
  const sweepOnce = async (
    stores: Awaited<ReturnType<typeof freshTable>>,
    seen: ObservedInstance[],
    now: number,
    crash?: CrashPoints,
  ) => {
    const wrap = <T extends object>(name: keyof typeof WRITES, target: T): T =>
      crash ? crash.wrap(name, target, WRITES[name]) : target;
    const fleet = wrap('fleet', stores.fleet);
    const report = await syncInventory({
      ec2: { listManagedInstances: async () => seen },
      store: fleet,
      leases: wrap('leases', stores.leases),
      now,
      actor: 'inventory-sync',
    });
    const handOver = await handOverFindings(
      {
        fleet,
        cases: wrap('cases', new DynamoRemediationStore(stores.db, stores.table)),
        executions: wrap('executions', new NamedExecutions(sfn, machineArn)),
        now: () => now,
        actor: 'inventory-sync',
      },
      report.findings,
    );
    const crashed = handOver.failed.find((f) => f.reason.startsWith('Crash'));
    if (crashed) throw new Crash(crashed.reason);
    expect(handOver.failed).toEqual([]);
    return handOver;
  };

  it('crashed after any write, the next sweep ends in one case and one execution per finding', async () => {
    const executionsOf = async (id: string) =>
      ((await sfn.send(new ListExecutionsCommand({ stateMachineArn: machineArn }))).executions ?? [])
        .map((e) => e.name ?? '')
        .filter((n) => n.startsWith(id));
    const ids = (k: number) => {
      const kk = k.toString(16).padStart(2, '0');
      return [`i-0b0b${kk}0000000000a`, `i-0b0b${kk}0000000000b`] as const;
    };

    // Prepare: the writes of one clean sweep.
    const count = new CrashPoints();
    const t0 = Date.now();
    const minutes = (n: number) => t0 + n * 60_000;
    await sweepOnce(await freshTable(), observed(...ids(0)), t0, count);
    expect(count.writes).toEqual(
      [
        'fleet.recordFindings',
        'fleet.putInstances',
        'leases.reclaimExpired',
        'fleet.reconcileLedgers',
        'fleet.audit',
        ...Array(2).fill([
          'cases.open',
          'executions.start',
          'cases.markStarted',
          'fleet.audit',
          'fleet.settleFinding',
        ]),
      ].flat(),
    );

    for (let k = 1; k <= count.writes.length; k++) {
      const stores = await freshTable();
      const [retiring, impaired] = ids(k);
      const crash = new CrashPoints(k);
      // Act: the sweep dies after its k-th write; the next one runs on the same observation.
      await expect(sweepOnce(stores, observed(retiring, impaired), t0, crash)).rejects.toThrow(Crash);
      await sweepOnce(stores, observed(retiring, impaired), minutes(10));
      // Assess
      const cases = new DynamoRemediationStore(stores.db, stores.table);
      for (const id of [retiring, impaired]) {
        const mine = (await cases.list()).filter((c) => c.finding.instanceId === id);
        expect(mine).toHaveLength(1);
        expect(await executionsOf(id)).toEqual([mine[0].id]);
        expect(mine[0].startedAt).toBeDefined();
      }
      expect(await stores.fleet.unsettledFindings(minutes(60))).toEqual([]);
      // A third sweep has nothing left to hand over.
      expect((await sweepOnce(stores, observed(retiring, impaired), minutes(20))).cases).toEqual([]);
    }
  });
});
