/**
 * The operator's input files (fleet, services, change spec) parsed from YAML or JSON and
 * validated, each problem with its file, line, expected and found.
 */
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { type ChangeSpec, changeSpecSchema } from '../change/spec';
import { type Fleet, fleetSchema } from '../fleet/fleet';
import { type ServicesFile, servicesFileSchema } from '../fleet/services';

/** One thing wrong with an input file, located as precisely as the format allows. */
export interface InputProblem {
  /** The field path, such as `strategy.growth.factor` or `instances[3].zone`; empty for the whole file. */
  readonly path: string;
  readonly expected: string;
  readonly found: string;
  readonly line?: number;
  readonly column?: number;
}

/** A user's input is invalid. Its message names the file, each field, what was expected and what was found. */
export class InputError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly InputProblem[],
  ) {
    super(problems.map((p) => formatProblem(source, p)).join('\n'));
    this.name = 'InputError';
  }
}

export function formatProblem(source: string, p: InputProblem): string {
  const where = p.line === undefined ? source : `${source}:${p.line}:${p.column ?? 1}`;
  const field = p.path === '' ? '' : ` ${p.path}:`;
  return `${where}:${field} expected ${p.expected}, found ${p.found}`;
}

type Path = ReadonlyArray<PropertyKey>;

const MAX_PROBLEMS = 20;

interface ParsedText {
  readonly data: unknown;
  /** Finds the line and column of a field path, where the format keeps positions. */
  readonly locate: (path: Path, at?: 'key' | 'value') => { line: number; column: number } | undefined;
}

/** The three configuration files: a fleet inventory, the services' budgets, a change spec. */
export function parseFleet(text: string, source: string): Fleet {
  return validate(fleetSchema, parseText(text, source), source);
}

export function parseServices(text: string, source: string): ServicesFile {
  return validate(servicesFileSchema, parseText(text, source), source);
}

export function parseChangeSpec(text: string, source: string): ChangeSpec {
  return validate(changeSpecSchema, parseText(text, source), source);
}

/** Any other input file (JSON or YAML by its name) against its schema, with the same errors. */
export function parseWithSchema<S extends z.ZodType>(schema: S, text: string, source: string): z.output<S> {
  return validate(schema, parseText(text, source), source);
}

function validate<S extends z.ZodType>(schema: S, parsed: ParsedText, source: string): z.output<S> {
  const result = schema.safeParse(parsed.data);
  if (result.success) return result.data;
  const { issues } = result.error;
  const problems = issues.slice(0, MAX_PROBLEMS).map((issue) => toProblem(issue, parsed));
  if (issues.length > MAX_PROBLEMS) {
    problems.push({
      path: '',
      expected: 'no more problems',
      found: `${issues.length - MAX_PROBLEMS} more not shown`,
    });
  }
  throw new InputError(source, problems);
}

function parseText(text: string, source: string): ParsedText {
  if (/\.json$/i.test(source)) {
    try {
      // JSON.parse is an order of magnitude faster than a YAML parser on a 100k-instance inventory.
      return { data: JSON.parse(text), locate: () => undefined };
    } catch (error) {
      const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
      const at = /position (\d+)/.exec(message);
      const pos = at ? lineAndColumn(text, Number(at[1])) : yamlErrorPosition(text);
      throw new InputError(source, [
        { path: '', expected: 'valid JSON', found: `a syntax error (${message})`, ...pos },
      ]);
    }
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new InputError(
      source,
      doc.errors.slice(0, 5).map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return {
          path: '',
          expected: 'valid YAML',
          found: `a syntax error (${e.message.split('\n')[0]})`,
          line: pos.line,
          column: pos.col,
        };
      }),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // Unresolvable aliases and alias bombs surface only here.
    const message = error instanceof Error ? error.message : String(error);
    throw new InputError(source, [{ path: '', expected: 'valid YAML', found: `an error (${message})` }]);
  }
  return {
    data,
    locate(path, at = 'value') {
      // Walk down as far as the path exists, so a missing field points at its parent.
      let node: unknown = doc.contents;
      let located: { line: number; column: number } | undefined;
      for (let depth = 0; depth <= path.length; depth++) {
        const range = (node as { range?: [number, number, number] } | null)?.range;
        if (range) {
          const pos = lineCounter.linePos(range[0]);
          located = { line: pos.line, column: pos.col };
        }
        if (depth === path.length) break;
        const key = path[depth];
        if (isMap(node)) {
          const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
          if (!pair) break;
          node = at === 'key' && depth === path.length - 1 ? pair.key : (pair.value ?? pair.key);
        } else if (isSeq(node) && typeof key === 'number') {
          node = node.items[key];
        } else {
          break;
        }
      }
      return located;
    },
  };
}

/** Node 20's JSON.parse does not always say where; YAML, a superset of JSON, does. */
function yamlErrorPosition(text: string): { line: number; column: number } | undefined {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const first = doc.errors[0];
  if (!first) return undefined;
  const pos = lineCounter.linePos(first.pos[0]);
  return { line: pos.line, column: pos.col };
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  }
  return { line, column: offset - last };
}

function toProblem(issue: z.core.$ZodIssue, parsed: ParsedText): InputProblem {
  let path: Path = issue.path;
  let expected: string;
  let found = describe(valueAt(parsed.data, path));
  switch (issue.code) {
    case 'unrecognized_keys':
      path = [...issue.path, issue.keys[0]];
      expected = `no field "${String(issue.keys[0])}" (unknown fields are errors${
        issue.keys.length > 1 ? `; also unknown: ${issue.keys.slice(1).join(', ')}` : ''
      })`;
      found = describe(valueAt(parsed.data, path));
      break;
    case 'invalid_type':
      expected = issue.message.startsWith('Invalid input')
        ? article(issue.expected)
        : issue.message.replace(/^expected /, '');
      break;
    case 'invalid_value':
      expected =
        issue.values.length === 1
          ? JSON.stringify(issue.values[0])
          : `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
      break;
    case 'too_small':
      expected = bound(issue.origin, issue.inclusive ? 'at least' : 'more than', issue.minimum);
      break;
    case 'too_big':
      expected = bound(issue.origin, issue.inclusive ? 'at most' : 'less than', issue.maximum);
      break;
    default:
      expected = issue.message.replace(/^expected /, '');
  }
  const at = parsed.locate(path, issue.code === 'unrecognized_keys' ? 'key' : 'value');
  return { path: formatPath(path), expected, found, ...at };
}

function bound(origin: string, relation: string, limit: number | bigint): string {
  if (origin === 'array') return `${relation} ${limit} item${Number(limit) === 1 ? '' : 's'}`;
  if (origin === 'string') return `${relation} ${limit} character${Number(limit) === 1 ? '' : 's'}`;
  return `a number ${relation} ${limit}`;
}

function article(type: string): string {
  if (type === 'object') return 'a mapping (object)';
  if (type === 'array') return 'a list (array)';
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function valueAt(data: unknown, path: Path): unknown {
  let value = data;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing (the field is missing)';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return 'a mapping';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

export function formatPath(path: Path): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(String(key))) out += out === '' ? String(key) : `.${String(key)}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}
