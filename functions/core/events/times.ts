/**
 * The dates AWS puts in events, read strictly and returned as ISO 8601 (UTC, milliseconds).
 *
 * `Date.parse` is not used: it accepts "30 Feb" (rolling it into March), guesses at free text and
 * differs between engines, and a deadline read wrong is worse than an event rejected with a reason.
 */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * `2021-11-11T21:29:54Z` (the envelope's `time`), `2019-10-02T17:04:40.989+0000` (CloudWatch's
 * `state.timestamp`), and the offset forms `+00:00` / `+0000` in between.
 */
const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})$/;

/**
 * RFC 7231 dates as AWS Health writes them: `Sat, 05 Jun 2021 21:00:00 GMT`, also with a one-digit
 * day (`Fri, 3 Jun 2022 ...`). The weekday is not checked: AWS's own samples carry wrong ones
 * (`Thu, 27 Jan 2026`), and the date itself is what counts.
 */
const HTTP_DATE = new RegExp(
  `^(?:[A-Z][a-z]{2},\\s*)?(\\d{1,2})\\s+(${MONTHS.join('|')})\\s+(\\d{4})\\s+(\\d{2}):(\\d{2}):(\\d{2})\\s+(GMT|UTC)$`,
);

/** An ISO 8601 timestamp with an explicit zone, as ISO 8601 UTC; undefined if it is not one. */
export function isoInstant(text: string): string | undefined {
  const m = ISO.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s = '0', fraction = '', zone] = m;
  const offsetMinutes = zone === 'Z' ? 0 : zoneOffset(zone);
  if (offsetMinutes === undefined) return undefined;
  const ms = Number(fraction.padEnd(3, '0').slice(0, 3));
  return utc(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s), ms, offsetMinutes);
}

/** An AWS Health date (RFC 7231 or ISO 8601), as ISO 8601 UTC; undefined if it is neither. */
export function healthInstant(text: string): string | undefined {
  const m = HTTP_DATE.exec(text);
  if (!m) return isoInstant(text);
  const [, d, month, y, h, mi, s] = m;
  return utc(Number(y), MONTHS.indexOf(month) + 1, Number(d), Number(h), Number(mi), Number(s), 0, 0);
}

/** Adds minutes to an ISO instant (which must be one this module produced). */
export function plusMinutes(iso: string, minutes: number): string {
  return new Date(Date.parse(iso) + minutes * 60_000).toISOString();
}

function zoneOffset(zone: string): number | undefined {
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = Number(digits.slice(2));
  if (hours > 23 || minutes > 59) return undefined;
  return sign * (hours * 60 + minutes);
}

function utc(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  ms: number,
  offsetMinutes: number,
): string | undefined {
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0–99 to 1900–1999.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  // A day past the month's end rolls over; the round trip catches "31 Apr" and "29 Feb 2023".
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined;
  date.setUTCHours(hour, minute, second, ms);
  const shifted = date.getTime() - offsetMinutes * 60_000;
  // toISOString throws outside ±275760 years; four-digit years keep far inside that.
  return new Date(shifted).toISOString();
}
