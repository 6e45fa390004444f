import type { Plan, Wave } from '../functions/core/change/plan/planner';

const MAX_SERVICES_SHOWN = 4;
const MAX_IDS_PER_REASON = 6;

/** The plan as a person reads it: a summary, one row per wave, the approvals, and what was skipped. */
export function renderPlan(plan: Plan, color: boolean): string {
  const bold = (s: string) => (color ? `\x1b[1m${s}\x1b[22m` : s);
  const dim = (s: string) => (color ? `\x1b[2m${s}\x1b[22m` : s);
  const lines: string[] = [];
  const { summary } = plan;
  lines.push(`${bold(`Change ${plan.changeId}`)} — ${plan.description}`);
  lines.push(
    `action ${plan.action}, risk ${plan.risk}: ${summary.targeted} targeted, ${summary.planned} planned in ` +
      `${summary.waves} wave${summary.waves === 1 ? '' : 's'}, ${summary.skipped} skipped`,
  );
  if (plan.zoneOrder.length > 0) lines.push(`zone order: ${plan.zoneOrder.join(' → ')}`);
  if (summary.blastRadiusBeforeApproval !== null) {
    lines.push(
      `risk containment: at most ${summary.blastRadiusBeforeApproval} instances before a person approves the rest`,
    );
  }
  for (const warning of plan.warnings) lines.push(`warning: ${warning}`);
  lines.push('');

  if (plan.waves.length > 0) {
    const rows = plan.waves.map((w) => [
      String(w.index),
      w.kind,
      w.zone,
      String(w.size),
      w.bindingConstraint,
      servicesCell(w),
    ]);
    const header = ['wave', 'kind', 'zone', 'size', 'bound by', 'services'];
    const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
    const format = (cells: string[]) =>
      cells
        .map((cell, c) => (c === 0 || c === 3 ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
        .join('  ')
        .trimEnd();
    lines.push(bold(format(header)));
    plan.waves.forEach((wave, i) => {
      lines.push(format(rows[i]));
      if (wave.approvalAfter) {
        const why = wave.approvalAfter === 'canary' ? 'after the canary' : 'risk containment reached';
        lines.push(dim(`  ── waits for approval: ${why} ──`));
      }
    });
    lines.push('');
  }

  lines.push(...predictionLines(plan));

  if (plan.skipped.length > 0) {
    lines.push('');
    lines.push(bold(`skipped (${plan.skipped.length}):`));
    const byReason = new Map<string, string[]>();
    for (const s of plan.skipped) {
      const ids = byReason.get(s.reason);
      if (ids) ids.push(s.id);
      else byReason.set(s.reason, [s.id]);
    }
    for (const [reason, ids] of [...byReason].sort(
      (a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1),
    )) {
      const shown = ids.slice(0, MAX_IDS_PER_REASON).join(', ');
      const more = ids.length > MAX_IDS_PER_REASON ? ` and ${ids.length - MAX_IDS_PER_REASON} more` : '';
      lines.push(`  ${String(ids.length).padStart(5)} × ${reason}: ${shown}${more}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function servicesCell(wave: Wave): string {
  const entries = Object.entries(wave.services).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const shown = entries.slice(0, MAX_SERVICES_SHOWN).map(([s, n]) => `${s} ${n}`);
  const rest = entries.length - shown.length;
  return shown.join(', ') + (rest > 0 ? `, +${rest} more service${rest === 1 ? '' : 's'}` : '');
}

/**
 * The predicted duration, and what it is made of when more than the waves' actions and bakes:
 * draining and readiness, the expected approval waits, the zone bakes, the waits for windows.
 */
function predictionLines(plan: Plan): string[] {
  const parts: Array<[number, string]> = [
    [plan.trafficMinutes ?? 0, 'draining and readiness'],
    [plan.approvalMinutes ?? 0, `expected approval waits (${approvalsWaitedFor(plan)})`],
    [plan.zoneBakeMinutes ?? 0, 'zone bakes'],
    [
      plan.windowMinutes ?? 0,
      `waiting for time windows${plan.predictedFrom ? ` (starting ${plan.predictedFrom})` : ''}`,
    ],
  ];
  const extra = parts.filter(([minutes]) => minutes > 0);
  const head = `predicted duration: ${formatMinutes(plan.predictedMinutes)}`;
  // A plan stored before approvals were predicted (no approvalMinutes) says they are left out.
  const note = plan.approvalMinutes === undefined ? approvalsNote(plan.summary.approvals) : '';
  if (extra.length === 0) {
    const from = plan.predictedFrom ? `, starting ${plan.predictedFrom}` : '';
    return [`${head}${from}${note}`];
  }
  // The final waves expected for instances skipped for a spent budget are waves too.
  const finals = plan.expectedFinalWaves ?? 0;
  const waves = plan.waves.length + finals;
  const acting = Math.round((plan.predictedMinutes - extra.reduce((n, [m]) => n + m, 0)) * 10) / 10;
  const each = waves > 0 ? Math.round((acting / waves) * 10) / 10 : 0;
  const joiners = plan.expectedLateJoiners ?? 0;
  const ofThem =
    finals > 0
      ? `, ${finals} of them final waves for ${
          joiners > 0
            ? `~${joiners} instances expected to join (${plan.launchesPerHour} launches/h the day before) and those`
            : 'instances'
        } skipped for a spent budget`
      : '';
  const rows: Array<[number, string]> = [
    [acting, `actions and bakes (${waves} wave${waves === 1 ? '' : 's'} × ${formatMinutes(each)}${ofThem})`],
    ...extra,
  ];
  const width = Math.max(...rows.map(([m]) => formatMinutes(m).length));
  return [`${head}${note}`, ...rows.map(([m, what]) => `  ${formatMinutes(m).padStart(width)}  ${what}`)];
}

/** "1 × 60 min": the approval points with waves after them, each with the spec's expected wait. */
function approvalsWaitedFor(plan: Plan): string {
  const points = plan.waves.filter((w, i) => w.approvalAfter !== null && i < plan.waves.length - 1).length;
  const each = points > 0 ? Math.round(((plan.approvalMinutes ?? 0) / points) * 10) / 10 : 0;
  return `${points} × ${each} min`;
}

function approvalsNote(approvals: number): string {
  return approvals === 0 ? '' : `, plus time waiting for ${approvals} approval${approvals === 1 ? '' : 's'}`;
}

export function formatMinutes(minutes: number): string {
  if (minutes < 60) return `${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = Math.round(minutes - h * 60);
  return m === 0 ? `${h} h` : `${h} h ${m} min`;
}
