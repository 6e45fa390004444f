/**
 * Items a remediation decision reads from the fleet-state table, counted as DynamoDB would bill
 * them: each instance, finding, freeze, service or outcome count returned is an item; the breaker's
 * counts are one item per scope (three, one BatchGetItem); a case is one, and so is the instance's
 * last remediation (relapse.ts).
 */
import type { RemediationPorts } from '../../functions/core/remediation/remediate';

/** Ports whose table reads add to `count.items` (everything else is the ports given). */
export function countingReads(ports: RemediationPorts, count: { items: number }): RemediationPorts {
  const { fleet, cases } = ports;
  const counted = <T>(items: T[]): T[] => {
    count.items += items.length;
    return items;
  };
  return {
    ...ports,
    fleet: {
      ...fleet,
      audit: (records) => fleet.audit(records),
      closeFinding: (finding, outcome, now) => fleet.closeFinding(finding, outcome, now),
      listInstances: async () => counted(await fleet.listInstances()),
      getInstances: async (ids) => counted(await fleet.getInstances(ids)),
      openFindings: async () => counted(await fleet.openFindings()),
      listFreezes: async () => counted(await fleet.listFreezes()),
      scopeHealth: async (target) => counted(await fleet.scopeHealth(target)),
      recordWrittenAt: async (id) => {
        count.items++;
        return fleet.recordWrittenAt(id);
      },
      getServices: async () => {
        const file = await fleet.getServices();
        // One item per service, and the defaults.
        count.items += Object.keys(file.services).length + 1;
        return file;
      },
    },
    cases: {
      ...cases,
      get: async (id) => {
        const c = await cases.get(id);
        if (c) count.items++;
        return c;
      },
      stats: async (keys) => {
        const stats = await cases.stats(keys);
        count.items += stats.size;
        return stats;
      },
      decide: (...a) => cases.decide(...a),
      setStatus: (...a) => cases.setStatus(...a),
      recordOutcome: (...a) => cases.recordOutcome(...a),
      inFlight: () => cases.inFlight(),
      claimPage: (...a) => cases.claimPage(...a),
      closeBreakers: (...a) => cases.closeBreakers(...a),
      lastRemediation: async (id) => {
        const last = await cases.lastRemediation(id);
        if (last) count.items++;
        return last;
      },
      rememberRemediation: (record) => cases.rememberRemediation(record),
      reviseOutcome: (...a) => cases.reviseOutcome(...a),
    },
  };
}
