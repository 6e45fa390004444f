/**
 * A data-flow check of an ASL definition: every JSONPath a state reads must exist on every path
 * into that state, given what the states before it leave.
 *
 * The JSON value flowing between states is modelled as a shape: a tree of known keys, where a
 * Task's raw result is opaque (any path under it exists, since the check cannot know what a
 * handler returns) unless a ResultSelector restructures it. Each state applies InputPath →
 * Parameters → (its result) → ResultSelector → ResultPath → OutputPath as the States Language
 * says, and its output shapes flow along every transition (Next, every Choice rule and the
 * Default, every Catch) until nothing new arrives. Each state keeps the set of distinct shapes
 * that reach it, with the state that last shaped them, so a missing path is reported with the
 * path that loses it.
 */
import { type AslDefinition, type AslState, type ChoiceRule, jsonPathSegments } from './asl-paths';

export type Shape =
  | { kind: 'opaque' }
  | { kind: 'value' }
  | { kind: 'object'; keys: { readonly [key: string]: Shape } };

/** Anything: every path under it exists. */
export const OPAQUE: Shape = { kind: 'opaque' };
/** A string, number, boolean, null or array: no path goes on under it. */
export const VALUE: Shape = { kind: 'value' };
const object = (keys: { readonly [key: string]: Shape }): Shape => ({ kind: 'object', keys });
/** What a Catch hands on as its result. */
const ERROR_OUTPUT = object({ Error: VALUE, Cause: VALUE });

/** The shape of a concrete JSON value (an example execution input, a Pass state's Result). */
export function shapeOf(value: unknown): Shape {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return VALUE;
  return object(Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shapeOf(v)])));
}

/** One canonical text per shape, so that sets of shapes can be compared. */
export function shapeKey(shape: Shape): string {
  if (shape.kind !== 'object') return shape.kind === 'opaque' ? '*' : 'v';
  const keys = Object.keys(shape.keys).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${shapeKey(shape.keys[k])}`).join(',')}}`;
}

type Segment = string | number;
const render = (segments: readonly Segment[]) =>
  `$${segments.map((s) => (typeof s === 'number' ? `[${s}]` : /^[A-Za-z_][\w-]*$/.test(s) ? `.${s}` : `['${s}']`)).join('')}`;

type Lookup =
  | { found: true; shape: Shape; certain: boolean }
  | { found: false; prefix: Segment[]; at: Shape };

/** Where a path leads in a shape; `certain` is false when it passes through something opaque. */
function lookup(shape: Shape, segments: readonly Segment[]): Lookup {
  let at = shape;
  for (let i = 0; i < segments.length; i++) {
    if (at.kind === 'opaque') return { found: true, shape: OPAQUE, certain: false };
    const segment = segments[i];
    const next = at.kind === 'object' && typeof segment === 'string' ? at.keys[segment] : undefined;
    if (!next) return { found: false, prefix: segments.slice(0, i), at };
    at = next;
  }
  return { found: true, shape: at, certain: true };
}

/** What exists where a path stopped, for the report: the keys there, or that it is a plain value. */
function leaves(prefix: Segment[], at: Shape): string {
  if (at.kind !== 'object') return `${render(prefix)} is a plain value`;
  const keys = Object.keys(at.keys);
  if (keys.length === 0) return `${render(prefix)} is an empty object`;
  return keys.map((k) => render([...prefix, k])).join(', ');
}

/** The shape with `value` written at a ResultPath. */
function setAt(shape: Shape, segments: readonly Segment[], value: Shape): Shape | string {
  if (segments.length === 0) return value;
  // Under an opaque value every path exists already; the model cannot say more.
  if (shape.kind === 'opaque') return OPAQUE;
  const [head, ...rest] = segments;
  if (typeof head === 'number') return `writes into an array index (${render(segments)})`;
  if (shape.kind === 'value') return 'writes under a plain value';
  const inner = setAt(shape.keys[head] ?? object({}), rest, value);
  return typeof inner === 'string' ? inner : object({ ...shape.keys, [head]: inner });
}

/** Intrinsic functions whose result is a plain value; the others may return objects. */
const VALUE_INTRINSICS = new Set([
  'States.Format',
  'States.JsonToString',
  'States.Array',
  'States.ArrayPartition',
  'States.ArrayContains',
  'States.ArrayRange',
  'States.ArrayLength',
  'States.ArrayUnique',
  'States.Base64Encode',
  'States.Base64Decode',
  'States.Hash',
  'States.MathRandom',
  'States.MathAdd',
  'States.StringSplit',
  'States.UUID',
]);

/** The JSONPaths an intrinsic function call reads: its arguments outside string literals. */
export function intrinsicPaths(expression: string): string[] {
  const paths: string[] = [];
  for (let i = 0; i < expression.length; i++) {
    const c = expression[i];
    if (c === "'") {
      // A string literal: `\'` does not end it.
      for (i++; i < expression.length && expression[i] !== "'"; i++) if (expression[i] === '\\') i++;
    } else if (c === '$') {
      const match = /^\$\$?(?:\.[A-Za-z_][\w-]*|\[\d+\]|\['[^']*'\])*/.exec(expression.slice(i));
      const path = match?.[0] ?? '$';
      paths.push(path);
      i += path.length - 1;
    }
  }
  return paths;
}

/** A read of one JSONPath by one field of a state. */
interface Read {
  field: string;
  path: string;
}

/** One shape reaching a state, with the state that last shaped it (for the report). */
interface Arrival {
  shape: Shape;
  via: string;
}

export interface DataFlowReport {
  /** One line per (state, read, path into it) that does not exist. */
  problems: string[];
  /** States no transition reaches from StartAt. */
  unreachable: string[];
  /** The distinct shapes that reach each state. */
  shapes: Map<string, Shape[]>;
}

export interface DataFlowOptions {
  /** Example execution inputs (each becomes the shape of its value): what the callers start it with. */
  inputs: readonly unknown[];
  /** How many distinct shapes a state may see before the check gives up (a loop that grows its value). */
  maxShapesPerState?: number;
}

/** Proves each JSONPath every state reads exists on every path into it, or lists where it does not. */
export function checkDataFlow(definition: AslDefinition, options: DataFlowOptions): DataFlowReport {
  const cap = options.maxShapesPerState ?? 256;
  const arrived = new Map<string, Map<string, Arrival>>();
  const problems = new Map<string, string>();
  const queue: { state: string; arrival: Arrival }[] = [];

  const distinct = new Map<string, Set<string>>();
  const arrive = (state: string, arrival: Arrival) => {
    if (!definition.States[state]) throw new Error(`a transition leads to ${state}, which does not exist`);
    const seen = arrived.get(state) ?? new Map<string, Arrival>();
    arrived.set(state, seen);
    const shape = shapeKey(arrival.shape);
    const key = `${shape} via ${arrival.via}`;
    if (seen.has(key)) return;
    const shapes = distinct.get(state) ?? new Set<string>();
    distinct.set(state, shapes);
    shapes.add(shape);
    if (shapes.size > cap) {
      throw new Error(
        `${state}: more than ${cap} distinct shapes reach it (does a loop keep growing the value it passes on?); ` +
          'raise maxShapesPerState if the definition really needs more',
      );
    }
    seen.set(key, arrival);
    queue.push({ state, arrival });
  };

  for (const input of options.inputs)
    arrive(definition.StartAt, { shape: shapeOf(input), via: 'the execution input' });
  while (queue.length > 0) {
    const { state: name, arrival } = queue.shift()!;
    const state = definition.States[name];
    const read = (shape: Shape, { field, path }: Read): Shape => {
      // Context object paths ($$.Execution…, $$.Task.Token) always exist.
      if (path.startsWith('$$')) return OPAQUE;
      const found = lookup(shape, jsonPathSegments(path));
      if (found.found) return found.shape;
      const report =
        `${name}: reads ${path} (${field}), which does not exist on the path via ${arrival.via} ` +
        `(it leaves ${leaves(found.prefix, found.at)})`;
      problems.set(`${name}|${field}|${path}|${arrival.via}`, report);
      // Reported once here; what follows is checked as if it existed, so one loss is one report.
      return OPAQUE;
    };
    const fail = (what: string) =>
      problems.set(`${name}|${what}|${arrival.via}`, `${name}: ${what} (via ${arrival.via})`);
    for (const { next, shape, via } of transfer(name, state, arrival, read, fail))
      arrive(next, { shape, via });
  }

  const shapes = new Map<string, Shape[]>();
  for (const [state, seen] of arrived) {
    const distinct = new Map([...seen.values()].map((a) => [shapeKey(a.shape), a.shape]));
    shapes.set(state, [...distinct.values()]);
  }
  return {
    problems: [...problems.values()],
    unreachable: Object.keys(definition.States).filter((s) => !arrived.has(s)),
    shapes,
  };
}

type Successor = { next: string; shape: Shape; via: string };

/** What one state does to one shape, and where the results go. */
function transfer(
  name: string,
  state: AslState,
  arrival: Arrival,
  read: (shape: Shape, r: Read) => Shape,
  fail: (what: string) => void,
): Successor[] {
  if (state.Type === 'Map' || state.Type === 'Parallel')
    throw new Error(`${name}: ${state.Type} states are not modelled`);
  const input = arrival.shape;
  const effective =
    state.InputPath === undefined
      ? input
      : state.InputPath === null
        ? object({})
        : read(input, { field: 'InputPath', path: state.InputPath });

  const template = (value: unknown, on: Shape, field: string): Shape => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return VALUE;
    const keys: Record<string, Shape> = {};
    for (const [key, v] of Object.entries(value)) {
      if (!key.endsWith('.$')) {
        keys[key] = template(v, on, `${field}.${key}`);
        continue;
      }
      const expression = String(v);
      const at = `${field}.${key}`;
      if (expression.startsWith('$')) keys[key.slice(0, -2)] = read(on, { field: at, path: expression });
      else {
        for (const path of intrinsicPaths(expression)) read(on, { field: at, path });
        const fn = expression.slice(0, expression.indexOf('('));
        keys[key.slice(0, -2)] = VALUE_INTRINSICS.has(fn) ? VALUE : OPAQUE;
      }
    }
    return object(keys);
  };
  const resultPath = (path: string | null | undefined, on: Shape, result: Shape, field: string): Shape => {
    if (path === null) return on;
    const written = setAt(on, jsonPathSegments(path ?? '$'), result);
    if (typeof written === 'string') {
      fail(`${field} ${path} ${written}`);
      return OPAQUE;
    }
    return written;
  };
  const outputPath = (shape: Shape): Shape =>
    state.OutputPath === undefined
      ? shape
      : state.OutputPath === null
        ? object({})
        : read(shape, { field: 'OutputPath', path: state.OutputPath as string });
  // Choice and Wait states hand on what they were given: the report keeps naming what shaped it.
  const passesThrough = state.InputPath === undefined && state.OutputPath === undefined;
  const via = `"${name}"`;

  const successors: Successor[] = [];
  switch (state.Type) {
    case 'Task':
    case 'Pass': {
      const parameters =
        state.Parameters !== undefined ? template(state.Parameters, effective, 'Parameters') : effective;
      let result: Shape;
      if (state.Type === 'Pass') result = 'Result' in state ? shapeOf(state.Result) : parameters;
      else
        result =
          state.ResultSelector !== undefined
            ? template(state.ResultSelector, OPAQUE, 'ResultSelector')
            : OPAQUE;
      const output = outputPath(
        resultPath(state.ResultPath as string | null | undefined, input, result, 'ResultPath'),
      );
      if (state.Next !== undefined) successors.push({ next: state.Next, shape: output, via });
      for (const catcher of state.Catch ?? []) {
        const caught = resultPath(
          catcher.ResultPath,
          input,
          ERROR_OUTPUT,
          `Catch ${catcher.ErrorEquals.join(', ')}`,
        );
        successors.push({
          next: catcher.Next,
          shape: caught,
          via: `${via} (caught ${catcher.ErrorEquals.join(', ')})`,
        });
      }
      break;
    }
    case 'Wait': {
      if (typeof state.SecondsPath === 'string')
        read(effective, { field: 'SecondsPath', path: state.SecondsPath });
      if (typeof state.TimestampPath === 'string')
        read(effective, { field: 'TimestampPath', path: state.TimestampPath });
      const output = outputPath(effective);
      if (state.Next !== undefined)
        successors.push({ next: state.Next, shape: output, via: passesThrough ? arrival.via : via });
      break;
    }
    case 'Choice': {
      const rules = state.Choices ?? [];
      rules.forEach((rule, i) => {
        for (const r of ruleReads(rule)) read(effective, { field: `Choices[${i}].${r.field}`, path: r.path });
      });
      const output = outputPath(effective);
      const hand = (next: string) => ({ next, shape: output, via: passesThrough ? arrival.via : via });
      // A value that reached a later branch failed every rule before it: an IsPresent rule says
      // what that means for its variable, so an IsPresent guard keeps its branches apart.
      let mayContinue = true;
      for (const rule of rules) {
        if (!mayContinue) break;
        const presence = isPresentTest(rule);
        const exists = presence ? existence(effective, presence.path) : 'maybe';
        const matches = presence ? (presence.present ? exists : negate(exists)) : 'maybe';
        if (matches !== 'no') successors.push(hand(rule.Next as string));
        mayContinue = matches !== 'yes';
      }
      if (mayContinue && state.Default !== undefined) successors.push(hand(state.Default));
      break;
    }
    case 'Succeed':
      outputPath(effective);
      break;
    case 'Fail':
      for (const field of ['ErrorPath', 'CausePath']) {
        if (typeof state[field] === 'string') read(input, { field, path: state[field] as string });
      }
      break;
    default:
      throw new Error(`${name}: unknown state type ${state.Type}`);
  }
  return successors;
}

type Tri = 'yes' | 'no' | 'maybe';
const negate = (t: Tri): Tri => (t === 'yes' ? 'no' : t === 'no' ? 'yes' : 'maybe');

function existence(shape: Shape, path: string): Tri {
  if (path.startsWith('$$')) return 'yes';
  const found = lookup(shape, jsonPathSegments(path));
  return found.found ? (found.certain ? 'yes' : 'maybe') : 'no';
}

function isPresentTest(rule: ChoiceRule): { path: string; present: boolean } | undefined {
  if (rule.Variable === undefined || !('IsPresent' in rule)) return undefined;
  return { path: rule.Variable, present: rule.IsPresent === true };
}

/**
 * The paths a Choice rule reads and needs: every Variable and every `…Path` operand, except the
 * Variable of an IsPresent test, which asks whether it exists.
 */
function ruleReads(rule: ChoiceRule, field = ''): Read[] {
  const here = (f: string) => (field ? `${field}.${f}` : f);
  if (rule.And) return rule.And.flatMap((r, i) => ruleReads(r, here(`And[${i}]`)));
  if (rule.Or) return rule.Or.flatMap((r, i) => ruleReads(r, here(`Or[${i}]`)));
  if (rule.Not) return ruleReads(rule.Not, here('Not'));
  const reads: Read[] = [];
  if (rule.Variable !== undefined && !('IsPresent' in rule))
    reads.push({ field: here('Variable'), path: rule.Variable });
  for (const [operator, value] of Object.entries(rule)) {
    if (operator.endsWith('Path') && typeof value === 'string')
      reads.push({ field: here(operator), path: value });
  }
  return reads;
}
