/** A change spec's time windows: whether one is open now, and how long until the next opens. */
import type { ChangeSpec } from './spec';

type Window = ChangeSpec['windows'][number];

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

/** Weekday and minute of the day at `at` in a time zone. */
function localTime(at: number, timeZone: string): { day: string; minute: number } {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return {
    day: get('weekday').slice(0, 3).toLowerCase(),
    minute: Number(get('hour')) * 60 + Number(get('minute')),
  };
}

function inside(window: Window, at: number): boolean {
  const { day, minute } = localTime(at, window.timezone);
  const [sh, sm] = window.start.split(':').map(Number);
  const [eh, em] = window.end.split(':').map(Number);
  const start = sh * 60 + sm;
  const end = eh * 60 + em;
  if (start < end)
    return window.days.includes(day as Window['days'][number]) && minute >= start && minute < end;
  // A window across midnight (22:00–04:00) belongs to the day it starts.
  const yesterday = DAYS[(DAYS.indexOf(day as (typeof DAYS)[number]) + 6) % 7];
  return (
    (window.days.includes(day as Window['days'][number]) && minute >= start) ||
    (window.days.includes(yesterday as Window['days'][number]) && minute < end)
  );
}

/**
 * Whether a change may act now under its time windows, and if not, how long until one opens
 * (to the minute, looking up to eight days ahead). No windows: always open.
 */
export function windowDecision(
  windows: readonly Window[],
  now: number,
): { open: boolean; waitSeconds: number } {
  if (windows.length === 0 || windows.some((w) => inside(w, now))) return { open: true, waitSeconds: 0 };
  const minute = 60_000;
  const first = Math.ceil(now / minute) * minute;
  for (let t = first; t <= now + 8 * 24 * 60 * minute; t += minute) {
    if (windows.some((w) => inside(w, t))) return { open: false, waitSeconds: Math.ceil((t - now) / 1000) };
  }
  return { open: false, waitSeconds: 24 * 3600 };
}
