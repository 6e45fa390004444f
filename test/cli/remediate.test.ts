import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../cli/main';

const scratch = mkdtempSync(join(tmpdir(), 'fleetops-remediate-'));
function file(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}
async function fleetops(...args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (t) => (out += t), err: (t) => (err += t), color: false });
  return { code, out, err };
}

/** `fleetops remediate --dry-run`: the event parsed, the finding and the decision with its reason, offline. */
describe('fleetops remediate --dry-run', () => {
  const fleet = file(
    'fleet.json',
    JSON.stringify({
      instances: [
        ...['i-0a1b2c3d4e5f60718', 'i-1a2b3c4d'].map((id) => ({
          id,
          service: 'web',
          zone: 'us-east-1a',
          state: 'running',
          health: 'ok',
        })),
        ...Array.from({ length: 20 }, (_, k) => ({
          id: `i-${String(k).padStart(8, '0')}`,
          service: 'web',
          zone: 'us-east-1a',
          state: 'running',
          health: 'ok',
        })),
      ],
    }),
  );
  const services = file('services.yaml', 'services:\n  web:\n    maxUnavailable: 10%\n');

  it('decides a stop-start before a scheduled retirement, with the documented JSON', async () => {
    const result = await fleetops(
      'remediate',
      '--dry-run',
      '--event',
      'test/fixtures/events/health-retirement.newer-fields.json',
      '--fleet',
      fleet,
      '--services',
      services,
      '--now',
      '2026-08-20T12:00:00Z',
      '--json',
    );
    expect(result.code).toBe(0);
    const json = JSON.parse(result.out);
    expect(Object.keys(json)).toEqual(['findings', 'decisions']);
    expect(json.findings).toEqual([
      {
        instanceId: 'i-0a1b2c3d4e5f60718',
        kind: 'scheduled-retirement',
        deadline: '2026-08-27T13:19:03.000Z',
      },
      { instanceId: 'i-1a2b3c4d', kind: 'scheduled-retirement', deadline: '2026-08-27T13:19:03.000Z' },
    ]);
    for (const d of json.decisions) {
      expect(Object.keys(d)).toEqual(['instanceId', 'action', 'at', 'reason']);
      expect(d.action).toBe('stop-start');
      expect(Date.parse(d.at)).toBeLessThan(Date.parse('2026-08-27T13:19:03Z'));
      expect(Date.parse(d.at)).toBeGreaterThanOrEqual(Date.parse('2026-08-20T12:00:00Z'));
    }
  });

  it('drains on a Spot interruption warning instead of repairing', async () => {
    const result = await fleetops(
      'remediate',
      '--dry-run',
      '--event',
      'test/fixtures/events/public/spot-itn-event.nth.json.txt',
      '--json',
    );
    expect(result.code).toBe(0);
    const { findings, decisions } = JSON.parse(result.out);
    expect(findings).toHaveLength(1);
    expect(findings[0].kind).toBe('spot-interruption');
    expect(decisions[0].action).toBe('drain');
  });

  it('records without acting when the instance is not in the fleet, and reads as text', async () => {
    const result = await fleetops(
      'remediate',
      '--dry-run',
      '--event',
      'test/fixtures/events/alarm-status-system.json',
      '--fleet',
      fleet,
    );
    expect(result.code).toBe(0);
    expect(result.out).toContain('i-0c0ffee0c0ffee001  system-status-check-failed');
    expect(result.out).toMatch(/→ record-only at .*: not in the fleet inventory/);
  });

  it('picks the first step of the ladder for a failing status check while there is no history', async () => {
    const result = await fleetops(
      'remediate',
      '--dry-run',
      '--event',
      'test/fixtures/events/alarm-status-system.json',
      '--json',
    );
    const { decisions } = JSON.parse(result.out);
    expect(decisions[0]).toMatchObject({ instanceId: 'i-0c0ffee0c0ffee001', action: 'reboot' });
    expect(decisions[0].reason).toMatch(/thin data|ladder/);
  });

  it('exits 2 with what is wrong for a malformed event, and acts on nothing', async () => {
    const bad = file(
      'bad.json',
      JSON.stringify({ id: 'x', source: 'aws.ec2', 'detail-type': 'Nope', time: 'now' }),
    );
    const result = await fleetops('remediate', '--dry-run', '--event', bad);
    expect(result.code).toBe(2);
    expect(result.out).toBe('');
    expect(result.err).toMatch(/^.*bad\.json: .*detail/);
    expect((await fleetops('remediate', '--event', bad)).code).toBe(2); // --dry-run is required
  });
});
