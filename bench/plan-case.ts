// One planner benchmark case, in its own process so that its peak memory is its own.
// Usage: tsx bench/plan-case.ts <instances> <services> <zones> <runs>   → one JSON line on stdout

import { waveLowerBound } from '../functions/core/change/plan/lower-bound';
import { recheckPlan } from '../functions/core/change/plan/plan-check';
import { planChange } from '../functions/core/change/plan/planner';
import { changeSpecSchema } from '../functions/core/change/spec';
import { serviceCatalog } from '../functions/core/fleet/services';
import { syntheticFleet } from '../sim/world/synthetic-fleet';

const [instances, services, zones, runs] = process.argv.slice(2).map(Number);
const fleet = syntheticFleet({ instances, services, zones, seed: 42 });
const catalog = serviceCatalog(fleet.services);
const spec = changeSpecSchema.parse({
  id: 'bench',
  description: 'benchmark: patch every instance',
  target: { tags: {} },
  action: { type: 'ssm-command', document: 'AWS-RunPatchBaseline' },
  risk: 'medium',
  strategy: { canary: 1, growth: { mode: 'exponential', factor: 2 } },
});

global.gc?.();
const heapBefore = process.memoryUsage().heapUsed;
const times: number[] = [];
let plan = planChange({ instances: fleet.instances, catalog, spec }); // warm-up
let heapPeak = process.memoryUsage().heapUsed - heapBefore;
for (let i = 0; i < runs; i++) {
  const start = process.hrtime.bigint();
  plan = planChange({ instances: fleet.instances, catalog, spec });
  times.push(Number(process.hrtime.bigint() - start) / 1e6);
  heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed - heapBefore);
}
const jsonStart = process.hrtime.bigint();
const json = JSON.stringify(plan);
const serializeMs = Number(process.hrtime.bigint() - jsonStart) / 1e6;
times.sort((a, b) => a - b);
const lowerBound = waveLowerBound(fleet.instances, catalog, spec);
// What the rollout's start adds: the plan checked again against the fleet (startRollout).
const recheckStart = process.hrtime.bigint();
const violations = recheckPlan(plan, { instances: fleet.instances, catalog, spec }).length;
const recheckMs = Number(process.hrtime.bigint() - recheckStart) / 1e6;
process.stdout.write(
  `${JSON.stringify({
    instances,
    services,
    zones,
    runs,
    medianMs: times[Math.floor(times.length / 2)],
    minMs: times[0],
    maxMs: times[times.length - 1],
    serializeMs,
    planBytes: json.length,
    heapGrowthMB: heapPeak / 2 ** 20,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    waves: plan.waves.length,
    lowerBound,
    planned: plan.summary.planned,
    skipped: plan.summary.skipped,
    recheckMs,
    violations,
  })}\n`,
);
