// `npm run bench`: every benchmark, each case in a fresh process, results as JSON and as the
// markdown table the README quotes. Medians of several runs on this machine; ratios where a
// baseline exists. Not a test: these machines are shared and noisy, so nothing here asserts.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

const RUNS = Number(process.env.BENCH_RUNS ?? 9);
const planCases: Array<[instances: number, services: number, zones: number]> = [
  [1_000, 100, 3],
  [10_000, 500, 3],
  [10_000, 2_000, 6],
  [100_000, 500, 3],
  [100_000, 2_000, 6],
];

interface PlanResult {
  instances: number;
  services: number;
  zones: number;
  runs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  serializeMs: number;
  planBytes: number;
  heapGrowthMB: number;
  peakRssMB: number;
  waves: number;
  lowerBound: number;
  planned: number;
  skipped: number;
}

interface StoreResult {
  lease: {
    instances: number;
    services: number;
    runs: number;
    acquireMedianMs: number;
    releaseMedianMs: number;
    acquireRequests: Record<string, number>;
    releaseRequests: Record<string, number>;
  };
  sync: Array<{
    label: string;
    ms: number;
    written: number;
    ec2Requests: Record<string, number>;
    dynamoRequests: Record<string, number>;
  }>;
}

const requestList = (r: Record<string, number>) =>
  Object.entries(r)
    .map(([k, v]) => `${v} ${k.replace(/Command$/, '')}`)
    .join(', ');
const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

function runCase(args: number[]): PlanResult {
  const out = execFileSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', 'bench/plan-case.ts', ...args.map(String)],
    { encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

const plan: PlanResult[] = [];
for (const [instances, services, zones] of planCases) {
  process.stderr.write(`plan: ${instances} instances, ${services} services, ${zones} zones… `);
  const result = runCase([instances, services, zones, RUNS]);
  process.stderr.write(`${result.medianMs.toFixed(1)} ms\n`);
  plan.push(result);
}

process.stderr.write('cli: fleetops plan --json on a 100,000-instance file… ');
const cli = JSON.parse(
  execFileSync(process.execPath, ['--import', 'tsx', 'bench/cli-case.ts', '100000', '2000', '6', '5'], {
    encoding: 'utf8',
  }).trim(),
) as {
  instances: number;
  services: number;
  zones: number;
  runs: number;
  medianMs: number;
  bareNodeMs: number;
};
process.stderr.write(`${cli.medianMs.toFixed(0)} ms\n`);

process.stderr.write('rollout: state transitions per change… ');
const transitions = JSON.parse(
  execFileSync(process.execPath, ['--import', 'tsx', 'bench/transitions-case.ts'], {
    encoding: 'utf8',
  }).trim(),
) as Array<{ instances: number; waves: number; transitions: number; rollbackWaves?: number }>;
process.stderr.write('done\n');

process.stderr.write('handlers: bundle size and import time… ');
const bundles = JSON.parse(
  execFileSync(process.execPath, ['--import', 'tsx', 'bench/bundle-case.ts', String(RUNS)], {
    encoding: 'utf8',
  }).trim(),
) as {
  runs: number;
  nodeOptions: string;
  handlers: Array<{ handler: string; bytes: number; importMs: number; bareNodeMs: number; ratio: number }>;
};
process.stderr.write('done\n');

process.stderr.write('remediation: learned against fixed ladder (simulation, 5 seeds)… ');
const remediation = JSON.parse(
  execFileSync(process.execPath, ['--import', 'tsx', 'bench/remediation-case.ts'], {
    encoding: 'utf8',
  }).trim(),
) as {
  ratio: number;
  learnedOracleRatio: number;
  oracleFixedRatio: number;
  ratioNoRelapse: number;
  ratioNoContext: number;
  ratioContextFree: number;
  episodeRatio: number;
  ratioIgnoringCost: number;
  seeds: number;
  faults: number;
  repeatFaults: number;
} & Record<
  `${'fixed' | 'learned' | 'noRelapse' | 'noContext' | 'contextFree' | 'oracle'}${'MeanMinutes' | 'P90Minutes' | 'Episodes' | 'Relapses' | 'Actions' | 'Pages'}`,
  number
>;
process.stderr.write(`${remediation.ratio}\n`);

process.stderr.write('store: lease a 1,000-instance wave, sync 10,000 instances (moto)… ');
const store = JSON.parse(
  execFileSync(process.execPath, ['--import', 'tsx', 'bench/store-case.ts', '1'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  })
    .trim()
    .split('\n')
    .at(-1)!,
) as StoreResult;
process.stderr.write('done\n');

process.stderr.write('sweep: requests per inventory sweep, 10,000 instances with groups and target groups… ');
const sweep = JSON.parse(
  execFileSync(process.execPath, ['--import', 'tsx', 'bench/sweep-requests.ts'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  })
    .trim()
    .split('\n')
    .at(-1)!,
) as {
  instances: number;
  services: number;
  perService: number;
  unmanagedTargetGroups: number;
  sweeps: Array<{
    label: string;
    ms: number;
    written: number;
    unavailable: number;
    requests: Record<string, number>;
    pacedSeconds: number;
  }>;
  describeAutoScalingInstancesInstead: number;
};
process.stderr.write(`${total(sweep.sweeps[0].requests)} requests\n`);

process.stderr.write('simulate: 100,000 instances, 3 zones, 500 services (3 runs)… ');
const simulation = JSON.parse(
  execFileSync(process.execPath, ['--import', 'tsx', 'bench/simulate-case.ts', '3'], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  }).trim(),
) as {
  instances: number;
  zones: number;
  services: number;
  faultRate: number;
  seed: number;
  runs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  instancesPerSecond: number;
  changeStatus: string;
  changeAttempts: number;
  makespanMinutes: number;
  waves: number;
  wavesRun: number;
  faults: number;
  remediationCases: number;
  mttrMinutes: { mean: number; p50: number; p90: number };
  ec2Requests: number;
  ec2TokenWaitSeconds: number;
  maxBudgetRatio: number;
  violations: number;
  deterministic: boolean;
};
process.stderr.write(`${simulation.medianMs} ms\n`);

process.stderr.write('local runtime: npm start end to end (one run)… ');
const localRun = JSON.parse(
  execFileSync(process.execPath, ['--import', 'tsx', 'bench/local-runtime-case.ts'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  })
    .trim()
    .split('\n')
    .at(-1)!,
) as {
  seconds: number;
  runSeconds: number;
  instances: number;
  changes: Record<string, string>;
  remediations: Record<string, number>;
  pages: number;
  checksOk: boolean;
};
process.stderr.write(`${localRun.seconds} s\n`);

const floor = bundles.handlers.find((b) => b.handler.startsWith('(floor'));
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const fmt = (n: number, digits = 1) => n.toFixed(digits);
const rows = plan.map(
  (r) =>
    `| ${r.instances.toLocaleString('en-US')} | ${r.services.toLocaleString('en-US')} | ${r.zones} | ${fmt(r.medianMs)} | ${fmt(r.minMs)}–${fmt(r.maxMs)} | ${fmt(r.peakRssMB, 0)} | ${fmt(r.heapGrowthMB, 0)} | ${r.waves} | ${r.lowerBound} | ${fmt((r.waves / r.lowerBound - 1) * 100)}% | ${r.planned.toLocaleString('en-US')} / ${r.skipped.toLocaleString('en-US')} |`,
);
const markdown = [
  '### Planner',
  '',
  `Synthetic fleets (heavy-tailed service sizes, budgets as operators declare them, 1% already unavailable; seed 42), one change over every instance (\`ssm-command\`, risk medium, canary 1, exponential growth ×2). Each case runs in a fresh process: one warm-up, then the median of ${RUNS} runs of \`planChange\` in-process (parsing excluded). Peak RSS is the whole process (fleet generation included); heap growth is what planning adds. The lower bound is computed independently from the constraints (\`functions/core/change/plan/lower-bound.ts\`). Machine: ${machine}.`,
  '',
  '| instances | services | zones | median ms | min–max ms | peak RSS MB | heap growth MB | waves | lower bound | over bound | planned / skipped |',
  '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows,
  '',
  `End to end, \`fleetops plan --json\` on a ${cli.instances.toLocaleString('en-US')}-instance inventory file (${cli.services.toLocaleString('en-US')} services, ${cli.zones} zones: read, validate, plan, print): median ${fmt(cli.medianMs, 0)} ms of ${cli.runs} runs (bare \`node -e 0\`: ${fmt(cli.bareNodeMs, 0)} ms).`,
  '',
  '### Rollout state transitions',
  '',
  'The real rollout ASL run by aws-local-stepfunctions over real plans of synthetic fleets (3 zones), its Task states answering as the handlers do when nothing has to wait; states entered per execution (Step Functions bills state transitions; an execution history holds at most 25,000 events).',
  '',
  '| change | instances | waves | state transitions | per wave |',
  '|---|---:|---:|---:|---:|',
  ...transitions.map((t) => {
    const waves = t.waves + (t.rollbackWaves ?? 0);
    const what =
      t.rollbackWaves === undefined
        ? 'completes'
        : `last wave fails; rolled back in ${t.rollbackWaves} waves (newest first, 2× wave size)`;
    return `| ${what} | ${t.instances.toLocaleString('en-US')} | ${t.waves}${t.rollbackWaves === undefined ? '' : ` + ${t.rollbackWaves}`} | ${t.transitions.toLocaleString('en-US')} | ${fmt(t.transitions / waves, 1)} |`;
  }),
  '',
  '### Store',
  '',
  `Against a local moto server, one run on a fresh table (moto's times are the emulator's, not DynamoDB's: it copies the whole table on every transaction and serves one request at a time, so a lease run takes minutes there; the request counts are the figures that carry over to DynamoDB).`,
  '',
  '| operation | requests | time on moto (ms) |',
  '|---|---|---:|',
  `| lease a ${store.lease.instances.toLocaleString('en-US')}-instance wave (${store.lease.services} services, budgets reserved) | ${total(store.lease.acquireRequests)}: ${requestList(store.lease.acquireRequests)} | ${fmt(store.lease.acquireMedianMs, 0)} |`,
  `| release it | ${total(store.lease.releaseRequests)}: ${requestList(store.lease.releaseRequests)} | ${fmt(store.lease.releaseMedianMs, 0)} |`,
  ...store.sync.map(
    (s) =>
      `| inventory ${s.label}: EC2 | ${total(s.ec2Requests)}: ${requestList(s.ec2Requests)} (paced at 15/s, bursts of 15) | ${fmt(s.ms, 0)} |`,
  ),
  ...store.sync.map(
    (s) =>
      `| inventory ${s.label}: DynamoDB (${s.written.toLocaleString('en-US')} written) | ${total(s.dynamoRequests)}: ${requestList(s.dynamoRequests)} | |`,
  ),
  '',
  '### Inventory sweep: requests with target groups and Auto Scaling groups',
  '',
  `\`bench/sweep-requests.ts\`: ${sweep.instances.toLocaleString('en-US')} instances, ${sweep.services} services, each one Auto Scaling group and one managed target group of ${sweep.perService} (and ${sweep.unmanagedTargetGroups} unmanaged target groups); the real adapters and \`syncInventory\` over SDK clients answered and counted by aws-sdk-client-mock. The least paced time is what the default token buckets allow (ELB Describe* at 8/s after a burst of 32 decides it).`,
  '',
  `| operation | ${sweep.sweeps.map((s) => s.label).join(' | ')} |`,
  `|---|${sweep.sweeps.map(() => '---:').join('|')}|`,
  ...Object.keys(sweep.sweeps[0].requests)
    .filter((op) => sweep.sweeps.some((s) => s.requests[op] > 0))
    .map((op) => `| ${op} | ${sweep.sweeps.map((s) => s.requests[op]).join(' | ')} |`),
  `| total | ${sweep.sweeps.map((s) => total(s.requests)).join(' | ')} |`,
  `| instances written | ${sweep.sweeps.map((s) => s.written.toLocaleString('en-US')).join(' | ')} |`,
  `| least paced time (s) | ${sweep.sweeps.map((s) => fmt(s.pacedSeconds)).join(' | ')} |`,
  '',
  `Lifecycle states through DescribeAutoScalingInstances (50 ids a request) would take ${sweep.describeAutoScalingInstancesInstead} requests instead of ${sweep.sweeps[0].requests.DescribeAutoScalingGroups} DescribeAutoScalingGroups.`,
  '',
  '### Lambda handlers: bundle size and import time',
  '',
  `Each handler bundled as CDK bundles it (\`lib/bundling.ts\`, \`bundleHandler\`: esbuild, ES modules, the AWS SDK bundled and tree-shaken with the schema-keys plugin, credentials from the environment only, minified, source maps without sources), then imported in a fresh Node process started with the functions' \`NODE_OPTIONS\` (\`${bundles.nodeOptions}\`); median of ${bundles.runs} runs per handler, every import preceded by a bare \`node -e 0\` (one baseline: the median of all of them). Targets: under 1 MB, import within 2× of bare Node.`,
  '',
  '| handler | bundle | import (ms) | bare node (ms) | ratio | targets |',
  '|---|---:|---:|---:|---:|---|',
  ...bundles.handlers.map(
    (b) =>
      `| ${b.handler} | ${fmt(b.bytes / 1024, 0)} KB | ${b.importMs} | ${b.bareNodeMs} | ${fmt(b.ratio, 2)}× | ${b.bytes < 1024 * 1024 ? 'size ✓' : 'size ✗'}, ${b.ratio <= 2 ? 'import ✓' : 'import ✗'} |`,
  ),
  ...(floor
    ? [
        '',
        `The floor row bundles nothing but the DynamoDB document client (\`bench/sdk-floor.ts\`), which every handler needs: ${fmt(floor.ratio, 2)}× bare Node by itself, which leaves ${Math.max(0, 2 * floor.bareNodeMs - floor.importMs)} ms for everything else a handler loads within the 2× target. What each adds beyond the floor: ${bundles.handlers
          .filter((h) => h !== floor)
          .map((h) => `${h.handler} +${h.importMs - floor.importMs} ms`)
          .join(', ')}.`,
      ]
    : []),
  '',
  '### Remediation: the learned ladder against the fixed one and an oracle',
  '',
  `A simulation (\`sim/remediation-sim.ts\`; every parameter, and where its value comes from, in \`REMEDIATION_SIM_PARAMETERS\`): ${remediation.faults.toLocaleString('en-US')} root faults arriving over about four weeks, each of a hidden cause. **Hardware** (a sick host: 40% of the faults at base odds, scaled by the instance family, ×3 for m4/c4, ×1 m5/c5, ×0.4 m6i, ×0.3 m7g, and by the host's age, ×2 under 7 days, ×0.7 to 90 days, ×2 beyond) shows half the time as an instance status-check failure, half as a system one. A reboot keeps the instance on its host: it fixes the fault for good 5% of the time, brings the guest back 50% of the time (the checks pass, the case ends recovered) while the host keeps the fault and fails the instance again after an exponential delay with a mean of 4 h (a relapse: the same fault's next episode, nearly always within the 24 h relapse window), and does nothing otherwise; a stop-start (a new host) fixes it 90% of the time, a replace 99%. **Software** (in the guest) shows as an instance check 98% of the time; a reboot fixes it for good 85%, a stop-start 90%, a replace 99%, and once fixed it does not come back. Attempts are drawn independently. About a quarter of the faults (${remediation.repeatFaults.toLocaleString('en-US')} here) are new, unrelated faults on an instance that failed days before, keeping its last cause 80% of the time when a reboot fixed it (same host, same workload). Reboot 3, stop-start 8, replace 15 min, plus 5 min to verify each; a page costs 60 min and a person fixes the fault. Apart from AWS's own facts (a reboot stays on the host, a stop-start moves an EBS-backed instance) and the persistence of hardware faults (memory errors are mostly hard errors that recur), these rates are guesses, chosen before looking at any result; the result depends most on the reboot's 50% restore. **Time to recover is per root fault**: the minutes out of service summed over its episodes (each from the failure to the verified recovery, or to the person's fix) until it is fixed for good; the hours in service between relapses do not count. Every policy meets the same faults and the same outcome draws; medians over ${remediation.seeds} seeds. The learned ladder is the deployed logic itself (\`nextStep\`, \`relapseOf\`, \`revisedOutcome\`, \`lastRemediationOf\`, \`contextKeys\`, with their defaults). The oracle knows each fault's cause and takes, in every episode, the order with the least expected time per fault for that cause, relapses included (a host: stop-start, replace, reboot, page; software: the fixed ladder's order); it sees no outcome in advance, so no policy beats it in expectation, though one may be luckier on a seed, and what a policy does to an instance (a stop-start renews its host age) changes that instance's later faults a little.`,
  '',
  '| policy | mean time to recover per fault (min) | p90 (min) | episodes (relapses) | actions | pages |',
  '|---|---:|---:|---:|---:|---:|',
  ...(
    [
      ['fixed ladder (reboot → stop-start → replace → page, every case fresh)', 'fixed'],
      ['learned per failure kind, no relapse memory (the first learning ladder)', 'contextFree'],
      ['learned with context (family, host age; pooled posteriors), no relapse memory', 'noRelapse'],
      ['learned per failure kind, with relapse memory', 'noContext'],
      [
        '**deployed**: context and relapse memory (a relapse within 24 h continues the ladder, revises the last recovery, pages at the flap limit; what helped before as a hint)',
        'learned',
      ],
      ['oracle (knows the cause)', 'oracle'],
    ] as const
  ).map(
    ([label, key]) =>
      `| ${label} | ${fmt(remediation[`${key}MeanMinutes`], 2)} | ${remediation[`${key}P90Minutes`]} | ${remediation[`${key}Episodes`].toLocaleString('en-US')} (${remediation[`${key}Relapses`].toLocaleString('en-US')}) | ${remediation[`${key}Actions`].toLocaleString('en-US')} | ${remediation[`${key}Pages`]} |`,
  ),
  '',
  `Learned / fixed mean time to recover per fault: **${fmt(remediation.ratio, 3)}**; learned / oracle: **${fmt(remediation.learnedOracleRatio, 3)}**; the oracle itself is ${fmt(remediation.oracleFixedRatio, 3)}× the fixed ladder, about the best any policy could do in this world. Where the gain comes from: context without relapse memory ${fmt(remediation.ratioNoRelapse, 3)}× the fixed ladder, relapse memory per kind ${fmt(remediation.ratioNoContext, 3)}×, both ${fmt(remediation.ratio, 3)}× (per kind without either: ${fmt(remediation.ratioContextFree, 3)}×): relapse memory carries it, because without it a reboot that brings a sick host's guest back counts as a success and stays the first step. Counted per episode instead (each case on its own, as before), the deployed ladder is ${fmt(remediation.episodeRatio, 3)}× the fixed ladder: its stop-starts take longer than reboots, and the relapses they spare are invisible case by case. Ranking steps by success probability alone (ignoring their duration) would be ${fmt(remediation.ratioIgnoringCost, 2)}× the fixed ladder: slower.`,
  '',
  '### Simulation: `fleetops simulate` at 100,000 instances',
  '',
  `\`fleetops simulate --instances ${simulation.instances.toLocaleString('en-US')} --zones ${simulation.zones} --services ${simulation.services} --fault-rate ${simulation.faultRate} --seed ${simulation.seed}\`: the real planner and the deployed state machines (the ASL run by aws-local-stepfunctions, each Task bound to the real step dispatch, every Wait, retry and timeout on the virtual clock) over in-memory ports; a fleet-wide reboot while faults arrive and are remediated; every invariant checked at every lease grant, action and record. ${simulation.runs} runs, each in a fresh process (\`bench/simulate-case.ts\`); ${simulation.deterministic ? 'their reports were identical but for the wall-clock time' : '**their reports differed**'}.`,
  '',
  '| wall clock, median (min–max) | instances / s | change | waves run / planned | makespan (simulated) | faults | remediation time to recover: mean / p50 / p90 (min) | EC2 requests (token-bucket wait) | peak budget use | invariant violations |',
  '|---:|---:|---|---:|---:|---:|---|---:|---:|---:|',
  `| ${fmt(simulation.medianMs / 1000)} s (${fmt(simulation.minMs / 1000)}–${fmt(simulation.maxMs / 1000)}) | ${simulation.instancesPerSecond.toLocaleString('en-US')} | ${simulation.changeStatus} (${simulation.changeAttempts} attempt${simulation.changeAttempts === 1 ? '' : 's'}) | ${simulation.wavesRun} / ${simulation.waves} | ${fmt(simulation.makespanMinutes / 60)} h | ${simulation.faults} | ${fmt(simulation.mttrMinutes.mean, 1)} / ${simulation.mttrMinutes.p50} / ${simulation.mttrMinutes.p90} | ${simulation.ec2Requests.toLocaleString('en-US')} (${fmt(simulation.ec2TokenWaitSeconds, 0)} s) | ${fmt(simulation.maxBudgetRatio * 100, 0)}% (faults only above 100%) | ${simulation.violations} |`,
  '',
  '### Local runtime: `npm start`',
  '',
  `One run of the local runtime end to end (\`bench/local-runtime-case.ts\`: moto server start, seeding ${localRun.instances} instances, the three scenes, the reports, every process stopped), dependencies already installed: **${fmt(localRun.seconds, 0)} s** (the scenes themselves ${fmt(localRun.runSeconds, 0)} s). Changes: ${Object.entries(
    localRun.changes,
  )
    .map(([id, status]) => `${id} ${status}`)
    .join(', ')}; remediation cases: ${Object.entries(localRun.remediations)
    .map(([status, n]) => `${n} ${status}`)
    .join(
      ', ',
    )}; ${localRun.pages} page${localRun.pages === 1 ? '' : 's'}; invariant checks ${localRun.checksOk ? 'all ok' : '**violated**'}.`,
  '',
].join('\n');

mkdirSync('bench/results', { recursive: true });
writeFileSync(
  'bench/results/bench.json',
  `${JSON.stringify({ machine, runs: RUNS, plan, cli, transitions, bundles, remediation, store, sweep, simulation, localRun }, null, 2)}\n`,
);
writeFileSync('bench/results/bench.md', markdown);
process.stdout.write(`${markdown}\nwritten: bench/results/bench.json, bench/results/bench.md\n`);
