import type { MotoServer } from './moto-server';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __moto?: MotoServer }).__moto?.stop();
}
