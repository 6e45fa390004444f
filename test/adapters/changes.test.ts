import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoChangeStore } from '../../functions/adapters/dynamo-change-store';
import { keys } from '../../functions/adapters/keys';
import { planChange } from '../../functions/core/change/plan/planner';
import { changeSpecSchema } from '../../functions/core/change/spec';
import { serviceCatalog } from '../../functions/core/fleet/services';
import { syntheticFleet } from '../../sim/world/synthetic-fleet';
import { freshTable } from '../support/aws';

const spec = changeSpecSchema.parse({
  id: 'patch-big',
  description: 'patch 100k instances',
  target: { tags: {} },
  action: { type: 'reboot' },
  risk: 'medium',
});

describe('change store (DynamoDB, against moto)', () => {
  it('stores a 100,000-instance plan in chunks and reads back exactly the same plan', async () => {
    const stores = await freshTable();
    const changes = new DynamoChangeStore(stores.db, stores.table);
    const fleet = syntheticFleet({ instances: 100_000, services: 500, zones: 3, seed: 1 });
    const plan = planChange({ instances: fleet.instances, catalog: serviceCatalog(fleet.services), spec });

    const saved = await changes.save(spec, plan, 'tester', 1000);
    expect(saved.created).toBe(true);
    expect(saved.record.planChunks).toBeGreaterThan(5); // several MB: far over a 256 KB payload
    expect(JSON.stringify(await changes.loadPlan('patch-big'))).toBe(JSON.stringify(plan));

    // Starting the same change twice is harmless; the same id with another plan is refused.
    expect((await changes.save(spec, plan, 'tester', 2000)).created).toBe(false);
    const other = { ...plan, waves: plan.waves.slice(1) };
    await expect(changes.save(spec, other, 'tester', 3000)).rejects.toThrow(
      'change patch-big already exists with a different plan',
    );
    expect((await changes.list()).map((c) => c.id)).toEqual(['patch-big']);
  });

  it('revises a 100,000-instance plan: a fresh reader gets the revision whole, the first plan stays as it was', async () => {
    const stores = await freshTable();
    const writer = new DynamoChangeStore(stores.db, stores.table);
    const fleet = syntheticFleet({ instances: 100_000, services: 500, zones: 3, seed: 2 });
    const plan = planChange({ instances: fleet.instances, catalog: serviceCatalog(fleet.services), spec });
    await writer.save(spec, plan, 'tester', 1000);
    const revised = {
      ...plan,
      revision: 1,
      revisions: [
        {
          revision: 1,
          wave: 3,
          at: '1970-01-01T00:00:02.000Z',
          reason: 'test',
          waves: plan.waves.length + 1,
        },
      ],
      waves: [...plan.waves, { ...plan.waves.at(-1)!, index: plan.waves.length }],
    };
    expect(await writer.revisePlan('patch-big', 0, revised, 2000)).toBe('revised');

    // Another Lambda (no cache) reads the revision, verified against its digest.
    const reader = new DynamoChangeStore(stores.db, stores.table);
    expect(JSON.stringify(await reader.loadPlan('patch-big'))).toBe(JSON.stringify(revised));
    const record = await reader.get('patch-big');
    expect(record).toMatchObject({ planRevision: 1, waves: plan.waves.length + 1 });
    // The first plan's chunks are untouched (a crash before the commit point leaves it in force).
    const first = await stores.db.send(
      new GetCommand({ TableName: stores.table, Key: keys.planChunk('patch-big', 0) }),
    );
    expect(String(first.Item?.body)).toBe(JSON.stringify(plan).slice(0, String(first.Item?.body).length));
  });

  it('refuses to load a plan whose chunks were corrupted', async () => {
    const stores = await freshTable();
    const changes = new DynamoChangeStore(stores.db, stores.table);
    const fleet = syntheticFleet({ instances: 500, services: 20, zones: 3, seed: 2 });
    const small = { ...spec, id: 'patch-small' };
    await changes.save(
      small,
      planChange({ instances: fleet.instances, catalog: serviceCatalog(fleet.services), spec: small }),
      't',
      1,
    );
    await stores.db.send(
      new PutCommand({
        TableName: stores.table,
        Item: { ...keys.change('patch-small', 'PLAN#0000'), n: 0, body: '{"waves":[]}' },
      }),
    );
    await expect(changes.loadPlan('patch-small')).rejects.toThrow('incomplete or corrupted');
  });
});
