import type { MotoServer } from '../../cli/local/moto-server';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __moto?: MotoServer }).__moto?.stop();
}
