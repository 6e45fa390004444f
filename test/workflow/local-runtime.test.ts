import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDemo } from '../../cli/local/demo';
import { type RunRecord, renderHtml, renderText } from '../../cli/local/report';
import { servicesFileSchema } from '../../functions/core/fleet/services';

/**
 * `npm start`'s engine end to end on a smaller fleet (60 instances; the default is 300): its own
 * moto server, the stack's routing rules, both ASL files run by aws-local-stepfunctions with
 * the real handlers, the scheduled sweep, the three scenes, and the report.
 */
describe('local runtime (npm start) on a small fleet', () => {
  let record: RunRecord;
  const lines: string[] = [];

  beforeAll(async () => {
    record = await runDemo({
      progress: (line) => lines.push(line),
      fleet: {
        services: {
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
          },
        }),
      },
      // 5 of zone c's 20 instances: over the breaker's 20%.
      rack: { web: 2, api: 1, worker: 1, batch: 1 },
    });
    // The run's record, for when a test below fails.
    writeFileSync(
      join(tmpdir(), 'fleetops-local-runtime-test.json'),
      JSON.stringify({ record, lines }, null, 2),
    );
  }, 300_000);

  it('rolls out the good change through its approval, and rolls the bad one back on the judge', () => {
    const status = Object.fromEntries(record.changes.map((c) => [c.id, c.status]));
    expect(status).toEqual({
      'patch-2026-11': 'completed',
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

  it('keeps every invariant it checks, and reports it all', () => {
    expect(record.checks.filter((c) => !c.ok)).toEqual([]);
    expect(record.checks).toHaveLength(4);
    expect(record.budgets.length).toBeGreaterThan(10);
    const text = renderText(record);
    expect(text).toMatch(/config-v43: rolled-back/);
    const html = renderHtml(record);
    expect(html).toContain('<svg');
    expect(html).toContain('Waves per zone');
    expect(html).toContain('Unavailable instances against budget');
    expect(html).not.toMatch(/<script/);
  });
});
