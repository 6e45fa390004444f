import { LAUNCHER, type MotoServer, PLAIN_LAUNCHER, startMotoServer } from '../../cli/local/moto-server';
import { seededRandom } from '../../sim/kernel/random';

/**
 * The moto server npm start and the tests run (cli/local/moto-server.ts) takes out the costs that
 * grow with a long run (a copy of the whole table per transaction item, a sort of every item per
 * query, moto's model walk for every attribute value): the same requests must get the same
 * answers as from plain moto, byte for byte, and leave the same tables. Random sequences of
 * writes, failing and passing transactions, and queries over a table and its indexes, paged.
 */
describe('the moto server as launched here answers as plain moto does', () => {
  const servers: MotoServer[] = [];
  afterAll(() => Promise.all(servers.map((s) => s.stop())));

  it('every response byte for byte, and the tables at the end', async () => {
    servers.push(...(await Promise.all([startMotoServer(LAUNCHER), startMotoServer(PLAIN_LAUNCHER)])));
    const send = async (endpoint: string, action: string, body: unknown) => {
      const response = await fetch(endpoint, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-amz-json-1.0',
          'X-Amz-Target': `DynamoDB_20120810.${action}`,
          Authorization:
            'AWS4-HMAC-SHA256 Credential=testing/20260101/eu-west-3/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
        },
        body: JSON.stringify(body),
      });
      return { status: response.status, body: await response.text() };
    };
    const both = async (action: string, body: unknown) => {
      const [fast, plain] = await Promise.all(servers.map((s) => send(s.endpoint, action, body)));
      if (action === 'CreateTable') expect(fast.status).toBe(plain.status);
      else expect({ action, body, answer: fast }).toEqual({ action, body, answer: plain });
      return JSON.parse(fast.body) as Record<string, unknown>;
    };

    const random = seededRandom(20261207);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
    const below = (n: number) => Math.floor(random() * n);
    const tables = ['t1', 't2'];
    for (const TableName of tables) {
      await both('CreateTable', {
        TableName,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: ['pk', 'sk', 'g1', 'g1s', 'g2', 'g2s'].map((a) => ({
          AttributeName: a,
          AttributeType: 'S',
        })),
        GlobalSecondaryIndexes: [1, 2].map((k) => ({
          IndexName: `gsi${k}`,
          KeySchema: [
            { AttributeName: `g${k}`, KeyType: 'HASH' },
            { AttributeName: `g${k}s`, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        })),
      });
    }
    const key = () => ({ pk: { S: `P${below(6)}` }, sk: { S: `S${String(below(10)).padStart(2, '0')}` } });
    const item = () => {
      const it: Record<string, unknown> = { ...key(), n: { N: String(below(20)) } };
      if (random() < 0.7) Object.assign(it, { g1: { S: `A${below(3)}` }, g1s: { S: String(below(40)) } });
      if (random() < 0.6) Object.assign(it, { g2: { S: `B${below(3)}` }, g2s: { S: String(below(40)) } });
      const extra = random();
      if (extra < 0.1)
        it.m = {
          M: { a: { S: 'x' }, b: { L: [{ N: '1' }, { BOOL: true }, { NULL: true }] }, c: { SS: ['p'] } },
        };
      else if (extra < 0.15) it.b = { B: 'AAEC' };
      else if (extra < 0.2) it.ns = { NS: ['1', '2.5'] };
      return it;
    };
    const condition = () => pick([undefined, 'attribute_exists(pk)', 'attribute_not_exists(pk)', 'n < :lim']);
    const withValues = (op: Record<string, unknown>, values: Record<string, unknown>) => {
      const text = `${op.UpdateExpression ?? ''} ${op.ConditionExpression ?? ''} ${op.FilterExpression ?? ''} ${op.KeyConditionExpression ?? ''}`;
      const used = Object.entries(values).filter(([name]) => text.includes(name));
      return used.length > 0 ? { ...op, ExpressionAttributeValues: Object.fromEntries(used) } : op;
    };
    const values = () => ({
      ':lim': { N: String(below(20)) },
      ':one': { N: '1' },
      ':zero': { N: '0' },
      ':g': { S: `A${below(3)}` },
      ':s': { S: String(below(40)) },
    });
    const updates = [
      'SET n = if_not_exists(n, :zero) + :one',
      'SET g1 = :g, g1s = :s',
      'REMOVE g2',
      'REMOVE g1, m',
    ];

    for (let step = 0; step < 700; step++) {
      const TableName = pick(tables);
      const kind = pick([
        'put',
        'update',
        'delete',
        'batch',
        'transact',
        'transact',
        'get',
        'query',
        'query',
        'index',
        'index',
        'index',
      ]);
      if (kind === 'put') {
        await both(
          'PutItem',
          withValues({ TableName, Item: item(), ConditionExpression: condition() }, values()),
        );
      } else if (kind === 'update') {
        await both(
          'UpdateItem',
          withValues(
            {
              TableName,
              Key: key(),
              UpdateExpression: pick(updates),
              ConditionExpression: condition(),
              ReturnValues: pick(['NONE', 'ALL_NEW', 'ALL_OLD']),
            },
            values(),
          ),
        );
      } else if (kind === 'delete') {
        await both('DeleteItem', { TableName, Key: key(), ReturnValues: pick(['NONE', 'ALL_OLD']) });
      } else if (kind === 'batch') {
        const writes = Array.from({ length: 1 + below(5) }, () =>
          random() < 0.7 ? { PutRequest: { Item: item() } } : { DeleteRequest: { Key: key() } },
        );
        await both('BatchWriteItem', { RequestItems: { [TableName]: writes } });
      } else if (kind === 'transact') {
        // Now and then the same item twice (refused as a whole), or a condition that fails after writes.
        const TransactItems = Array.from({ length: 1 + below(5) }, () => {
          const op = pick(['Put', 'Update', 'Delete', 'ConditionCheck']);
          const target = { TableName: pick(tables), ...(op === 'Put' ? { Item: item() } : { Key: key() }) };
          const body: Record<string, unknown> = {
            ...target,
            ConditionExpression:
              condition() ?? (op === 'ConditionCheck' ? 'attribute_exists(pk)' : undefined),
            ...(op === 'Update' ? { UpdateExpression: pick(updates) } : {}),
          };
          return { [op]: withValues(body, values()) };
        });
        await both('TransactWriteItems', { TransactItems });
      } else if (kind === 'get') {
        await both('GetItem', { TableName, Key: key() });
      } else {
        const index = kind === 'index' ? pick([1, 2]) : undefined;
        const hash = index ? `g${index}` : 'pk';
        const range = index ? `g${index}s` : 'sk';
        let request: Record<string, unknown> = withValues(
          {
            TableName,
            ...(index ? { IndexName: `gsi${index}` } : {}),
            KeyConditionExpression: `${hash} = :h${random() < 0.4 ? ` AND begins_with(${range}, :b)` : ''}`,
            ...(random() < 0.3 ? { FilterExpression: 'n > :lim' } : {}),
            ...(random() < 0.5 ? { Limit: 1 + below(5) } : {}),
            ScanIndexForward: random() < 0.7,
          },
          {
            ...values(),
            ':h': { S: index ? `${index === 1 ? 'A' : 'B'}${below(4)}` : `P${below(7)}` },
            ':b': { S: String(below(4)) },
          },
        );
        for (;;) {
          const page = await both('Query', request);
          if (!page.LastEvaluatedKey) break;
          request = { ...request, ExclusiveStartKey: page.LastEvaluatedKey };
          // A write between two pages, now and then.
          if (random() < 0.2) await both('PutItem', { TableName, Item: item() });
        }
      }
    }
    for (const TableName of tables) await both('Scan', { TableName });
  }, 300_000);
});
