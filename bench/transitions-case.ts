// State transitions per change: the real rollout ASL run by aws-local-stepfunctions, its Task
// states answering as the handlers do when nothing has to wait (every lease granted at once, the
// action settled at the first check, every gate passing), over real plans of synthetic fleets.
// The count depends on the number of waves only. Prints one JSON line.
import { StateMachine } from 'aws-local-stepfunctions';
import { planChange } from '../functions/core/change/plan/planner';
import { planRollback, rollbackSpec } from '../functions/core/change/rollout/rollback';
import { changeSpecSchema } from '../functions/core/change/spec';
import { serviceCatalog } from '../functions/core/fleet/services';
import { syntheticFleet } from '../sim/world/synthetic-fleet';
import { loadDefinition, noWaits } from '../test/support/local-sfn';

async function transitions(
  instances: number,
  services: number,
  failLastWave = false,
): Promise<{ instances: number; waves: number; transitions: number; rollbackWaves?: number }> {
  const fleet = syntheticFleet({ instances, services, zones: 3, seed: 11 });
  const spec = changeSpecSchema.parse({
    id: 'bench',
    description: 'bench',
    target: { tags: {} },
    action: { type: 'set-tag', tags: { v: '2' } },
    risk: 'low',
  });
  const plan = planChange({ instances: fleet.instances, catalog: serviceCatalog(fleet.services), spec });
  // With a failing last wave: every instance changed is rolled back (the real rollback planner).
  const rollbackPlan = failLastWave
    ? planRollback({
        spec: rollbackSpec(
          { ...spec, rollback: { action: { type: 'set-tag', tags: { v: '1' } }, waveFactor: 2 } },
          plan.waves.flatMap((w) => w.instances),
        )!,
        original: plan,
        changed: plan.waves.flatMap((w) =>
          w.instances.map((instanceId, k) => ({ instanceId, wave: w.index, at: k })),
        ),
        instances: fleet.instances,
        catalog: serviceCatalog(fleet.services),
        waveFactor: 2,
      })
    : undefined;
  const definition = loadDefinition('state-machines/rollout.asl.json', {
    RolloutStepFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:rollout-step',
  });
  type Step = {
    step: string;
    state?: { wave: number; waves: number; changeId: string; bakeSeconds: number; rollbackOf: string };
    polls?: number;
    attempts?: number;
  };
  const answer = async (raw: unknown) => {
    const event = raw as Step;
    switch (event.step) {
      case 'start':
        return { changeId: 'bench', wave: 0, waves: plan.waves.length, bakeSeconds: 0, rollbackOf: '' };
      case 'plan-rollback':
        return {
          rollback: true,
          reason: '',
          state: {
            changeId: 'bench-rollback',
            wave: 0,
            waves: rollbackPlan!.waves.length,
            bakeSeconds: 0,
            rollbackOf: 'bench',
          },
        };
      case 'check-window':
        return { decision: 'go', waitSeconds: 0, reason: '' };
      case 'lease':
        return { acquired: true, attempts: (event.attempts ?? 0) + 1, reason: 'leased' };
      case 'apply':
        return { applied: plan.waves[event.state!.wave].size, alreadyApplied: 0, lost: 0 };
      case 'settle':
        return { done: true, expired: false, polls: (event.polls ?? 0) + 1, waitSeconds: 15 };
      case 'gate': {
        const fail =
          rollbackPlan && event.state!.rollbackOf === '' && event.state!.wave === plan.waves.length - 1;
        return fail
          ? {
              verdict: 'fail',
              errors: 1,
              threshold: 0,
              reason: 'bench',
              onFailure: 'rollback',
              extensions: 0,
            }
          : { verdict: 'pass', errors: 0, threshold: 0, reason: '', extensions: 0 };
      }
      case 'release': {
        const next = event.state!.wave + 1;
        return { state: { ...event.state, wave: next }, more: next < event.state!.waves, approval: 'none' };
      }
      default:
        return { status: 'completed', reason: '' };
    }
  };
  const handlers = Object.fromEntries(
    Object.entries(definition.States as Record<string, { Type: string }>)
      .filter(([, s]) => s.Type === 'Task')
      .map(([name]) => [name, answer]),
  );
  const execution = new StateMachine(definition as never).run(
    { changeId: 'bench' },
    { overrides: { taskResourceLocalHandlers: handlers as never, waitTimeOverrides: noWaits(definition) } },
  );
  let entered = 0;
  for await (const event of execution.eventLogs) if (event.type === 'StateEntered') entered++;
  await execution.result.catch((error: Error) => {
    if (!failLastWave) throw error; // a rolled-back change ends its execution as failed
  });
  return {
    instances,
    waves: plan.waves.length,
    transitions: entered,
    ...(rollbackPlan ? { rollbackWaves: rollbackPlan.waves.length } : {}),
  };
}

async function main() {
  const results = [await transitions(100, 6), await transitions(5000, 60), await transitions(5000, 60, true)];
  process.stdout.write(`${JSON.stringify(results)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
