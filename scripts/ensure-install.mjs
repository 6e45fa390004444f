// Makes a fresh clone ready: installs the locked dependencies when node_modules is missing or
// older than package-lock.json, and builds the CLI. Uses only Node's standard library, so it
// runs before anything is installed. Both README commands (`npm start`, `npm test`) call it.
import { execSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

const lock = 'package-lock.json';
const installed = 'node_modules/.package-lock.json';
const stale = !existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs;
if (stale) {
  console.error('fleetops: installing dependencies (npm ci)…');
  execSync('npm ci --no-audit --no-fund --ignore-scripts', { stdio: 'inherit' });
}
execSync('node scripts/build-cli.mjs', { stdio: 'inherit' });
