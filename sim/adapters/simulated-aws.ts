import type {
  AutoScalingGroupState,
  AutoScalingPort,
  Ec2Port,
  InstanceCondition,
  InstanceLifecycle,
  SsmCommand,
} from '../../functions/core/ports/index';
import type { MetricsPort } from '../../functions/core/ports/metrics';
import type { Notifier } from '../../functions/core/ports/notifier';
import type { SsmPort } from '../../functions/core/ports/ssm-commands';
import type { TokenBucket } from '../../functions/core/shared/token-bucket';
import type { VirtualClock } from '../kernel/virtual-clock';
import type { SimWorld } from '../world/sim-world';
import {
  type ActionObserver,
  type ActKind,
  type Actor,
  type ApiRequests,
  ASG_GROUPS_PER_REQUEST,
  ASG_IDS_PER_REQUEST,
  chunks,
  EC2_IDS_PER_REQUEST,
  SSM_IDS_PER_COMMAND,
  STANDBY_IDS_PER_REQUEST,
  type TrafficObserver,
} from './common';

/**
 * EC2 as a Lambda's paced client sees it: ids in batches of 100, every request first takes a
 * token from the function's bucket (on the virtual clock), requests counted per API with the
 * time they waited. `forActor` gives the view one execution uses, so the invariant checks know
 * who acted.
 */
export class SimulatedEc2 {
  constructor(
    private readonly world: SimWorld,
    private readonly clock: VirtualClock,
    private readonly bucket: TokenBucket,
    private readonly requests: ApiRequests,
    private readonly observer?: ActionObserver,
  ) {}

  forActor(actor: Actor): Ec2Port {
    const act = async (api: string, kind: ActKind, ids: readonly string[], change: (id: string) => void) => {
      for (const batch of chunks(ids, EC2_IDS_PER_REQUEST)) {
        await this.paced(api);
        for (const id of batch) {
          this.observer?.acting(actor.owner(), actor.by, kind, id);
          change(id);
        }
      }
    };
    return {
      reboot: (ids) => act('RebootInstances', 'reboot', ids, (id) => this.world.reboot(id, actor.by)),
      stop: (ids) => act('StopInstances', 'stop', ids, (id) => this.world.stop(id)),
      start: (ids) => act('StartInstances', 'start', ids, (id) => this.world.start(id, actor.by)),
      setTags: async (ids, tags) => {
        for (const batch of chunks(ids, EC2_IDS_PER_REQUEST)) {
          await this.paced('CreateTags');
          for (const id of batch) this.world.setTags(id, tags);
        }
      },
      // GetConsoleOutput names one instance a request; its Timestamp is when the output was last posted.
      consoleOutputAt: async (ids) => {
        const out = new Map<string, number>();
        for (const id of ids) {
          await this.paced('GetConsoleOutput');
          const slot = this.world.slot(id);
          if (slot) out.set(id, slot.consoleAt);
        }
        return out;
      },
      conditions: async (ids) => {
        const out = new Map<string, InstanceCondition>();
        for (const batch of chunks(ids, EC2_IDS_PER_REQUEST)) {
          await this.paced('DescribeInstanceStatus');
          for (const id of batch) {
            const slot = this.world.slot(id);
            // EC2 forgets terminated instances; the simulation keeps reporting them, as within the hour it does.
            if (slot) out.set(id, { state: slot.instance.state, health: slot.instance.health });
          }
        }
        return out;
      },
    };
  }

  private async paced(api: string): Promise<void> {
    const asked = this.clock.now();
    await this.bucket.take();
    this.requests.count(api, this.clock.now() - asked);
  }
}

/**
 * Auto Scaling over the simulated groups (world/traffic-world.ts): their sizes, members and
 * lifecycle, Standby, termination and manual scaling, with AWS's validation errors. `skipStandby`
 * (the `skip-standby` defect) makes EnterStandby answer success and change nothing.
 */
export function simulatedAutoScaling(
  world: SimWorld,
  requests: ApiRequests,
  actor: Actor,
  observer?: ActionObserver & Partial<TrafficObserver>,
  skipStandby = false,
): AutoScalingPort {
  const traffic = world.traffic;
  const stateOf = (name: string): AutoScalingGroupState | undefined => {
    const g = traffic.groups.get(name);
    if (!g) return undefined;
    const health = world.groupHealth(name)!;
    const healthy = new Set(health.healthy);
    return {
      name,
      desired: g.desired,
      min: g.min,
      max: g.max,
      targetGroupArns: g.targetGroups.map((tg) => tg.arn),
      members: [...g.members].map(([id, m]) => ({
        id,
        lifecycle: m.lifecycle,
        healthy: m.healthy && (m.lifecycle !== 'InService' || healthy.has(id)),
      })),
    };
  };
  return {
    async groupsOf(ids) {
      const out = new Map<string, string>();
      for (const batch of chunks(ids, ASG_IDS_PER_REQUEST)) {
        requests.count('DescribeAutoScalingInstances');
        for (const id of batch) {
          const group = world.groupOf(id);
          if (group) out.set(id, group);
        }
      }
      return out;
    },
    async lifecycleOf(ids) {
      const out = new Map<string, InstanceLifecycle>();
      for (const batch of chunks(ids, ASG_IDS_PER_REQUEST)) {
        requests.count('DescribeAutoScalingInstances');
        for (const id of batch) {
          const m = world.slot(id)?.member;
          if (m) out.set(id, { group: m.group.name, lifecycle: m.lifecycle, healthy: m.healthy });
        }
      }
      return out;
    },
    async terminateKeepingCapacity(id) {
      requests.count('TerminateInstanceInAutoScalingGroup');
      observer?.acting(actor.owner(), actor.by, 'terminate', id);
      world.terminateInGroup(id, actor.by);
    },
    async terminateDecrementingCapacity(id) {
      requests.count('TerminateInstanceInAutoScalingGroup');
      observer?.acting(actor.owner(), actor.by, 'terminate', id);
      world.terminateInGroup(id, actor.by, true);
    },
    async setDesiredCapacity(group, desired) {
      requests.count('SetDesiredCapacity');
      world.traffic.setDesired(group, desired);
    },
    async describeGroup(group) {
      requests.count('DescribeAutoScalingGroups');
      return stateOf(group);
    },
    async describeGroups(names) {
      const out: AutoScalingGroupState[] = [];
      for (const batch of chunks([...new Set(names)], ASG_GROUPS_PER_REQUEST)) {
        requests.count('DescribeAutoScalingGroups');
        for (const name of batch) {
          const g = stateOf(name);
          if (g) out.push(g);
        }
      }
      return out;
    },
    async enterStandby(group, ids) {
      for (const batch of chunks(ids, STANDBY_IDS_PER_REQUEST)) {
        requests.count('EnterStandby');
        for (const id of batch) observer?.traffic?.(actor.owner(), actor.by, 'standby', id);
        if (!skipStandby) traffic.enterStandby(group, batch);
      }
    },
    async exitStandby(group, ids) {
      for (const batch of chunks(ids, STANDBY_IDS_PER_REQUEST)) {
        requests.count('ExitStandby');
        for (const id of batch) observer?.traffic?.(actor.owner(), actor.by, 'exit-standby', id);
        traffic.exitStandby(group, batch);
      }
    },
    async health(groups) {
      const out = new Map<
        string,
        { desired: number; healthy: readonly string[]; members: readonly string[] }
      >();
      for (const batch of chunks(groups, ASG_IDS_PER_REQUEST)) {
        requests.count('DescribeAutoScalingGroups');
        for (const name of batch) {
          const health = world.groupHealth(name);
          if (health) out.set(name, health);
        }
      }
      return out;
    },
  };
}

/** Run Command: 50 instances a command; each invocation runs a few minutes and fails where the instance is down. */
export function simulatedSsm(
  world: SimWorld,
  requests: ApiRequests,
  actor: Actor,
  observer?: ActionObserver,
): SsmPort {
  let sent = 0;
  return {
    async send(ids: readonly string[], _command: SsmCommand) {
      const out: Array<{ commandId: string; instanceIds: string[] }> = [];
      for (const batch of chunks(ids, SSM_IDS_PER_COMMAND)) {
        requests.count('SendCommand');
        const commandId = `${actor.owner()}-cmd-${String(++sent).padStart(6, '0')}`;
        for (const id of batch) observer?.acting(actor.owner(), actor.by, 'ssm', id);
        world.sendCommand(commandId, batch);
        out.push({ commandId, instanceIds: batch });
      }
      return out;
    },
    async states(commandIds) {
      const out = new Map<string, 'pending' | 'success' | 'failed'>();
      for (const id of commandIds) {
        requests.count('ListCommands');
        out.set(id, world.commandState(id));
      }
      return out;
    },
    async failedInstances(commandId) {
      requests.count('ListCommandInvocations');
      return world.commandFailures(commandId);
    },
  };
}

/**
 * CloudWatch in an account that defines no alarms and publishes no per-instance metrics: an
 * alarm a spec names is `missing` (as the adapter reports a name that does not exist) and a
 * metric has no samples (the judge then says inconclusive). The simulated change gates on
 * status checks, which the simulated EC2 answers.
 */
export function simulatedMetrics(requests: ApiRequests): MetricsPort {
  return {
    async alarmStates(names) {
      requests.count('DescribeAlarms');
      return new Map(names.map((n) => [n, 'missing']));
    },
    async samples() {
      requests.count('GetMetricData');
      return [];
    },
  };
}

/** SNS: every page a person would get: about the breaker (one per storm) or about one instance. */
export class RecordingNotifier implements Notifier {
  breakerPages = 0;
  instancePages = 0;
  /** Breaker pages per scope (`zone:us-east-1a`, `service:web`, `account`). */
  readonly breakerScopes = new Map<string, number>();

  async publish(subject: string, _message: string): Promise<void> {
    const breaker = /^FleetOps breaker open: (.+)$/.exec(subject);
    if (breaker) {
      this.breakerPages++;
      this.breakerScopes.set(breaker[1], (this.breakerScopes.get(breaker[1]) ?? 0) + 1);
    } else this.instancePages++;
  }
}
