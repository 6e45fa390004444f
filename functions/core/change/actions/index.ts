import type { Action, ActionType } from '../spec';
import type { ActionModule } from './action';
import { reboot } from './reboot';
import { replace } from './replace';
import { setTag } from './set-tag';
import { ssmCommand } from './ssm-command';
import { stopStart } from './stop-start';

/**
 * # Actions
 *
 * What a change does to each instance, one module per action type: its duration estimate,
 * whether it spends budgets by default, what undoing it means, how it is applied through the
 * ports, when it has settled (and how long that may take), its outcomes for the health gate and
 * what stays unavailable after it ({@link ActionModule}). The planner, the rollout's steps and
 * the rollback look an action up here instead of switching on its type.
 *
 * Adding an action: its schema in `actionSchema` (../spec.ts), one module here, one line in
 * {@link ACTIONS}. The compiler refuses a type without a module, or a module without a member.
 */
export const ACTIONS: { readonly [T in ActionType]: ActionModule<T> } = {
  reboot,
  'stop-start': stopStart,
  'ssm-command': ssmCommand,
  replace,
  'set-tag': setTag,
};

/**
 * The module of an action (or action type), typed for any action: the registry pairs each type
 * with its own module, so an action handed to it is always of the module's type.
 */
export const actionModule = (action: Action | ActionType) =>
  ACTIONS[typeof action === 'string' ? action : action.type] as ActionModule<ActionType>;

/** How long settle waits for the action on a wave ({@link ActionModule.settleLimitSeconds}). */
export const settleLimitSeconds = (action: Action): number => actionModule(action).settleLimitSeconds(action);

export type { ActionModule, ActionOf, ActionPorts, Preflight, SentView } from './action';

/**
 * Settle's looks at a wave (state-machines/rollout.asl.json, *Wait for the action*): the first
 * after 15 s, then twice as long each time, at most `cap` seconds apart (a fiftieth of the
 * action's limit, at least 5 minutes). Settle (rollout/settle.ts) waits by it, and the prediction
 * (plan/predict.ts) reads from it when the rollout will see an action finished (`seenAt`).
 */
export const SETTLE_FIRST_WAIT_SECONDS = 15;

/** The wait before the next look after `polls` looks. */
export const settleWaitAfter = (polls: number, capSeconds: number) =>
  Math.min(SETTLE_FIRST_WAIT_SECONDS * 2 ** Math.min(polls + 1, 16), capSeconds);

/**
 * A look comes this long after a bound the wave's traffic exits give (a drain's end, a readiness),
 * rather than on the schedule alone: the wave is seen done when it is, not up to a 5-minute wait
 * later. A bound passed with the work not done yet is looked at again after {@link OVERDUE_LOOK_SECONDS}.
 */
export const LOOK_MARGIN_SECONDS = 5;
export const OVERDUE_LOOK_SECONDS = 30;

/**
 * The wait before the next look, given the schedule's and the next traffic bound (epoch ms, if
 * any): a few seconds past the bound when that comes sooner; a short wait when it has passed.
 */
export function settleWaitFor(scheduled: number, now: number, dueAt: number | undefined): number {
  if (dueAt === undefined) return scheduled;
  if (dueAt <= now) return Math.min(scheduled, OVERDUE_LOOK_SECONDS);
  return Math.min(scheduled, Math.ceil((dueAt - now) / 1000) + LOOK_MARGIN_SECONDS);
}

/** The longest wait between two looks for an action: a fiftieth of its limit, at least 5 minutes. */
export const settleCapSeconds = (limitSeconds: number) => Math.max(300, Math.ceil(limitSeconds / 50));
