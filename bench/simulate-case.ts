// `fleetops simulate` at the scale FleetOps is designed for: 100,000 instances, 3 zones, 500
// services, a fleet-wide reboot rolled out while faults arrive (FAULT_RATE per instance per
// hour) and are remediated, every invariant checked as it runs. Runs the simulation N times
// (argv[2], default 3), each in a fresh process, and prints ONE JSON line: the median wall-clock
// ms, instances simulated per wall-clock second, and the simulation's figures (identical across
// runs: it is deterministic by seed).
import { execFileSync } from 'node:child_process';
import type { FleetSimReport } from '../sim/fleet-sim';

const RUNS = Number(process.argv[2] ?? 3);
const INSTANCES = 100_000;
const FAULT_RATE = 0.00002;
const SEED = 1;

if (!(Number.isInteger(RUNS) && RUNS >= 1))
  throw new Error(`expected a whole number of runs ≥ 1, found ${process.argv[2]}`);

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const reports: FleetSimReport[] = [];
for (let k = 0; k < RUNS; k++) {
  const out = execFileSync(
    process.execPath,
    [
      '--import',
      'tsx',
      'bin/fleetops.ts',
      'simulate',
      '--instances',
      String(INSTANCES),
      '--zones',
      '3',
      '--services',
      '500',
      '--fault-rate',
      String(FAULT_RATE),
      '--seed',
      String(SEED),
      '--json',
    ],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  reports.push(JSON.parse(out) as FleetSimReport);
}
const ms = median(reports.map((r) => r.wallClock.ms));
const r = reports[0];
process.stdout.write(
  `${JSON.stringify({
    instances: INSTANCES,
    zones: 3,
    services: 500,
    faultRate: FAULT_RATE,
    seed: SEED,
    runs: RUNS,
    medianMs: Math.round(ms),
    minMs: Math.round(Math.min(...reports.map((x) => x.wallClock.ms))),
    maxMs: Math.round(Math.max(...reports.map((x) => x.wallClock.ms))),
    instancesPerSecond: Math.round(INSTANCES / (ms / 1000)),
    changeStatus: r.change.status,
    changeAttempts: r.change.attempts.length,
    makespanMinutes: r.change.makespanMinutes,
    waves: r.change.waves,
    wavesRun: r.change.wavesRun,
    faults: r.faults.injected,
    remediationCases: r.remediation.cases,
    mttrMinutes: r.faults.recoveryMinutes,
    ec2Requests: r.requests.ec2Total,
    ec2TokenWaitSeconds: r.requests.ec2TokenWaitSecondsTotal,
    maxBudgetRatio: r.budgets.maxRatio,
    violations: r.invariants.violations,
    deterministic: reports.every(
      (x) => JSON.stringify({ ...x, wallClock: 0 }) === JSON.stringify({ ...r, wallClock: 0 }),
    ),
  })}\n`,
);
