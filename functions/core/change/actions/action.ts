import type { InstanceCondition } from '../../fleet/fleet';
import type { AutoScalingPort } from '../../ports/autoscaling';
import type { Ec2Port } from '../../ports/ec2';
import type { SsmPort } from '../../ports/ssm-commands';
import type { Action, ActionType } from '../spec';

/**
 * What one action type is, for every part of the change that depends on it: the planner (how
 * long it takes), the lease (whether it spends budgets), apply, settle, the gate, the release
 * and the rollback. One module per type implements it (reboot.ts, stop-start.ts…); the registry
 * (index.ts) lists them, and the compiler checks that every type has one and that each module
 * has every member.
 */
export interface ActionModule<T extends ActionType> {
  readonly type: T;
  /** Estimated minutes for the action to finish on one wave, before the bake (plan, lease TTL). */
  readonly minutes: number;
  /**
   * Whether the action spends a service's disruption budget when the service's `impact` does
   * not say (disruptive is the safe default).
   */
  readonly disruptiveByDefault: boolean;
  /**
   * What undoing it means: `nothing` when it leaves no change behind (a restarted instance is
   * the same instance; a replaced one is a fresh one), `spec-rollback` when only the spec's
   * declared rollback action restores an instance (without one, the change stays).
   */
  readonly undo: 'nothing' | 'spec-rollback';
  /**
   * Whether the traffic protocol goes around the action when it is disruptive for the service
   * (core/traffic: out of traffic and drained first, back and healthy after). `replace` does not:
   * Auto Scaling drains a member from its target groups itself as it terminates it.
   */
  readonly outOfTraffic: boolean;
  /**
   * How long the action may take to finish on a wave before settle stops waiting and the gate
   * judges what is there (counted from the wave's first apply).
   */
  settleLimitSeconds(action: ActionOf<T>): number;
  /**
   * How many instances {@link finished} can check on one look, when it reads one request per
   * instance (a reboot's proof): settle then looks again soon while it makes progress, and its
   * limit grows by a minute per look the wave needs.
   */
  readonly readsPerLook?: number;
  /**
   * Before the action: the wave's instances it can no longer be applied to (EC2 says they are
   * gone, with why; the rollout skips them) and the conditions read to find out (also used by
   * {@link inDoubt}). An action that goes through Auto Scaling reads nothing.
   */
  preflight(ports: ActionPorts, members: readonly string[]): Promise<Preflight>;
  /**
   * Of the leased instances, those the action cannot be applied to (refused, with why; the
   * gate counts them as errors) and the Auto Scaling group each one is replaced through.
   */
  route(
    ports: ActionPorts,
    leased: readonly string[],
  ): Promise<{ refused: Array<{ id: string; reason: string }>; groups: ReadonlyMap<string, string> }>;
  /**
   * An instance an attempt recorded, and meant to send, before it died without saying whether it
   * sent: send it (again), take it as sent, or record its outcome as unknown (an error for the
   * gate). Exactly once where it can be known, at most once where it cannot.
   */
  inDoubt(condition: InstanceCondition | undefined): 'send' | 'sent' | 'unknown';
  /** Sends the action for the instances (already recorded); returns what settle must follow. */
  apply(
    ports: ActionPorts,
    action: ActionOf<T>,
    ids: readonly string[],
    context: { readonly changeId: string; readonly wave: number },
  ): Promise<{ commands?: Array<{ commandId: string; instanceIds: string[] }> }>;
  /**
   * Of the instances the action was sent to, those on which it has really finished (may move it
   * on: stop-start starts stopped instances). A reboot: proof that the instance restarted (console
   * output posted after the request), then its status checks concluded.
   */
  finished(ports: ActionPorts, sent: SentView, ids: readonly string[]): Promise<ReadonlySet<string>>;
  /**
   * The action's own outcomes for the gate, added to `outcomes` (instance or group → why not
   * ok); returns the instances whose status checks the gate then looks at.
   */
  outcomes(
    ports: ActionPorts,
    sent: SentView,
    members: readonly string[],
    outcomes: Map<string, string>,
  ): Promise<string[]>;
  /**
   * After the wave, the instances that stay unavailable (their budget keeps counting until
   * inventory sync sees them back).
   */
  stillUnavailable(ports: ActionPorts, sent: SentView, members: readonly string[]): Promise<string[]>;
}

/** The action of one type, as the spec gives it (its fields: tags, document…). */
export type ActionOf<T extends ActionType> = Extract<Action, { readonly type: T }>;

/** The outside world an action reaches: EC2, SSM Run Command and Auto Scaling. */
export interface ActionPorts {
  readonly ec2: Ec2Port;
  readonly ssm: SsmPort;
  readonly autoscaling: AutoScalingPort;
}

export interface Preflight {
  readonly gone: Array<{ id: string; reason: string }>;
  readonly conditions: ReadonlyMap<string, InstanceCondition>;
}

/** What a wave's apply attempts sent, merged (read back from the change's wave records). */
export interface SentView {
  /** Instances the action was sent to (or taken as sent). */
  readonly applied: readonly string[];
  /** SSM commands sent, with their instances. */
  readonly commands: ReadonlyArray<{ readonly commandId: string; readonly instanceIds: readonly string[] }>;
  /** Replaced instance → its Auto Scaling group. */
  readonly groups: Readonly<Record<string, string>>;
  /** When each instance's action was recorded as about to be sent (epoch ms, the apply record's time). */
  readonly sentAt: Readonly<Record<string, number>>;
  /** Instances settle already saw the action finished on (recorded: never asked again). */
  readonly finished?: readonly string[];
}
