const Sequencer = require('@jest/test-sequencer').default;
const { relative } = require('node:path');

/**
 * Seconds each heavy file takes in a whole run on the 2-core machine (2 workers), measured (a
 * shared machine, load about 4).
 * Only the order matters: heaviest first, so that the two workers finish together instead of
 * one running a 100-second file alone at the end. Add a file here when it takes 15 s or more.
 */
const KNOWN_SECONDS = {
  'test/workflow/local-runtime.test.ts': 125,
  'test/workflow/remediation-traffic.test.ts': 110,
  'test/unit/fleet-sim.test.ts': 95,
  'test/workflow/rollout.test.ts': 95,
  'test/workflow/remediation-paths.test.ts': 85,
  'test/workflow/rollout-crashes.test.ts': 80,
  'test/workflow/rollout-faults.test.ts': 75,
  'test/workflow/rollout-live.test.ts': 70,
  'test/workflow/rollout-paths.test.ts': 65,
  'test/workflow/remediation.test.ts': 65,
  'test/workflow/rollback.test.ts': 60,
  'test/workflow/rollout-traffic.test.ts': 55,
  'test/workflow/actions.test.ts': 45,
  'test/infra/stack.test.ts': 40,
  'test/sim/churn.test.ts': 40,
  'test/sim/asl-in-simulator.test.ts': 35,
  'test/workflow/remediation-replace.test.ts': 35,
  'test/sim/rehearsal.test.ts': 30,
  'test/adapters/leases.test.ts': 30,
  'test/infra/permissions.test.ts': 25,
  'test/adapters/inventory.test.ts': 20,
  'test/handlers/inventory-sync.test.ts': 20,
  'test/sim/storm.test.ts': 15,
  'test/workflow/plan-recheck.test.ts': 15,
};

/**
 * Jest's order with the heavy files known on a clean clone. Jest runs the longest files first
 * when it has their times from an earlier run in its cache; without them it goes by file size,
 * which puts local-runtime.test.ts (small, about 100 s) near the end. Here a file's time is
 * Jest's cached one, else the one above; files failed last run still go first, and files with
 * no time at all go after the timed ones, biggest first, to fill the workers' last gaps.
 */
class HeaviestFirst extends Sequencer {
  sort(tests) {
    const size = new Map();
    const sizeOf = (test) => {
      if (!size.has(test.path)) size.set(test.path, test.context.hasteFS.getSize(test.path) ?? 0);
      return size.get(test.path);
    };
    const known = (test) =>
      KNOWN_SECONDS[relative(test.context.config.rootDir, test.path).split('\\').join('/')];
    for (const test of tests) {
      const cached = this.time(test);
      test.duration = cached ?? (known(test) == null ? undefined : known(test) * 1000);
    }
    return [...tests].sort((a, b) => {
      const failedA = this.hasFailed(a);
      if (failedA !== this.hasFailed(b)) return failedA ? -1 : 1;
      const timedA = a.duration != null;
      if (timedA !== (b.duration != null)) return timedA ? -1 : 1;
      if (timedA) return b.duration - a.duration;
      return sizeOf(b) - sizeOf(a);
    });
  }
}

module.exports = HeaviestFirst;
