// Bundles the fleetops CLI into dist/fleetops.js (package.json "bin"): one file, fast to start.
import { chmodSync, existsSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { build } from 'esbuild';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
await build({
  entryPoints: ['bin/fleetops.ts'],
  outfile: 'dist/fleetops.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  mainFields: ['module', 'main'],
  sourcemap: 'linked',
  banner: { js: '#!/usr/bin/env node' },
  define: { FLEETOPS_VERSION: JSON.stringify(version) },
  logLevel: 'warning',
});

// `npx fleetops` inside this checkout: npm does not link a project's own bin, so link it here.
const link = 'node_modules/.bin/fleetops';
if (existsSync('node_modules/.bin')) {
  rmSync(link, { force: true });
  symlinkSync('../../dist/fleetops.js', link);
}
chmodSync('dist/fleetops.js', 0o755);
