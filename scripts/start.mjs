// `npm start`: the main job on its embedded default. Installs what is missing (npm ci; moto
// through pip when moto_server is absent), then runs the local runtime (cli/local/start.ts): a
// moto server, the real state machines, handlers, routing and store, three scenes, a summary
// and an HTML report (fleetops-report.html, or the path given after `--`). Every process it
// starts is stopped when it ends.
import { spawnSync } from 'node:child_process';

const install = spawnSync(process.execPath, ['scripts/ensure-install.mjs'], { stdio: 'inherit' });
if (install.status !== 0) process.exit(install.status ?? 1);
const run = spawnSync(process.execPath, ['--import', 'tsx', 'cli/local/start.ts', ...process.argv.slice(2)], {
  stdio: 'inherit',
});
process.exit(run.status ?? 1);
