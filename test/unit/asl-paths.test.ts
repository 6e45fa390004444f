import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ASL_PATHS_DIR,
  type AslDefinition,
  aslUniverse,
  type ExecutionEvent,
  pathsOf,
  runTracked,
  summarizeAslPaths,
} from '../support/asl-paths';

/**
 * The counting is proven on a definition small enough to know every path by hand: a Choice
 * whose default and two of its rules lead to states other rules also lead to, a Wait, a Task
 * with a retrier and a Catch, one with a retrier and no Catch, a Fail and a Succeed.
 */
const tiny: AslDefinition = {
  StartAt: 'Pick',
  States: {
    Pick: {
      Type: 'Choice',
      Choices: [
        { Variable: '$.n', NumericGreaterThanEquals: 10, Next: 'Rest' },
        {
          And: [
            { Variable: '$.mode', StringEquals: 'flaky' },
            { Variable: '$.n', NumericLessThan: 10 },
          ],
          Next: 'Work',
        },
        { Variable: '$.mode', StringEquals: 'work', Next: 'Work' },
      ],
      Default: 'Rest',
    },
    Rest: { Type: 'Wait', Seconds: 60, Next: 'Tidy' },
    Work: {
      Type: 'Task',
      Resource: 'arn:aws:lambda:us-east-1:123456789012:function:work',
      Retry: [{ ErrorEquals: ['Flaky'], MaxAttempts: 2 }],
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Broken' }],
      Next: 'Tidy',
    },
    Tidy: {
      Type: 'Task',
      Resource: 'arn:aws:lambda:us-east-1:123456789012:function:tidy',
      Retry: [{ ErrorEquals: ['States.ALL'], MaxAttempts: 1 }],
      Next: 'Done',
    },
    Broken: { Type: 'Fail', Error: 'Broken' },
    Done: { Type: 'Succeed' },
  },
};

const universe = [
  'Pick --[rule 1]--> Rest',
  'Pick --[rule 2]--> Work',
  'Pick --[rule 3]--> Work',
  'Pick --[default]--> Rest',
  'Rest --> Tidy',
  'Work --> Tidy',
  'Work --[catch States.ALL]--> Broken',
  'Work --[retry 1 exhausted: Flaky ×2]--> (caught or failed)',
  'Tidy --> Done',
  'Tidy --[retry 1 exhausted: States.ALL ×1]--> (caught or failed)',
  'Broken --[end]--> (failed)',
  'Done --[end]--> (succeeded)',
];

const failing = (name: string) => Object.assign(new Error(name), { name });

/** Runs the tiny machine; `work` and `tidy` answer each call in turn (an Error is thrown). */
async function run(input: Record<string, unknown>, work: unknown[] = [{}], tidy: unknown[] = [{}]) {
  const calls = { work: 0, tidy: 0 };
  const answer = (list: unknown[], k: number) => {
    const a = list[Math.min(k, list.length - 1)];
    if (a instanceof Error) throw a;
    return a;
  };
  const execution = runTracked(tiny as never, 'tiny.asl.json', input, {
    overrides: {
      taskResourceLocalHandlers: {
        Work: async () => answer(work, calls.work++) as never,
        Tidy: async () => answer(tidy, calls.tidy++) as never,
      },
      waitTimeOverrides: { Rest: 0 },
      retryIntervalOverrides: { Work: 0, Tidy: 0 },
    },
  });
  const events: ExecutionEvent[] = [];
  for await (const e of execution.eventLogs) events.push(e as ExecutionEvent);
  const outcome = await execution.result.then(
    () => 'succeeded',
    (error: Error) => `failed: ${error.message}`,
  );
  return { outcome, events, ...pathsOf(tiny, events) };
}

describe('ASL path coverage: the universe and the recorder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'asl-paths-test-'));
  const before = process.env[ASL_PATHS_DIR];
  beforeAll(() => {
    process.env[ASL_PATHS_DIR] = dir;
  });
  afterAll(() => {
    if (before === undefined) delete process.env[ASL_PATHS_DIR];
    else process.env[ASL_PATHS_DIR] = before;
    rmSync(dir, { recursive: true, force: true });
  });

  it('names every state and transition of a definition', () => {
    const { states, transitions } = aslUniverse(tiny);
    expect(states).toEqual(['Pick', 'Rest', 'Work', 'Tidy', 'Broken', 'Done']);
    expect([...transitions].sort()).toEqual([...universe].sort());
  });

  it('a default that leads where a rule also leads is counted as the default, not as the rule', async () => {
    const { outcome, states, transitions, problems } = await run({ n: 1, mode: 'rest' });
    expect(outcome).toBe('succeeded');
    expect(problems).toEqual([]);
    expect(states).toEqual(['Pick', 'Rest', 'Tidy', 'Done']);
    expect(transitions).toEqual([
      'Pick --[default]--> Rest',
      'Rest --> Tidy',
      'Tidy --> Done',
      'Done --[end]--> (succeeded)',
    ]);
  });

  it('the rule that matched first is counted, among rules with the same Next', async () => {
    expect((await run({ n: 12 })).transitions).toContain('Pick --[rule 1]--> Rest');
    expect((await run({ n: 12 })).transitions).not.toContain('Pick --[default]--> Rest');
    expect((await run({ n: 1, mode: 'work' })).transitions).toEqual([
      'Pick --[rule 3]--> Work',
      'Work --> Tidy',
      'Tidy --> Done',
      'Done --[end]--> (succeeded)',
    ]);
    // The And rule comes before rule 3; here both lead to Work.
    expect((await run({ n: 1, mode: 'flaky' })).transitions[0]).toBe('Pick --[rule 2]--> Work');
  });

  it('a retrier used up in one visit, then caught, covers its exhausted path and the catch', async () => {
    const { outcome, transitions, problems } = await run({ n: 1, mode: 'work' }, [failing('Flaky')]);
    expect(problems).toEqual([]);
    expect(outcome).toMatch(/^failed/);
    expect(transitions).toEqual([
      'Pick --[rule 3]--> Work',
      'Work --[retry 1 exhausted: Flaky ×2]--> (caught or failed)',
      'Work --[catch States.ALL]--> Broken',
      'Broken --[end]--> (failed)',
    ]);
  });

  it('a retry that then succeeds, or an error no retrier matches, exhausts nothing', async () => {
    const retried = await run({ n: 1, mode: 'work' }, [failing('Flaky'), failing('Flaky'), {}]);
    expect(retried.outcome).toBe('succeeded');
    expect(retried.transitions).toContain('Work --> Tidy');
    expect(retried.transitions.filter((t) => t.includes('exhausted'))).toEqual([]);

    const other = await run({ n: 1, mode: 'work' }, [failing('Other')]);
    expect(other.transitions).toEqual([
      'Pick --[rule 3]--> Work',
      'Work --[catch States.ALL]--> Broken',
      'Broken --[end]--> (failed)',
    ]);
  });

  it('a retrier used up with no Catch covers its exhausted path; the failed execution ends nowhere', async () => {
    const { outcome, transitions } = await run({ n: 12 }, [{}], [failing('Oops')]);
    expect(outcome).toMatch(/^failed/);
    expect(transitions).toEqual([
      'Pick --[rule 1]--> Rest',
      'Rest --> Tidy',
      'Tidy --[retry 1 exhausted: States.ALL ×1]--> (caught or failed)',
    ]);
  });

  it('the executions above together cover the whole universe, and each one was written to the run directory', async () => {
    const records = readdirSync(dir)
      .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n'))
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { file: string; test: string; transitions: string[] });
    expect(new Set(records.map((r) => r.file))).toEqual(new Set(['tiny.asl.json']));
    expect(new Set(records.map((r) => r.test))).toEqual(new Set(['test/unit/asl-paths.test.ts']));
    expect([...new Set(records.flatMap((r) => r.transitions))].sort()).toEqual([...universe].sort());
  });

  it('callers still read every event and the same result', async () => {
    const { events, outcome } = await run({ n: 12 });
    expect(outcome).toBe('succeeded');
    expect(events[0].type).toBe('ExecutionStarted');
    expect(events.at(-1)?.type).toBe('ExecutionSucceeded');
    expect(events.filter((e) => e.type === 'StateEntered')).toHaveLength(4);
  });

  it('an abort leaves the state in flight without a transition out of it', async () => {
    let release!: () => void;
    const execution = runTracked(
      tiny as never,
      'tiny.asl.json',
      { n: 1, mode: 'work' },
      {
        overrides: {
          taskResourceLocalHandlers: { Work: () => new Promise((r) => (release = () => r({}))) },
        },
      },
    );
    const events: ExecutionEvent[] = [];
    const reading = (async () => {
      for await (const e of execution.eventLogs) {
        events.push(e as ExecutionEvent);
        if (e.type === 'StateEntered' && e.state.name === 'Work') execution.abort();
      }
    })();
    await expect(execution.result).rejects.toThrow(/abort/i);
    await reading;
    release();
    expect(pathsOf(tiny, events).transitions).toEqual(['Pick --[rule 3]--> Work']);
  });

  it('a Choice whose branch cannot be told is reported, never guessed', () => {
    const ambiguous: AslDefinition = {
      StartAt: 'Which?',
      States: {
        'Which?': {
          Type: 'Choice',
          Choices: [{ Variable: '$$.Execution.Name', StringEquals: 'x', Next: 'End' }],
          Default: 'End',
        },
        End: { Type: 'Succeed' },
      },
    };
    const events: ExecutionEvent[] = [
      { type: 'StateEntered', state: { name: 'Which?', input: {} } },
      { type: 'StateExited', state: { name: 'Which?' } },
      { type: 'StateEntered', state: { name: 'End', input: {} } },
    ];
    const { transitions, problems } = pathsOf(ambiguous, events);
    expect(transitions).toEqual([]);
    expect(problems).toEqual([
      'Which?: cannot tell which of 2 branches led to End ($$.Execution.Name reads the context object)',
    ]);
  });

  it('a Choice the events contradict is reported', () => {
    const events: ExecutionEvent[] = [
      { type: 'StateEntered', state: { name: 'Pick', input: { n: 1, mode: 'rest' } } },
      { type: 'StateExited', state: { name: 'Pick' } },
      { type: 'StateEntered', state: { name: 'Work', input: {} } },
    ];
    expect(pathsOf(tiny, events).problems).toEqual([
      'Pick: its rules choose the default (Rest) on its input, but the execution entered Work',
    ]);
  });
});

describe('ASL path coverage: the summary the reporter enforces', () => {
  const root = mkdtempSync(join(tmpdir(), 'asl-paths-root-'));
  const dir = join(root, 'run');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const writeRun = (transitions: string[], states = aslUniverse(tiny).states) => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    const record = { file: 'tiny.asl.json', test: 'test/workflow/a.test.ts', states, transitions };
    // A record from outside test/workflow/ does not count.
    const elsewhere = { ...record, test: 'test/unit/x.test.ts', transitions: universe };
    writeFileSync(join(dir, '1.jsonl'), `${JSON.stringify(record)}\n${JSON.stringify(elsewhere)}\n`);
  };
  const pending = (transitions: string[]) =>
    writeFileSync(
      join(root, 'test/support/asl-paths-pending.json'),
      JSON.stringify({ 'tiny.asl.json': { transitions } }),
    );
  const summarize = (ran = ['a', 'b'], filtered = false) =>
    summarizeAslPaths({
      root,
      dir,
      ranTestFiles: ran.map((f) => join(root, `test/workflow/${f}.test.ts`)),
      filtered,
    });

  beforeAll(() => {
    for (const d of ['state-machines', 'test/workflow', 'test/support'])
      mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, 'state-machines/tiny.asl.json'), JSON.stringify(tiny));
    writeFileSync(join(root, 'test/workflow/a.test.ts'), '');
    writeFileSync(join(root, 'test/workflow/b.test.ts'), '');
  });

  const missing = 'Tidy --[retry 1 exhausted: States.ALL ×1]--> (caught or failed)';
  const allBut = universe.filter((t) => t !== missing);

  it('full coverage passes', () => {
    writeRun(universe);
    pending([]);
    expect(summarize()).toEqual({ lines: ['ASL paths: tiny.asl.json 6/6 states, 12/12 transitions'] });
  });

  it('an uncovered transition fails a complete run, listed; a pending one is tolerated', () => {
    writeRun(allBut);
    pending([]);
    const failed = summarize();
    expect(failed.lines[0]).toBe('ASL paths: tiny.asl.json 6/6 states, 11/12 transitions');
    expect(failed.failure).toBe(`tiny.asl.json: uncovered transition: ${missing}`);
    expect(failed.lines.slice(1)).toEqual([
      `  tiny.asl.json: uncovered transition: ${missing}`,
      'ASL paths: the 1 problem(s) above fail the run (test/support/asl-paths-pending.json only shrinks)',
    ]);
    pending([missing]);
    expect(summarize()).toEqual({
      lines: [
        'ASL paths: tiny.asl.json 6/6 states, 11/12 transitions',
        `  uncovered transition (pending): ${missing}`,
      ],
    });
  });

  it('the pending list only shrinks: a pending entry that is covered, or gone, fails', () => {
    writeRun(universe);
    pending([missing, 'Pick --> Nowhere']);
    expect(summarize().failure).toBe(
      [
        `tiny.asl.json: covered now, remove it from asl-paths-pending.json: ${missing}`,
        'tiny.asl.json: no such transition, remove it from asl-paths-pending.json: Pick --> Nowhere',
      ].join('\n'),
    );
  });

  it('a partial run (one workflow file, or a name filter) prints the lines and fails nothing', () => {
    writeRun(allBut, ['Pick']);
    pending([]);
    const partial = '(1 of 2 workflow test files ran: not enforced)';
    expect(summarize(['a'])).toEqual({
      lines: [`ASL paths: tiny.asl.json 1/6 states, 11/12 transitions ${partial}`],
    });
    expect(summarize(['a', 'b'], true)).toEqual({
      lines: [
        'ASL paths: tiny.asl.json 1/6 states, 11/12 transitions (a test name filter was given: not enforced)',
      ],
    });
    expect(summarize([])).toEqual({ lines: [] });
  });
});
