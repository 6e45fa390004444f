import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { freshTable } from '../support/aws';

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
    expect(result).toMatchObject({ observed: 12, written: 12, findings: 0 });
    const instances = await stores.fleet.listInstances();
    expect(instances.map((i) => i.service)).toEqual(Array(12).fill('checkout'));
  });
});
