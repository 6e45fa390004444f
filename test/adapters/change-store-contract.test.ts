import { DynamoChangeStore } from '../../functions/adapters/dynamo-change-store';
import { type Plan, planChange } from '../../functions/core/change/plan/planner';
import type { RolloutPorts } from '../../functions/core/change/rollout/rollout';
import { type ChangeSpec, changeSpecSchema } from '../../functions/core/change/spec';
import { ENDED } from '../../functions/core/change/status';
import { serviceCatalog } from '../../functions/core/fleet/services';
import { MemoryChangeStore } from '../../sim/adapters';
import { syntheticFleet } from '../../sim/world/synthetic-fleet';
import { freshTable } from '../support/aws';

/**
 * The change store contract: what the rollout relies on (conditional status updates, ended
 * statuses that never move, wave records, approvals claimed then settled), run unchanged against
 * the DynamoDB store (moto) and the simulation's in-memory one.
 */

type Store = RolloutPorts['changes'];

const makeDynamo = async (): Promise<Store> => {
  const stores = await freshTable();
  return new DynamoChangeStore(stores.db, stores.table);
};
const makeMemory = async (): Promise<Store> => new MemoryChangeStore();

const fleet = syntheticFleet({ instances: 60, services: 3, zones: 3, seed: 7 });
const specOf = (id: string): ChangeSpec =>
  changeSpecSchema.parse({
    id,
    description: `reboot for ${id}`,
    target: { tags: {} },
    action: { type: 'reboot' },
    risk: 'medium',
  });
const planOf = (spec: ChangeSpec): Plan =>
  planChange({ instances: fleet.instances, catalog: serviceCatalog(fleet.services), spec });
/** The same plan, another object (as a retried start reads it again). */
const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

describe.each<[string, () => Promise<Store>]>([
  ['dynamodb', makeDynamo],
  ['memory', makeMemory],
])('change store contract (%s)', (_name, make) => {
  let store: Store;
  let spec: ChangeSpec;
  let plan: Plan;

  beforeEach(async () => {
    store = await make();
    spec = specOf('chg-1');
    plan = planOf(spec);
  });

  const saved = async (id = 'chg-1') => {
    const s = specOf(id);
    await store.save(s, planOf(s), 'tester', 1000);
    return s;
  };

  it('revises a plan only from the revision it names: a retry of the same revision is harmless, a stale one refused', async () => {
    await store.save(spec, plan, 'tester', 1000);
    const next: Plan = {
      ...plan,
      revision: 1,
      revisions: [
        {
          revision: 1,
          wave: 1,
          at: '1970-01-01T00:00:02.000Z',
          reason: 'test',
          waves: plan.waves.length - 1,
        },
      ],
      waves: plan.waves.slice(0, -1),
    };
    expect(await store.revisePlan('chg-1', 0, next, 2000)).toBe('revised');
    expect(await store.loadPlan('chg-1')).toEqual(next);
    expect((await store.get('chg-1'))?.waves).toBe(plan.waves.length - 1);
    // The same revision again (a retried step): harmless; another revision from 0: refused.
    expect(await store.revisePlan('chg-1', 0, copy(next), 2000)).toBe('already');
    await expect(store.revisePlan('chg-1', 0, { ...next, warnings: ['other'] }, 2000)).rejects.toThrow(
      /revised/,
    );
    // A revision that does not follow the one it names is a caller's bug.
    await expect(store.revisePlan('chg-1', 1, next, 2000)).rejects.toThrow(/does not follow/);
    const third: Plan = {
      ...next,
      revision: 2,
      revisions: [...next.revisions!, { ...next.revisions![0], revision: 2 }],
    };
    expect(await store.revisePlan('chg-1', 1, third, 3000)).toBe('revised');
    expect((await store.loadPlan('chg-1')).revision).toBe(2);
  });

  it('saves a change once: the same plan again is harmless, another plan is refused', async () => {
    expect(await store.save(spec, plan, 'tester', 1000)).toMatchObject({ created: true });
    expect(await store.save(copy(spec), copy(plan), 'tester', 2000)).toMatchObject({ created: false });
    const other = { ...plan, waves: plan.waves.slice(1) };
    await expect(store.save(spec, other, 'tester', 3000)).rejects.toThrow('chg-1 already exists');
    expect(await store.get('chg-1')).toMatchObject({ status: 'planned', waves: plan.waves.length });
    expect(await store.get('chg-none')).toBeUndefined();
  });

  it('reads back the plan and the spec it saved; a missing change has neither', async () => {
    await store.save(spec, plan, 'tester', 1000);
    expect(await store.loadPlan('chg-1')).toEqual(copy(plan));
    expect(await store.loadSpec('chg-1')).toEqual(copy(spec));
    await expect(store.loadPlan('chg-none')).rejects.toThrow('no change chg-none');
    await expect(store.loadSpec('chg-none')).rejects.toThrow('no change chg-none');
  });

  it('moves a change on until it ends; an ended change keeps its end, the same end again is harmless', async () => {
    await saved();
    await store.setStatus('chg-1', 'running', 'started', 2000);
    await store.setStatus('chg-1', 'rolling-back', 'gate failed', 3000);
    expect((await store.get('chg-1'))?.status).toBe('rolling-back');
    await store.setStatus('chg-1', 'rolled-back', 'undone', 4000);
    await store.setStatus('chg-1', 'rolled-back', 'undone (retried step)', 5000);
    await expect(store.setStatus('chg-1', 'running', 'again', 6000)).rejects.toThrow();
    expect((await store.get('chg-1'))?.status).toBe('rolled-back');
    await expect(store.setStatus('chg-none', 'running', 'no such change', 1)).rejects.toThrow();
    expect(await store.get('chg-none')).toBeUndefined();
  });

  it.each([...ENDED])('never moves a change that ended %s', async (end) => {
    await saved();
    await store.setStatus('chg-1', 'running', 'started', 2000);
    await store.setStatus('chg-1', end as 'completed', 'ended', 3000);
    for (const next of ['running', 'rolling-back', ...[...ENDED].filter((e) => e !== end)] as const) {
      await expect(store.setStatus('chg-1', next as 'running', 'later', 4000)).rejects.toThrow();
    }
    expect((await store.get('chg-1'))?.status).toBe(end);
  });

  it('keeps wave records in wave order, then part order; rewriting a part replaces it', async () => {
    await saved();
    await store.recordWave('chg-1', 2, 'result', { ok: ['i-3'] }, 10);
    await store.recordWave('chg-1', 0, 'result', { ok: ['i-1'] }, 11);
    await store.recordWave('chg-1', 0, 'apply#1', { applied: ['i-1'] }, 12);
    await store.recordWave('chg-1', 10, 'apply#1', { applied: ['i-9'] }, 13);
    await store.recordWave('chg-1', 0, 'apply#1', { applied: ['i-1', 'i-2'] }, 14);
    const all = await store.waveRecords('chg-1');
    expect(all.map((r) => [r.wave, r.part, r.body])).toEqual([
      [0, 'apply#1', { applied: ['i-1', 'i-2'] }],
      [0, 'result', { ok: ['i-1'] }],
      [2, 'result', { ok: ['i-3'] }],
      [10, 'apply#1', { applied: ['i-9'] }],
    ]);
    expect((await store.waveRecords('chg-1', 0)).map((r) => r.part)).toEqual(['apply#1', 'result']);
    expect(await store.waveRecords('chg-1', 1)).toEqual([]);
    expect(await store.waveRecords('chg-none')).toEqual([]);
  });

  it('waits for an approval only while running, and replaces a claimed or identical one only', async () => {
    await saved();
    await expect(store.awaitApproval('chg-1', 'token-1', 1, 'approve wave 1', 10)).rejects.toThrow();
    await store.setStatus('chg-1', 'running', 'started', 20);
    await store.awaitApproval('chg-1', 'token-1', 1, 'approve wave 1', 30);
    expect((await store.get('chg-1'))?.status).toBe('waiting-approval');
    // A retried step waits on the same token again; another token while this one is unanswered is refused.
    await store.awaitApproval('chg-1', 'token-1', 1, 'approve wave 1', 31);
    await expect(store.awaitApproval('chg-1', 'token-2', 2, 'approve wave 2', 32)).rejects.toThrow();
    // Once claimed (answered, the token not dropped yet), the next approval point replaces it.
    expect(await store.claimApproval('chg-1', 'approve', 'looks good', 40)).toEqual({
      token: 'token-1',
      wave: 1,
    });
    await store.awaitApproval('chg-1', 'token-2', 2, 'approve wave 2', 50);
    expect(await store.claimApproval('chg-1', 'reject', 'too risky', 60)).toEqual({
      token: 'token-2',
      wave: 2,
    });
    await expect(store.awaitApproval('chg-none', 'token-x', 1, 'no change', 70)).rejects.toThrow();
  });

  it('claims an approval for one decision (again for the same), settles it, and then has none', async () => {
    await saved();
    expect(await store.claimApproval('chg-1', 'approve', 'not waiting', 5)).toBeUndefined();
    await store.setStatus('chg-1', 'running', 'started', 10);
    await store.awaitApproval('chg-1', 'token-1', 3, 'approve wave 3', 20);
    const claim = await store.claimApproval('chg-1', 'approve', 'looks good', 30);
    expect(claim).toEqual({ token: 'token-1', wave: 3 });
    expect(await store.claimApproval('chg-1', 'approve', 'retried command', 31)).toEqual(claim);
    expect(await store.claimApproval('chg-1', 'reject', 'changed my mind', 32)).toBeUndefined();
    // Settling with another token or decision drops nothing.
    await store.settleApproval('chg-1', 'token-0', 'approve', 33);
    await store.settleApproval('chg-1', 'token-1', 'reject', 34);
    expect((await store.get('chg-1'))?.status).toBe('waiting-approval');
    await store.settleApproval('chg-1', 'token-1', 'approve', 40);
    expect((await store.get('chg-1'))?.status).toBe('running');
    expect(await store.claimApproval('chg-1', 'approve', 'again', 50)).toBeUndefined();
    // A second settle (a retried command) finds nothing to drop.
    await store.settleApproval('chg-1', 'token-1', 'approve', 60);
    expect((await store.get('chg-1'))?.status).toBe('running');
  });

  it('fails a change whose approval was rejected; an ended change has no approval to claim', async () => {
    await saved();
    await store.setStatus('chg-1', 'running', 'started', 10);
    await store.awaitApproval('chg-1', 'token-1', 1, 'approve wave 1', 20);
    expect(await store.claimApproval('chg-1', 'reject', 'too risky', 30)).toEqual({
      token: 'token-1',
      wave: 1,
    });
    await store.settleApproval('chg-1', 'token-1', 'reject', 40);
    expect((await store.get('chg-1'))?.status).toBe('failed');
    await expect(store.setStatus('chg-1', 'running', 'again', 50)).rejects.toThrow();

    await saved('chg-2');
    await store.setStatus('chg-2', 'running', 'started', 10);
    await store.awaitApproval('chg-2', 'token-2', 1, 'approve wave 1', 20);
    await store.setStatus('chg-2', 'aborted', 'aborted by a person', 30);
    expect(await store.claimApproval('chg-2', 'approve', 'too late', 40)).toBeUndefined();
    await store.settleApproval('chg-2', 'token-2', 'approve', 50);
    expect((await store.get('chg-2'))?.status).toBe('aborted');
  });
});
