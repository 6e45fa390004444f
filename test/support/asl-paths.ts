/**
 * Path coverage of the deployed ASL: which states and transitions of `state-machines/*.asl.json`
 * the workflow tests really took, from the events aws-local-stepfunctions reports.
 *
 * The universe of a definition is every state and every transition: each `Next`, each Choice rule
 * and the Choice `Default`, each Catch, each retrier used up in one visit (then caught or failing
 * the execution), and the execution ending from a terminal state. A transition counts as covered
 * only when an execution took it; where the events alone cannot say which Choice rule led to the
 * next state, the rules are evaluated on the Choice's input, and a disagreement with what the
 * execution did is an error, not a guess.
 *
 * Workers append what each execution took to a run directory (see global-setup.ts); the summary
 * reporter folds those files into one line per ASL file and enforces full coverage, tolerating
 * only the transitions listed in asl-paths-pending.json.
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';
import { StateMachine } from 'aws-local-stepfunctions';
// The interpreter needs Promise.withResolvers, which this module's callers may not have polyfilled yet.
import './local-sfn';

export interface Retrier {
  ErrorEquals: string[];
  MaxAttempts?: number;
}
export interface Catcher {
  ErrorEquals: string[];
  Next: string;
  ResultPath?: string | null;
}
export interface ChoiceRule {
  Next?: string;
  Variable?: string;
  And?: ChoiceRule[];
  Or?: ChoiceRule[];
  Not?: ChoiceRule;
  [operator: string]: unknown;
}
export interface AslState {
  Type: string;
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: ChoiceRule[];
  Retry?: Retrier[];
  Catch?: Catcher[];
  InputPath?: string | null;
  [field: string]: unknown;
}
export interface AslDefinition {
  StartAt: string;
  States: Record<string, AslState>;
}

/** The events of aws-local-stepfunctions that the recorder reads (its EventLog type is not exported). */
export type ExecutionEvent =
  | { type: 'StateEntered'; state: { name: string; input: unknown } }
  | { type: 'StateExited'; state: { name: string } }
  | { type: 'StateFailed'; state: { name: string }; Error: string }
  | { type: 'StateRetried'; state: { name: string }; retry: { retrier: Retrier; attempt: number } }
  | { type: 'StateCaught'; state: { name: string }; catch: { catcher: Catcher } }
  | { type: 'ExecutionSucceeded' }
  | { type: 'ExecutionFailed' }
  | { type: string };

/** The spec's default when a retrier does not say. */
const DEFAULT_MAX_ATTEMPTS = 3;

/** How each transition is named, in the reports and in asl-paths-pending.json. */
export const transitionName = {
  next: (from: string, to: string) => `${from} --> ${to}`,
  rule: (from: string, index: number, to: string) => `${from} --[rule ${index + 1}]--> ${to}`,
  default: (from: string, to: string) => `${from} --[default]--> ${to}`,
  catch: (from: string, catcher: Catcher) =>
    `${from} --[catch ${catcher.ErrorEquals.join(', ')}]--> ${catcher.Next}`,
  retryExhausted: (from: string, index: number, retrier: Retrier) =>
    `${from} --[retry ${index + 1} exhausted: ${retrier.ErrorEquals.join(', ')} ×${retrier.MaxAttempts ?? DEFAULT_MAX_ATTEMPTS}]--> (caught or failed)`,
  end: (from: string, outcome: 'succeeded' | 'failed') => `${from} --[end]--> (${outcome})`,
};

export interface PathSet {
  states: string[];
  transitions: string[];
}

/** Every state and every transition of a definition. */
export function aslUniverse(definition: AslDefinition): PathSet {
  const transitions: string[] = [];
  for (const [name, state] of Object.entries(definition.States)) {
    // Their inner state machines would need their own universes; neither file has one.
    if (state.Type === 'Map' || state.Type === 'Parallel')
      throw new Error(`${name}: ${state.Type} states are not counted`);
    if (state.Next !== undefined) transitions.push(transitionName.next(name, state.Next));
    state.Choices?.forEach((rule, index) => {
      transitions.push(transitionName.rule(name, index, rule.Next as string));
    });
    if (state.Default !== undefined) transitions.push(transitionName.default(name, state.Default));
    for (const catcher of state.Catch ?? []) transitions.push(transitionName.catch(name, catcher));
    state.Retry?.forEach((retrier, index) => {
      transitions.push(transitionName.retryExhausted(name, index, retrier));
    });
    if (state.Type === 'Succeed' || state.End === true)
      transitions.push(transitionName.end(name, 'succeeded'));
    if (state.Type === 'Fail') transitions.push(transitionName.end(name, 'failed'));
  }
  const seen = new Set<string>();
  for (const t of transitions) {
    // Two catchers of one state with the same errors would share a name: the second is dead anyway.
    if (seen.has(t)) throw new Error(`two transitions are both named "${t}"`);
    seen.add(t);
  }
  return { states: Object.keys(definition.States), transitions };
}

/** A JSONPath as property names and array indexes; only the plain paths the ASL files use. */
export function jsonPathSegments(path: string): (string | number)[] {
  const root = path.startsWith('$$') ? '$$' : '$';
  if (!path.startsWith('$')) throw new Error(`${path} is not a JSONPath`);
  const segments: (string | number)[] = [];
  const pattern = /\.([A-Za-z_][\w-]*)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]/y;
  pattern.lastIndex = root.length;
  while (pattern.lastIndex < path.length) {
    const at = pattern.lastIndex;
    const match = pattern.exec(path);
    if (!match) throw new Error(`${path}: unsupported JSONPath syntax at "${path.slice(at)}"`);
    const [, name, index, single, double] = match;
    segments.push(index !== undefined ? Number(index) : (name ?? single ?? double));
  }
  return segments;
}

const absent = Symbol('absent');

/** The value at a plain JSONPath, or `absent`. */
function readPath(value: unknown, path: string): unknown {
  if (path.startsWith('$$')) throw new Unevaluable(`${path} reads the context object`);
  let at: unknown = value;
  for (const segment of jsonPathSegments(path)) {
    if (at === null || typeof at !== 'object') return absent;
    if (typeof segment === 'number' ? !Array.isArray(at) : Array.isArray(at)) return absent;
    if (!Object.hasOwn(at, segment)) return absent;
    at = (at as Record<string | number, unknown>)[segment];
  }
  return at;
}

/** A Choice rule the recorder cannot evaluate on its own; it then relies on the next state alone. */
class Unevaluable extends Error {}

type Compare = (a: unknown, b: unknown) => boolean;
const comparisons: Record<string, { kind: 'string' | 'number' | 'boolean' | 'timestamp'; test: Compare }> =
  {};
for (const [kind, prefix] of [
  ['string', 'String'],
  ['number', 'Numeric'],
  ['timestamp', 'Timestamp'],
] as const) {
  const value = (v: unknown) => (kind === 'timestamp' ? new Date(v as string).getTime() : v) as number;
  comparisons[`${prefix}Equals`] = { kind, test: (a, b) => value(a) === value(b) };
  comparisons[`${prefix}LessThan`] = { kind, test: (a, b) => value(a) < value(b) };
  comparisons[`${prefix}GreaterThan`] = { kind, test: (a, b) => value(a) > value(b) };
  comparisons[`${prefix}LessThanEquals`] = { kind, test: (a, b) => value(a) <= value(b) };
  comparisons[`${prefix}GreaterThanEquals`] = { kind, test: (a, b) => value(a) >= value(b) };
}
comparisons.BooleanEquals = { kind: 'boolean', test: (a, b) => a === b };

/** `*` matches any run of characters; `\*` and `\\` stand for themselves (the ASL StringMatches rule). */
function wildcardMatches(pattern: string, value: unknown): boolean {
  if (typeof value !== 'string') return false;
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\' && i + 1 < pattern.length) source += pattern[++i].replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    else if (c === '*') source += '[\\s\\S]*';
    else source += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`).test(value);
}

/**
 * Whether a Choice rule matches, as aws-local-stepfunctions decides it (its `Is*: false` rules
 * never match, unlike the spec: the recorder follows the interpreter that ran the execution).
 */
function ruleMatches(rule: ChoiceRule, input: unknown): boolean {
  if (rule.And) return rule.And.every((r) => ruleMatches(r, input));
  if (rule.Or) return rule.Or.some((r) => ruleMatches(r, input));
  if (rule.Not) return !ruleMatches(rule.Not, input);
  const variable = rule.Variable;
  if (variable === undefined) throw new Unevaluable('a rule without Variable');
  const value = readPath(input, variable);
  if ('IsPresent' in rule) return rule.IsPresent === true && value !== absent;
  // The interpreter fails the Choice when another operator's variable is missing; this one exited.
  if (value === absent) throw new Unevaluable(`${variable} is missing from the Choice's input`);
  if ('IsNull' in rule) return rule.IsNull === true && value === null;
  if ('IsNumeric' in rule) return rule.IsNumeric === true && typeof value === 'number';
  if ('IsString' in rule) return rule.IsString === true && typeof value === 'string';
  if ('IsBoolean' in rule) return rule.IsBoolean === true && typeof value === 'boolean';
  if ('StringMatches' in rule) return wildcardMatches(rule.StringMatches as string, value);
  for (const [operator, { test }] of Object.entries(comparisons)) {
    if (operator in rule) return test(value, rule[operator]);
    if (`${operator}Path` in rule) {
      const other = readPath(input, rule[`${operator}Path`] as string);
      if (other === absent) throw new Unevaluable(`${rule[`${operator}Path`]} is missing`);
      return test(value, other);
    }
  }
  throw new Unevaluable(
    `operator ${Object.keys(rule).filter((k) => k !== 'Variable' && k !== 'Next')} is not modelled`,
  );
}

function effectiveInput(state: AslState, input: unknown): unknown {
  if (state.InputPath === undefined) return input;
  if (state.InputPath === null) return {};
  const value = readPath(input, state.InputPath);
  if (value === absent) throw new Unevaluable(`InputPath ${state.InputPath} is missing`);
  return value;
}

/** The index of the first rule that matches, or 'default'. */
function choiceOf(state: AslState, input: unknown): number | 'default' {
  const effective = effectiveInput(state, input);
  const index = (state.Choices ?? []).findIndex((rule) => ruleMatches(rule, effective));
  return index < 0 ? 'default' : index;
}

/** Whether a retrier or catcher's ErrorEquals names an error, as the interpreter matches them. */
function errorMatches(errorEquals: readonly string[], error: string, stateType: string): boolean {
  return errorEquals.some(
    (e) =>
      e === error ||
      e === 'States.ALL' ||
      (e === 'States.TaskFailed' && stateType === 'Task' && error !== 'States.Timeout'),
  );
}

/** One entry into a state, until the execution moves on. */
interface Visit {
  name: string;
  state: AslState;
  input: unknown;
  exited: boolean;
  error?: string;
  retries: number[];
  caught?: Catcher;
}

/** Folds one execution's events into the states and transitions it took. */
export class PathRecorder {
  readonly states = new Set<string>();
  readonly transitions = new Set<string>();
  /** Events the recorder could not map exactly: each one is a bug here or an interpreter surprise. */
  readonly problems: string[] = [];
  private visit?: Visit;

  constructor(private readonly definition: AslDefinition) {
    aslUniverse(definition);
  }

  take(event: ExecutionEvent): void {
    const visit = this.visit;
    switch (event.type) {
      case 'StateEntered': {
        const { name, input } = (event as Extract<ExecutionEvent, { type: 'StateEntered' }>).state;
        this.enter(name, input);
        return;
      }
      case 'StateExited':
        if (visit) visit.exited = true;
        return;
      case 'StateFailed':
        if (visit) visit.error = (event as Extract<ExecutionEvent, { type: 'StateFailed' }>).Error;
        return;
      case 'StateRetried': {
        if (!visit) return;
        const { retrier } = (event as Extract<ExecutionEvent, { type: 'StateRetried' }>).retry;
        const index = indexIn(visit.state.Retry, retrier);
        if (index < 0) this.problems.push(`${visit.name}: retried by a retrier it does not have`);
        else visit.retries[index] = (visit.retries[index] ?? 0) + 1;
        visit.error = undefined;
        return;
      }
      case 'StateCaught': {
        if (!visit) return;
        const { catcher } = (event as Extract<ExecutionEvent, { type: 'StateCaught' }>).catch;
        const index = indexIn(visit.state.Catch, catcher);
        if (index < 0) this.problems.push(`${visit.name}: caught by a catcher it does not have`);
        else visit.caught = visit.state.Catch?.[index];
        this.noteExhaustedRetrier(visit);
        return;
      }
      case 'ExecutionSucceeded':
        if (visit?.exited && (visit.state.Type === 'Succeed' || visit.state.End === true)) {
          this.transitions.add(transitionName.end(visit.name, 'succeeded'));
        } else {
          this.problems.push(
            `the execution succeeded in ${visit?.name ?? 'no state'}, which does not end it`,
          );
        }
        return;
      case 'ExecutionFailed':
        if (!visit) return;
        if (visit.state.Type === 'Fail') this.transitions.add(transitionName.end(visit.name, 'failed'));
        else this.noteExhaustedRetrier(visit);
        return;
      default:
        // ExecutionStarted, ExecutionAborted, ExecutionTimeout: no transition.
        return;
    }
  }

  private enter(name: string, input: unknown): void {
    const from = this.visit;
    if (!from) {
      if (name !== this.definition.StartAt)
        this.problems.push(`the execution started in ${name}, not StartAt`);
    } else if (from.caught) {
      if (from.caught.Next === name) this.transitions.add(transitionName.catch(from.name, from.caught));
      else this.problems.push(`${from.name}: caught towards ${from.caught.Next}, but ${name} was entered`);
    } else if (!from.exited) {
      this.problems.push(`${name} entered while ${from.name} had neither exited nor caught an error`);
    } else if (from.state.Type === 'Choice') {
      this.enterFromChoice(from, name);
    } else if (from.state.Next === name) {
      this.transitions.add(transitionName.next(from.name, name));
    } else {
      this.problems.push(`${from.name} exited into ${name}, which is not its Next`);
    }
    const state = this.definition.States[name];
    if (!state) {
      this.problems.push(`entered ${name}, which the definition does not have`);
      this.visit = undefined;
      return;
    }
    this.states.add(name);
    this.visit = { name, state, input, exited: false, retries: [] };
  }

  private enterFromChoice(from: Visit, to: string): void {
    const { state } = from;
    const targetOf = (choice: number | 'default') =>
      choice === 'default' ? state.Default : state.Choices?.[choice]?.Next;
    const nameOf = (choice: number | 'default') =>
      choice === 'default'
        ? transitionName.default(from.name, to)
        : transitionName.rule(from.name, choice, to);
    let evaluated: number | 'default' | undefined;
    let why = '';
    try {
      evaluated = choiceOf(state, from.input);
    } catch (error) {
      if (!(error instanceof Unevaluable)) throw error;
      why = error.message;
    }
    if (evaluated !== undefined) {
      if (targetOf(evaluated) === to) this.transitions.add(nameOf(evaluated));
      else
        this.problems.push(
          `${from.name}: its rules choose ${evaluated === 'default' ? 'the default' : `rule ${evaluated + 1}`} (${targetOf(evaluated)}) on its input, but the execution entered ${to}`,
        );
      return;
    }
    // Without an evaluation, the next state decides only when a single rule (or the default) leads there.
    const candidates: (number | 'default')[] = (state.Choices ?? []).flatMap((rule, i) =>
      rule.Next === to ? [i] : [],
    );
    if (state.Default === to) candidates.push('default');
    if (candidates.length === 1) this.transitions.add(nameOf(candidates[0]));
    else
      this.problems.push(
        `${from.name}: cannot tell which of ${candidates.length} branches led to ${to} (${why})`,
      );
  }

  /** The error was not retried: if the retrier it matched had used up its attempts, that path was taken. */
  private noteExhaustedRetrier(visit: Visit): void {
    const error = visit.error;
    const retriers = visit.state.Retry ?? [];
    // States.Runtime is never retried: no retrier applies to it, used up or not.
    if (error === undefined || error === 'States.Runtime') return;
    const index = retriers.findIndex((r) => errorMatches(r.ErrorEquals, error, visit.state.Type));
    if (index < 0) return;
    const retrier = retriers[index];
    if ((visit.retries[index] ?? 0) >= (retrier.MaxAttempts ?? DEFAULT_MAX_ATTEMPTS)) {
      this.transitions.add(transitionName.retryExhausted(visit.name, index, retrier));
    }
  }
}

/** The position of a retrier or catcher in its state, by identity (the interpreter passes them through), else by value. */
function indexIn<T>(list: readonly T[] | undefined, item: T): number {
  if (!list) return -1;
  const same = list.indexOf(item);
  return same >= 0 ? same : list.findIndex((x) => JSON.stringify(x) === JSON.stringify(item));
}

/** The states and transitions a list of events took (for tests of the recorder). */
export function pathsOf(definition: AslDefinition, events: readonly ExecutionEvent[]) {
  const recorder = new PathRecorder(definition);
  for (const event of events) recorder.take(event);
  return {
    states: [...recorder.states],
    transitions: [...recorder.transitions],
    problems: recorder.problems,
  };
}

/** The environment variable that names the run directory workers write their coverage to. */
export const ASL_PATHS_DIR = 'FLEETOPS_ASL_PATHS_DIR';

interface CoverageRecord {
  file: string;
  test?: string;
  states: string[];
  transitions: string[];
}

function persist(record: CoverageRecord): void {
  const dir = process.env[ASL_PATHS_DIR];
  if (!dir) return;
  // Watch mode reruns after the reporter removed the directory.
  mkdirSync(dir, { recursive: true });
  // One file per worker process: appends from one process never interleave.
  appendFileSync(join(dir, `${process.pid}.jsonl`), `${JSON.stringify(record)}\n`);
}

function currentTestFile(): string | undefined {
  const testPath = (globalThis as { expect?: { getState(): { testPath?: string } } }).expect?.getState()
    .testPath;
  return testPath ? relative(process.cwd(), testPath).split(sep).join('/') : undefined;
}

type RunOptions = Parameters<StateMachine['run']>[1];
type Execution = ReturnType<StateMachine['run']>;

/**
 * Runs a definition exactly as `new StateMachine(definition).run(input, options)` does, and records
 * the states and transitions the execution took under `file` (the ASL file's name). The returned
 * `eventLogs` replays every event to callers that read them too; `result` settles once the
 * execution's events are recorded, and rejects if they could not be mapped exactly.
 */
export function runTracked(
  definition: Record<string, unknown>,
  file: string,
  input: unknown,
  options?: RunOptions,
): Execution {
  const aslDefinition = definition as unknown as AslDefinition;
  const execution = new StateMachine(definition as never).run(input as never, options);
  const recorder = new PathRecorder(aslDefinition);
  const test = currentTestFile();
  const seen: unknown[] = [];
  let closed = false;
  let waiting: (() => void)[] = [];
  const wake = () => {
    const woken = waiting;
    waiting = [];
    for (const w of woken) w();
  };
  const recorded = (async () => {
    for await (const event of execution.eventLogs) {
      recorder.take(event as ExecutionEvent);
      seen.push(event);
      wake();
    }
    closed = true;
    wake();
    persist({
      file: basename(file),
      test,
      states: [...recorder.states],
      transitions: [...recorder.transitions],
    });
    if (recorder.problems.length > 0) {
      throw new Error(`asl-paths could not map this execution exactly: ${recorder.problems.join('; ')}`);
    }
  })();
  // Awaited through `result`; this only keeps an early rejection from counting as unhandled.
  recorded.catch(() => undefined);
  async function* replay() {
    for (let i = 0; ; i++) {
      while (i >= seen.length && !closed) await new Promise<void>((resolve) => waiting.push(resolve));
      if (i >= seen.length) return;
      yield seen[i];
    }
  }
  const result = execution.result.then(
    async (value) => {
      await recorded;
      return value;
    },
    async (error) => {
      await recorded;
      throw error;
    },
  );
  return { abort: execution.abort, result, eventLogs: replay() as Execution['eventLogs'] };
}

// ——— The summary the reporter prints and enforces ———

type Pending = Record<string, { states?: string[]; transitions?: string[] }>;

export interface AslPathsSummary {
  /** What the reporter prints. */
  lines: string[];
  /** Set when the run must fail: the reasons, one per line. */
  failure?: string;
}

/**
 * Folds the run directory's records into one line per ASL file. Enforced only when every workflow
 * test file ran (and no test name filter was given): then anything uncovered that the pending list
 * does not name fails the run, and so does a pending entry that is covered or no longer exists.
 */
export function summarizeAslPaths(options: {
  root: string;
  dir: string;
  ranTestFiles: readonly string[];
  filtered: boolean;
}): AslPathsSummary {
  const { root, dir } = options;
  const ran = new Set(options.ranTestFiles.map((f) => relative(root, f).split(sep).join('/')));
  const workflowFiles = readdirSync(join(root, 'test/workflow'))
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => `test/workflow/${f}`);
  const ranWorkflow = workflowFiles.filter((f) => ran.has(f));
  if (ranWorkflow.length === 0) return { lines: [] };
  const complete = ranWorkflow.length === workflowFiles.length && !options.filtered;
  const notEnforced = options.filtered
    ? 'a test name filter was given'
    : `${ranWorkflow.length} of ${workflowFiles.length} workflow test files ran`;

  const covered = new Map<string, { states: Set<string>; transitions: Set<string> }>();
  for (const f of existsSync(dir) ? readdirSync(dir) : []) {
    if (!f.endsWith('.jsonl')) continue;
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (!line) continue;
      const record = JSON.parse(line) as CoverageRecord;
      // Only the workflow tests count, so `npm test` and `npm run test:paths` agree.
      if (!record.test?.startsWith('test/workflow/')) continue;
      const into = covered.get(record.file) ?? { states: new Set(), transitions: new Set() };
      for (const s of record.states) into.states.add(s);
      for (const t of record.transitions) into.transitions.add(t);
      covered.set(record.file, into);
    }
  }

  const pendingFile = join(root, 'test/support/asl-paths-pending.json');
  const pending: Pending = existsSync(pendingFile) ? JSON.parse(readFileSync(pendingFile, 'utf8')) : {};
  const lines: string[] = [];
  const failures: string[] = [];
  const aslFiles = readdirSync(join(root, 'state-machines')).filter((f) => f.endsWith('.asl.json'));
  for (const file of aslFiles) {
    const universe = aslUniverse(JSON.parse(readFileSync(join(root, 'state-machines', file), 'utf8')));
    const took = covered.get(file) ?? { states: new Set<string>(), transitions: new Set<string>() };
    const count = (all: string[], got: Set<string>) => all.filter((x) => got.has(x)).length;
    lines.push(
      `ASL paths: ${file} ${count(universe.states, took.states)}/${universe.states.length} states, ` +
        `${count(universe.transitions, took.transitions)}/${universe.transitions.length} transitions` +
        (complete ? '' : ` (${notEnforced}: not enforced)`),
    );
    if (!complete) continue;
    for (const kind of ['states', 'transitions'] as const) {
      const tolerated = new Set(pending[file]?.[kind] ?? []);
      const uncovered = universe[kind].filter((x) => !took[kind].has(x));
      const newlyUncovered = uncovered.filter((x) => !tolerated.has(x));
      const nowCovered = [...tolerated].filter((x) => took[kind].has(x));
      const gone = [...tolerated].filter((x) => !universe[kind].includes(x));
      const what = kind === 'states' ? 'state' : 'transition';
      for (const x of uncovered.filter((x) => tolerated.has(x)))
        lines.push(`  uncovered ${what} (pending): ${x}`);
      for (const x of newlyUncovered) failures.push(`${file}: uncovered ${what}: ${x}`);
      for (const x of nowCovered)
        failures.push(`${file}: covered now, remove it from asl-paths-pending.json: ${x}`);
      for (const x of gone)
        failures.push(`${file}: no such ${what}, remove it from asl-paths-pending.json: ${x}`);
    }
    const unknown = [...took.transitions].filter((t) => !universe.transitions.includes(t));
    for (const t of unknown)
      lines.push(`  taken but not in the deployed file (a test changed the definition?): ${t}`);
  }
  for (const file of Object.keys(pending)) {
    if (complete && !aslFiles.includes(file))
      failures.push(`asl-paths-pending.json names ${file}, which is not an ASL file`);
  }
  if (failures.length === 0) return { lines };
  const verdict = `ASL paths: the ${failures.length} problem(s) above fail the run (test/support/asl-paths-pending.json only shrinks)`;
  return { lines: [...lines, ...failures.map((f) => `  ${f}`), verdict], failure: failures.join('\n') };
}
