import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDemo } from '../../cli/local/demo';
import { CHECKOUT_TRAFFIC } from '../../cli/local/demo-fleet';
import { type RunRecord, renderHtml, renderText, trafficLine } from '../../cli/local/report';
import { servicesFileSchema } from '../../functions/core/fleet/services';

/**
 * `npm start`'s engine end to end on a smaller fleet (66 instances; the default is 324): its own
 * moto server, the stack's routing rules, both ASL files run by aws-local-stepfunctions with
 * the real handlers, the scheduled sweep, the three scenes (checkout, in an Auto Scaling group
 * behind a target group, stop-started through Standby alongside the others), and the report.
 */
describe('local runtime (npm start) on a small fleet', () => {
  let record: RunRecord;
  const lines: string[] = [];

  beforeAll(async () => {
    record = await runDemo({
      progress: (line) => lines.push(line),
      fleet: {
        traffic: CHECKOUT_TRAFFIC,
        services: {
          checkout: { perZone: 2 },
          web: { perZone: 6 },
          api: { perZone: 4 },
          worker: { perZone: 4 },
          cache: { perZone: 2 },
          db: { perZone: 2 },
          batch: { perZone: 2 },
        },
        budgets: servicesFileSchema.parse({
          services: {
            web: { maxUnavailable: '25%', maxUnavailablePerZone: '34%' },
            api: { maxUnavailable: '25%' },
            worker: { maxUnavailable: '25%' },
            cache: { maxUnavailable: 1 },
            db: { maxUnavailable: 1 },
            batch: { maxUnavailable: '50%' },
            checkout: { maxUnavailable: 2 },
          },
        }),
      },
      // 5 of zone c's 22 instances: over the breaker's 20%.
      rack: { web: 2, api: 1, worker: 1, batch: 1 },
    });
    // The run's record, for when a test below fails.
    writeFileSync(
      join(tmpdir(), 'fleetops-local-runtime-test.json'),
      JSON.stringify({ record, lines }, null, 2),
    );
  }, 600_000);

  it('rolls out the good change through its approval, and rolls the bad one back on the judge', () => {
    const status = Object.fromEntries(record.changes.map((c) => [c.id, c.status]));
    expect(status).toEqual({
      'patch-2026-11': 'completed',
      'checkout-hosts-2026-12': 'completed',
      'config-v43': 'rolled-back',
      'config-v43-rollback': 'completed',
    });
    const patch = record.changes.find((c) => c.id === 'patch-2026-11');
    // After the canary; a medium-risk change may also stop at its containment point.
    expect(patch?.approvals[0]?.wave).toBe(0);
    const bad = record.changes.find((c) => c.id === 'config-v43');
    expect(bad?.waves[0].verdict).toBe('fail');
    expect(bad?.waves[0].reason).toMatch(/judge: fail .*Latency: higher/);
  });

  it('remediates through the routing: a hang by reboot (once, though delivered twice), hardware by stop-start', () => {
    const byKind = (kind: string) =>
      record.remediations.filter((r) => r.kind === kind && r.status === 'recovered');
    expect(byKind('instance-status-check-failed').map((r) => r.tried)).toEqual([['reboot']]);
    expect(byKind('degraded-hardware').map((r) => r.tried)).toEqual([['stop-start']]);
    expect(lines.some((l) => /delivered twice/.test(l))).toBe(true);
  });

  it('stops at the storm: the breaker opens and one page says so', () => {
    const breakerPages = record.pages.filter((p) => /breaker open/.test(p.subject));
    expect(breakerPages).toHaveLength(1);
    expect(record.remediations.filter((r) => /breaker open/.test(r.reason)).length).toBeGreaterThan(0);
  });

  it('stop-starts checkout through Standby: in service never below its budget floor, none replaced', () => {
    const traffic = record.traffic;
    expect(traffic).toBeDefined();
    if (!traffic) return;
    expect(traffic.service).toBe('checkout');
    expect(traffic.samples.length).toBeGreaterThan(10);
    // 6 instances, 2 may be unavailable: at least 4 always serve.
    expect(new Set(traffic.samples.map((s) => s.targets))).toEqual(new Set([6]));
    expect(new Set(traffic.samples.map((s) => s.floor))).toEqual(new Set([4]));
    expect(traffic.samples.filter((s) => s.inService < s.floor)).toEqual([]);
    // Waves really went out of traffic (Standby, draining, initial health checks) and came back.
    expect(Math.min(...traffic.samples.map((s) => s.inService))).toBeLessThan(6);
    expect(traffic.samples.some((s) => s.standby > 0)).toBe(true);
    expect(traffic.samples.some((s) => s.draining > 0)).toBe(true);
    expect(traffic.samples.some((s) => s.initial > 0)).toBe(true);
    expect(traffic.samples.at(-1)).toMatchObject({ targets: 6, inService: 6, standby: 0 });
    expect(traffic.violations).toEqual([]);
    expect(traffic.replaced).toEqual([]);
    expect(traffic.maxActionsPerInstance).toBe(1);
    // Each wave drained for the deregistration delay and was healthy again after 2 × 5 s.
    expect(traffic.waves.length).toBeGreaterThanOrEqual(3);
    for (const w of traffic.waves) {
      expect(w.drainSeconds).toBeGreaterThanOrEqual(CHECKOUT_TRAFFIC.deregistrationDelaySeconds - 0.5);
      expect(w.readySeconds).toBeGreaterThanOrEqual(9.5);
    }
    expect(traffic.change?.predictedSecondsPerWave).toBe(15);
    // The plan predicted it too: 3 waves × 15 s (its trafficMinutes, rounded to a tenth).
    expect(traffic.change?.plannedSeconds).toBeGreaterThanOrEqual(42);
    expect(traffic.change?.plannedSeconds).toBeLessThanOrEqual(48);
    expect(trafficLine(record)).toMatch(
      /^traffic: checkout 6 targets, at least [45] in service throughout \(budget floor 4\), 0 replaced, draining\+readiness \+\d+ s per wave/,
    );
  });

  it('keeps every invariant it checks, and reports it all', () => {
    expect(record.checks.filter((c) => !c.ok)).toEqual([]);
    expect(record.checks).toHaveLength(5);
    expect(record.checks.some((c) => /^traffic: checkout never below/.test(c.what))).toBe(true);
    expect(record.budgets.length).toBeGreaterThan(10);
    const text = renderText(record);
    expect(text).toMatch(/config-v43: rolled-back/);
    const html = renderHtml(record);
    expect(html).toContain('<svg');
    expect(html).toContain('Waves per zone');
    expect(html).toContain('Unavailable instances against budget');
    expect(html).toContain('In-service targets against budget (checkout)');
    expect(text).toMatch(/traffic: checkout 6 targets/);
    expect(html).not.toMatch(/<script/);
  });
});
