/**
 * A remediation case in the local runtime: each execution triage (or the sweep) started runs
 * through the remediation ASL, every Task state bound to the real remediation step. The bindings
 * log what each step decided and record the case's steps and outcome for the report.
 */
import type { RemediationPorts } from '../../functions/core/remediation/remediate';
import { REMEDIATION_STATES } from '../../functions/steps/state-names';
import { type StateMachineRunDeps, truncate } from './collect';
import { runLocally } from './executions';
import { noRetryWaits, noWaits } from './local-sfn';

/** Local stand-ins for the waits a real case spends. */
export const REMEDIATION_WAITS: Record<string, number> = {
  [REMEDIATION_STATES.waitForAction]: 100,
  [REMEDIATION_STATES.waitBeforeVerifying]: 300,
  [REMEDIATION_STATES.waitForBudget]: 500,
  // The traffic protocol's polls (15 s each when deployed).
  [REMEDIATION_STATES.waitForDraining]: 500,
  [REMEDIATION_STATES.waitForService]: 500,
};

export type RemediationRunDeps = StateMachineRunDeps<RemediationPorts>;

/** What a step's result says, for the case's steps in the report. */
function detailOf(state: string, out: Record<string, unknown>): string {
  switch (state) {
    case REMEDIATION_STATES.decide:
      return `${out.action}: ${out.reason}`;
    case REMEDIATION_STATES.act:
      return `${out.step}`;
    case REMEDIATION_STATES.verify:
      return `${out.recovered ? 'recovered' : 'not recovered'}: ${out.reason}`;
    case REMEDIATION_STATES.leaseInstance:
      return String(out.reason ?? '');
    default:
      return '';
  }
}

/** The function LocalPlumbing calls for each execution started: runs it to its end, records the case. */
export function remediationRunner(deps: RemediationRunDeps) {
  const { runtime, log, sampleBudgets, definition } = deps;
  const placement = new Map<string, { service: string; zone: string }>();
  for (const [service, byZone] of runtime.instances) {
    for (const [zone, ids] of byZone) for (const id of ids) placement.set(id, { service, zone });
  }
  return async (name: string, input: unknown): Promise<void> => {
    const caseId = (input as { state?: { caseId?: string } }).state?.caseId ?? name;
    const steps: Array<{ t: number; step: string; detail: string }> = [];
    const execution = runLocally(definition, input, {
      handler: (event) => deps.step(deps.ports, event),
      wrap: (state, call) => async (stepInput) => {
        let out: Record<string, unknown>;
        try {
          out = (await call(stepInput)) as Record<string, unknown>;
        } catch (error) {
          log.say(
            `case ${caseId.slice(0, 18)}: step "${state}" failed: ${error instanceof Error ? error.message : String(error)}`,
          );
          throw error;
        }
        const detail = detailOf(state, out);
        steps.push({ t: log.elapsed(), step: state, detail });
        if (state === REMEDIATION_STATES.decide)
          log.say(`case ${caseId.slice(0, 18)}: decide → ${truncate(detail, 150)}`);
        if (state === REMEDIATION_STATES.act) log.say(`case ${caseId.slice(0, 18)}: ${out.step} sent`);
        void sampleBudgets();
        return out;
      },
      waits: { ...noWaits(definition), ...REMEDIATION_WAITS },
      retryWaits: noRetryWaits(definition),
    });
    const opened = log.elapsed();
    await execution.result.catch(() => undefined);
    const stored = await runtime.stores.cases.get(caseId);
    if (stored) {
      log.record.remediations.push({
        caseId,
        instanceId: stored.finding.instanceId,
        service: placement.get(stored.finding.instanceId)?.service ?? '',
        zone: placement.get(stored.finding.instanceId)?.zone ?? '',
        kind: stored.finding.kind,
        opened,
        closed: log.elapsed(),
        status: stored.status,
        reason: stored.reason,
        tried: [...stored.tried],
        steps,
      });
      log.say(
        `case ${caseId.slice(0, 18)} (${stored.finding.kind} on ${stored.finding.instanceId}): ${stored.status} — ${truncate(stored.reason, 150)}`,
      );
    }
  };
}
