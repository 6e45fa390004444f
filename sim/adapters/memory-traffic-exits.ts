/**
 * The in-memory traffic exits: the DynamoDB store's semantics (a put refused for an exit another
 * owner recorded, a remove by the wrong owner a no-op) over a map by instance.
 */
import type { TrafficExit, TrafficExits } from '../../functions/core/ports/traffic';

/** A copy, so that callers never share an exit with the store (as a table would not). */
const copy = (e: TrafficExit): TrafficExit => ({
  ...e,
  deregistered: e.deregistered.map((t) => ({ ...t })),
  targetGroups: [...e.targetGroups],
});

export class MemoryTrafficExits implements TrafficExits {
  private readonly exits = new Map<string, TrafficExit>();

  async put(exits: readonly TrafficExit[]): Promise<string[]> {
    const refused = new Set<string>();
    for (const exit of exits) {
      const held = this.exits.get(exit.instanceId);
      if (held !== undefined && held.owner !== exit.owner) refused.add(exit.instanceId);
      else this.exits.set(exit.instanceId, copy(exit));
    }
    return [...refused];
  }

  async remove(owner: string, instanceIds: readonly string[]): Promise<void> {
    for (const id of instanceIds) if (this.exits.get(id)?.owner === owner) this.exits.delete(id);
  }

  async of(instanceIds: readonly string[]): Promise<Map<string, TrafficExit>> {
    const out = new Map<string, TrafficExit>();
    for (const id of instanceIds) {
      const exit = this.exits.get(id);
      if (exit !== undefined) out.set(id, copy(exit));
    }
    return out;
  }

  async all(): Promise<TrafficExit[]> {
    return [...this.exits.values()].map(copy).sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));
  }

  /** How many exits are kept (the simulation's checks: none once everything is back). */
  get size(): number {
    return this.exits.size;
  }
}
