/**
 * What an event reader returns: findings, or the reason an event carries none.
 */
import type { Finding } from './findings';

/** What one event type's reader makes of its detail: findings, or the reason there are none. */
export type Outcome =
  | { readonly findings: readonly Finding[]; readonly ignored?: undefined }
  | { readonly findings: readonly []; readonly ignored: string };

export const ignore = (reason: string): Outcome => ({ findings: [], ignored: reason });

/** Shortens free text (an AWS description) for a finding's one-line detail. */
export function shorten(text: string, max = 200): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
