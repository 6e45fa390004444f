import { type ChangeSpec, changeSpecSchema } from '../../functions/core/change/spec';
import type { Instance } from '../../functions/core/fleet/fleet';

let serial = 0x1000;

/** `n` running, healthy instances of a service in a zone, with fresh ids. */
export function instances(
  n: number,
  service: string,
  zone: string,
  overrides: Partial<Instance> = {},
): Instance[] {
  return Array.from({ length: n }, () => ({
    id: `i-${(serial++).toString(16).padStart(8, '0')}`,
    service,
    zone,
    state: 'running' as const,
    health: 'ok' as const,
    tags: {},
    ...overrides,
  }));
}

/** A change spec as an operator would write it, through the real schema (defaults included). */
export function spec(fields: Record<string, unknown> = {}): ChangeSpec {
  return changeSpecSchema.parse({
    id: 'test-change',
    description: 'a test change',
    target: { services: ['web'] },
    action: { type: 'reboot' },
    risk: 'low',
    ...fields,
  });
}
