import { checkDataFlow, intrinsicPaths } from '../support/asl-dataflow';
import type { AslDefinition, AslState } from '../support/asl-paths';

const TASK = 'arn:aws:lambda:us-east-1:123456789012:function:step';
const task = (fields: Partial<AslState>): AslState => ({ Type: 'Task', Resource: TASK, ...fields });
const machine = (States: Record<string, AslState>, StartAt = Object.keys(States)[0]): AslDefinition => ({
  StartAt,
  States,
});
const problemsOf = (definition: AslDefinition, inputs: unknown[] = [{ a: 'x' }]) =>
  checkDataFlow(definition, { inputs }).problems.sort();

describe('ASL data flow: each JSONPath a state reads exists on every path into it', () => {
  it('a path the previous state leaves passes; one it does not leave is reported with what it leaves', () => {
    const definition = machine({
      First: task({ Parameters: { 'a.$': '$.a' }, ResultSelector: { 'kept.$': '$.x' }, Next: 'Second' }),
      Second: task({ Parameters: { 'kept.$': '$.kept', 'a.$': '$.a' }, End: true }),
    });
    expect(problemsOf(definition)).toEqual([
      'Second: reads $.a (Parameters.a.$), which does not exist on the path via "First" (it leaves $.kept)',
    ]);
  });

  it('a path missing from the execution input is reported against the input', () => {
    const definition = machine({ Only: task({ Parameters: { 'b.$': '$.b.c' }, End: true }) });
    expect(problemsOf(definition, [{ a: 'x' }, { b: { c: 1 } }])).toEqual([
      'Only: reads $.b.c (Parameters.b.$), which does not exist on the path via the execution input (it leaves $.a)',
    ]);
  });

  it('ResultPath null keeps the input, $ replaces it, $.r sets one key', () => {
    const selector = { 'r.$': '$.anything' };
    const reader = task({ Parameters: { 'a.$': '$.a', 'r.$': '$.r' }, End: true });
    const withResultPath = (ResultPath: string | null | undefined) =>
      problemsOf(
        machine({
          Step: task({
            ResultSelector: selector,
            ...(ResultPath !== undefined && { ResultPath }),
            Next: 'Read',
          }),
          Read: reader,
        }),
      );
    expect(withResultPath(null)).toEqual([
      'Read: reads $.r (Parameters.r.$), which does not exist on the path via "Step" (it leaves $.a)',
    ]);
    expect(withResultPath('$')).toEqual([
      'Read: reads $.a (Parameters.a.$), which does not exist on the path via "Step" (it leaves $.r)',
    ]);
    expect(withResultPath(undefined)).toEqual(withResultPath('$'));
    expect(withResultPath('$.r')).toEqual([]);
  });

  it("a Task's raw result is opaque: any path under it exists", () => {
    const definition = machine({
      Step: task({ ResultPath: '$.result', Next: 'Read' }),
      Read: task({ Parameters: { 'deep.$': '$.result.any.depth[3].at' }, End: true }),
    });
    expect(problemsOf(definition)).toEqual([]);
  });

  it("a Catch's ResultPath sets {Error, Cause}; without one, the error replaces the input", () => {
    const definition = (ResultPath?: string) =>
      machine({
        Try: task({
          Catch: [{ ErrorEquals: ['States.ALL'], ...(ResultPath && { ResultPath }), Next: 'Handle' }],
          End: true,
        }),
        Handle: task({
          Parameters: { 'cause.$': '$.error.Cause', 'a.$': '$.a', 'trace.$': '$.error.Trace' },
          End: true,
        }),
      });
    expect(problemsOf(definition('$.error'))).toEqual([
      'Handle: reads $.error.Trace (Parameters.trace.$), which does not exist on the path via "Try" (caught States.ALL) (it leaves $.error.Error, $.error.Cause)',
    ]);
    expect(problemsOf(definition())).toEqual([
      'Handle: reads $.a (Parameters.a.$), which does not exist on the path via "Try" (caught States.ALL) (it leaves $.Error, $.Cause)',
      'Handle: reads $.error.Cause (Parameters.cause.$), which does not exist on the path via "Try" (caught States.ALL) (it leaves $.Error, $.Cause)',
      'Handle: reads $.error.Trace (Parameters.trace.$), which does not exist on the path via "Try" (caught States.ALL) (it leaves $.Error, $.Cause)',
    ]);
  });

  it('a Pass with Parameters replaces the value; Wait and Choice hand it on, so the report names who shaped it', () => {
    const definition = machine({
      Shape: { Type: 'Pass', Parameters: { kept: { 'a.$': '$.a' } }, Next: 'Pause' },
      Pause: { Type: 'Wait', SecondsPath: '$.kept.a', Next: 'Which?' },
      'Which?': {
        Type: 'Choice',
        Choices: [{ Variable: '$.kept.a', StringEquals: 'x', Next: 'Read' }],
        Default: 'Read',
      },
      Read: task({ Parameters: { 'a.$': '$.a' }, End: true }),
    });
    expect(problemsOf(definition)).toEqual([
      'Read: reads $.a (Parameters.a.$), which does not exist on the path via "Shape" (it leaves $.kept)',
    ]);
  });

  it('Choice variables, SecondsPath, TimestampPath, InputPath and OutputPath are reads too', () => {
    const definition = machine({
      Narrow: { Type: 'Pass', InputPath: '$.box', OutputPath: '$.inner', Next: 'Wait' },
      Wait: { Type: 'Wait', TimestampPath: '$.when', Next: 'Which?' },
      'Which?': {
        Type: 'Choice',
        Choices: [{ And: [{ Variable: '$.n', NumericEqualsPath: '$.m' }], Next: 'End' }],
        Default: 'End',
      },
      End: { Type: 'Succeed', OutputPath: '$.out' },
    });
    expect(problemsOf(definition, [{ box: { inner: { when: 't', n: 1 } } }, { a: 1 }])).toEqual([
      'End: reads $.out (OutputPath), which does not exist on the path via "Narrow" (it leaves $.when, $.n)',
      'Narrow: reads $.box (InputPath), which does not exist on the path via the execution input (it leaves $.a)',
      'Which?: reads $.m (Choices[0].And[0].NumericEqualsPath), which does not exist on the path via "Narrow" (it leaves $.when, $.n)',
    ]);
  });

  it('an IsPresent rule does not need its variable, and keeps apart the values with and without it', () => {
    const definition = machine({
      'Has x?': {
        Type: 'Choice',
        Choices: [{ Variable: '$.x', IsPresent: true, Next: 'Use x' }],
        Default: 'Without x',
      },
      'Use x': task({ Parameters: { 'y.$': '$.x.y' }, End: true }),
      'Without x': task({ Parameters: { 'y.$': '$.x.y', 'a.$': '$.a' }, End: true }),
    });
    expect(problemsOf(definition, [{ a: 1 }, { a: 1, x: { y: 2 } }])).toEqual([
      'Without x: reads $.x.y (Parameters.y.$), which does not exist on the path via the execution input (it leaves $.a)',
    ]);
  });

  it('paths inside intrinsic functions are reads; string literals and $$ context paths are not in question', () => {
    expect(
      intrinsicPaths("States.Format('{} costs $.no {}', $.a.b, States.JsonToString($$.Execution.Input), $)"),
    ).toEqual(['$.a.b', '$$.Execution.Input', '$']);
    const definition = machine({
      Say: task({
        Parameters: {
          'text.$': "States.Format('it\\'s {} at {}', $.a, $.when)",
          'token.$': '$$.Task.Token',
          'name.$': '$$.Execution.Name',
        },
        End: true,
      }),
    });
    expect(problemsOf(definition)).toEqual([
      'Say: reads $.when (Parameters.text.$), which does not exist on the path via the execution input (it leaves $.a)',
    ]);
  });

  it('a loop reaches a fixpoint, and a key the loop drops is caught on the second time round', () => {
    const definition = machine({
      Count: task({
        Parameters: { 'a.$': '$.a', 'n.$': '$.n' },
        ResultSelector: { 'n.$': '$.n' },
        Next: 'Again?',
      }),
      'Again?': {
        Type: 'Choice',
        Choices: [{ Variable: '$.n', NumericLessThan: 3, Next: 'Count' }],
        Default: 'Done',
      },
      Done: { Type: 'Succeed' },
    });
    const report = checkDataFlow(definition, { inputs: [{ a: 'x', n: 0 }] });
    expect(report.problems).toEqual([
      'Count: reads $.a (Parameters.a.$), which does not exist on the path via "Count" (it leaves $.n)',
    ]);
    expect(report.shapes.get('Count')).toHaveLength(2);
    expect(report.unreachable).toEqual([]);
  });

  it('a loop that keeps growing its value stops at the cap with a clear error', () => {
    const definition = machine({
      Grow: { Type: 'Pass', Parameters: { 'previous.$': '$' }, Next: 'Again?' },
      'Again?': {
        Type: 'Choice',
        Choices: [{ Variable: '$.previous', IsPresent: true, Next: 'Grow' }],
        Default: 'Done',
      },
      Done: { Type: 'Succeed' },
    });
    expect(() => checkDataFlow(definition, { inputs: [{}], maxShapesPerState: 10 })).toThrow(
      'Grow: more than 10 distinct shapes reach it',
    );
  });

  it('states no transition reaches are listed', () => {
    const definition = machine({ Start: { Type: 'Succeed' }, Orphan: { Type: 'Pass', End: true } });
    expect(checkDataFlow(definition, { inputs: [{}] }).unreachable).toEqual(['Orphan']);
  });
});
