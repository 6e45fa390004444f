import type { Wave } from '../../functions/core/change/plan/planner';
import { planChange } from '../../functions/core/change/plan/planner';
import {
  expectedEnd,
  PREDICTION_EPOCH,
  type PredictInput,
  predictWaves,
} from '../../functions/core/change/plan/predict';
import { nextOpening, windowDecision } from '../../functions/core/change/windows';
import type { Instance } from '../../functions/core/fleet/fleet';
import { serviceCatalog } from '../../functions/core/fleet/services';
import { parseServices } from '../../functions/core/input/files';
import { instances, spec } from '../support/builders';

const MINUTE = 60_000;
// Settle looks at a reboot wave 15, 45, 105, 225, 465 s after the apply: the first after its 5-min
// estimate is at 465 s, when the rollout sees it finished.
const REBOOT_SEEN = 7.75;
// A reboot wave with the 10-min bake these tests use, and no draining or readiness: 7.75 + 10.
const WAVE = 17.75;
const catalog = serviceCatalog(
  parseServices(
    'services: { web: { maxUnavailable: 50% }, quiet: { maxUnavailable: 50%, impact: { reboot: non-disruptive } } }',
    's.yaml',
  ),
);

/** A wave as the planner makes them, of these instances. */
function wave(
  index: number,
  zone: string,
  members: readonly Instance[],
  approvalAfter: Wave['approvalAfter'] = null,
): Wave {
  return {
    index,
    kind: index === 0 ? 'canary' : 'rollout',
    zone,
    zones: [zone],
    size: members.length,
    limit: members.length,
    bindingConstraint: 'growth',
    services: { [members[0]?.service ?? 'web']: members.length },
    instances: members.map((i) => i.id),
    approvalAfter,
  };
}

/** Waves of one instance each in these zones (a reboot: seen finished after {@link REBOOT_SEEN} min, and the bake). */
function wavesIn(zones: readonly string[]): { waves: Wave[]; fleet: Instance[] } {
  const fleet = zones.map((z) => instances(1, 'web', z)[0]);
  return { waves: fleet.map((i, n) => wave(n, i.zone, [i])), fleet };
}

const input = (fields: Partial<PredictInput> & Pick<PredictInput, 'waves'>): PredictInput => ({
  spec: spec({ strategy: { bakeMinutes: 10 } }),
  instances: [],
  catalog,
  ...fields,
});

describe('predictWaves', () => {
  it('adds each wave’s action and bake, and without windows does not depend on the start', () => {
    const { waves, fleet } = wavesIn(['us-east-1a', 'us-east-1a', 'us-east-1a']);
    const monday = predictWaves(input({ waves, instances: fleet, startAt: Date.UTC(2026, 2, 2, 9) }));
    const saturdayNight = predictWaves(
      input({ waves, instances: fleet, startAt: Date.UTC(2026, 2, 7, 23, 59, 30) }),
    );
    expect(monday.minutes).toBe(3 * (REBOOT_SEEN + 10));
    expect(saturdayNight.minutes).toBe(monday.minutes);
    expect(saturdayNight.perWave.map((w) => w.windowWaitMinutes)).toEqual([0, 0, 0]);
    expect(monday.perWave.map((w) => (w.startsAt - monday.startAt) / MINUTE)).toEqual([0, WAVE, 2 * WAVE]);
    expect(monday.endsAt).toBe(monday.startAt + 3 * WAVE * MINUTE);
    // No start given: the fixed instant, so a plan is the same bytes every time.
    expect(predictWaves(input({ waves })).startAt).toBe(PREDICTION_EPOCH);
  });

  it('adds draining and readiness per wave: the longest of its instances, for services the action disrupts', () => {
    const behind = (drainSeconds: number, readySeconds: number) => ({
      targets: [
        {
          targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1',
          state: 'healthy' as const,
          drainSeconds,
          readySeconds,
        },
      ],
    });
    const slow = instances(1, 'web', 'us-east-1a', behind(300, 60));
    const fast = instances(2, 'web', 'us-east-1a', behind(30, 30));
    const quiet = instances(1, 'quiet', 'us-east-1a', behind(600, 600));
    const waves = [wave(0, 'us-east-1a', [...slow, fast[0]]), wave(1, 'us-east-1a', [fast[1], ...quiet])];
    const fleet = [...slow, ...fast, ...quiet];
    const reboot = predictWaves(input({ waves, instances: fleet }));
    // Wave 0: 300 s + 60 s (the slow one bounds it); wave 1: 30 s + 30 s (quiet is not disrupted).
    expect(reboot.perWave.map((w) => w.trafficMinutes)).toEqual([6, 1]);
    expect(reboot.trafficMinutes).toBe(7);
    // Settle sees each phase at a look (and asks the group for its health at each, 1/8 s): the
    // drain a few seconds past its end (a look comes then), the reboot on the schedule started over
    // at the act (looks 30, 90, 210, 450 s after: its 5 min seen at the last), the readiness a few
    // seconds past it. Wave 0: drained at 305.6 s, back at 756.1 s, ready (60 s) at the look at
    // 821.4 s; wave 1: drained at 35.3 s, back at 485.8 s, ready (30 s) at 515.9 s; each then bakes
    // 10 min.
    expect(reboot.perWave.map((w) => (w.endsAt - w.startsAt) / 1000)).toEqual([821.375 + 600, 515.875 + 600]);
    expect(reboot.minutes).toBe((821.375 + 515.875) / 60 + 20);
    // A replacement never takes the old instance out of traffic first (its group launches the new one).
    const replace = predictWaves(
      input({ waves, instances: fleet, spec: spec({ action: { type: 'replace' } }) }),
    );
    expect(replace.trafficMinutes).toBe(0);
  });

  it('ends a wave’s action at settle’s first look after the work is done: 15 s, then doubling, up to the cap', () => {
    // Looks at 15, 45, 105, 225, 465, 765 s after the apply (waits of 30, 60, 120, 240, then the
    // 300-s cap of a short limit); no bake, so a wave lasts until the look that sees it done.
    const noBake = (action: Record<string, unknown>) => spec({ action, strategy: { bakeMinutes: 0 } });
    const one = (s: PredictInput['spec'], fleet: readonly Instance[]) =>
      predictWaves(input({ waves: [wave(0, 'us-east-1a', fleet)], instances: fleet, spec: s })).perWave[0];
    const plain = instances(1, 'web', 'us-east-1a');

    // set-tag: a 1-min estimate, seen at 105 s.
    expect(one(noBake({ type: 'set-tag', tags: { patched: 'yes' } }), plain)).toMatchObject({
      actionMinutes: 105 / 60,
      trafficMinutes: 0,
    });
    // reboot: a 5-min estimate, seen at 465 s.
    expect(one(noBake({ type: 'reboot' }), plain)).toMatchObject({
      actionMinutes: 465 / 60,
      trafficMinutes: 0,
    });
    // A reboot behind a target group (300 s draining, 90 s readiness): drained at the look at
    // 305.6 s (15, 45, 105, 225 s, then 5 s past the drain's end), the reboot seen 450 s after the
    // act (looks 30, 60, 120, 240 s apart) at 756.1 s, ready at the look 5 s past 846.1 s; the
    // action is what the looks add beyond the traffic's 6.5 min.
    const behind = instances(1, 'web', 'us-east-1a', {
      targets: [
        {
          targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1',
          state: 'healthy' as const,
          drainSeconds: 300,
          readySeconds: 90,
        },
      ],
    });
    const traffic = one(noBake({ type: 'reboot' }), behind);
    expect(traffic).toMatchObject({ actionMinutes: 846.375 / 60 - 6.5, trafficMinutes: 6.5 });
    expect(traffic.endsAt - traffic.startsAt).toBe(846.375 * 1000);
    // A two-day ssm-command: limit 172800 + 600 s, so the cap is ceil(173400 / 50) = 3468 s; the
    // early looks are the same, and its 5-min estimate is seen at 465 s.
    const ssm = { type: 'ssm-command', document: 'AWS-RunShellScript', timeoutSeconds: 172800 };
    expect(one(noBake(ssm), plain)).toMatchObject({ actionMinutes: 465 / 60, trafficMinutes: 0 });
  });

  it('counts FleetOps’ own requests at its pacing: a reboot’s proof once, the target groups’ health at every look', () => {
    // 3,000 reboots behind 400 target groups (draining 300 s, readiness 90 s): the proof reads 3,000
    // console outputs at 15/s (200 s), and each look asks 400 groups at 8/s (50 s, added to the
    // wait before it). Drained at the look ending at 355 s, the reboot and its proof (500 s) seen at
    // the look ending at 1,005 s, ready (due at 1,095 s) at the look ending at 1,150 s.
    const fleet = instances(3000, 'web', 'us-east-1a').map((i, k) => ({
      ...i,
      targets: [
        {
          targetGroupArn: `arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web-${k % 400}/1`,
          state: 'healthy' as const,
          drainSeconds: 300,
          readySeconds: 90,
        },
      ],
    }));
    const w = predictWaves(
      input({
        waves: [wave(0, 'us-east-1a', fleet)],
        instances: fleet,
        spec: spec({ action: { type: 'reboot' }, strategy: { bakeMinutes: 0 } }),
      }),
    ).perWave[0];
    expect(w.trafficMinutes).toBe(6.5);
    expect(w.endsAt - w.startsAt).toBe(1150 * 1000);
    // A set-tag reads no console output: drained at 355 s, its minute seen at 435 s, ready at 580 s.
    const tags = predictWaves(
      input({
        waves: [wave(0, 'us-east-1a', fleet)],
        instances: fleet,
        spec: spec({ action: { type: 'set-tag', tags: { a: 'b' } }, strategy: { bakeMinutes: 0 } }),
      }),
    ).perWave[0];
    expect(tags.endsAt - tags.startsAt).toBe(580 * 1000);
  });

  it('expects the approval wait after each approval point that has waves after it', () => {
    const fleet = instances(3, 'web', 'us-east-1a');
    const waves = [
      wave(0, 'us-east-1a', [fleet[0]], 'canary'),
      wave(1, 'us-east-1a', [fleet[1]]),
      // After the last wave there is nothing to approve: the change ends.
      wave(2, 'us-east-1a', [fleet[2]], 'risk-containment'),
    ];
    const byDefault = predictWaves(input({ waves }));
    expect(byDefault.perWave.map((w) => w.approvalMinutes)).toEqual([60, 0, 0]);
    expect(byDefault.minutes).toBe(3 * WAVE + 60);
    const quick = predictWaves(
      input({ waves, spec: spec({ strategy: { bakeMinutes: 10 }, approval: { expectedWaitMinutes: 25 } }) }),
    );
    expect(quick.approvalMinutes).toBe(25);
    expect(quick.perWave[1].startsAt - quick.perWave[0].endsAt).toBe(25 * MINUTE);
  });

  it('bakes between zones: firstZoneBakeMinutes after the first zone, zoneBakeMinutes after the others', () => {
    const { waves } = wavesIn(['us-east-1a', 'us-east-1a', 'us-east-1b', 'us-east-1b', 'us-east-1c']);
    const both = predictWaves(
      input({
        waves,
        spec: spec({ strategy: { bakeMinutes: 10, firstZoneBakeMinutes: 90, zoneBakeMinutes: 30 } }),
      }),
    );
    expect(both.perWave.map((w) => w.zoneBakeMinutes)).toEqual([0, 90, 0, 30, 0]);
    expect(both.zoneBakeMinutes).toBe(120);
    expect(both.minutes).toBe(5 * WAVE + 120);
    // Without firstZoneBakeMinutes the first zone bakes as long as the others (CodeDeploy's rule).
    const same = predictWaves(
      input({ waves, spec: spec({ strategy: { bakeMinutes: 10, zoneBakeMinutes: 30 } }) }),
    );
    expect(same.perWave.map((w) => w.zoneBakeMinutes)).toEqual([0, 30, 0, 30, 0]);
    // Neither: no zone bakes (the default).
    expect(predictWaves(input({ waves })).zoneBakeMinutes).toBe(0);
  });

  it('puts the approval before the zone’s bake after a wave that has both', () => {
    const fleet = [...instances(1, 'web', 'us-east-1a'), ...instances(1, 'web', 'us-east-1b')];
    const waves = [wave(0, 'us-east-1a', [fleet[0]], 'canary'), wave(1, 'us-east-1b', [fleet[1]])];
    const p = predictWaves(
      input({ waves, spec: spec({ strategy: { bakeMinutes: 10, zoneBakeMinutes: 45 } }) }),
    );
    expect(p.perWave[0]).toMatchObject({ approvalMinutes: 60, zoneBakeMinutes: 45 });
    expect((p.perWave[1].startsAt - p.perWave[0].endsAt) / MINUTE).toBe(105);
  });

  it('waits over a weekend for the next window, in the window’s time zone', () => {
    const { waves } = wavesIn(['us-east-1a', 'us-east-1a', 'us-east-1a']);
    const weekdays = spec({
      strategy: { bakeMinutes: 10 },
      windows: [
        {
          days: ['mon', 'tue', 'wed', 'thu', 'fri'],
          start: '09:00',
          end: '17:00',
          timezone: 'America/New_York',
        },
      ],
    });
    // Friday 2026-01-09 16:50 in New York (EST, UTC−5): wave 0 starts inside and ends at 17:07:45
    // (17.75 min later), after the window; wave 1 waits for Monday 09:00 EST, 14:00 UTC.
    const friday = Date.UTC(2026, 0, 9, 21, 50);
    const p = predictWaves(input({ waves, spec: weekdays, startAt: friday }));
    expect(p.perWave[0]).toMatchObject({ windowWaitMinutes: 0, startsAt: friday });
    expect(new Date(p.perWave[1].startsAt).toISOString()).toBe('2026-01-12T14:00:00.000Z');
    expect(p.perWave[1].windowWaitMinutes).toBe((2 * 24 + 15) * 60 + 52.25);
    // Wave 2 follows at once, inside Monday's window.
    expect(p.perWave[2].windowWaitMinutes).toBe(0);
    expect(p.minutes).toBe(3 * WAVE + p.windowMinutes);

    // The same a week before the clocks change (Sunday 2026-03-08): Monday's 09:00 is EDT, 13:00 UTC,
    // an hour less to wait.
    const beforeDst = predictWaves(input({ waves, spec: weekdays, startAt: Date.UTC(2026, 2, 6, 21, 50) }));
    expect(new Date(beforeDst.perWave[1].startsAt).toISOString()).toBe('2026-03-09T13:00:00.000Z');
    expect(beforeDst.windowMinutes).toBe(p.windowMinutes - 60);

    // A start outside every window waits for the first one; Saturday in Tokyo is Friday in New York.
    const tokyo = spec({
      strategy: { bakeMinutes: 10 },
      windows: [{ days: ['sat'], start: '02:00', end: '05:00', timezone: 'Asia/Tokyo' }],
    });
    const early = predictWaves(input({ waves, spec: tokyo, startAt: Date.UTC(2026, 0, 9, 16, 30) }));
    expect(new Date(early.perWave[0].startsAt).toISOString()).toBe('2026-01-09T17:00:00.000Z');
    expect(early.perWave[0].windowWaitMinutes).toBe(30);
  });

  it('re-estimates the rest of a change from a middle wave, the zone bakes still counted from the first zone', () => {
    const { waves } = wavesIn(['us-east-1a', 'us-east-1a', 'us-east-1b', 'us-east-1b', 'us-east-1c']);
    const s = spec({ strategy: { bakeMinutes: 10, firstZoneBakeMinutes: 90, zoneBakeMinutes: 30 } });
    const rest = predictWaves(input({ waves, spec: s, from: 2, startAt: Date.UTC(2026, 4, 1) }));
    expect(rest.perWave.map((w) => w.wave)).toEqual([2, 3, 4]);
    // From wave 2 on, the only zone change left is after the second zone: zoneBakeMinutes.
    expect(rest.perWave.map((w) => w.zoneBakeMinutes)).toEqual([0, 30, 0]);
    expect(rest.minutes).toBe(3 * WAVE + 30);
    expect(predictWaves(input({ waves, spec: s, from: 5 })).minutes).toBe(0);
  });
});

describe('expectedEnd', () => {
  const { waves } = wavesIn(['us-east-1a', 'us-east-1a', 'us-east-1b']);
  const s = spec({
    strategy: { bakeMinutes: 10, zoneBakeMinutes: 20 },
    approval: { expectedWaitMinutes: 40 },
  });
  const now = Date.UTC(2026, 4, 5, 12);
  const end = (progress: Parameters<typeof expectedEnd>[0]['progress']) =>
    expectedEnd({ waves, spec: s, instances: [], catalog, progress, now });

  it('counts what is left of the wave under way, then the rest', () => {
    // Wave 1 began 5 minutes ago: 12.75 minutes left, the zone bake of 20, then wave 2's 17.75.
    const e = end({ phase: 'acting', wave: 1, since: now - 5 * MINUTE });
    expect(e.minutes).toBe(WAVE - 5 + 20 + WAVE);
    expect(e.from).toBe(2);
    expect(new Date(e.endsAt).toISOString()).toBe('2026-05-05T12:50:30.000Z');
  });

  it('never expects a wave that overran to end before now', () => {
    const e = end({ phase: 'acting', wave: 2, since: now - 60 * MINUTE });
    expect(e.endsAt).toBe(now);
    expect(e.minutes).toBe(0);
  });

  it('counts what is left of the expected approval wait, then the zone’s bake', () => {
    const e = end({ phase: 'waiting-approval', wave: 1, since: now - 30 * MINUTE });
    expect(e.minutes).toBe(10 + 20 + WAVE);
    // Waiting longer than expected: the person may answer any moment.
    expect(end({ phase: 'waiting-approval', wave: 0, since: now - 90 * MINUTE }).minutes).toBe(
      WAVE + 20 + WAVE,
    );
  });

  it('counts the zone bake under way before the next wave begins', () => {
    const e = end({ phase: 'before', wave: 2, previousEndedAt: now - 5 * MINUTE });
    expect(e.minutes).toBe(15 + WAVE);
    expect(end({ phase: 'before', wave: 0 }).minutes).toBe(3 * WAVE + 20);
  });

  it('is now once every wave is done', () => {
    expect(end({ phase: 'before', wave: 3 })).toMatchObject({ endsAt: now, minutes: 0 });
  });
});

describe('planChange’s prediction', () => {
  const fleet = ['us-east-1a', 'us-east-1b'].flatMap((z) => instances(6, 'web', z));

  it('includes the approval waits and the zone bakes in predictedMinutes, with their breakdown', () => {
    const plan = planChange({
      instances: fleet,
      catalog,
      spec: spec({
        risk: 'medium',
        strategy: { bakeMinutes: 10, firstZoneBakeMinutes: 60, zoneBakeMinutes: 5 },
      }),
    });
    // medium risk: an approval after the canary; two zones: one zone change.
    expect(plan.waves[0].approvalAfter).toBe('canary');
    expect(plan).toMatchObject({
      approvalMinutes: 60,
      zoneBakeMinutes: 60,
      windowMinutes: 0,
      trafficMinutes: 0,
    });
    expect(plan.predictedMinutes).toBe(plan.waves.length * WAVE + 60 + 60);
    expect(plan.predictedFrom).toBeUndefined();
  });

  it('is the same bytes for any start without windows, and says its start with them', () => {
    const s = spec();
    const a = planChange({ instances: fleet, catalog, spec: s, startAt: Date.UTC(2026, 0, 3) });
    const b = planChange({ instances: fleet, catalog, spec: s, startAt: Date.UTC(2026, 6, 9, 13, 17) });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    const windowed = spec({ windows: [{ days: ['tue'], start: '10:00', end: '11:00' }] });
    const tuesday = planChange({
      instances: fleet,
      catalog,
      spec: windowed,
      startAt: Date.UTC(2026, 0, 6, 10),
    });
    const monday = planChange({
      instances: fleet,
      catalog,
      spec: windowed,
      startAt: Date.UTC(2026, 0, 5, 10),
    });
    expect(tuesday.predictedFrom).toBe('2026-01-06T10:00:00.000Z');
    expect(monday.windowMinutes! - tuesday.windowMinutes!).toBe(24 * 60);
    expect(monday.predictedMinutes - tuesday.predictedMinutes).toBe(24 * 60);
  });
});

describe('nextOpening', () => {
  const ny = (days: Array<'sun' | 'mon'>, start: string, end: string) => [
    { days, start, end, timezone: 'America/New_York' },
  ];
  const iso = (at: number | undefined) => (at === undefined ? undefined : new Date(at).toISOString());

  it('is the instant itself inside a window, or without windows', () => {
    const at = Date.UTC(2026, 0, 5, 15, 7, 31);
    expect(nextOpening([], at)).toBe(at);
    expect(nextOpening(ny(['mon'], '09:00', '17:00'), at)).toBe(at);
    expect(windowDecision(ny(['mon'], '09:00', '17:00'), at)).toEqual({ open: true, waitSeconds: 0 });
  });

  it('is exact across the clocks changing: a window skipped, entered mid-way, or passed twice', () => {
    // Spring forward, Sunday 2026-03-08 02:00 EST → 03:00 EDT: 02:15–02:45 does not happen that day.
    expect(iso(nextOpening(ny(['sun'], '02:15', '02:45'), Date.UTC(2026, 2, 8, 5)))).toBe(
      '2026-03-15T06:15:00.000Z',
    );
    // 02:15–03:30 is entered at 03:00 EDT, when the clock jumps into it.
    expect(iso(nextOpening(ny(['sun'], '02:15', '03:30'), Date.UTC(2026, 2, 8, 5)))).toBe(
      '2026-03-08T07:00:00.000Z',
    );
    // Fall back, Sunday 2026-11-01 02:00 EDT → 01:00 EST: 01:15 comes twice; after the first, the second.
    expect(iso(nextOpening(ny(['sun'], '01:15', '01:30'), Date.UTC(2026, 10, 1, 5, 40)))).toBe(
      '2026-11-01T06:15:00.000Z',
    );
    // windowDecision waits to that minute, in whole seconds.
    expect(windowDecision(ny(['sun'], '01:15', '01:30'), Date.UTC(2026, 10, 1, 5, 40, 30))).toEqual({
      open: false,
      waitSeconds: 34 * 60 + 30,
    });
  });

  it('takes the earliest of several windows in different zones, and a window across midnight', () => {
    const windows = [
      { days: ['mon' as const], start: '22:00', end: '02:00', timezone: 'Europe/Berlin' },
      { days: ['tue' as const], start: '09:00', end: '10:00', timezone: 'UTC' },
    ];
    // Monday 2026-01-05 12:00 UTC: Berlin's Monday 22:00 (CET, UTC+1) is 21:00 UTC.
    expect(iso(nextOpening(windows, Date.UTC(2026, 0, 5, 12)))).toBe('2026-01-05T21:00:00.000Z');
    // Tuesday 00:30 UTC is 01:30 in Berlin: still Monday's window.
    expect(nextOpening(windows, Date.UTC(2026, 0, 6, 0, 30))).toBe(Date.UTC(2026, 0, 6, 0, 30));
    // Tuesday 01:30 UTC: Berlin's closed at 02:00 local; the UTC one opens at 09:00.
    expect(iso(nextOpening(windows, Date.UTC(2026, 0, 6, 1, 30)))).toBe('2026-01-06T09:00:00.000Z');
  });
});

describe('the final waves expected for instances skipped for a spent budget', () => {
  it('are counted in the prediction: per zone, as many as the service needs at its budget', () => {
    // web (2 overall, 1 a zone) in two zones; in zone a one is impaired at planning, so the four
    // others there are skipped for the spent budget and come back at the end, one a wave.
    const cat = serviceCatalog(
      parseServices('services: { web: { maxUnavailable: 2, maxUnavailablePerZone: 1 } }', 's.yaml'),
    );
    const a = instances(5, 'web', 'eu-west-1a');
    const b = instances(3, 'web', 'eu-west-1b');
    const fleet = [{ ...a[0], health: 'impaired' as const }, ...a.slice(1), ...b];
    const plan = planChange({
      instances: fleet,
      catalog: cat,
      spec: spec({ strategy: { bakeMinutes: 10 } }),
    });
    expect(plan.skipped.filter((s) => /exhausted/.test(s.reason)).map((s) => s.id)).toEqual(
      a.slice(1).map((i) => i.id),
    );
    expect(plan.expectedFinalWaves).toBe(4);
    // Each a reboot wave of one instance (seen finished after 7.75 min, and the 10-min bake).
    expect(plan.finalWaveMinutes).toBeCloseTo(4 * WAVE, 1);
    const quiet = planChange({
      instances: [...a, ...b],
      catalog: cat,
      spec: spec({ strategy: { bakeMinutes: 10 } }),
    });
    expect(quiet.expectedFinalWaves).toBeUndefined();
    expect(plan.predictedMinutes).toBeCloseTo(plan.waves.length * WAVE + 4 * WAVE, 1);
  });
});
