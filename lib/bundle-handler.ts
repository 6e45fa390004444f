// Bundles one handler for its Lambda function: `tsx lib/bundle-handler.ts <handler> <outdir>`.
// FleetFunction runs it at synth time through Code.fromCustomCommand (see lib/bundling.ts).
import { bundleHandler, HANDLERS } from './bundling';

const [handler, outdir] = process.argv.slice(2);
if (!(HANDLERS as readonly string[]).includes(handler) || !outdir) {
  process.stderr.write(`usage: tsx lib/bundle-handler.ts <${HANDLERS.join('|')}> <outdir>\n`);
  process.exit(2);
}
bundleHandler(handler, outdir).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
