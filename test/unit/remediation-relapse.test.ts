import fc from 'fast-check';
import {
  type LastRemediation,
  lastRemediationOf,
  relapseOf,
  relapseSettings,
  revisedOutcome,
} from '../../functions/core/remediation/relapse';
import { LADDER, type LadderStep } from '../../functions/core/remediation/types';

const MINUTE = 60_000;
const ENDED = Date.parse('2026-11-02T03:00:00Z');

const last = (over: Partial<LastRemediation> = {}): LastRemediation => ({
  instanceId: 'i-0123456789abcdef0',
  caseId: 'case-1',
  openedAt: ENDED - 20 * MINUTE,
  endedAt: ENDED,
  kind: 'system-status-check-failed',
  status: 'recovered',
  tried: ['reboot'],
  recoveredBy: 'reboot',
  relapses: 0,
  ...over,
});

describe('relapseOf: a new status-check failure, given how the instance last ended', () => {
  it('is a fresh problem with nothing to go on when the instance never had one', () => {
    // Prepare / Act
    const got = relapseOf(undefined, ENDED);
    // Assess
    expect(got).toEqual({ relapse: false });
  });

  it('continues the ladder after the step that "recovered" it, within the window', () => {
    const got = relapseOf(last(), ENDED + 3 * 60 * MINUTE);
    expect(got).toMatchObject({
      relapse: true,
      of: 'case-1',
      count: 1,
      inherited: ['reboot'],
      flapping: false,
    });
    if (!got.relapse) throw new Error('expected a relapse');
    expect(got.reason).toBe(
      'relapse 1 in a row: failed again 180 min after case case-1 (recovered by reboot), within the 24 h window; the ladder continues after reboot',
    );
  });

  it('counts the window to the minute: at its end a relapse, a minute later a fresh problem with a hint', () => {
    const window = 24 * 60;
    expect(relapseOf(last(), ENDED + window * MINUTE).relapse).toBe(true);
    expect(relapseOf(last(), ENDED + (window + 1) * MINUTE)).toEqual({
      relapse: false,
      helpedBefore: 'reboot',
    });
  });

  it('gives no hint when nothing recovered it last time (it recovered on its own, or a person fixed it)', () => {
    const day = 24 * 60 * MINUTE;
    const { recoveredBy: _r, ...own } = last({ tried: [] });
    expect(relapseOf(own, ENDED + 2 * day)).toEqual({ relapse: false });
    const { recoveredBy: _p, ...paged } = last({ status: 'paged', tried: LADDER.slice() });
    expect(relapseOf(paged, ENDED + 2 * day)).toEqual({ relapse: false });
  });

  it('inherits every step tried, in ladder order, from a case a person was paged for', () => {
    const { recoveredBy: _none, ...paged } = last({ status: 'paged', tried: ['stop-start', 'reboot'] });
    const got = relapseOf(paged, ENDED + MINUTE);
    expect(got).toMatchObject({ relapse: true, inherited: ['reboot', 'stop-start'] });
    if (got.relapse) expect(got.reason).toContain('(ended paged)');
  });

  it('pages a flapping instance: the relapse that reaches the limit, even one that recovered on its own each time', () => {
    const { recoveredBy: _none, ...own } = last({ tried: [], relapses: 1 });
    expect(relapseOf(own, ENDED + MINUTE)).toMatchObject({ relapse: true, count: 2, flapping: false });
    const got = relapseOf({ ...own, relapses: 2 }, ENDED + MINUTE);
    expect(got).toMatchObject({ relapse: true, count: 3, flapping: true, inherited: [] });
    if (got.relapse) expect(got.reason).toContain('flapping (3 relapses, limit 3)');
  });

  it('takes its window and limit from the settings: a budget of one relapse pages at the first', () => {
    expect(relapseOf(last(), ENDED + 90 * MINUTE, { windowMinutes: 60 })).toEqual({
      relapse: false,
      helpedBefore: 'reboot',
    });
    expect(relapseOf(last(), ENDED + MINUTE, { flapLimit: 1 })).toMatchObject({ flapping: true, count: 1 });
    // A window of 0: only a failure in the very minute it ended is the same problem.
    expect(relapseOf(last(), ENDED, { windowMinutes: 0 }).relapse).toBe(true);
  });

  it('refuses settings that mean nothing, saying what it expected', () => {
    expect(() => relapseSettings({ windowMinutes: -1 })).toThrow(
      'expected the relapse window ≥ 0 minutes, found -1',
    );
    expect(() => relapseSettings({ flapLimit: 0 })).toThrow(
      'expected the flap limit to be a whole number ≥ 1, found 0',
    );
    expect(() => relapseSettings({ flapLimit: 1.5 })).toThrow('found 1.5');
    expect(relapseSettings()).toEqual({ windowMinutes: 24 * 60, flapLimit: 3 });
  });

  const step = fc.constantFrom<LadderStep>(...LADDER);
  const record = fc.record({
    tried: fc.uniqueArray(step, { maxLength: 3 }),
    relapses: fc.nat({ max: 10 }),
    recovered: fc.boolean(),
    sinceMinutes: fc.integer({ min: -5, max: 5 * 24 * 60 }),
    windowMinutes: fc.integer({ min: 0, max: 3 * 24 * 60 }),
    flapLimit: fc.integer({ min: 1, max: 6 }),
  });

  it('property: a relapse exactly when within the window; it counts on, inherits what was tried in ladder order, flaps at the limit', () => {
    fc.assert(
      fc.property(record, (r) => {
        const before = last({
          tried: r.tried,
          relapses: r.relapses,
          ...(r.recovered && r.tried.length > 0
            ? { recoveredBy: r.tried.at(-1) }
            : { recoveredBy: undefined }),
        });
        const got = relapseOf(before, ENDED + r.sinceMinutes * MINUTE, r);
        expect(got.relapse).toBe(r.sinceMinutes <= r.windowMinutes);
        if (!got.relapse) {
          expect(got.helpedBefore).toBe(before.recoveredBy);
          return;
        }
        expect(got.count).toBe(r.relapses + 1);
        expect(got.inherited).toEqual(LADDER.filter((s) => r.tried.includes(s)));
        expect(got.flapping).toBe(r.relapses + 1 >= r.flapLimit);
      }),
    );
  });
});

describe('lastRemediationOf: the record a status-check case leaves', () => {
  const c = {
    id: 'case-2',
    createdAt: ENDED,
    finding: { instanceId: 'i-0123456789abcdef0', kind: 'instance-status-check-failed' as const },
    tried: ['reboot', 'stop-start'] as LadderStep[],
    decisions: [
      { action: 'defer' },
      {
        action: 'stop-start',
        relapse: { of: 'case-1', count: 2, inherited: ['reboot'] as LadderStep[] },
        context: { family: 'm5', hostAgeDays: 40, helpedBefore: 'reboot' as LadderStep },
      },
    ],
  };

  it('keeps the steps (inherited ones once), the step that recovered it and the run of relapses', () => {
    expect(
      lastRemediationOf(c, { status: 'recovered', endedAt: ENDED + MINUTE, recoveredBy: 'stop-start' }),
    ).toEqual({
      instanceId: 'i-0123456789abcdef0',
      caseId: 'case-2',
      openedAt: ENDED,
      endedAt: ENDED + MINUTE,
      kind: 'instance-status-check-failed',
      status: 'recovered',
      tried: ['reboot', 'stop-start'],
      recoveredBy: 'stop-start',
      relapses: 2,
      // What its outcome was counted under (the per-instance hint has no key of its own).
      context: { family: 'm5', hostAgeDays: 40 },
    });
  });

  it('carries the inherited steps of a case that ended before it acted (flapping, held, frozen)', () => {
    const paged = lastRemediationOf({ ...c, tried: [] }, { status: 'paged', endedAt: ENDED });
    expect(paged.tried).toEqual(['reboot']);
    expect(paged.recoveredBy).toBeUndefined();
    expect(paged.relapses).toBe(2);
  });

  it('revises the success of the step that recovered it, under the keys it was counted with, once', () => {
    const record = lastRemediationOf(c, { status: 'recovered', endedAt: ENDED, recoveredBy: 'stop-start' });
    expect(revisedOutcome(record)).toEqual({
      step: 'stop-start',
      keys: [
        'instance-status-check-failed|stop-start',
        'instance-status-check-failed|family=m5|stop-start',
        'instance-status-check-failed|family=m5|age=7-90d|stop-start',
      ],
    });
    expect(revisedOutcome({ ...record, revisedBy: 'case-3' })).toBeUndefined();
    const { recoveredBy: _none, ...own } = record;
    expect(revisedOutcome(own)).toBeUndefined();
  });

  it('starts a run at 0 for a case that was no relapse', () => {
    expect(lastRemediationOf({ ...c, decisions: [] }, { status: 'failed', endedAt: ENDED }).relapses).toBe(0);
  });
});
