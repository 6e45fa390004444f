import { processIO } from '../cli/io';
import { runCli } from '../cli/main';

// The pinned AWS SDK warns on every run that its future versions will need Node 22; that is
// not actionable for someone running a command.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

runCli(process.argv.slice(2), processIO()).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`fleetops: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
