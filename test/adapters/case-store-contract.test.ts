import { DynamoRemediationStore } from '../../functions/adapters/dynamo-remediation-store';
import type { Finding } from '../../functions/core/events/findings';
import type { LastRemediation } from '../../functions/core/remediation/relapse';
import type { RemediationPorts } from '../../functions/core/remediation/remediate';
import type { TriagePorts } from '../../functions/core/remediation/triage';
import type { Decision } from '../../functions/core/remediation/types';
import { MemoryRemediationStore } from '../../sim/adapters';
import { freshTable } from '../support/aws';

/**
 * The case store contract: what remediation and intake rely on (open or join, decide, setStatus,
 * the in-flight index, outcome counts, the breaker's page claim), run unchanged against the
 * DynamoDB store (moto) and the simulation's in-memory one. Opening under concurrent intakes and
 * crashes is the intake contract's (intake-contract.test.ts).
 */

type Store = RemediationPorts['cases'] & TriagePorts['cases'];

const makeDynamo = async (): Promise<Store> => {
  const stores = await freshTable();
  return new DynamoRemediationStore(stores.db, stores.table);
};
const makeMemory = async (): Promise<Store> => new MemoryRemediationStore();

const AT = '2026-08-01T00:00:00.000Z';

/** When intake recorded the case's execution as started (both stores' cases carry it, as IntakeCase says). */
const startedAt = (c: object | undefined) => (c as { startedAt?: number } | undefined)?.startedAt;

const statusCheck = (instanceId: string, since: string): Finding => ({
  instanceId,
  kind: 'system-status-check-failed',
  key: `since-${since}`,
  detail: 'system status check impaired',
  source: 'inventory-sync',
});

const decision = (instanceId: string, action: Decision['action'], reason: string): Decision => ({
  instanceId,
  action,
  at: AT,
  reason,
});

describe.each<[string, () => Promise<Store>]>([
  ['dynamodb', makeDynamo],
  ['memory', makeMemory],
])('case store contract (%s)', (_name, make) => {
  let store: Store;
  beforeEach(async () => {
    store = await make();
  });

  const open = async (instanceId = 'i-1', since = '2026-08-01T00:00:00.000Z', now = 1000) =>
    (await store.open(statusCheck(instanceId, since), AT, now)).case;

  it('opens a case open, with its finding, at and no decisions yet', async () => {
    const finding = statusCheck('i-1', AT);
    const opened = await store.open(finding, AT, 1000);
    expect(opened.attachment).toBe('opened');
    expect(await store.get(opened.case.id)).toMatchObject({
      id: opened.case.id,
      finding,
      status: 'open',
      tried: [],
      decisions: [],
      reason: 'opened',
      sources: [{ key: finding.key, source: finding.source, detail: finding.detail, at: 1000 }],
    });
    expect(await store.get('case-none')).toBeUndefined();
    expect(await store.inFlight()).toEqual([]);
  });

  it('appends decisions, moves the status and the steps tried, and indexes acting cases only', async () => {
    const c = await open();
    const reboot = decision('i-1', 'reboot', 'status check failed: reboot');
    await store.decide(c.id, reboot, { status: 'acting', tried: ['reboot'] }, 2000);
    expect(await store.get(c.id)).toMatchObject({
      status: 'acting',
      tried: ['reboot'],
      decisions: [reboot],
      reason: reboot.reason,
    });
    expect((await store.inFlight()).map((x) => x.id)).toEqual([c.id]);

    await store.setStatus(c.id, 'open', 'reboot did not recover the instance', 3000);
    expect(await store.get(c.id)).toMatchObject({
      status: 'open',
      reason: 'reboot did not recover the instance',
    });
    expect(await store.inFlight()).toEqual([]);

    const stop = decision('i-1', 'stop-start', 'escalate: stop-start');
    await store.decide(c.id, stop, { status: 'acting', tried: ['reboot', 'stop-start'] }, 4000);
    // A decision without `tried` keeps the steps tried.
    const page = decision('i-1', 'page', 'nothing left to try: page');
    await store.decide(c.id, page, { status: 'paged' }, 5000);
    expect(await store.get(c.id)).toMatchObject({
      status: 'paged',
      tried: ['reboot', 'stop-start'],
      decisions: [reboot, stop, page],
      reason: page.reason,
    });
    expect(await store.inFlight()).toEqual([]);
  });

  it('lists every acting case in flight, and none once they ended', async () => {
    const a = await open('i-a');
    const b = await open('i-b');
    await open('i-c');
    await store.decide(
      a.id,
      decision('i-a', 'reboot', 'reboot a'),
      { status: 'acting', tried: ['reboot'] },
      10,
    );
    await store.setStatus(b.id, 'acting', 'acting on b', 11);
    expect((await store.inFlight()).map((x) => x.id).sort()).toEqual([a.id, b.id].sort());
    await store.setStatus(a.id, 'recovered', 'reboot recovered the instance', 12);
    await store.setStatus(b.id, 'failed', 'the step failed', 13);
    expect(await store.inFlight()).toEqual([]);
  });

  it('refuses to decide or set the status of a case that does not exist', async () => {
    await expect(
      store.decide('case-none', decision('i-1', 'reboot', 'x'), { status: 'acting' }, 1),
    ).rejects.toThrow();
    await expect(store.setStatus('case-none', 'recovered', 'x', 1)).rejects.toThrow();
    expect(await store.get('case-none')).toBeUndefined();
  });

  it('joins a new finding into the active case of its instance and kind, and opens a new one after it ended', async () => {
    const first = await open('i-1', '2026-08-01T00:00:00.000Z');
    const joined = await store.open(statusCheck('i-1', '2026-08-01T00:05:00.000Z'), AT, 2000);
    expect(joined).toMatchObject({ attachment: 'joined', case: { id: first.id } });
    expect((await store.get(first.id))?.sources).toHaveLength(2);
    await store.setStatus(first.id, 'recovered', 'recovered', 3000);
    const relapse = await store.open(statusCheck('i-1', '2026-08-02T00:00:00.000Z'), AT, 4000);
    expect(relapse.attachment).toBe('opened');
    expect(relapse.case.id).not.toBe(first.id);
    // A finding attached before goes to its case, ended or not.
    expect(await store.open(statusCheck('i-1', '2026-08-01T00:05:00.000Z'), AT, 5000)).toMatchObject({
      attachment: 'attached-before',
      case: { id: first.id },
    });
  });

  it('records when its execution started, the first time only', async () => {
    const c = await open();
    expect(startedAt(await store.get(c.id))).toBeUndefined();
    await store.markStarted(c.id, 2000);
    await store.markStarted(c.id, 3000);
    expect(startedAt(await store.get(c.id))).toBe(2000);
  });

  it('counts outcomes per failure kind and step', async () => {
    expect(await store.stats()).toEqual(new Map());
    await store.recordOutcome('system-status-check-failed', 'reboot', true);
    await store.recordOutcome('system-status-check-failed', 'reboot', false);
    await store.recordOutcome('system-status-check-failed', 'reboot', true);
    await store.recordOutcome('system-status-check-failed', 'stop-start', false);
    const stats = await store.stats();
    expect([...stats.values()].sort((x, y) => x.successes - y.successes)).toEqual([
      { successes: 0, failures: 1 },
      { successes: 2, failures: 1 },
    ]);
    expect(stats.size).toBe(2);
  });

  it('lets one caller page per scope and storm: again only once the breaker closed and the cooldown passed', async () => {
    expect(await store.claimPage('service:web', 'breaker open', 1000, 500)).toBe(true);
    expect(await store.claimPage('service:web', 'breaker open', 1200, 500)).toBe(false);
    expect(await store.claimPage('service:api', 'breaker open', 1200, 500)).toBe(true);
    // The same storm, however long it lasts: no second page while the breaker stays open.
    expect(await store.claimPage('service:web', 'breaker open', 5000, 500)).toBe(false);
    await store.closeBreakers(['service:web', 'zone:never-opened'], 6000);
    await store.closeBreakers(['service:web'], 6001); // closing twice is closing once
    expect(await store.claimPage('service:web', 'breaker open', 6100, 500)).toBe(true);
    // Closed and open again within the cooldown: a breaker flapping at its threshold, one storm.
    await store.closeBreakers(['service:web'], 6200);
    expect(await store.claimPage('service:web', 'breaker open', 6300, 500)).toBe(false);
    expect(await store.claimPage('service:web', 'breaker open', 6601, 500)).toBe(true);
    // The api breaker was never closed.
    expect(await store.claimPage('service:api', 'breaker open', 9000, 500)).toBe(false);
  });

  it('lets exactly one of many concurrent callers page for a storm', async () => {
    const claims = await Promise.all(
      Array.from({ length: 10 }, () => store.claimPage('zone:storm-1a', 'breaker open', 1000, 500)),
    );
    expect(claims.filter(Boolean)).toHaveLength(1);
  });

  const ended = (caseId: string, openedAt: number, over: Partial<LastRemediation> = {}): LastRemediation => ({
    instanceId: 'i-1',
    caseId,
    openedAt,
    endedAt: openedAt + 600_000,
    kind: 'instance-status-check-failed',
    status: 'recovered',
    tried: ['reboot'],
    recoveredBy: 'reboot',
    relapses: 0,
    ...over,
  });

  it("keeps each instance's last remediation, as written, and none for an instance without one", async () => {
    expect(await store.lastRemediation('i-1')).toBeUndefined();
    const first = ended('case-a', 1000);
    await store.rememberRemediation(first);
    expect(await store.lastRemediation('i-1')).toEqual(first);
    // Another instance's is its own.
    await store.rememberRemediation(ended('case-x', 1000, { instanceId: 'i-2', tried: [], relapses: 2 }));
    expect(await store.lastRemediation('i-1')).toEqual(first);
    const { recoveredBy: _none, ...paged } = ended('case-x', 1000, {
      instanceId: 'i-2',
      status: 'paged',
      tried: ['reboot', 'stop-start'],
      relapses: 2,
    });
    await store.rememberRemediation(paged);
    expect(await store.lastRemediation('i-2')).toEqual(paged);
  });

  it('lets a later case replace the record, and never an older case retried afterwards', async () => {
    const older = ended('case-a', 1000);
    const newer = ended('case-b', 5000, {
      tried: ['reboot', 'stop-start'],
      recoveredBy: 'stop-start',
      relapses: 1,
    });
    await store.rememberRemediation(older);
    await store.rememberRemediation(newer);
    expect(await store.lastRemediation('i-1')).toEqual(newer);
    // The older case's step retried after a crash writes its record again: the newer one stays.
    await store.rememberRemediation({ ...older, endedAt: older.endedAt + 99_000 });
    expect(await store.lastRemediation('i-1')).toEqual(newer);
    // The same case writing again (its step retried) replaces its own record.
    const again = { ...newer, endedAt: newer.endedAt + 1000 };
    await store.rememberRemediation(again);
    expect(await store.lastRemediation('i-1')).toEqual(again);
  });

  it("turns a relapsed case's counted success into a failure under each of its keys, exactly once", async () => {
    const keys = ['instance-status-check-failed|reboot', 'instance-status-check-failed|family=m5|reboot'];
    await store.recordOutcome('instance-status-check-failed', 'reboot', true, keys);
    await store.recordOutcome('instance-status-check-failed', 'reboot', true, keys);
    const last = ended('case-a', 1000);
    await store.rememberRemediation(last);
    // Concurrent deciders of the relapse (a Decide retried): one revision.
    const revised = await Promise.all([1, 2, 3].map(() => store.reviseOutcome(last, 'case-b', keys)));
    expect(revised.filter(Boolean)).toHaveLength(1);
    const stats = await store.stats(keys);
    for (const key of keys) expect(stats.get(key)).toEqual({ successes: 1, failures: 1 });
    expect(await store.lastRemediation('i-1')).toEqual({ ...last, revisedBy: 'case-b' });
    // Another case's record is not this one's to revise.
    expect(await store.reviseOutcome(ended('case-z', 1000), 'case-b', keys)).toBe(false);
  });

  it('only marks a relapse whose success was never counted (a sample lost to a crash): no count goes negative', async () => {
    const keys = ['system-status-check-failed|reboot', 'system-status-check-failed|family=c5|reboot'];
    await store.recordOutcome('system-status-check-failed', 'reboot', true, keys.slice(0, 1));
    const last = ended('case-a', 1000, { kind: 'system-status-check-failed' });
    await store.rememberRemediation(last);
    expect(await store.reviseOutcome(last, 'case-b', keys)).toBe(true);
    const stats = await store.stats(keys);
    expect(stats.get(keys[0])).toEqual({ successes: 1, failures: 0 });
    expect(stats.get(keys[1])).toBeUndefined();
    expect((await store.lastRemediation('i-1'))?.revisedBy).toBe('case-b');
    expect(await store.reviseOutcome(last, 'case-c', keys)).toBe(false);
  });

  it('keeps the newest case of many written at once, whatever order they land in', async () => {
    const records = Array.from({ length: 8 }, (_, k) => ended(`case-${k}`, 1000 + k * 100, { relapses: k }));
    await Promise.all([...records].reverse().map((r) => store.rememberRemediation(r)));
    expect(await store.lastRemediation('i-1')).toEqual(records.at(-1));
  });
});
