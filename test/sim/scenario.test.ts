import { InputError } from '../../functions/core/input/files';
import { parseDuration, parseScenario, scenarioFleet } from '../../sim/scenario';

/** A rehearsal's scenario file (sim/scenario.ts): its events, and every mistake named by line and field path. */

const fleet = scenarioFleet([
  { service: 'web', zone: 'us-east-1a' },
  { service: 'web', zone: 'us-east-1b' },
  { service: 'api', zone: 'us-east-1a' },
]);

/** The problems of a file that must not parse, as the CLI prints them. */
function problems(text: string): string[] {
  try {
    parseScenario(text, 'scenario.yaml', fleet);
  } catch (error) {
    if (error instanceof InputError) return error.message.split('\n');
    throw error;
  }
  throw new Error('expected the scenario to be refused');
}

describe('parseScenario', () => {
  it('reads every kind of event, in time order, offsets in milliseconds and services as lists', () => {
    // Prepare
    const text = [
      'description: a day',
      'events:',
      '  - at: 2h',
      '    freeze: { duration: 1h30m, services: [web], reason: game day }',
      '  - at: 90m',
      '    fault: { zone: us-east-1b, fraction: 0.25, duration: 45m }',
      '  - at: 90m',
      '    terminate: { service: web, count: 3 }',
      '  - at: 3h',
      '    launch: { service: [web, api], fraction: 0.1 }',
      '  - at: 30s',
      '    latency-regression: { service: api, factor: 2, metric: p99LatencyMs }',
    ].join('\n');

    // Act
    const s = parseScenario(text, 'scenario.yaml', fleet);

    // Assess
    expect(s.description).toBe('a day');
    expect(s.events).toEqual([
      {
        at: 30_000,
        index: 4,
        kind: 'latency-regression',
        services: ['api'],
        factor: 2,
        metric: 'p99LatencyMs',
      },
      {
        at: 5_400_000,
        index: 1,
        kind: 'fault',
        fault: 'system-status-check-failed',
        zone: 'us-east-1b',
        fraction: 0.25,
        duration: 2_700_000,
      },
      { at: 5_400_000, index: 2, kind: 'terminate', services: ['web'], count: 3 },
      { at: 7_200_000, index: 0, kind: 'freeze', duration: 5_400_000, services: ['web'], reason: 'game day' },
      { at: 10_800_000, index: 3, kind: 'launch', services: ['web', 'api'], fraction: 0.1 },
    ]);
  });

  it.each([
    ['90m', 5_400_000],
    ['2h', 7_200_000],
    ['1h30m', 5_400_000],
    ['1d', 86_400_000],
    ['45s', 45_000],
    ['0m', 0],
  ])('reads the offset %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['90', 'two hours', '1.5', '-1h', 'h', ''])('refuses the offset %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('names the line and field path of each mistake, with what was expected and found', () => {
    // Prepare: one mistake per event (the last one two: an unknown field, and so no kind).
    const text = [
      'events:',
      '  - at: soon',
      '    fault: { zone: us-east-1a }',
      '  - at: 1h',
      '    fault: { fraction: 2 }',
      '  - at: 1h',
      '    terminate: { service: web }',
      '  - at: 1h',
      '    launch: { service: web, count: 2, fraction: 0.5 }',
      '  - at: 1h',
      '    freeze: { services: [web] }',
      '  - at: 1h',
      '    fault: { kind: disk-full }',
      '  - at: 1h',
      '    explode: { service: web }',
    ].join('\n');

    // Act
    const found = problems(text);

    // Assess
    expect(found).toEqual([
      'scenario.yaml:2:9: events[0].at: expected a duration such as "90m", "2h" or "1h30m", found "soon"',
      'scenario.yaml:5:24: events[1].fault.fraction: expected a number at most 1, found 2',
      'scenario.yaml:7:16: events[2].terminate.count: expected count (or fraction) of the matching instances, found nothing (the field is missing)',
      'scenario.yaml:9:49: events[3].launch.fraction: expected count or fraction, not both, found 0.5',
      'scenario.yaml:11:13: events[4].freeze.duration: expected a duration such as "90m", "2h" or "1h30m", found nothing (the field is missing)',
      'scenario.yaml:13:20: events[5].fault.kind: expected one of "system-status-check-failed", "instance-status-check-failed", found "disk-full"',
      'scenario.yaml:15:5: events[6].explode: expected no field "explode" (unknown fields are errors), found a mapping',
      'scenario.yaml:14:5: events[6]: expected exactly one of fault, terminate, launch, latency-regression, freeze (found none), found a mapping',
    ]);
  });

  it('asks for exactly one event kind per event', () => {
    expect(problems('events:\n  - at: 1h\n')).toEqual([
      'scenario.yaml:2:5: events[0]: expected exactly one of fault, terminate, launch, latency-regression, freeze (found none), found a mapping',
    ]);
    expect(problems('events:\n  - at: 1h\n    terminate: { count: 1 }\n    launch: { count: 1 }\n')).toEqual([
      'scenario.yaml:4:13: events[0].launch: expected exactly one of fault, terminate, launch, latency-regression, freeze (found terminate and launch), found a mapping',
    ]);
  });

  it('refuses services and zones the fleet does not have, at their path', () => {
    const text = [
      'events:',
      '  - at: 1h',
      '    fault: { zone: us-east-1c }',
      '  - at: 2h',
      '    launch: { service: [web, wbe], count: 1 }',
      '  - at: 3h',
      '    freeze: { duration: 1h, services: [ap1] }',
    ].join('\n');

    expect(problems(text)).toEqual([
      'scenario.yaml:3:20: events[0].fault.zone: expected a zone of the fleet ("us-east-1a", "us-east-1b"), found "us-east-1c"',
      'scenario.yaml:5:30: events[1].launch.service[1]: expected a service of the fleet (such as "api", "web"), found "wbe"',
      'scenario.yaml:7:40: events[2].freeze.services[0]: expected a service of the fleet (such as "api", "web"), found "ap1"',
    ]);
  });

  it('refuses a file without events, and says so for JSON too', () => {
    expect(problems('description: nothing\n')).toEqual([
      'scenario.yaml:1:1: events: expected a list (array), found nothing (the field is missing)',
    ]);
    expect(() => parseScenario('{"events": []}', 'scenario.json', fleet)).toThrow(
      'scenario.json: events: expected at least 1 item, found a list of 0',
    );
  });
});
