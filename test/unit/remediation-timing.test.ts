import type { Finding, FindingKind } from '../../functions/core/events/findings';
import { quietWindowOf } from '../../functions/core/fleet/services';
import { parseServices } from '../../functions/core/input/files';
import {
  accumulationMinutes,
  ec2MayRecover,
  intakeTimingFor,
  type QuietWindow,
  timingFor,
} from '../../functions/core/remediation/timing';

// Wednesday 11 June 2025, 10:00 UTC (12:00 in Berlin, 06:00 in New York).
const NOW = Date.parse('2025-06-11T10:00:00.000Z');
const NOW_ISO = '2025-06-11T10:00:00.000Z';

const finding = (kind: FindingKind, deadline?: string): Finding => ({
  instanceId: 'i-0123456789abcdef0',
  kind,
  key: `${kind}-1`,
  ...(deadline ? { deadline } : {}),
  detail: kind,
  source: 'test',
});

const weekendNights: QuietWindow = {
  days: ['sat', 'sun'],
  start: '02:00',
  end: '05:00',
  timezone: 'Europe/Berlin',
};

describe('timingFor: what each kind of finding gets', () => {
  it.each([
    ['system-status-check-failed', 'now', 'ladder'],
    ['instance-status-check-failed', 'now', 'ladder'],
    ['scheduled-maintenance', 'record-only', 'record-only'],
    ['degraded-hardware', 'now', 'stop-start'],
    ['spot-interruption', 'drain', 'drain'],
    ['rebalance-recommendation', 'now', 'replace'],
    ['unexpected-stop', 'record-only', 'record-only'],
    ['unexpected-termination', 'record-only', 'record-only'],
  ] as const)('%s → %s, %s, at once', (kind, mode, action) => {
    // Prepare: a deadline far away and a quiet window must not change these rules.
    const timing = timingFor(finding(kind, '2025-07-01T00:00:00Z'), NOW, weekendNights);

    expect(timing).toEqual({ mode, action, at: NOW_ISO, reason: expect.stringContaining(kind) });
  });

  it.each([
    ['scheduled-retirement', 'stop-start'],
    ['scheduled-stop', 'stop-start'],
    ['scheduled-reboot', 'reboot'],
  ] as const)('%s → %s at the first quiet time before the deadline', (kind, action) => {
    const timing = timingFor(finding(kind, '2025-06-25T00:00:00Z'), NOW, weekendNights);

    // Saturday 14 June, 02:00 in Berlin (CEST, UTC+2).
    expect(timing).toEqual({
      mode: 'before-deadline',
      action,
      at: '2025-06-14T00:00:00.000Z',
      reason: expect.stringContaining('at the first quiet time (sat,sun 02:00–05:00 Europe/Berlin)'),
    });
  });
});

describe('timingFor: placing a scheduled event at a quiet time', () => {
  const retirement = (deadline?: string) => finding('scheduled-retirement', deadline);

  it('reads the quiet window in its own time zone', () => {
    const newYork = { ...weekendNights, timezone: 'America/New_York' };

    // Saturday 02:00 in New York (EDT, UTC−4).
    expect(timingFor(retirement('2025-06-25T00:00:00Z'), NOW, newYork).at).toBe('2025-06-14T06:00:00.000Z');
  });

  it('places a window across midnight on the day it starts', () => {
    const fridayNight = { days: ['fri'], start: '23:00', end: '02:00', timezone: 'UTC' };

    expect(timingFor(retirement('2025-06-25T00:00:00Z'), NOW, fridayNight).at).toBe(
      '2025-06-13T23:00:00.000Z',
    );
    // Saturday 01:00 UTC is still Friday's window: act at once, inside it.
    const saturday1am = Date.parse('2025-06-14T01:00:00Z');
    const inside = timingFor(retirement('2025-06-25T00:00:00Z'), saturday1am, fridayNight);
    expect(inside).toMatchObject({ mode: 'before-deadline', at: '2025-06-14T01:00:00.000Z' });
    expect(inside.reason).toContain('now, inside quiet time');
  });

  it('uses every day when the window names none', () => {
    const nightly = { start: '01:00', end: '03:00', timezone: 'UTC' };

    expect(timingFor(retirement('2025-06-25T00:00:00Z'), NOW, nightly).at).toBe('2025-06-12T01:00:00.000Z');
  });

  it('starts on the minute the window opens even when now has seconds', () => {
    const at = timingFor(retirement('2025-06-25T00:00:00Z'), NOW + 12_345, weekendNights).at;

    expect(at).toBe('2025-06-14T00:00:00.000Z');
  });

  it('finds the first existing minute of a window that starts inside a skipped DST hour', () => {
    // Sunday 30 March 2025, Berlin: 02:00 CET jumps to 03:00 CEST, so 02:30 never happens.
    const sundayEarly = { days: ['sun'], start: '02:30', end: '04:00', timezone: 'Europe/Berlin' };
    const friday = Date.parse('2025-03-28T10:00:00Z');

    expect(timingFor(retirement('2025-04-10T00:00:00Z'), friday, sundayEarly).at).toBe(
      '2025-03-30T01:00:00.000Z',
    );
  });

  it('acts now when the quiet time starts less than an hour before the deadline', () => {
    // Quiet time starts 2025-06-14T00:00Z; the deadline 59 minutes later leaves no margin.
    const timing = timingFor(retirement('2025-06-14T00:59:00Z'), NOW, weekendNights);

    expect(timing).toEqual({
      mode: 'now',
      action: 'stop-start',
      at: NOW_ISO,
      reason: expect.stringContaining(
        'no quiet time (sat,sun 02:00–05:00 Europe/Berlin) before 2025-06-14T00:59:00Z less the 60-min margin',
      ),
    });
  });

  it('still uses a quiet time that starts exactly an hour before the deadline', () => {
    const timing = timingFor(retirement('2025-06-14T01:00:00Z'), NOW, weekendNights);

    expect(timing).toMatchObject({ mode: 'before-deadline', at: '2025-06-14T00:00:00.000Z' });
  });

  it('acts now without a quiet window', () => {
    const timing = timingFor(retirement('2025-06-25T00:00:00Z'), NOW);

    expect(timing).toMatchObject({ mode: 'now', action: 'stop-start', at: NOW_ISO });
    expect(timing.reason).toContain('no quiet window configured');
  });

  it('acts now when the deadline is less than the safety margin away', () => {
    const timing = timingFor(finding('scheduled-reboot', '2025-06-11T10:45:00Z'), NOW, weekendNights);

    expect(timing).toMatchObject({ mode: 'now', action: 'reboot', at: NOW_ISO });
    expect(timing.reason).toContain('is 45 min away, within the 60-min safety margin');
  });

  it('acts now, saying so, when the deadline has passed', () => {
    const timing = timingFor(retirement('2025-06-10T00:00:00Z'), NOW, weekendNights);

    expect(timing).toMatchObject({ mode: 'now', action: 'stop-start', at: NOW_ISO });
    expect(timing.reason).toContain('deadline 2025-06-10T00:00:00Z already passed');
  });

  it('acts now when a scheduled event comes without a deadline', () => {
    const timing = timingFor(retirement(), NOW, weekendNights);

    expect(timing).toMatchObject({ mode: 'now', action: 'stop-start', at: NOW_ISO });
    expect(timing.reason).toContain('no deadline given');
  });

  it('reads deadlines with an offset', () => {
    // 02:30+02:00 is 00:30Z: the 00:00Z quiet start is within the margin, so act now.
    expect(timingFor(retirement('2025-06-14T02:30:00+02:00'), NOW, weekendNights).mode).toBe('now');
    expect(timingFor(retirement('2025-06-14T03:00:00+02:00'), NOW, weekendNights).mode).toBe(
      'before-deadline',
    );
  });
});

describe('timingFor: bad input', () => {
  const retirement = finding('scheduled-retirement', '2025-06-25T00:00:00Z');

  it('rejects a deadline that is not a date', () => {
    expect(() => timingFor(finding('scheduled-stop', 'next tuesday'), NOW)).toThrow(
      'expected an ISO 8601 deadline on finding scheduled-stop-1, found "next tuesday"',
    );
  });

  it('rejects unknown days, malformed times and time zones', () => {
    expect(() => timingFor(retirement, NOW, { ...weekendNights, days: ['saturday'] })).toThrow(
      'expected quiet window days among mon, tue, wed, thu, fri, sat, sun (at least one), found [saturday]',
    );
    expect(() => timingFor(retirement, NOW, { ...weekendNights, days: [] })).toThrow('(at least one)');
    expect(() => timingFor(retirement, NOW, { ...weekendNights, start: '2:00' })).toThrow(
      'expected quiet window start as "HH:MM" (24-hour), found "2:00"',
    );
    expect(() => timingFor(retirement, NOW, { ...weekendNights, timezone: 'Mars/Olympus' })).toThrow(
      'expected an IANA time zone for the quiet window, found "Mars/Olympus"',
    );
  });
});

describe('the quiet window as a setting (services file: per service, or the account’s defaults)', () => {
  const file = parseServices(
    [
      'defaults:',
      '  maxUnavailable: 1',
      '  quietWindow: { days: [sat, sun], start: "01:00", end: "05:00", timezone: Europe/Berlin }',
      'services:',
      '  web:',
      '    maxUnavailable: 10%',
      '    quietWindow: { start: "22:00", end: "02:00", timezone: America/New_York }',
      '  api: { maxUnavailable: 2 }',
    ].join('\n'),
    'services.yaml',
  );

  it('a service’s own window, else the account’s, and the timing policy places the action in it', () => {
    expect(quietWindowOf(file, 'web')).toEqual({
      start: '22:00',
      end: '02:00',
      timezone: 'America/New_York',
    });
    expect(quietWindowOf(file, 'api')?.days).toEqual(['sat', 'sun']);
    expect(quietWindowOf(file, 'not-declared')?.timezone).toBe('Europe/Berlin');
    expect(
      quietWindowOf(parseServices('services: { api: { maxUnavailable: 2 } }', 's.yaml'), 'api'),
    ).toBeUndefined();
    // Wednesday 10:00 UTC is 06:00 in New York: web's window opens at 22:00 there, 02:00 UTC Thursday.
    const t = timingFor(
      finding('scheduled-retirement', '2025-06-20T00:00:00.000Z'),
      NOW,
      quietWindowOf(file, 'web'),
    );
    expect(t).toMatchObject({ mode: 'before-deadline', at: '2025-06-12T02:00:00.000Z' });
  });

  it('is validated where it is declared: a clock that is not HH:MM, an unknown day or time zone', () => {
    const bad = (window: string) => () =>
      parseServices(`services: { web: { maxUnavailable: 1, quietWindow: ${window} } }`, 'services.yaml');
    expect(bad('{ start: "25:00", end: "02:00", timezone: UTC }')).toThrow(/HH:MM/);
    expect(bad('{ start: "01:00", end: "02:00", timezone: Mars/Olympus }')).toThrow(/IANA time zone/);
    expect(bad('{ days: [someday], start: "01:00", end: "02:00", timezone: UTC }')).toThrow();
    expect(bad('{ start: "01:00", end: "02:00" }')).toThrow();
  });
});

describe("the accumulation window: a system check failure waits for EC2's own recovery only where it may act", () => {
  const windows = { 'instance-status-check-failed': 5, 'system-status-check-failed': 10 } as const;

  it('may be recovered by EC2: AutoRecovery `default` or unknown, not Spot', () => {
    expect(ec2MayRecover({})).toBe(true);
    expect(ec2MayRecover(undefined)).toBe(true);
    expect(ec2MayRecover({ autoRecovery: 'default' })).toBe(true);
    expect(ec2MayRecover({ autoRecovery: 'disabled' })).toBe(false);
    expect(ec2MayRecover({ spot: 'persistent' })).toBe(false);
  });

  it('gives the system check its longer window where EC2 may recover, the storm window elsewhere', () => {
    const system = 'system-status-check-failed';
    expect(accumulationMinutes(system, { autoRecovery: 'default' }, windows)).toBe(10);
    expect(accumulationMinutes(system, undefined, windows)).toBe(10);
    expect(accumulationMinutes(system, { autoRecovery: 'disabled' }, windows)).toBe(5);
    expect(accumulationMinutes(system, { spot: 'one-time' }, windows)).toBe(5);
    // Never longer than set: a system window shorter than the instance one stays as it is.
    expect(accumulationMinutes(system, { autoRecovery: 'disabled' }, { ...windows, [system]: 2 })).toBe(2);
    expect(accumulationMinutes('instance-status-check-failed', { autoRecovery: 'disabled' }, windows)).toBe(
      5,
    );
    expect(accumulationMinutes('degraded-hardware', {}, windows)).toBe(0);
    expect(accumulationMinutes(system, {}, undefined)).toBe(0);
  });

  it('reads only what the kind needs: the instance for a system check, the services file for a scheduled event, nothing else', async () => {
    const reads: string[] = [];
    const source = {
      getInstances: async (ids: readonly string[]) => {
        reads.push(`instances ${ids.join(',')}`);
        return [
          {
            id: 'i-0123456789abcdef0',
            service: 'web',
            zone: 'us-east-1a',
            state: 'running' as const,
            health: 'impaired' as const,
            tags: {},
            autoRecovery: 'disabled' as const,
          },
        ];
      },
      getServices: async () => {
        reads.push('services');
        return parseServices('services: { web: { maxUnavailable: 1 } }', 's.yaml');
      },
    };
    expect(await intakeTimingFor(source, finding('system-status-check-failed'), windows)).toEqual({
      waitMinutes: 5,
    });
    expect(reads).toEqual(['instances i-0123456789abcdef0']);
    reads.length = 0;
    expect(await intakeTimingFor(source, finding('instance-status-check-failed'), windows)).toEqual({
      waitMinutes: 5,
    });
    expect(reads).toEqual([]);
    expect(await intakeTimingFor(source, finding('scheduled-retirement'), windows)).toEqual({
      waitMinutes: 0,
    });
    expect(reads.sort()).toEqual(['instances i-0123456789abcdef0', 'services']);
  });
});
