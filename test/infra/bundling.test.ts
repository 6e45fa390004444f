import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { BUNDLE_FILE, bundleHandler, HANDLERS, inlineSchemaKeys } from '../../lib/bundling';

const evaluate = (source: string) => new Function(`${source}; return shapes;`)();

describe('inlineSchemaKeys (the esbuild plugin that lets the AWS SDK schemas tree-shake)', () => {
  it('replaces computed keys naming string constants, and nothing else', () => {
    const source = [
      'const _xN = "xmlName";',
      'const _q = "say \\"hi\\"";',
      'const other = {};',
      'var shapes = [[0, { [_xN]: _q }], { [_q]: 1, [other]: 2, [_missing]: 3 }];',
    ].join('\n');
    const out = inlineSchemaKeys(source);
    expect(out).toContain('{ "xmlName": _q }');
    expect(out).toContain('"say \\"hi\\"": 1');
    expect(out).toContain('[other]: 2');
    expect(out).toContain('[_missing]: 3');
  });

  it('never changes the value a schema module builds (fast-check)', () => {
    const name = fc.stringMatching(/^_[A-Za-z][A-Za-z0-9]{0,4}$/);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(name, fc.string({ maxLength: 8 })), {
          selector: ([n]) => n,
          minLength: 1,
          maxLength: 6,
        }),
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer()), { maxLength: 10 }),
        (constants, members) => {
          const declarations = constants.map(([n, v]) => `const ${n} = ${JSON.stringify(v)};`).join('\n');
          const objects = members.map(([k, v, x]) => {
            const key = constants[k % constants.length][0];
            const value = constants[v % constants.length][0];
            return `[0, { [${key}]: ${value}, n: ${x} }]`;
          });
          const source = `${declarations}\nvar shapes = [${objects.join(', ')}];`;
          expect(evaluate(inlineSchemaKeys(source))).toEqual(evaluate(source));
        },
      ),
    );
  });
});

describe('handler bundles', () => {
  const out = mkdtempSync(join(tmpdir(), 'fleetops-bundle-test-'));

  it.each(HANDLERS)(
    '%s: an ES module under 1 MB with a source map (without the plugin the EC2 model alone is 550 KB)',
    async (handler) => {
      const { file, bytes } = await bundleHandler(handler, join(out, handler));
      expect(file).toBe(join(out, handler, BUNDLE_FILE));
      expect(bytes).toBeLessThan(1024 * 1024);
      const code = readFileSync(file, 'utf8');
      expect(code).toMatch(/\/\/# sourceMappingURL=index\.mjs\.map\s*$/);
      // The Lambda bundles take credentials from the environment only (functions/lambda/credentials.ts).
      expect(code).not.toContain('credential-provider-sso');
      const map = JSON.parse(readFileSync(`${file}.map`, 'utf8'));
      expect(map.sources.some((s: string) => s.endsWith(`functions/handlers/${handler}.ts`))).toBe(true);
      expect(map.sourcesContent).toBeUndefined();
    },
  );
});
