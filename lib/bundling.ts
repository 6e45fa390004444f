/**
 * How every FleetOps handler is bundled (esbuild, through CDK's NodejsFunction): ES module output
 * for the Node.js 24 runtime, the AWS SDK's ES module entry points bundled and tree-shaken,
 * minified, with source maps. `npm run bench` builds the handlers with these same options to
 * measure their size and import time.
 */
export const HANDLER_BUNDLING = {
  minify: true,
  sourceMap: true,
  target: 'node24',
  mainFields: ['module', 'main'],
  /** Bundle the AWS SDK too (tree-shaken) rather than load the runtime's whole copy. */
  externalModules: [] as string[],
  /** ESM output needs `require` for the few CommonJS dependencies that use it. */
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
} as const;

/** The handlers under functions/handlers that are Lambda entry points. */
export const HANDLERS = ['inventory-sync', 'rollout-step', 'triage', 'remediation-step'] as const;
