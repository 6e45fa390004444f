import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// asl-validator ships CommonJS without types.
const validate: (definition: unknown) => { isValid: boolean; errors: unknown[] } = require('asl-validator');

const dir = 'state-machines';
const files = readdirSync(dir).filter((f) => f.endsWith('.asl.json'));

/** What CDK's definitionSubstitutions put in place of `${…}` (an ARN of the right shape). */
const substitute = (text: string) =>
  text.replace(/\$\{(\w+)\}/g, (_m, name) => `arn:aws:lambda:us-east-1:123456789012:function:${name}`);

describe('state machine definitions', () => {
  it('exist', () => {
    expect(files).toContain('rollout.asl.json');
  });

  it.each(files)('%s passes asl-validator', (file) => {
    const definition = JSON.parse(substitute(readFileSync(join(dir, file), 'utf8')));
    const { isValid, errors } = validate(definition);
    expect({ isValid, errors }).toEqual({ isValid: true, errors: [] });
  });

  it('asl-validator catches a broken transition (the check can fail)', () => {
    const definition = JSON.parse(substitute(readFileSync(join(dir, 'rollout.asl.json'), 'utf8')));
    definition.States['Go or wait?'].Default = 'Nowhere';
    expect(validate(definition).isValid).toBe(false);
  });

  it.each(files)('%s names its states in plain words and uses JSONPath only', (file) => {
    const definition = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    expect(definition.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
    for (const name of Object.keys(definition.States)) expect(name).toMatch(/^[A-Z][a-z]+( [a-z]+)*\??$/);
  });
});
