// `npm start`: the main job on its embedded default. For now: plan the example changes over
// the example fleet and print the plans (later: the whole local runtime).
import { execFileSync } from 'node:child_process';

execFileSync('node', ['scripts/ensure-install.mjs'], { stdio: 'inherit' });
const changes = ['ssm-patch', 'kernel-reboot'];
for (const change of changes) {
  const args = ['plan', '--fleet', 'examples/fleet.json', '--services', 'examples/services.yaml'];
  args.push('--spec', `examples/changes/${change}.yaml`);
  console.log(`\n$ fleetops ${args.join(' ')}\n`);
  execFileSync('node', ['dist/fleetops.js', ...args], { stdio: 'inherit' });
}
