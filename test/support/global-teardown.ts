import type { MotoServer } from '../../cli/local/moto-server';

export default async function globalTeardown(): Promise<void> {
  const servers = (globalThis as { __moto?: MotoServer[] }).__moto ?? [];
  await Promise.all(servers.map((s) => s.stop()));
}
