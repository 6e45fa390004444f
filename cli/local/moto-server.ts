import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

/**
 * A moto server (the AWS emulator) on a free loopback port: one per test run, benchmark or
 * local runtime. Tests isolate themselves by table name and region, so they can share it.
 *
 * It serves one request at a time. moto applies a DynamoDB transaction item by item and, on a
 * failed condition, restores a snapshot of the whole table taken before it started; two
 * transactions running at once on its threads therefore undo each other's writes, which real
 * DynamoDB never does (transactions are serializable). Serving requests one by one gives each
 * request DynamoDB's atomicity while the actors in a test still interleave between requests,
 * which is where FleetOps' races live.
 */
const LAUNCHER = [
  'import sys, moto.server as s',
  'run = s.run_simple',
  's.run_simple = lambda *a, **k: run(*a, **{**k, "threaded": False})',
  's.main(sys.argv[1:])',
].join('\n');
export interface MotoServer {
  readonly endpoint: string;
  stop(): Promise<void>;
}

export async function startMotoServer(): Promise<MotoServer> {
  ensureMotoInstalled();
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child = spawn('python3', ['-c', LAUNCHER, '-H', '127.0.0.1', '-p', String(port)], {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: false,
    });
    let stderr = '';
    child.stderr?.on('data', (chunk) => {
      stderr += String(chunk);
    });
    const endpoint = `http://127.0.0.1:${port}`;
    if (await waitUntilReady(endpoint, child)) {
      return { endpoint, stop: () => stop(child) };
    }
    await stop(child);
    if (!/address already in use/i.test(stderr)) throw new Error(`moto_server did not start:\n${stderr}`);
  }
  throw new Error('moto_server: no free port after 5 attempts');
}

function ensureMotoInstalled(): void {
  if (spawnSync('moto_server', ['--help'], { stdio: 'ignore' }).status === 0) return;
  const pip = spawnSync('python3', ['-m', 'pip', 'install', '--quiet', 'moto[server]'], { stdio: 'inherit' });
  if (pip.status !== 0 || spawnSync('moto_server', ['--help'], { stdio: 'ignore' }).status !== 0) {
    throw new Error(
      'moto_server is missing and `pip install "moto[server]"` failed: install moto[server] first',
    );
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilReady(endpoint: string, child: ChildProcess): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) return false;
    try {
      const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}
