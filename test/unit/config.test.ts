import fc from 'fast-check';
import { InputError, parseChangeSpec, parseFleet, parseServices } from '../../functions/core/input/files';
import { resolveQuantity } from '../../functions/core/safety/quantity';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof InputError) return error.message.split('\n');
    throw error;
  }
  throw new Error('expected an InputError');
}

const validSpec = `
id: patch-1
description: patch
target: { services: [web] }
action: { type: reboot }
risk: low
`;

describe('change spec files', () => {
  it('accepts a minimal spec and fills the documented defaults', () => {
    const spec = parseChangeSpec(validSpec, 'c.yaml');
    expect(spec.strategy).toEqual({
      canary: 1,
      growth: { mode: 'exponential', factor: 2 },
      bakeMinutes: 10,
      zoneConcurrency: 1,
    });
    expect(spec.gates.onFailure).toBe('rollback');
  });

  it('names the file, line, field, what was expected and what was found', () => {
    const text = `${validSpec}strategy:\n  growth: { mode: exponential, factor: 0.5 }\n`;
    expect(problemsOf(() => parseChangeSpec(text, 'changes/c.yaml'))).toEqual([
      'changes/c.yaml:8:40: strategy.growth.factor: expected a factor greater than 1 for exponential growth, found 0.5',
    ]);
  });

  it('rejects unknown fields instead of ignoring them', () => {
    const text = `${validSpec}strategy:\n  canaryy: 2\n`;
    expect(problemsOf(() => parseChangeSpec(text, 'c.yaml'))).toEqual([
      'c.yaml:8:3: strategy.canaryy: expected no field "canaryy" (unknown fields are errors), found 2',
    ]);
  });

  it('explains an unknown action type and a bad quantity', () => {
    const text = validSpec
      .replace('{ type: reboot }', '{ type: rebooot }')
      .concat('strategy: { maxWaveSize: ten }\n');
    expect(problemsOf(() => parseChangeSpec(text, 'c.yaml'))).toEqual([
      'c.yaml:5:17: action.type: expected an action whose type is one of ssm-command, reboot, stop-start, replace, set-tag, found "rebooot"',
      'c.yaml:7:26: strategy.maxWaveSize: expected a percentage between "0%" and "100%", or a whole count, found "ten"',
    ]);
  });

  it('reports a missing required field at its parent', () => {
    const text = validSpec.replace('risk: low\n', '');
    expect(problemsOf(() => parseChangeSpec(text, 'c.yaml'))).toEqual([
      'c.yaml:2:1: risk: expected one of "low", "medium", "high", "kernel", found nothing (the field is missing)',
    ]);
  });

  it('reports YAML syntax errors with their position', () => {
    expect(problemsOf(() => parseChangeSpec('id: [unclosed\n', 'c.yaml'))[0]).toMatch(
      /^c\.yaml:2:1: expected valid YAML, found a syntax error/,
    );
  });

  it('rejects a change id that cannot name a Step Functions execution', () => {
    expect(
      problemsOf(() => parseChangeSpec(validSpec.replace('patch-1', '"patch 1!"'), 'c.yaml'))[0],
    ).toContain(
      'id: expected 1–71 letters, digits, "-" or "_", starting with a letter or digit, found "patch 1!"',
    );
  });

  it('never throws anything but an InputError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        try {
          parseChangeSpec(text, 'c.yaml');
        } catch (error) {
          expect(error).toBeInstanceOf(InputError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('fleet inventory files', () => {
  const instance = {
    id: 'i-0123456789abcdef0',
    service: 'web',
    zone: 'us-east-1a',
    state: 'running',
    health: 'ok',
  };

  it('accepts the documented shape and defaults tags to {}', () => {
    const fleet = parseFleet(JSON.stringify({ instances: [instance] }), 'fleet.json');
    expect(fleet.instances[0]).toEqual({ ...instance, tags: {} });
  });

  it('rejects duplicate ids, bad health and bad zones with their index', () => {
    const text = JSON.stringify({
      instances: [
        instance,
        { ...instance, health: 'sick' },
        { ...instance, id: 'i-1111111111111111', zone: 'east' },
      ],
    });
    expect(problemsOf(() => parseFleet(text, 'fleet.json'))).toEqual([
      'fleet.json: instances[1].health: expected one of "ok", "impaired", "initializing", "unknown", found "sick"',
      'fleet.json: instances[2].zone: expected an availability zone such as "us-east-1a", found "east"',
    ]);
    const dup = JSON.stringify({ instances: [instance, instance] });
    expect(problemsOf(() => parseFleet(dup, 'fleet.json'))).toEqual([
      'fleet.json: instances[1].id: expected duplicate instance id (first seen at instances[0]), found "i-0123456789abcdef0"',
    ]);
  });

  it('reports a JSON syntax error with its line', () => {
    expect(problemsOf(() => parseFleet('{\n  "instances": [,]\n}', 'fleet.json'))[0]).toMatch(
      /^fleet\.json:2:\d+: expected valid JSON, found a syntax error/,
    );
  });
});

describe('services files', () => {
  it('reads counts, percentages and impacts, in YAML or JSON', () => {
    const yaml = parseServices(
      'services:\n  web: { maxUnavailable: 10%, impact: { set-tag: non-disruptive } }\n',
      's.yaml',
    );
    const json = parseServices(
      '{"services":{"web":{"maxUnavailable":"10%","impact":{"set-tag":"non-disruptive"}}}}',
      's.json',
    );
    expect(json).toEqual(yaml);
    expect(yaml.services.web.maxUnavailable).toEqual({ kind: 'percent', value: 10 });
  });

  it('rejects negative counts, percentages over 100 and unknown action types', () => {
    const text =
      'services:\n  web:\n    maxUnavailable: -1\n  api:\n    maxUnavailable: 150%\n    impact: { reboots: disruptive }\n';
    expect(problemsOf(() => parseServices(text, 's.yaml'))).toEqual([
      's.yaml:3:21: services.web.maxUnavailable: expected a count (a whole number ≥ 0) or a percentage such as "10%", found -1',
      's.yaml:5:21: services.api.maxUnavailable: expected a percentage between "0%" and "100%", or a whole count, found "150%"',
      's.yaml:6:15: services.api.impact.reboots: expected no field "reboots" (unknown fields are errors), found "disruptive"',
    ]);
  });
});

describe('quantities', () => {
  it('round percentages down, so a budget never allows more than declared', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100000 }), (percent, n) => {
        const resolved = resolveQuantity({ kind: 'percent', value: percent }, n);
        expect(resolved * 100).toBeLessThanOrEqual(percent * n);
        expect((resolved + 1) * 100).toBeGreaterThan(percent * n);
      }),
    );
  });
});
