import type { Command } from 'commander';
import {
  type Judgement,
  judge,
  judgeConfigSchema,
  samplesSchema,
} from '../../functions/core/change/judge/judge';
import { parseWithSchema } from '../../functions/core/input/files';
import { readText } from '../input-files';
import { type CliIO, ExitCode } from '../io';

export function judgeCommand(program: Command, io: CliIO, setExit: (code: number) => void): void {
  program
    .command('judge')
    .description(
      'Replay the canary judge on samples (each file: a metric name to an array of numbers) and show why ' +
        'it passes or fails. Exit 0 on pass; 3 on marginal, fail or inconclusive (the gate would not pass on its own).',
    )
    .requiredOption('-b, --baseline <file>', 'baseline samples (JSON or YAML)')
    .requiredOption('-c, --canary <file>', 'canary samples (JSON or YAML)')
    .option(
      '--config <file>',
      'judge configuration (JSON or YAML): alpha, minSamples, outliers, effectTolerance, thresholds, metrics',
    )
    .option('--json', 'print the judgement as JSON', false)
    .action(async (options: { baseline: string; canary: string; config?: string; json: boolean }) => {
      const [baseline, canary, config] = await Promise.all([
        readText(options.baseline).then((t) => parseWithSchema(samplesSchema, t, options.baseline)),
        readText(options.canary).then((t) => parseWithSchema(samplesSchema, t, options.canary)),
        options.config
          ? readText(options.config).then((t) => parseWithSchema(judgeConfigSchema, t, options.config!))
          : judgeConfigSchema.parse({}),
      ]);
      const judgement = judge(baseline, canary, config);
      io.out(options.json ? `${JSON.stringify(judgement, jsonNumbers, 2)}\n` : renderJudgement(judgement));
      if (judgement.verdict !== 'pass') setExit(ExitCode.nothingCanProceed);
    });
}

/** NaN and ±Infinity have no JSON form: print them as null. */
const jsonNumbers = (_key: string, value: unknown) =>
  typeof value === 'number' && !Number.isFinite(value) ? null : value;

function renderJudgement(j: Judgement): string {
  const fixed = (x: number, digits = 3) => (Number.isFinite(x) ? x.toPrecision(digits) : '–');
  const rows = [
    ['metric', 'status', 'n base/canary', 'median base → canary', 'shift (HL)', 'p-value', 'why'],
  ];
  for (const m of j.metrics) {
    rows.push([
      `${m.metric}${m.critical ? ' (critical)' : ''}`,
      m.status,
      `${m.baseline.n}/${m.canary.n}`,
      `${fixed(m.baseline.median)} → ${fixed(m.canary.median)}`,
      Number.isFinite(m.relativeShift) ? `${(m.relativeShift * 100).toFixed(1)}%` : fixed(m.shift),
      fixed(m.pValue),
      m.reason,
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const lines = rows.map((r) =>
    r
      .map((cell, c) => cell.padEnd(widths[c]))
      .join('  ')
      .trimEnd(),
  );
  return `${lines.join('\n')}\n\nverdict: ${j.verdict.toUpperCase()} (score ${j.score})\n${j.reasons.map((r) => `  - ${r}`).join('\n')}\n`;
}
