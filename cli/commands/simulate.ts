import { type Command, Option } from 'commander';
import {
  FLEET_SIM_DEFAULTS,
  type FleetSimReport,
  type Quantiles,
  rehearseChange,
  SIM_ACTIONS,
  SIM_DEFECTS,
  type SimAction,
  type SimDefect,
  STORM_AT_MINUTE,
  simulateFleet,
} from '../../sim/fleet-sim';
import { parseScenario, scenarioFleet } from '../../sim/scenario';
import { loadChangeSpec, loadFleet, loadServices, readText } from '../input-files';
import { type CliIO, ExitCode, UsageError } from '../io';

interface SimulateOptions {
  instances?: string;
  zones?: string;
  /** A count (synthetic), or the services file (with --fleet). */
  services?: string;
  faultRate?: string;
  churnRate: string;
  fleet?: string;
  spec?: string;
  scenario?: string;
  seed: string;
  action: SimAction;
  bakeMinutes: string;
  retryRate: string;
  autoScaling: boolean;
  traffic: boolean;
  injectDefect?: SimDefect;
  storm?: string;
  incidents: boolean;
  json: boolean;
}

/** A whole number from `min` to `max`, or a usage error naming the flag. */
function wholeNumber(flag: string, raw: string, min: number, max: number): number {
  const value = /^\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max)
    throw new UsageError(`${flag}: expected a whole number from ${min} to ${max}, found "${raw}"`);
  return value;
}

/** A number from `min` to `max` (decimal or exponent notation), or a usage error naming the flag. */
function numberIn(flag: string, raw: string, min: number, max: number, what: string): number {
  const value = /^[0-9.eE+-]+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!(value >= min && value <= max)) throw new UsageError(`${flag}: expected ${what}, found "${raw}"`);
  return value;
}

/** Options only the synthetic mode takes (the files say these in a rehearsal). */
const SYNTHETIC_ONLY = [
  ['instances', '--instances'],
  ['zones', '--zones'],
  ['action', '--action'],
  ['bakeMinutes', '--bake-minutes'],
  ['autoScaling', '--auto-scaling'],
  ['storm', '--storm'],
  ['incidents', '--no-incidents'],
] as const;

export function simulateCommand(program: Command, io: CliIO, setExit: (code: number) => void): void {
  const d = FLEET_SIM_DEFAULTS;
  program
    .command('simulate')
    .description(
      'Run FleetOps over a synthetic fleet on a virtual clock: a change rolled out over every service ' +
        'while instance faults arrive and are remediated, all by the real planner and the deployed rollout ' +
        "and remediation state machines (their Tasks running the Lambdas' steps) over in-memory AWS with " +
        'target groups (draining, health checks) and Auto Scaling groups (Standby, replacement of unhealthy ' +
        'members); checks the invariants (disruption budget, one actor per instance, at most once, and the ' +
        'traffic protocol: out-of-traffic budget, drain before acting, no replacement, back in service; ' +
        "remediation's in-flight caps and breaker; and that a completed change covered its target) at every " +
        'lease grant, action, record and change of the ' +
        'world. Exit 1 if any is violated. With --fleet, --services and --spec it rehearses your change over ' +
        'your fleet (as `fleetops fleet export` writes it) instead, with --scenario events at their offsets.',
    )
    .option('--instances <n>', `instances in the synthetic fleet (default: ${d.instances})`)
    .option('--zones <n>', `availability zones (default: ${d.zones})`)
    .option(
      '--services <n|file>',
      'synthetic: how many services (sizes heavy-tailed, budgets drawn from common declarations; ' +
        `default: ${d.services}); with --fleet: the services file (YAML or JSON) with their budgets`,
    )
    .option(
      '-f, --fleet <file>',
      'rehearse over this fleet file (JSON, as `fleetops fleet export` writes it)',
    )
    .option(
      '-c, --spec <file>',
      'with --fleet: the change spec to rehearse (YAML), planned by the real planner',
    )
    .option(
      '--scenario <file>',
      'with --fleet: timed events (YAML): faults by zone, service or fraction, terminate and launch, ' +
        'latency-regression, freeze (see examples/rehearsal/scenario.yaml)',
    )
    .option(
      '--fault-rate <r>',
      'instance faults per instance per simulated hour (0.0001 = 0.01% of the fleet an hour; ' +
        `default: ${d.faultRate}, and 0 with --fleet)`,
    )
    .option(
      '--churn-rate <r>',
      'instances terminated and launched per instance per simulated hour, each (scale-ins and scale-outs)',
      String(d.churnRate),
    )
    .option('--seed <n>', 'seed: the same arguments give the same report', String(d.seed))
    .option(
      '--storm <f>',
      `a storm: this fraction of the first zone's instances fail their system status check at once, ${STORM_AT_MINUTE} minutes in`,
    )
    .option(
      '--no-incidents',
      "without the default incidents: hosts failing in one zone under the change's canary (twice the zone's " +
        'in-flight cap of instances, some of them in the canary), and a zone event six hours in (30% of a zone ' +
        'the change is not at work in fail their system check for 20 minutes); --storm replaces them',
    )
    .addOption(
      new Option('--action <type>', 'the change: a reboot, or a Run Command document')
        .choices(SIM_ACTIONS)
        .default(d.action),
    )
    .option('--bake-minutes <n>', 'bake after each wave', String(d.bakeMinutes))
    .option(
      '--retry-rate <p>',
      'probability that Step Functions delivers an apply, decide, act or verify step twice (a lost Lambda response)',
      String(d.retryRate),
    )
    .option(
      '--auto-scaling',
      'every service in an Auto Scaling group (otherwise about 30%), so remediation may replace any instance',
      false,
    )
    .option('--no-traffic', 'no target groups, and Auto Scaling groups only with --auto-scaling')
    .addOption(
      new Option(
        '--inject-defect <defect>',
        'run with a deliberate defect, to see the invariant checks catch it: a broken lease store ' +
          '(ignore-budgets, ignore-leases, no-fencing, ignore-caps), skip-standby (EnterStandby and ' +
          "DeregisterTargets do nothing), or ignore-breaker (the breaker's counts say every scope is healthy)",
      ).choices(SIM_DEFECTS),
    )
    .option('--json', 'print the report as JSON (wall-clock figures under "wallClock")', false)
    .action(async (options: SimulateOptions, command: Command) => {
      const explicit = (key: string) => command.getOptionValueSource(key) === 'cli';
      const seed = wholeNumber('--seed', options.seed, 0, 2 ** 32 - 1);
      const churnRate = numberIn('--churn-rate', options.churnRate, 0, 1, 'a fraction from 0 to 1');
      const retryRate = numberIn('--retry-rate', options.retryRate, 0, 1, 'a probability from 0 to 1');
      const defect = options.injectDefect ? { defect: options.injectDefect } : {};
      let report: FleetSimReport;
      if (options.fleet !== undefined || options.spec !== undefined || options.scenario !== undefined) {
        if (options.fleet === undefined || options.spec === undefined || options.services === undefined)
          throw new UsageError(
            'a rehearsal takes --fleet, --services (the file) and --spec together (--scenario is optional)',
          );
        for (const [key, flag] of SYNTHETIC_ONLY)
          if (explicit(key))
            throw new UsageError(
              `${flag}: only for the synthetic fleet; a rehearsal takes it from its files`,
            );
        const [fleet, services, spec] = await Promise.all([
          loadFleet(options.fleet),
          loadServices(options.services),
          loadChangeSpec(options.spec),
        ]);
        const scenario =
          options.scenario === undefined
            ? undefined
            : parseScenario(
                await readText(options.scenario),
                options.scenario,
                scenarioFleet(fleet.instances),
              );
        report = await rehearseChange({
          fleet,
          services,
          spec,
          ...(scenario ? { scenario } : {}),
          faultRate:
            options.faultRate === undefined
              ? 0
              : numberIn('--fault-rate', options.faultRate, 0, 1, 'a fraction from 0 to 1'),
          churnRate,
          seed,
          retryRate,
          traffic: options.traffic,
          ...defect,
          sources: {
            fleet: options.fleet,
            services: options.services,
            spec: options.spec,
            ...(options.scenario ? { scenario: options.scenario } : {}),
          },
        });
      } else {
        const instances = wholeNumber('--instances', options.instances ?? String(d.instances), 1, 1_000_000);
        report = await simulateFleet({
          instances,
          zones: wholeNumber('--zones', options.zones ?? String(d.zones), 1, 26),
          services: wholeNumber('--services', options.services ?? String(d.services), 1, instances),
          faultRate: numberIn(
            '--fault-rate',
            options.faultRate ?? String(d.faultRate),
            0,
            1,
            'a fraction from 0 to 1',
          ),
          churnRate,
          seed,
          action: options.action,
          bakeMinutes: numberIn('--bake-minutes', options.bakeMinutes, 0, 1440, 'minutes from 0 to 1440'),
          retryRate,
          autoScaling: options.autoScaling,
          traffic: options.traffic,
          incidents: options.incidents,
          ...defect,
          ...(options.storm !== undefined
            ? { storm: numberIn('--storm', options.storm, 0, 1, 'a fraction from 0 to 1') }
            : {}),
        });
      }
      io.out(options.json ? `${JSON.stringify(report, null, 2)}\n` : renderSimulation(report));
      if (report.invariants.violations > 0) {
        io.err(`${report.invariants.violations} invariant violations: see the report\n`);
        setExit(ExitCode.failure);
      }
    });
}

const hours = (minutes: number) =>
  minutes >= 120 ? `${Math.floor(minutes / 60)} h ${Math.round(minutes % 60)} min` : `${minutes} min`;
const list = (r: Readonly<Record<string, number>>) =>
  Object.entries(r)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || 'none';
const seconds = (s: number | null) => (s === null ? 'none' : `${s} s`);
const spread = (q: Quantiles | null) =>
  q ? `mean ${q.mean} min, p50 ${q.p50}, p90 ${q.p90}, max ${q.max}` : 'nothing recovered';

function coverageLine(r: FleetSimReport): string {
  const v = r.invariants.coverage;
  if (!v) return '  coverage: not checked (the change did not complete)';
  return (
    `  coverage of the target at the end: ${v.targeted} instances: ${v.changed} changed, not eligible ${list(v.notEligible)}, ` +
    `${v.listed} listed as skipped, ${v.joinedAfterLastLook} joined after the last look, ${v.uncovered} uncovered`
  );
}

/** The report in words, one topic a paragraph. */
export function renderSimulation(r: FleetSimReport): string {
  const p = r.parameters;
  const c = r.change;
  const h = r.rehearsal;
  const lines = [
    ...(h
      ? [
          `rehearsal of ${h.spec} over ${h.fleet} with ${h.services}${h.scenario ? `, scenario ${h.scenario}` : ''}`,
          ...h.warnings.map((w) => `  note: ${w}`),
          ...h.events.map((e) => `  at ${e.at} ${e.kind}: ${e.applied}`),
        ]
      : []),
    `simulated ${p.instances} instances, ${p.services} services, ${p.zones} zones; fault rate ${p.faultRate}/instance/h` +
      `${p.churnRate > 0 ? `; churn ${p.churnRate}/instance/h` : ''}; seed ${p.seed}` +
      (p.defect ? `; DEFECT INJECTED: ${p.defect}` : '') +
      (p.storm !== undefined ? `; storm: ${p.storm} of the first zone at minute ${STORM_AT_MINUTE}` : ''),
    ...(r.faults.incidents ?? []).map((e) => `  at ${e.at} ${e.kind}: ${e.applied}`),
    '',
    `change ${c.id} (${p.action}, bake ${p.bakeMinutes} min): ${c.status} — ${c.reason}`,
    `  makespan ${hours(c.makespanMinutes)} simulated (plan predicted ${hours(c.predictedMinutes)}` +
      `${c.makespanToPredicted === null ? '' : `, ratio ${c.makespanToPredicted}`}); ` +
      `${c.wavesRun} waves run of ${c.waves} planned; ${c.planned} instances planned, ${c.skipped} skipped`,
    ...(c.predictedFinalWaves !== undefined
      ? [
          `  the prediction counted ${c.predictedFinalWaves} final waves` +
            (c.predictedLaunchesPerHour !== undefined
              ? ` (${c.predictedLateJoiners} late joiners expected at the ${c.predictedLaunchesPerHour} launches/h of the day before)`
              : ''),
        ]
      : []),
    `  gates: ${list(c.gates)}; approvals ${c.approvals}; lease refusals (waiting for budget) ${c.leaseRefusals}; ` +
      `tasks delivered twice ${c.retriedTasks}`,
    ...(c.attempts.length > 1
      ? c.attempts.map(
          (a) =>
            `  ${a.id}: ${a.waves} waves, minutes ${a.startedMinute}–${a.endedMinute ?? '?'}, ${a.status} — ${a.reason}`,
        )
      : []),
    `  plan revisions: ${c.revisionCount}`,
    ...c.revisions
      .slice(0, 10)
      .map(
        (v) => `    ${v.change} r${v.revision} at wave ${v.wave} (${v.at}): ${v.reason} → ${v.waves} waves`,
      ),
    ...(c.revisionCount > 10 ? [`    … ${c.revisionCount - 10} more (--json lists them all)`] : []),
    ...(r.churn
      ? [
          `churn: ${r.churn.terminated} scaled in, ${r.churn.launched} launched (${r.churn.launchedTargeted} in the target, ` +
            `${r.churn.launchedChanged} of them changed); scale-ins refused: ${list(r.churn.refused)}`,
        ]
      : []),
    '',
    `budgets: ${r.budgets.services} services (${r.budgets.withoutBudget} with no budget); peak use / budget: ` +
      `max ${r.budgets.maxRatio}, ${r.budgets.atBudget} services reached 100%, ${r.budgets.overBudget} went over (by faults or churn alone, never by a grant)`,
    ...r.budgets.top.map(
      (t) =>
        `  ${t.service}  peak ${t.peak} of ${t.budget} overall (${Math.round((100 * t.peak) / t.budget)}%), ` +
        `in a zone ${Math.round(t.zoneRatio * 100)}% of its budget`,
    ),
    '',
    `faults: ${r.faults.injected} (${r.faults.absorbed} on instances already down); recovered ${r.faults.recovered} ` +
      `(by remediation ${r.faults.recoveredBy.remediation}, by the change ${r.faults.recoveredBy.change}, by a person ${r.faults.recoveredBy.person}, ` +
      `replaced by their group ${r.faults.recoveredBy.group}, cleared by itself ${r.faults.recoveredBy.itself}), ` +
      `still broken ${r.faults.unrecovered}`,
    `  time to recover: ${spread(r.faults.recoveryMinutes)}`,
    `  by remediation alone: ${spread(r.faults.recoveryMinutesByRemediation)}`,
    `remediation: ${r.remediation.cases} cases: ${list(r.remediation.outcomes)}; decisions: ${list(r.remediation.decisions)}; ` +
      `pages: ${r.remediation.pages.instance} about instances, ${r.remediation.pages.breaker} breaker` +
      (r.remediation.pages.breaker > 0 ? ` (${list(r.remediation.pages.breakerByScope)})` : ''),
    ...(Object.keys(r.remediation.inFlight).length > 0
      ? [
          `  most in flight at once / cap: ${Object.entries(r.remediation.inFlight)
            .map(([scope, f]) => `${scope} ${f.peak}/${f.cap}`)
            .join(', ')}`,
        ]
      : []),
    ...(r.remediation.itemsReadPerDecision
      ? [
          `  items read per decision: mean ${r.remediation.itemsReadPerDecision.mean}, max ${r.remediation.itemsReadPerDecision.max}`,
        ]
      : []),
    `actions: change ${list(r.actions.change)}; remediation ${list(r.actions.remediation)}`,
    '',
    `EC2 requests: ${r.requests.ec2Total} (${list(r.requests.ec2)}); token-bucket waits ${r.requests.ec2TokenWaitSecondsTotal} s ` +
      `(${list(r.requests.ec2TokenWaitSeconds)})`,
    `ELB requests: ${r.requests.elbTotal} (${list(r.requests.elb)}); token-bucket waits ${r.requests.elbTokenWaitSecondsTotal} s`,
    `Auto Scaling requests: ${r.requests.autoScalingTotal} (${list(r.requests.autoScaling)})`,
    `other requests: ${list(r.requests.other)}`,
    '',
    `traffic: ${r.traffic.targetGroups} target groups (${r.traffic.instancesInTargetGroups} instances), ` +
      `${r.traffic.groups} Auto Scaling groups (${r.traffic.instancesInGroups} instances)` +
      (p.traffic ? '' : ' (--no-traffic)'),
    `  per wave (median of ${r.traffic.wavesMeasured}): draining ${seconds(r.traffic.drainSecondsPerWave)}, ` +
      `back to healthy ${seconds(r.traffic.readySecondsPerWave)}; out of traffic: peak ${r.traffic.maxOutOfTrafficRatio} of a budget`,
    `  replaced by their groups: ${r.traffic.replacedByGroups} (after FleetOps acted on them: ${r.traffic.replacedAfterFleetOps}); ` +
      `traffic exits left at the end ${r.traffic.exitsLeft}`,
    '',
    `invariants (${r.invariants.checked.join(', ')}): ${r.invariants.checks.grants} lease grants, ${r.invariants.checks.acts} actions, ` +
      `${r.invariants.checks.records} records checked: ${r.invariants.violations === 0 ? 'no violation' : `${r.invariants.violations} VIOLATIONS (${list(Object.fromEntries(Object.entries(r.invariants.byInvariant).filter(([, n]) => n > 0)))})`}`,
    coverageLine(r),
    ...r.invariants.list
      .slice(0, 20)
      .map((v) => `  ${v.invariant}  ${v.subject}  at ${v.at} (minute ${v.minute}): ${v.detail}`),
    '',
    ...(r.simulation.sweepErrors > 0
      ? [
          `inventory sweep runs that failed: ${r.simulation.sweepErrors} (first at ${r.simulation.firstSweepError})`,
        ]
      : []),
    ...(r.simulation.taskOverruns
      ? [
          `Tasks past their Lambda's timeout (the injected defect's doing): ${r.simulation.taskOverruns.count} (first at ${r.simulation.taskOverruns.first})`,
        ]
      : []),
    `simulated ${hours(r.simulation.simulatedMinutes)} in ${(r.wallClock.ms / 1000).toFixed(1)} s wall-clock`,
  ];
  return `${lines.join('\n')}\n`;
}
