import { readFileSync } from 'node:fs';
import {
  budgetWaitMinutes,
  changeSpecSchema,
  expectedApprovalWaitMinutes,
  SPEC_DEFAULTS,
  zoneBakeSecondsAfter,
} from '../../functions/core/change/spec';
import { InputError, parseChangeSpec } from '../../functions/core/input/files';

const base = 'id: a\ndescription: b\ntarget: { services: [web] }\naction: { type: reboot }\nrisk: low\n';

function problems(extra: string): string[] {
  try {
    parseChangeSpec(base + extra, 'c.yaml');
  } catch (error) {
    if (error instanceof InputError) return error.message.split('\n');
    throw error;
  }
  return [];
}

describe('change spec: zone bakes, the budget wait and the expected approval wait', () => {
  it('applies the documented defaults to a spec that gives none (and to one stored before they existed)', () => {
    const spec = parseChangeSpec(base, 'c.yaml');
    expect(spec.strategy.zoneBakeMinutes).toBeUndefined();
    expect(zoneBakeSecondsAfter(spec.strategy, 0)).toBe(0);
    expect(zoneBakeSecondsAfter(spec.strategy, 3)).toBe(0);
    expect(budgetWaitMinutes(spec.strategy)).toBe(240);
    expect(expectedApprovalWaitMinutes(spec.approval)).toBe(60);
    expect(SPEC_DEFAULTS).toEqual({
      zoneBakeMinutes: 0,
      budgetWaitMinutes: 240,
      expectedApprovalWaitMinutes: 60,
    });
    // A spec as stored by an older version: no strategy fields of these kinds at all.
    expect(zoneBakeSecondsAfter({}, 0)).toBe(0);
    expect(budgetWaitMinutes({})).toBe(240);
    expect(expectedApprovalWaitMinutes({})).toBe(60);
  });

  it('bakes the first zone for firstZoneBakeMinutes and every later one for zoneBakeMinutes, in seconds', () => {
    const spec = parseChangeSpec(
      `${base}strategy: { zoneBakeMinutes: 30, firstZoneBakeMinutes: 120 }\n`,
      'c.yaml',
    );
    expect(zoneBakeSecondsAfter(spec.strategy, 0)).toBe(7200);
    expect(zoneBakeSecondsAfter(spec.strategy, 1)).toBe(1800);
    expect(zoneBakeSecondsAfter(spec.strategy, 2)).toBe(1800);
    // Fractions of a minute round to the second.
    expect(zoneBakeSecondsAfter({ zoneBakeMinutes: 0.51 }, 1)).toBe(31);
  });

  it('lets firstZoneBakeMinutes default to zoneBakeMinutes, as CodeDeploy does', () => {
    const spec = parseChangeSpec(`${base}strategy: { zoneBakeMinutes: 45 }\n`, 'c.yaml');
    expect(zoneBakeSecondsAfter(spec.strategy, 0)).toBe(2700);
    expect(zoneBakeSecondsAfter(spec.strategy, 1)).toBe(2700);
    // The first zone alone may bake: later ones then do not.
    const firstOnly = parseChangeSpec(`${base}strategy: { firstZoneBakeMinutes: 60 }\n`, 'c.yaml');
    expect(zoneBakeSecondsAfter(firstOnly.strategy, 0)).toBe(3600);
    expect(zoneBakeSecondsAfter(firstOnly.strategy, 1)).toBe(0);
  });

  it('accepts the bounds: 0 to a week for bakes and the approval wait, more than 0 for the budget wait', () => {
    const spec = changeSpecSchema.parse({
      id: 'a',
      description: 'b',
      target: { services: ['web'] },
      action: { type: 'reboot' },
      risk: 'low',
      strategy: { zoneBakeMinutes: 0, firstZoneBakeMinutes: 10080, budgetWaitMinutes: 0.5 },
      approval: { expectedWaitMinutes: 0 },
    });
    expect(spec.strategy).toMatchObject({
      zoneBakeMinutes: 0,
      firstZoneBakeMinutes: 10080,
      budgetWaitMinutes: 0.5,
    });
    expect(expectedApprovalWaitMinutes(spec.approval)).toBe(0);
    expect(budgetWaitMinutes(spec.strategy)).toBe(0.5);
  });

  it('refuses values out of bounds, naming the line, the field, the bound and what was found', () => {
    expect(problems('strategy: { zoneBakeMinutes: -1 }\n')).toEqual([
      'c.yaml:6:30: strategy.zoneBakeMinutes: expected a number at least 0, found -1',
    ]);
    expect(problems('strategy: { firstZoneBakeMinutes: 10081 }\n')).toEqual([
      'c.yaml:6:35: strategy.firstZoneBakeMinutes: expected a number at most 10080, found 10081',
    ]);
    expect(problems('strategy: { budgetWaitMinutes: 0 }\n')).toEqual([
      'c.yaml:6:32: strategy.budgetWaitMinutes: expected a number more than 0, found 0',
    ]);
    expect(problems('strategy: { budgetWaitMinutes: 10081 }\n')).toEqual([
      'c.yaml:6:32: strategy.budgetWaitMinutes: expected a number at most 10080, found 10081',
    ]);
    expect(problems('approval: { expectedWaitMinutes: -5 }\n')).toEqual([
      'c.yaml:6:34: approval.expectedWaitMinutes: expected a number at least 0, found -5',
    ]);
    expect(problems('approval: { expectedWaitMinutes: soon }\n')).toEqual([
      'c.yaml:6:34: approval.expectedWaitMinutes: expected a number, found "soon"',
    ]);
    // Unknown neighbours are still errors (a misspelt setting is never ignored).
    expect(problems('strategy: { zoneBakeMinute: 5 }\n')).toEqual([
      'c.yaml:6:13: strategy.zoneBakeMinute: expected no field "zoneBakeMinute" (unknown fields are errors), found 5',
    ]);
  });

  it('reads the examples’ settings', () => {
    const kernel = parseChangeSpec(readFileSync('examples/changes/kernel-reboot.yaml', 'utf8'), 'k.yaml');
    expect(zoneBakeSecondsAfter(kernel.strategy, 0)).toBe(120 * 60);
    expect(zoneBakeSecondsAfter(kernel.strategy, 1)).toBe(30 * 60);
    expect(expectedApprovalWaitMinutes(kernel.approval)).toBe(30);
    const patch = parseChangeSpec(readFileSync('examples/changes/ssm-patch.yaml', 'utf8'), 'p.yaml');
    expect(budgetWaitMinutes(patch.strategy)).toBe(120);
    expect(zoneBakeSecondsAfter(patch.strategy, 0)).toBe(20 * 60);
  });
});
