import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMotoServer } from '../../cli/local/moto-server';
import { ASL_PATHS_DIR } from './asl-paths';
import { MOTO_ENDPOINTS } from './worker-endpoint';

/**
 * cfn-lint checks the synthesized template; where it is missing, it is installed with pip. Asked
 * while the moto servers start (either takes seconds: Python starting up).
 */
async function ensureCfnLint(): Promise<void> {
  const version = await new Promise<number | null>((resolve) =>
    spawn('cfn-lint', ['--version'], { stdio: 'ignore' })
      .on('error', () => resolve(null))
      .on('exit', (code) => resolve(code)),
  );
  if (version === 0) return;
  const pip = spawnSync('python3', ['-m', 'pip', 'install', '--quiet', 'cfn-lint'], { stdio: 'inherit' });
  if (pip.status !== 0) throw new Error('cfn-lint is missing and `pip install cfn-lint` failed');
}

/**
 * Starts one moto server per Jest worker (each serves one request at a time: two workers on one
 * server wait for each other); workers inherit the endpoints and dummy credentials, and each
 * points its clients at its own server (worker-endpoint.ts).
 */
export default async function globalSetup(globalConfig: { maxWorkers: number }): Promise<void> {
  const [servers] = await Promise.all([
    Promise.all(Array.from({ length: Math.max(1, globalConfig.maxWorkers) }, () => startMotoServer())),
    ensureCfnLint(),
  ]);
  (globalThis as { __moto?: typeof servers }).__moto = servers;
  process.env[MOTO_ENDPOINTS] = servers.map((s) => s.endpoint).join(',');
  process.env.AWS_ENDPOINT_URL = servers[0].endpoint;
  process.env.AWS_ACCESS_KEY_ID = 'testing';
  process.env.AWS_SECRET_ACCESS_KEY = 'testing';
  process.env.AWS_SESSION_TOKEN = 'testing';
  process.env.AWS_REGION = 'us-east-1';
  process.env.AWS_DEFAULT_REGION = 'us-east-1';
  delete process.env.AWS_PROFILE;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  // Handlers write their metrics as EMF lines on stdout; in tests that is noise.
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  // A fresh directory per run for the ASL path coverage the workers record: engineers running jest
  // side by side in one tree must not mix their runs. The summary reporter reads it, then removes it.
  process.env[ASL_PATHS_DIR] = mkdtempSync(join(tmpdir(), 'fleetops-asl-paths-'));
}
