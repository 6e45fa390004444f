/**
 * How every FleetOps handler is bundled: esbuild, ES module output for the Node.js 24 runtime,
 * the AWS SDK's ES module entry points (`mainFields: ['module', 'main']`) bundled and
 * tree-shaken, minified, with source maps. CDK runs `lib/bundle-handler.ts` at synth time
 * (through `Code.fromCustomCommand`, see FleetFunction) and `npm run bench` measures the same
 * bundles: one function, {@link bundleHandler}, builds both.
 *
 * Why not NodejsFunction's own bundling: it cannot take an esbuild plugin, and one is needed.
 * The AWS SDK's schema modules (`@aws-sdk/client-x/dist-es/schemas/schemas_0.js`) describe every
 * shape of the service as arrays whose member traits are objects with computed keys
 * (`{ [_xN]: _it }`, `_xN` a module constant). esbuild cannot prove a computed key free of side
 * effects, so it keeps every such shape and everything it references: the whole EC2 model,
 * 550 KB minified, for the five EC2 operations FleetOps calls. {@link schemaKeysPlugin} replaces
 * each computed key that names a string constant of the same module by that string, which
 * changes no value, and tree-shaking then keeps only the shapes the imported commands reach
 * (EC2: 15 KB).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Plugin } from 'esbuild';

export const HANDLER_BUNDLING = {
  minify: true,
  sourceMap: true,
  target: 'node24',
  mainFields: ['module', 'main'],
  /** ESM output needs `require` for the few CommonJS dependencies that use it. */
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
} as const;

/**
 * What each function's Node.js starts with: stack traces through the source maps. The maps are
 * written without the sources' content (736 KB rather than 3.6 MB for inventory-sync), which
 * is what Node parses at start: +22 ms instead of +75 ms on this machine; traces still name
 * the TypeScript file and line.
 */
export const HANDLER_NODE_OPTIONS = '--enable-source-maps';

/** The handlers under functions/handlers that are Lambda entry points. */
export const HANDLERS = ['inventory-sync', 'rollout-step', 'triage', 'remediation-step'] as const;

/** The file each bundle is written to, and so the Lambda handler is `index.handler`. */
export const BUNDLE_FILE = 'index.mjs';

const SCHEMA_MODULE = /[\\/]@aws-sdk[\\/]client-[^\\/]+[\\/]dist-es[\\/]schemas[\\/]schemas_\d+\.js$/;
const STRING_CONSTANT = /^const (_\w+) = ("(?:[^"\\\n]|\\.)*");$/gm;
const COMPUTED_KEY = /\[(_\w+)\]:/g;

/**
 * Rewrites `[_name]:` to `"value":` where `const _name = "value";` is declared at the top of the
 * same module. Names that are not such constants are left as they are. Exported for its test.
 */
export function inlineSchemaKeys(source: string): string {
  const constants = new Map<string, string>();
  for (const [, name, literal] of source.matchAll(STRING_CONSTANT)) constants.set(name, literal);
  return source.replace(COMPUTED_KEY, (key, name: string) => {
    const literal = constants.get(name);
    return literal === undefined ? key : `${literal}:`;
  });
}

/** The esbuild plugin that applies {@link inlineSchemaKeys} to the AWS SDK's schema modules. */
export const schemaKeysPlugin: Plugin = {
  name: 'fleetops-sdk-schema-keys',
  setup(build) {
    build.onLoad({ filter: SCHEMA_MODULE }, async (args) => ({
      contents: inlineSchemaKeys(await readFile(args.path, 'utf8')),
      loader: 'js',
    }));
  },
};

export interface BundleResult {
  readonly file: string;
  readonly bytes: number;
}

/** Bundles functions/handlers/<handler>.ts into <outdir>/index.mjs (+ its source map). */
export async function bundleHandler(handler: string, outdir: string): Promise<BundleResult> {
  return bundleEntry(join(__dirname, '..', 'functions', 'handlers', `${handler}.ts`), outdir);
}

/** Bundles any entry file as the handlers are bundled (the benchmark's baselines use it). */
export async function bundleEntry(entry: string, outdir: string): Promise<BundleResult> {
  // Imported here so that synthesizing a stack (which only spawns lib/bundle-handler.ts) does not
  // load esbuild into the CDK app.
  const esbuild = await import('esbuild');
  const root = join(__dirname, '..');
  const file = join(outdir, BUNDLE_FILE);
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [entry],
    outfile: file,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: HANDLER_BUNDLING.target,
    mainFields: [...HANDLER_BUNDLING.mainFields],
    minify: HANDLER_BUNDLING.minify,
    sourcemap: HANDLER_BUNDLING.sourceMap,
    sourcesContent: false,
    banner: { js: HANDLER_BUNDLING.banner },
    plugins: [schemaKeysPlugin],
    alias: { '@aws-sdk/credential-provider-node': join(root, 'functions', 'lambda', 'credentials.ts') },
    metafile: true,
    logLevel: 'error',
  });
  const output =
    result.metafile.outputs[Object.keys(result.metafile.outputs).find((o) => o.endsWith('.mjs')) ?? ''];
  return { file, bytes: output.bytes };
}
