import { DynamoTrafficExits } from '../../functions/adapters/fleet-store/traffic-exits';
import type { TrafficExit, TrafficExits } from '../../functions/core/ports/traffic';
import { MemoryTrafficExits } from '../../sim/adapters';
import { freshTable } from '../support/aws';

/**
 * The traffic exits contract: what the traffic protocol records about instances it took out of
 * traffic (put conditional on the owner, phases moving on, remove by owner, read by instance and
 * whole), run unchanged against the DynamoDB store (moto) and the simulation's in-memory one.
 */

type Make = () => Promise<TrafficExits>;

const makeDynamo: Make = async () => {
  const { db, table } = await freshTable();
  return new DynamoTrafficExits(db, table);
};
const makeMemory: Make = async () => new MemoryTrafficExits();

const TG_A = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef';
const TG_B = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/fedcba9876543210';

const exit = (instanceId: string, owner: string, extra: Partial<TrafficExit> = {}): TrafficExit => ({
  instanceId,
  owner,
  deregistered: [{ targetGroupArn: TG_A, port: 8080 }],
  targetGroups: [TG_A, TG_B],
  phase: 'leaving',
  since: 1_000,
  drainSeconds: 300,
  readySeconds: 150,
  ...extra,
});

describe.each([
  ['DynamoDB (moto)', makeDynamo],
  ['memory', makeMemory],
])('TrafficExits contract: %s', (_name, make) => {
  let exits: TrafficExits;
  beforeEach(async () => {
    exits = await make();
  });

  it('keeps what was put, field for field, and reads it by instance and whole', async () => {
    const standby = exit('i-0aaaaaaaaaaaaaaa1', 'chg-1', { standby: 'web-asg', deregistered: [] });
    const plain = exit('i-0aaaaaaaaaaaaaaa2', 'chg-1');
    expect(await exits.put([standby, plain])).toEqual([]);
    const read = await exits.of(['i-0aaaaaaaaaaaaaaa1', 'i-0aaaaaaaaaaaaaaa2', 'i-0aaaaaaaaaaaaaaa3']);
    expect([...read.keys()].sort()).toEqual(['i-0aaaaaaaaaaaaaaa1', 'i-0aaaaaaaaaaaaaaa2']);
    expect(read.get('i-0aaaaaaaaaaaaaaa1')).toEqual(standby);
    expect(read.get('i-0aaaaaaaaaaaaaaa2')).toEqual(plain);
    expect(await exits.all()).toEqual([standby, plain]);
  });

  it('moves an exit on through its phases for its owner, optional fields included', async () => {
    const id = 'i-0bbbbbbbbbbbbbbb1';
    await exits.put([exit(id, 'chg-2')]);
    expect(await exits.put([exit(id, 'chg-2', { phase: 'out' })])).toEqual([]);
    expect((await exits.of([id])).get(id)?.phase).toBe('out');
    const returning = exit(id, 'chg-2', {
      phase: 'returning',
      returnedAt: 5_000,
      stuck: 'stopped: started again',
    });
    expect(await exits.put([returning])).toEqual([]);
    expect((await exits.of([id])).get(id)).toEqual(returning);
  });

  it("refuses another owner's exit and keeps the first; the rest of the batch is written", async () => {
    const held = 'i-0ccccccccccccccc1';
    const free = 'i-0ccccccccccccccc2';
    await exits.put([exit(held, 'chg-3')]);
    expect(await exits.put([exit(held, 'case-9', { phase: 'out' }), exit(free, 'case-9')])).toEqual([held]);
    const read = await exits.of([held, free]);
    expect(read.get(held)).toMatchObject({ owner: 'chg-3', phase: 'leaving' });
    expect(read.get(free)).toMatchObject({ owner: 'case-9' });
  });

  it('removes only the owner’s exits: the wrong owner is a no-op, an absent one harmless', async () => {
    const a = 'i-0ddddddddddddddd1';
    const b = 'i-0ddddddddddddddd2';
    await exits.put([exit(a, 'chg-4'), exit(b, 'case-4')]);
    await exits.remove('case-4', [a, 'i-0ddddddddddddddd9']);
    expect([...(await exits.of([a, b])).keys()].sort()).toEqual([a, b]);
    await exits.remove('chg-4', [a, b]);
    expect([...(await exits.of([a, b])).keys()]).toEqual([b]);
    expect((await exits.all()).map((e) => e.instanceId)).toEqual([b]);
    // Once removed, another owner may take the instance out.
    expect(await exits.put([exit(a, 'case-4')])).toEqual([]);
    expect((await exits.of([a])).get(a)?.owner).toBe('case-4');
  });

  it('hands out copies: changing what was read does not change what is kept', async () => {
    const id = 'i-0eeeeeeeeeeeeee1';
    await exits.put([exit(id, 'chg-5')]);
    const read = (await exits.of([id])).get(id)!;
    (read.targetGroups as string[]).push('mutated');
    expect((await exits.of([id])).get(id)?.targetGroups).toEqual([TG_A, TG_B]);
  });

  it('lists exits across many instances (every fleet shard)', async () => {
    const many = Array.from({ length: 40 }, (_, k) => exit(`i-0f${String(k).padStart(15, '0')}`, 'chg-6'));
    expect(await exits.put(many)).toEqual([]);
    const all = await exits.all();
    expect(all.map((e) => e.instanceId)).toEqual(many.map((e) => e.instanceId).sort());
    expect((await exits.of(many.map((e) => e.instanceId))).size).toBe(40);
  });
});
