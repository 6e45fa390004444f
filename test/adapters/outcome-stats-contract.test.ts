import { DynamoRemediationStore } from '../../functions/adapters/dynamo-remediation-store';
import { contextStatsKeys, type LadderContext, statsKey } from '../../functions/core/remediation/types';
import { MemoryRemediationStore } from '../../sim/adapters';
import { freshTable } from '../support/aws';

/**
 * The outcome statistics of the case store (what the ladder learns from), with contexts: every
 * outcome counted under each key of the context it was chosen in, a scoped read that returns only
 * what `nextStep` needs, and no outcome lost to concurrency. Run unchanged against the DynamoDB
 * store (moto) and the simulation's in-memory one.
 */

type Store = Pick<DynamoRemediationStore, 'recordOutcome' | 'stats'>;

const makeDynamo = async (): Promise<Store> => {
  const stores = await freshTable();
  return new DynamoRemediationStore(stores.db, stores.table);
};
const makeMemory = async (): Promise<Store> => new MemoryRemediationStore();

const SYSTEM = 'system-status-check-failed';
const INSTANCE = 'instance-status-check-failed';
const OLD_M5: LadderContext = { family: 'm5', age: 'older', helpedBefore: 'reboot' };

describe.each<[string, () => Promise<Store>]>([
  ['dynamodb', makeDynamo],
  ['memory', makeMemory],
])('outcome statistics with contexts (%s)', (_name, make) => {
  let store: Store;
  beforeEach(async () => {
    store = await make();
  });

  it('counts an outcome under every key of its context, and one without a context for the kind alone', async () => {
    // Act
    await store.recordOutcome(SYSTEM, 'stop-start', true, OLD_M5);
    await store.recordOutcome(SYSTEM, 'stop-start', false, { age: 'older' });
    await store.recordOutcome(SYSTEM, 'stop-start', true);

    // Assess
    expect(Object.fromEntries(await store.stats())).toEqual({
      'system-status-check-failed|age=older&helped=reboot&family=m5|stop-start': {
        successes: 1,
        failures: 0,
      },
      'system-status-check-failed|age=older&helped=reboot|stop-start': { successes: 1, failures: 0 },
      'system-status-check-failed|age=older|stop-start': { successes: 1, failures: 1 },
      'system-status-check-failed|stop-start': { successes: 2, failures: 1 },
    });
  });

  it('reads, for a kind and context, only what the ladder needs of them', async () => {
    // Prepare: outcomes of another kind, another family and another age around the wanted ones.
    await store.recordOutcome(SYSTEM, 'reboot', false, OLD_M5);
    await store.recordOutcome(SYSTEM, 'replace', true, OLD_M5);
    await store.recordOutcome(SYSTEM, 'reboot', true, { ...OLD_M5, family: 'c5' });
    await store.recordOutcome(SYSTEM, 'reboot', true, { age: 'under-a-day' });
    await store.recordOutcome(INSTANCE, 'reboot', true, OLD_M5);

    // Act
    const scoped = await store.stats({ kind: SYSTEM, context: OLD_M5 });
    const kindOnly = await store.stats({ kind: SYSTEM });

    // Assess
    expect(Object.fromEntries(scoped)).toEqual({
      [contextStatsKeys(SYSTEM, 'reboot', OLD_M5)[0]]: { successes: 0, failures: 1 },
      [contextStatsKeys(SYSTEM, 'reboot', OLD_M5)[1]]: { successes: 1, failures: 1 },
      [contextStatsKeys(SYSTEM, 'reboot', OLD_M5)[2]]: { successes: 1, failures: 1 },
      [statsKey(SYSTEM, 'reboot')]: { successes: 2, failures: 1 },
      ...Object.fromEntries(
        contextStatsKeys(SYSTEM, 'replace', OLD_M5).map((key) => [key, { successes: 1, failures: 0 }]),
      ),
    });
    expect(Object.fromEntries(kindOnly)).toEqual({
      [statsKey(SYSTEM, 'reboot')]: { successes: 2, failures: 1 },
      [statsKey(SYSTEM, 'replace')]: { successes: 1, failures: 0 },
    });
    expect(await store.stats({ kind: 'scheduled-retirement', context: OLD_M5 })).toEqual(new Map());
  });

  it('loses no outcome when many cases record at once', async () => {
    // Act: 30 verifications of the same step and context at the same time.
    await Promise.all(
      Array.from({ length: 30 }, (_, n) => store.recordOutcome(INSTANCE, 'reboot', n % 3 !== 0, OLD_M5)),
    );

    // Assess
    const stats = await store.stats({ kind: INSTANCE, context: OLD_M5 });
    for (const key of contextStatsKeys(INSTANCE, 'reboot', OLD_M5)) {
      expect(stats.get(key)).toEqual({ successes: 20, failures: 10 });
    }
  });
});
