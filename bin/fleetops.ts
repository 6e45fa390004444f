import { processIO } from '../cli/io';
import { runCli } from '../cli/main';

runCli(process.argv.slice(2), processIO()).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`fleetops: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
