/**
 * `remediate --dry-run`: what remediation would decide for an event's findings, offline.
 */
import type { Finding } from '../events/findings';
import { type Instance, isUnavailable } from '../fleet/fleet';
import type { ServiceCatalog } from '../fleet/services';
import { headroom, resolveBudgets } from '../safety/budget';
import { evaluateBreaker } from './breaker';
import { nextStep } from './ladder';
import { timingFor } from './timing';
import type { Decision, OutcomeStats } from './types';

/**
 * What remediation would decide for the findings of one event, offline: the same timing,
 * breaker and ladder as the remediation state machine, with the fleet and budgets from files
 * when given (instances missing from the fleet are recorded, not acted on) and no outcome
 * history (the ladder's safe default). Acts on nothing.
 */
export function dryRunDecisions(input: {
  readonly findings: readonly Finding[];
  readonly instances?: readonly Instance[];
  readonly catalog?: ServiceCatalog;
  readonly now: number;
  readonly stats?: OutcomeStats;
  readonly rng?: () => number;
}): Decision[] {
  const byId = new Map((input.instances ?? []).map((i) => [i.id, i]));
  const rng = input.rng ?? (() => 0.5);
  return input.findings.map((finding): Decision => {
    const decision = (
      action: Decision['action'],
      reason: string,
      at = new Date(input.now).toISOString(),
    ) => ({
      instanceId: finding.instanceId,
      action,
      at,
      reason,
    });
    const target = byId.get(finding.instanceId);
    if (input.instances && (!target || target.state === 'terminated')) {
      return decision('record-only', 'not in the fleet inventory (or terminated): nothing to act on');
    }
    const timing = timingFor(finding, input.now);
    if (timing.action === 'record-only' || timing.action === 'drain' || timing.action === 'page') {
      return decision(timing.action, timing.reason, timing.at);
    }
    if (target && input.instances) {
      const breaker = evaluateBreaker({
        target,
        instances: input.instances,
        recentFindings: input.findings.map((f) => ({ instanceId: f.instanceId, at: input.now })),
        inFlight: [],
        now: input.now,
      });
      if (breaker.open) return decision('page', `breaker open (${breaker.scope}): ${breaker.reason}`);
    }
    let action: Decision['action'];
    let reason: string;
    if (timing.action === 'ladder') {
      const next = nextStep({ kind: finding.kind, tried: [], stats: input.stats ?? new Map(), rng });
      action = next.action;
      reason = next.reason;
    } else {
      action = timing.action;
      reason = timing.reason;
    }
    if (target && input.catalog && (action === 'reboot' || action === 'stop-start' || action === 'replace')) {
      const budget = resolveBudgets(input.instances ?? [], input.catalog, action).get(target.service);
      // The target, when already unavailable, counts against the budget already.
      if (budget && headroom(budget, target.zone) + (isUnavailable(target) ? 1 : 0) < 1) {
        return decision(
          'defer',
          `budget:${target.service} has no room in ${target.zone} now: ${action} waits for it`,
          timing.at,
        );
      }
    }
    return decision(action, reason, timing.at);
  });
}
