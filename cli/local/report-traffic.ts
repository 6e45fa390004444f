/**
 * The report's traffic section: the service behind the load balancer, its in-service targets
 * over the rolling change against its budget's floor (an inline SVG step chart, the waves shaded
 * behind it), and what draining and readiness added to each wave.
 */
import type { TrafficRecord } from './report';

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const round = (v: number) => Math.round(v * 10) / 10;

/** The chart: in-service (step line), the floor (dashed), all targets (grey), waves shaded. */
export function trafficChart(t: TrafficRecord): string {
  const width = 900;
  const height = 240;
  const left = 120;
  const right = 20;
  const top = 24;
  const bottom = 34;
  if (t.samples.length === 0) return '<p>no samples</p>';
  const from =
    t.waves.length > 0 ? Math.max(0, Math.min(...t.waves.map((w) => w.start)) - 5) : t.samples[0].t;
  const to =
    t.waves.length > 0
      ? Math.max(...t.waves.map((w) => w.end)) + 5
      : Math.max(...t.samples.map((s) => s.t), from + 1);
  const shown = t.samples.filter((s) => s.t >= from && s.t <= to);
  const before = [...t.samples].reverse().find((s) => s.t < from);
  const series = before ? [{ ...before, t: from }, ...shown] : shown;
  const targets = Math.max(...t.samples.map((s) => s.targets));
  const floor = Math.max(...t.samples.map((s) => s.floor));
  const yMin = Math.max(0, Math.min(floor, ...series.map((s) => s.inService)) - 2);
  const yMax = targets + 1;
  const x = (v: number) => round(left + ((width - left - right) * (v - from)) / Math.max(to - from, 1));
  const y = (v: number) => round(top + ((height - top - bottom) * (yMax - v)) / Math.max(yMax - yMin, 1));
  const step = (key: 'inService' | 'floor' | 'targets') => {
    let d = '';
    for (const [i, s] of series.entries())
      d += i === 0 ? `M${x(s.t)},${y(s[key])}` : `H${x(s.t)}V${y(s[key])}`;
    return `${d}H${x(to)}`;
  };
  const bands = t.waves
    .map((w, k) => {
      const x1 = x(w.start);
      const x2 = Math.max(x(w.end), x1 + 3);
      return `<rect x="${x1}" y="${top}" width="${round(x2 - x1)}" height="${height - top - bottom}" fill="${k % 2 === 0 ? '#e8eef7' : '#f2f5fa'}"><title>${esc(`wave ${w.index + 1}: ${w.size} instances; drained in ${w.drainSeconds} s, serving again ${w.readySeconds} s after their return`)}</title></rect><text x="${round((x1 + x2) / 2)}" y="${top - 6}" font-size="10" text-anchor="middle">w${w.index + 1} (${w.size})</text>`;
    })
    .join('');
  const yTicks: string[] = [];
  const every = yMax - yMin > 12 ? 4 : 2;
  for (let v = Math.ceil(yMin / every) * every; v <= yMax; v += every) {
    yTicks.push(
      `<line x1="${left - 4}" x2="${left}" y1="${y(v)}" y2="${y(v)}" stroke="#999"/><text x="${left - 8}" y="${y(v) + 3}" font-size="10" text-anchor="end">${v}</text>`,
    );
  }
  const xTicks: string[] = [];
  const span = to - from;
  const xEvery = span > 120 ? 20 : span > 60 ? 10 : 5;
  for (let v = Math.ceil(from / xEvery) * xEvery; v <= to; v += xEvery) {
    xTicks.push(
      `<line x1="${x(v)}" x2="${x(v)}" y1="${height - bottom}" y2="${height - bottom + 4}" stroke="#999"/><text x="${x(v)}" y="${height - bottom + 16}" font-size="10" text-anchor="middle">${v}s</text>`,
    );
  }
  const low = Math.min(...t.samples.map((s) => s.inService));
  const mid = round((top + height - bottom) / 2);
  return `<svg width="${width}" height="${height}" role="img" aria-label="${esc(`${t.service}: in-service targets against the budget floor`)}">${bands}<line x1="${left}" x2="${left}" y1="${top}" y2="${height - bottom}" stroke="#999"/><line x1="${left}" x2="${width - right}" y1="${height - bottom}" y2="${height - bottom}" stroke="#999"/>${yTicks.join('')}${xTicks.join('')}<path d="${step('targets')}" fill="none" stroke="#8a8a8a" stroke-width="1"/><path d="${step('floor')}" fill="none" stroke="#c23b3b" stroke-width="1.5" stroke-dasharray="5 3"/><path d="${step('inService')}" fill="none" stroke="#2f6fb3" stroke-width="2"/><text x="${left - 34}" y="${mid - 8}" font-size="12" text-anchor="end">${esc(t.service)}</text><text x="${left - 34}" y="${mid + 6}" font-size="10" text-anchor="end" fill="#666">low ${low}/${targets}</text><text x="${left - 34}" y="${mid + 18}" font-size="10" text-anchor="end" fill="#c23b3b">floor ${floor}</text><text x="${round((left + width - right) / 2)}" y="${height - 2}" font-size="10" text-anchor="middle" fill="#666">seconds since the start of the run</text></svg>`;
}

/** The section: what the service is, the chart, and a row per wave. */
export function trafficSection(
  t: TrafficRecord,
  table: (head: string[], rows: string[][]) => string,
): string {
  const key = (color: string, dashed = false) =>
    `<svg width="22" height="10"><line x1="0" x2="22" y1="5" y2="5" stroke="${color}" stroke-width="2"${dashed ? ' stroke-dasharray="5 3"' : ''}/></svg>`;
  return `<h2>In-service targets against budget (${esc(t.service)})</h2>
<p>${esc(t.service)}'s instances are members of Auto Scaling group ${esc(t.group)}, which attaches target group ${esc(t.targetGroup)} (deregistration delay ${t.deregistrationDelaySeconds} s; healthy after ${t.readySeconds} s of health checks). ${t.change ? `${esc(t.change.id)} (${esc(t.change.action)}) takes each wave to Standby, waits until drained, acts, brings it back and waits until healthy before the next.` : ''}
${key('#2f6fb3')} in service (InService and healthy in the target group) &nbsp; ${key('#c23b3b', true)} the budget's floor (instances − maxUnavailable) &nbsp; ${key('#8a8a8a')} instances in the group; shaded: the change's waves (hover for draining and readiness). ${t.replaced.length} replaced by the group; ${t.violations.length === 0 ? 'no action reached a serving instance' : esc(t.violations.join('; '))}.</p>
${trafficChart(t)}
${table(
  ['wave', 'instances', 'draining (out → action)', 'readiness (back → serving)', 'from', 'to'],
  t.waves.map((w) => [
    String(w.index + 1),
    String(w.size),
    `${w.drainSeconds.toFixed(1)} s`,
    `${w.readySeconds.toFixed(1)} s`,
    `${w.start.toFixed(1)} s`,
    `${w.end.toFixed(1)} s`,
  ]),
)}`;
}
