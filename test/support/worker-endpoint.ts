/**
 * Points this Jest worker's AWS clients at its own moto server (global-setup.ts starts one per
 * worker), before any test module builds a client. A file run in band (no workers) uses the first.
 */
export const MOTO_ENDPOINTS = 'FLEETOPS_MOTO_ENDPOINTS';

const endpoints = (process.env[MOTO_ENDPOINTS] ?? '').split(',').filter(Boolean);
if (endpoints.length > 0) {
  const worker = Number(process.env.JEST_WORKER_ID ?? '1');
  process.env.AWS_ENDPOINT_URL = endpoints[(Math.max(1, worker) - 1) % endpoints.length];
}
