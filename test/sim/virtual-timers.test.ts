import { StateMachine } from 'aws-local-stepfunctions';
// The interpreter needs Promise.withResolvers, which Node 20 lacks.
import '../../cli/local/local-sfn';
import { VirtualClock } from '../../sim/kernel/virtual-clock';
import { onVirtualTime } from '../../sim/kernel/virtual-timers';

const START = Date.parse('2026-01-05T00:00:00Z');
const HOUR = 3_600_000;

describe('onVirtualTime', () => {
  it('schedules setTimeout on the clock, lets clearTimeout take a timer back, and reads Date.now from it', async () => {
    // Prepare
    const clock = new VirtualClock(START);
    const fired: Array<[string, number]> = [];

    // Act
    await onVirtualTime(clock, async () => {
      setTimeout(() => fired.push(['an hour', Date.now()]), HOUR);
      const never = setTimeout(() => fired.push(['a week', Date.now()]), 168 * HOUR);
      setTimeout(() => clearTimeout(never), 2 * HOUR);
      await clock.run();
    });

    // Assess: the week-long timer neither fired nor kept the clock going.
    expect(fired).toEqual([['an hour', START + HOUR]]);
    expect(clock.now()).toBe(START + 2 * HOUR);
    expect(clock.instants).toBe(2);
  });

  it('puts the real timers and clock back afterwards, even when the run throws', async () => {
    const real = { setTimeout, clearTimeout, now: Date.now };
    const clock = new VirtualClock(START);

    await expect(
      onVirtualTime(clock, async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');

    expect(globalThis.setTimeout).toBe(real.setTimeout);
    expect(globalThis.clearTimeout).toBe(real.clearTimeout);
    expect(Date.now).toBe(real.now);
    expect(Math.abs(Date.now() - real.now())).toBeLessThan(1000);
  });

  it('refuses a second simulation on virtual time while one runs', async () => {
    const clock = new VirtualClock(START);

    await onVirtualTime(clock, async () => {
      await expect(onVirtualTime(new VirtualClock(START), async () => 1)).rejects.toThrow(/already running/);
    });
  });

  it("runs an ASL's Wait (Seconds, TimestampPath), Retry back-off and Task timeout on the clock, in no wall time", async () => {
    // Prepare: a Task that fails twice (retried after 5 s, then 10 s), an hour's Wait, a Wait
    // until a timestamp, and a Task slower than its TimeoutSeconds, caught.
    const machine = new StateMachine({
      StartAt: 'Flaky',
      States: {
        Flaky: {
          Type: 'Task',
          Resource: 'arn:aws:lambda:eu-north-1:123456789012:function:f',
          Retry: [{ ErrorEquals: ['States.TaskFailed'], IntervalSeconds: 5, MaxAttempts: 3, BackoffRate: 2 }],
          ResultPath: '$.flaky',
          Next: 'An hour',
        },
        'An hour': { Type: 'Wait', Seconds: 3600, Next: 'Until' },
        Until: { Type: 'Wait', TimestampPath: '$.until', Next: 'Slow' },
        Slow: {
          Type: 'Task',
          Resource: 'arn:aws:lambda:eu-north-1:123456789012:function:g',
          TimeoutSeconds: 30,
          Catch: [{ ErrorEquals: ['States.Timeout'], ResultPath: '$.timeout', Next: 'Done' }],
          End: true,
        },
        Done: { Type: 'Pass', End: true },
      },
    } as never);
    const clock = new VirtualClock(START);
    const seen: Array<[string, number]> = [];
    let failures = 0;
    const wallStarted = performance.now();

    // Act
    const output = await onVirtualTime(clock, async () => {
      const run = machine.run({ until: new Date(START + 2 * HOUR).toISOString() } as never, {
        overrides: {
          taskResourceLocalHandlers: {
            Flaky: async () => {
              seen.push(['Flaky', clock.now() - START]);
              if (failures++ < 2) throw new Error('not yet');
              return { ok: true };
            },
            Slow: async () => {
              seen.push(['Slow', clock.now() - START]);
              await clock.sleep(60_000);
              return { late: true };
            },
          },
        },
      });
      const [result] = await Promise.all([run.result, clock.run()]);
      return result as { timeout?: { Error: string } };
    });

    // Assess
    expect(seen).toEqual([
      ['Flaky', 0],
      ['Flaky', 5_000],
      ['Flaky', 15_000],
      ['Slow', 2 * HOUR],
    ]);
    expect(output.timeout?.Error).toBe('States.Timeout');
    expect(performance.now() - wallStarted).toBeLessThan(5_000);
  });
});
