// `npm start`: the whole of FleetOps on its embedded default (a moto server, the real state
// machines, handlers, routing and store), three scenes and a rolling change behind a load
// balancer alongside them, a summary, and an HTML report.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { runDemo } from './demo';
import { renderHtml, renderText } from './report';

async function main(): Promise<number> {
  const out = resolve(process.argv[2] ?? 'fleetops-report.html');
  const record = await runDemo({ progress: (line) => process.stdout.write(`${line}\n`) });
  process.stdout.write(renderText(record));
  writeFileSync(out, renderHtml(record));
  const json = `${out.replace(/\.html?$/, '')}.json`;
  writeFileSync(json, `${JSON.stringify(record, null, 2)}\n`);
  process.stdout.write(`HTML report: ${out} (the run's record: ${json})\n`);
  return record.checks.every((c) => c.ok) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `fleetops local run failed: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exit(1);
  },
);
