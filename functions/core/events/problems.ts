/**
 * What the event parsers share to report an event they cannot read (field path, expected, found).
 */
import * as z from 'zod';

/**
 * An event FleetOps cannot read. The message names the field path, what was expected and what
 * was found, so a message parked on the dead-letter queue explains itself.
 */
export class EventError extends Error {
  override name = 'EventError';
}

export type Path = ReadonlyArray<PropertyKey>;

/** EC2 instance ids: `i-` and 8 (older) or 17 hexadecimal digits; the range admits both. */
export const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

export const INSTANCE_ID_EXPECTED = 'an EC2 instance id';

export const instanceIdSchema = z
  .string({ error: INSTANCE_ID_EXPECTED })
  .regex(INSTANCE_ID, { error: INSTANCE_ID_EXPECTED });

/** A string that must be there and say something. */
export function text(expected: string) {
  return z.string({ error: expected }).min(1, { error: expected });
}

/**
 * Parses `value` (found at `at` in the event) with `schema`, or throws an EventError listing each
 * problem as `path: expected …, found …`. Every schema here words its errors as the thing
 * expected, so zod's message is the "expected" part.
 */
export function read<S extends z.ZodType>(schema: S, value: unknown, at: Path = []): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) =>
    problem([...at, ...issue.path], issue.message, valueAt(value, issue.path)),
  );
  throw new EventError(problems.join('; '));
}

/** One problem, worded the way `read` words them; `found` is the offending value. */
export function problem(path: Path, expected: string, found: unknown): string {
  return problemText(path, expected, describe(found));
}

/** The same, with `found` already put into words. */
export function problemText(path: Path, expected: string, found: string): string {
  return `${formatPath(path)}: expected ${expected.replace(/^expected /, '')}, found ${found}`;
}

export function fail(path: Path, expected: string, found: unknown): never {
  throw new EventError(problem(path, expected, found));
}

function valueAt(data: unknown, path: Path): unknown {
  let value = data;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    // Own properties only: a missing "constructor" field must read as missing, not as Object.
    if (!Object.hasOwn(value, key)) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** A value as the message shows it: short, and never throwing (bigints and symbols included). */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing (the field is missing)';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') {
    const shown = JSON.stringify(value);
    return shown.length > 80 ? `${shown.slice(0, 77)}..."` : shown;
  }
  return `a ${typeof value}`;
}

/** `detail.affectedEntities[0].entityValue`, `detail.instance-id`; `event` for the whole event. */
export function formatPath(path: Path): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(String(key))) out += out === '' ? String(key) : `.${String(key)}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out === '' ? 'event' : out;
}
