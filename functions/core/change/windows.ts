/** A change spec's time windows: whether one is open now, and when the next opens. */
import type { ChangeSpec } from './spec';

type Window = ChangeSpec['windows'][number];

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const MINUTE = 60_000;
const DAY_MINUTES = 24 * 60;
const WEEK_MINUTES = 7 * DAY_MINUTES;
/** How far ahead a window is looked for: every window opens at least once a week. */
const HORIZON = 8 * DAY_MINUTES * MINUTE;

// Building a DateTimeFormat costs far more than using one; a prediction asks thousands of times.
const formats = new Map<string, Intl.DateTimeFormat>();
function formatIn(timeZone: string): Intl.DateTimeFormat {
  let format = formats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formats.set(timeZone, format);
  }
  return format;
}

/** Minute of the week (0 = Sunday 00:00) on the wall clock at `at` in a time zone. */
function weekMinute(at: number, timeZone: string): number {
  let day = 0;
  let hour = 0;
  let minute = 0;
  for (const part of formatIn(timeZone).formatToParts(at)) {
    if (part.type === 'weekday')
      day = DAYS.indexOf(part.value.slice(0, 3).toLowerCase() as (typeof DAYS)[number]);
    else if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') minute = Number(part.value);
  }
  return day * DAY_MINUTES + hour * 60 + minute;
}

const clock = (hhmm: string) => {
  const [h, m] = hhmm.split(':').map(Number);
  return h * 60 + m;
};

function inside(window: Window, at: number): boolean {
  const local = weekMinute(at, window.timezone);
  const day = DAYS[Math.floor(local / DAY_MINUTES)];
  const minute = local % DAY_MINUTES;
  const start = clock(window.start);
  const end = clock(window.end);
  if (start < end) return window.days.includes(day) && minute >= start && minute < end;
  // A window across midnight (22:00–04:00) belongs to the day it starts.
  const yesterday = DAYS[(DAYS.indexOf(day) + 6) % 7];
  return (window.days.includes(day) && minute >= start) || (window.days.includes(yesterday) && minute < end);
}

/**
 * The first whole minute at or after `from` (itself on a minute) at which `window` is open, up to
 * `until`. Instead of trying every minute it jumps to the window's next start on the wall clock;
 * when the clock's offset changed on the way (daylight saving time), it stops at the first minute
 * of the new offset and looks again from there, so a window entered by a clock that jumped
 * forward into it, or back into it, is found at the minute it is entered. (It assumes a zone's
 * offset does not change twice, back to the same, within a week, as no zone's rules do.)
 */
function nextOpeningOf(window: Window, from: number, until: number): number | undefined {
  const zone = window.timezone;
  const start = clock(window.start);
  const openings = window.days.map((d) => DAYS.indexOf(d) * DAY_MINUTES + start);
  for (let t = from; t <= until; ) {
    if (inside(window, t)) return t;
    const local = weekMinute(t, zone);
    const ahead = Math.min(...openings.map((o) => (o - local + WEEK_MINUTES) % WEEK_MINUTES || WEEK_MINUTES));
    let next = t + ahead * MINUTE;
    const onTime = (at: number) => weekMinute(at, zone) === (local + (at - t) / MINUTE) % WEEK_MINUTES;
    if (!onTime(next)) {
      // The offset changed in between: find the minute it did (the clock runs on time before it).
      let lo = t;
      let hi = next;
      while (hi - lo > MINUTE) {
        const mid = lo + Math.floor((hi - lo) / MINUTE / 2) * MINUTE;
        if (onTime(mid)) lo = mid;
        else hi = mid;
      }
      next = hi;
    }
    t = next;
  }
  return undefined;
}

/**
 * When the change may act, at or after `at`: `at` itself when a window is open then (or there are
 * none), otherwise the first whole minute at which one is, exact across days, time zones and
 * daylight saving time; undefined when none opens within eight days.
 */
export function nextOpening(windows: readonly Window[], at: number): number | undefined {
  if (windows.length === 0 || windows.some((w) => inside(w, at))) return at;
  const first = Math.ceil(at / MINUTE) * MINUTE;
  let best: number | undefined;
  for (const window of windows) {
    const opening = nextOpeningOf(window, first, best ?? at + HORIZON);
    if (opening !== undefined && (best === undefined || opening < best)) best = opening;
  }
  return best;
}

/**
 * Whether a change may act now under its time windows, and if not, how long until one opens
 * (to the minute, looking up to eight days ahead). No windows: always open.
 */
export function windowDecision(
  windows: readonly Window[],
  now: number,
): { open: boolean; waitSeconds: number } {
  const opening = nextOpening(windows, now);
  if (opening === now) return { open: true, waitSeconds: 0 };
  if (opening === undefined) return { open: false, waitSeconds: 24 * 3600 };
  return { open: false, waitSeconds: Math.ceil((opening - now) / 1000) };
}
