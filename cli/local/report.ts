/**
 * The local runtime's report: the run's record (what collect.ts and the bindings gathered),
 * rendered as the end-of-run text summary and a self-contained HTML page.
 */
import { REMEDIATION_STATES } from '../../functions/steps/state-names';
import { trafficSection } from './report-traffic';

/** One wave as the local runtime saw it run (times in seconds from the start of the run). */
export interface WaveRecord {
  index: number;
  kind: string;
  /** Instances per zone. */
  zones: Record<string, number>;
  services: Record<string, number>;
  size: number;
  binding: string;
  start: number;
  end: number;
  verdict: string;
  reason: string;
  /** When settle said the action had finished and every instance it took out of traffic serves again. */
  settled?: number;
}

/** The traffic service over the run: in-service targets against its budget's floor. */
export interface TrafficRecord {
  service: string;
  group: string;
  targetGroup: string;
  deregistrationDelaySeconds: number;
  /** Healthy threshold × interval. */
  readySeconds: number;
  /** Samples: instances in the group, those InService and healthy, the floor (instances − budget). */
  samples: Array<{
    t: number;
    targets: number;
    inService: number;
    floor: number;
    standby: number;
    draining: number;
    initial: number;
  }>;
  /** The rolling change over the service, per wave: what draining and readiness added. */
  change?: {
    id: string;
    action: string;
    /** Per wave: the deregistration delay plus healthy threshold × interval (what the planner adds per wave). */
    predictedSecondsPerWave: number;
    /** The plan's own prediction for the whole change (its trafficMinutes, a tenth of a minute). */
    plannedSeconds: number;
  };
  waves: Array<{
    index: number;
    size: number;
    start: number;
    end: number;
    /** From the first instance out of traffic to the first action (draining). */
    drainSeconds: number;
    /** From the first instance back into traffic to settle's done (health checks passing). */
    readySeconds: number;
  }>;
  /** Instances the group replaced (a stopped member it still had InService). */
  replaced: string[];
  /** Disruptive actions that reached an instance still serving. */
  violations: string[];
  /** Disruptive actions per instance: the most any instance received. */
  maxActionsPerInstance: number;
}

/** What happened in a local run: the report's only input. */
export interface RunRecord {
  startedAt: string;
  seconds: number;
  zones: string[];
  services: Array<{ name: string; instances: number; budget: string }>;
  changes: Array<{
    id: string;
    description: string;
    status: string;
    reason: string;
    waves: WaveRecord[];
    approvals: Array<{ t: number; wave: number; by: string; reason: string }>;
    /** What the plan predicted draining and readiness add to the change, in seconds. */
    plannedTrafficSeconds?: number;
  }>;
  /** Ledger samples: instances counted unavailable against the budget's capacity. */
  budgets: Array<{ t: number; service: string; used: number; capacity: number }>;
  remediations: Array<{
    caseId: string;
    instanceId: string;
    service: string;
    zone: string;
    kind: string;
    opened: number;
    closed: number;
    status: string;
    reason: string;
    tried: string[];
    steps: Array<{ t: number; step: string; detail: string }>;
  }>;
  pages: Array<{ subject: string; message: string }>;
  log: Array<{ t: number; line: string }>;
  checks: Array<{ ok: boolean; what: string; detail: string }>;
  /** Inventory sweeps run (the scheduled handler). */
  sweeps: number;
  /** The service in an Auto Scaling group behind a target group, when the fleet has one. */
  traffic?: TrafficRecord;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * One line on the traffic service: its targets, the fewest in service at any sample against its
 * budget's floor, what its group replaced, and what draining and readiness added per wave.
 */
export function trafficLine(record: Pick<RunRecord, 'traffic'>): string {
  const t = record.traffic;
  if (!t) return 'traffic: no service behind a load balancer';
  const targets = Math.max(0, ...t.samples.map((s) => s.targets));
  const low = t.samples.length > 0 ? Math.min(...t.samples.map((s) => s.inService)) : 0;
  const floor = t.samples.length > 0 ? Math.max(...t.samples.map((s) => s.floor)) : 0;
  const added = t.waves.map((w) => w.drainSeconds + w.readySeconds);
  const mean = added.length > 0 ? added.reduce((a, b) => a + b, 0) / added.length : 0;
  const perWave =
    added.length > 0
      ? `, draining+readiness +${Math.round(mean)} s per wave over ${plural(added.length, 'wave')} (planned +${t.change?.predictedSecondsPerWave ?? 0} s: ${t.deregistrationDelaySeconds} s delay + ${t.readySeconds} s health checks)`
      : '';
  return `traffic: ${t.service} ${targets} targets, at least ${low} in service throughout (budget floor ${floor}), ${t.replaced.length} replaced${perWave}`;
}

/** The end-of-run summary: what happened and why, as text. */
export function renderText(record: RunRecord): string {
  const lines: string[] = ['', `FleetOps local run: ${record.seconds.toFixed(1)} s`, ''];
  lines.push(
    `Fleet: ${record.services.reduce((n, s) => n + s.instances, 0)} instances in ${record.zones.join(', ')}; budgets ${record.services.map((s) => `${s.name} ${s.budget}`).join(', ')}`,
  );
  lines.push('', 'Changes');
  for (const c of record.changes) {
    const failed = c.waves.find((w) => w.verdict === 'fail');
    lines.push(`  ${c.id}: ${c.status} after ${plural(c.waves.length, 'wave')} — ${c.description}`);
    if (c.reason) lines.push(`    why: ${c.reason}`);
    for (const a of c.approvals) lines.push(`    approved after wave ${a.wave + 1} by ${a.by}: ${a.reason}`);
    if (failed) lines.push(`    gate failed at wave ${failed.index + 1}: ${failed.reason}`);
  }
  lines.push('', 'Remediations');
  const byStatus = new Map<string, number>();
  for (const r of record.remediations) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
  lines.push(
    `  ${plural(record.remediations.length, 'case')}: ${[...byStatus].map(([s, n]) => `${n} ${s}`).join(', ')}`,
  );
  const acted = record.remediations.filter((r) => r.tried.length > 0);
  for (const r of acted) {
    lines.push(
      `  ${r.instanceId} (${r.service}, ${r.kind}): ${r.tried.join(' → ')} → ${r.status} in ${(r.closed - r.opened).toFixed(1)} s — ${r.reason}`,
    );
  }
  const notActed = record.remediations.filter((r) => r.tried.length === 0);
  const reasons = new Map<string, number>();
  for (const r of notActed) {
    const why = r.reason.replace(/i-[0-9a-f]+/g, 'i-…');
    reasons.set(`${r.status}: ${why}`, (reasons.get(`${r.status}: ${why}`) ?? 0) + 1);
  }
  for (const [why, n] of reasons) lines.push(`  ${n} × ${why}`);
  lines.push('', 'Pages and notices (the SNS topic)');
  if (record.pages.length === 0) lines.push('  none');
  for (const p of record.pages) lines.push(`  ${p.subject}`);
  if (record.traffic) {
    lines.push(
      '',
      `Traffic (${record.traffic.service}: ${record.traffic.group} behind ${record.traffic.targetGroup})`,
    );
    lines.push(`  ${trafficLine(record)}`);
    for (const w of record.traffic.waves)
      lines.push(
        `  wave ${w.index + 1}: ${w.size} instances, drained in ${w.drainSeconds.toFixed(1)} s, serving again ${w.readySeconds.toFixed(1)} s after their return`,
      );
  }
  lines.push('', 'Peak budget use (instances unavailable / allowed)');
  for (const [service, peak] of peaks(record))
    lines.push(`  ${service.padEnd(8)} ${peak.used}/${peak.capacity}`);
  lines.push('', 'Invariants');
  for (const c of record.checks) lines.push(`  ${c.ok ? 'ok       ' : 'VIOLATED '} ${c.what} (${c.detail})`);
  lines.push('');
  return lines.join('\n');
}

/** Each service's highest use of its budget in the ledger samples (used against capacity). */
export function peaks(record: Pick<RunRecord, 'budgets'>): Map<string, { used: number; capacity: number }> {
  const result = new Map<string, { used: number; capacity: number }>();
  const share = (x: { used: number; capacity: number }) => x.used / Math.max(x.capacity, 1);
  for (const b of record.budgets) {
    const p = result.get(b.service);
    if (!p || share(b) > share(p)) result.set(b.service, { used: b.used, capacity: b.capacity });
  }
  return result;
}

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const CHANGE_COLORS = ['#2f6fb3', '#d9822b', '#c23b3b', '#4b9a5f', '#7a5bb5'];
const STATUS_COLORS: Record<string, string> = {
  recovered: '#4b9a5f',
  drained: '#4b9a5f',
  recorded: '#8a8a8a',
  skipped: '#d9a62b',
  paged: '#c23b3b',
  failed: '#c23b3b',
};

/**
 * A self-contained HTML page (inline SVG, no scripts, no network): waves per zone over time,
 * unavailable instances against each service's budget over time, the traffic service's
 * in-service targets against its budget's floor, remediations and their outcomes, the checks,
 * and the run's log.
 */
export function renderHtml(record: RunRecord): string {
  const width = 900;
  const left = 120;
  const span = Math.max(record.seconds, 1);
  const x = (t: number) => Math.round((left + ((width - left - 20) * t) / span) * 10) / 10;
  const axis = (y: number) => {
    const ticks: string[] = [];
    const step = span > 120 ? 30 : span > 60 ? 15 : 10;
    for (let t = 0; t <= span; t += step) {
      ticks.push(
        `<line x1="${x(t)}" x2="${x(t)}" y1="${y}" y2="${y + 4}" stroke="#999"/><text x="${x(t)}" y="${y + 16}" font-size="10" text-anchor="middle">${t}s</text>`,
      );
    }
    return `<line x1="${left}" x2="${width - 20}" y1="${y}" y2="${y}" stroke="#999"/>${ticks.join('')}`;
  };

  // Waves per zone: one row per zone, a bar per wave (from apply to release), coloured by change.
  const rowH = 28;
  const waveRows = record.zones
    .map((zone, z) => {
      const y = 10 + z * rowH;
      const bars = record.changes.flatMap((c, k) =>
        c.waves
          .filter((w) => (w.zones[zone] ?? 0) > 0)
          .map((w) => {
            const x1 = x(w.start);
            const x2 = Math.max(x(w.end), x1 + 3);
            const fill = CHANGE_COLORS[k % CHANGE_COLORS.length];
            const stroke = w.verdict === 'fail' ? ' stroke="#000" stroke-width="2"' : '';
            return `<rect x="${x1}" y="${y}" width="${x2 - x1}" height="${rowH - 8}" fill="${fill}" opacity="0.85"${stroke}><title>${esc(`${c.id} wave ${w.index + 1} (${w.kind}): ${w.zones[zone]} in ${zone}, ${w.size} in all; bound by ${w.binding}; gate ${w.verdict || '—'}: ${w.reason}`)}</title></rect>`;
          }),
      );
      return `<text x="${left - 8}" y="${y + 15}" font-size="12" text-anchor="end">${esc(zone)}</text>${bars.join('')}`;
    })
    .join('');
  const waveLegend = record.changes
    .map(
      (c, k) =>
        `<span class="key" style="background:${CHANGE_COLORS[k % CHANGE_COLORS.length]}"></span>${esc(c.id)} (${esc(c.status)})`,
    )
    .join(' &nbsp; ');
  const wavesSvg = `<svg width="${width}" height="${20 + record.zones.length * rowH + 24}">${waveRows}${axis(10 + record.zones.length * rowH)}</svg>`;

  // Budgets: one small step chart per service, the capacity as a dashed line.
  const chartH = 70;
  const budgetCharts = record.services
    .map((s) => {
      const samples = record.budgets.filter((b) => b.service === s.name);
      const capacity = Math.max(...samples.map((b) => b.capacity), 1);
      const top = Math.max(capacity, ...samples.map((b) => b.used)) * 1.15;
      const y = (v: number) => Math.round((8 + (chartH - 16) * (1 - v / top)) * 10) / 10;
      let path = '';
      for (const [i, b] of samples.entries()) {
        path += i === 0 ? `M${x(b.t)},${y(b.used)}` : `H${x(b.t)}V${y(b.used)}`;
      }
      if (samples.length > 0) path += `H${x(span)}`;
      const peak = Math.max(0, ...samples.map((b) => b.used));
      return `<svg width="${width}" height="${chartH + 18}"><text x="${left - 8}" y="${chartH / 2}" font-size="12" text-anchor="end">${esc(s.name)}</text><text x="${left - 8}" y="${chartH / 2 + 14}" font-size="10" text-anchor="end" fill="#666">peak ${peak}/${capacity}</text><line x1="${left}" x2="${width - 20}" y1="${y(capacity)}" y2="${y(capacity)}" stroke="#c23b3b" stroke-dasharray="4 3"/><path d="${path}" fill="none" stroke="#2f6fb3" stroke-width="2"/>${axis(chartH)}</svg>`;
    })
    .join('');

  // Remediations: a row per case, from opened to closed, coloured by outcome; dots for actions.
  const caseRowH = 16;
  const cases = [...record.remediations].sort((a, b) => a.opened - b.opened);
  const caseRows = cases
    .map((r, i) => {
      const y = 6 + i * caseRowH;
      const fill = STATUS_COLORS[r.status] ?? '#8a8a8a';
      const dots = r.steps
        .filter((s) => s.step === REMEDIATION_STATES.act)
        .map(
          (s) =>
            `<circle cx="${x(s.t)}" cy="${y + 6}" r="4" fill="#000"><title>${esc(`${s.detail} at ${s.t.toFixed(1)}s`)}</title></circle>`,
        )
        .join('');
      return `<text x="${left - 8}" y="${y + 10}" font-size="10" text-anchor="end">${esc(`${r.instanceId} ${r.service}`)}</text><rect x="${x(r.opened)}" y="${y}" width="${Math.max(x(r.closed) - x(r.opened), 3)}" height="${caseRowH - 4}" fill="${fill}"><title>${esc(`${r.kind}: ${r.status} — ${r.reason}`)}</title></rect>${dots}`;
    })
    .join('');
  const casesSvg = `<svg width="${width}" height="${12 + cases.length * caseRowH + 24}">${caseRows}${axis(8 + cases.length * caseRowH)}</svg>`;
  const statusLegend = Object.entries(STATUS_COLORS)
    .map(([s, c]) => `<span class="key" style="background:${c}"></span>${s}`)
    .join(' &nbsp; ');

  const table = (head: string[], rows: string[][]) =>
    `<table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows
      .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
      .join('')}</table>`;

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>FleetOps local run ${esc(record.startedAt)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:960px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;font-size:12px;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
.key{display:inline-block;width:10px;height:10px;margin-right:4px}
.ok{color:#2d7a3e}.bad{color:#c23b3b;font-weight:bold}
pre{font-size:11px;background:#f6f6f6;padding:8px;overflow-x:auto}
</style></head><body>
<h1>FleetOps local run — ${esc(record.startedAt)} (${record.seconds.toFixed(1)} s)</h1>
<p>${record.services.reduce((n, s) => n + s.instances, 0)} instances in ${record.zones.length} zones; every call went to a moto server through the real handlers and state machines.</p>
<h2>Invariants</h2>
<ul>${record.checks.map((c) => `<li class="${c.ok ? 'ok' : 'bad'}">${c.ok ? '✓' : '✗'} ${esc(c.what)} — ${esc(c.detail)}</li>`).join('')}</ul>
<h2>Waves per zone</h2>
<p>${waveLegend}. A black outline marks a wave whose gate failed; hover a bar for its gate's reason.</p>
${wavesSvg}
${table(
  ['change', 'status', 'waves', 'why'],
  record.changes.map((c) => [c.id, c.status, String(c.waves.length), c.reason]),
)}
<h2>Unavailable instances against budget</h2>
<p>Each service's ledger (instances counted unavailable: unhealthy, in a wave, or under remediation) against what its budget allows (dashed).</p>
${budgetCharts}
${record.traffic ? trafficSection(record.traffic, table) : ''}
<h2>Remediations</h2>
<p>${statusLegend}; a dot marks an action sent.</p>
${casesSvg}
${table(
  ['instance', 'service', 'zone', 'finding', 'tried', 'outcome', 'why'],
  cases.map((r) => [r.instanceId, r.service, r.zone, r.kind, r.tried.join(' → ') || '—', r.status, r.reason]),
)}
<h2>Pages and notices (the SNS topic)</h2>
${
  record.pages.length === 0
    ? '<p>none</p>'
    : table(
        ['subject', 'message'],
        record.pages.map((p) => [p.subject, p.message]),
      )
}
<h2>Log</h2>
<pre>${esc(record.log.map((l) => `[${l.t.toFixed(1).padStart(6)}s] ${l.line}`).join('\n'))}</pre>
</body></html>
`;
}
