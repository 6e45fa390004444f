import { type ChangeSpec, changeSpecSchema } from '../functions/core/change/spec';
import type { Instance } from '../functions/core/fleet/fleet';
import type { ServicesFile } from '../functions/core/fleet/services';
import {
  FLEET_STORE_DEFECTS,
  type FleetStoreDefect,
  LEASE_STORE_DEFECTS,
  type LeaseStoreDefect,
} from './adapters';
import { APPROVAL_MINUTES } from './operator';
import type { Scenario } from './scenario';

/** What `simulateFleet` takes: the fleet, the faults, the change, and its defaults and checks. */

/** The simulated change's action: a fleet-wide reboot, or a Run Command document on every instance. */
export const SIM_ACTIONS = ['reboot', 'ssm-command'] as const;
export type SimAction = (typeof SIM_ACTIONS)[number];

/**
 * Deliberate defects, to prove the invariant checks catch what they claim to catch: the lease
 * store's (adapters/memory-lease-store.ts); `skip-standby`: the simulated Auto Scaling's
 * EnterStandby and ELB's DeregisterTargets answer success and do nothing, so FleetOps acts on
 * instances still in service (drain-before-act) and groups replace stopped ones (no-replacement);
 * and the fleet store's `ignore-breaker` (adapters/memory-fleet-store.ts): the breaker's counts
 * say every scope is healthy, so remediation acts in a storm (breaker).
 */
export const SIM_DEFECTS = [...LEASE_STORE_DEFECTS, 'skip-standby', ...FLEET_STORE_DEFECTS] as const;
export type SimDefect = (typeof SIM_DEFECTS)[number];

export const isLeaseStoreDefect = (d: SimDefect | undefined): d is LeaseStoreDefect =>
  (LEASE_STORE_DEFECTS as readonly string[]).includes(d ?? '');

export const isFleetStoreDefect = (d: SimDefect | undefined): d is FleetStoreDefect =>
  (FLEET_STORE_DEFECTS as readonly string[]).includes(d ?? '');

export interface FleetSimOptions {
  readonly instances: number;
  readonly zones: number;
  readonly services: number;
  /**
   * Instance faults per instance per simulated hour: faults arrive as a Poisson process at
   * `faultRate × instances` an hour, each on an instance drawn at random (0.0001 = 0.01% of the
   * fleet an hour = 10 an hour at 100,000). A fault on an instance already down changes nothing.
   */
  readonly faultRate: number;
  /**
   * Churn: instances terminated and launched per instance per simulated hour, each a Poisson
   * process at `churnRate × live instances` an hour (world/churn.ts): scale-ins of instances in
   * service, scale-outs like a drawn instance. With churn, the groups have room to scale (a
   * maximum a tenth above their size: traffic-layout.ts `scalingRoom`). @default 0
   */
  readonly churnRate?: number;
  readonly seed: number;
  /** @default 'reboot' */
  readonly action?: SimAction;
  /** @default 10 */
  readonly bakeMinutes?: number;
  /**
   * Probability that Step Functions delivers an apply, decide, act or verify Task twice (the Lambda's response
   * was lost and the state retried it): the at-most-once machinery must absorb it. @default 0.02
   */
  readonly retryRate?: number;
  /**
   * Every service in an Auto Scaling group, so the ladder may replace any instance. Off, about
   * 30% of the services are in one (with `traffic`), and the ladder pages for the others (replace
   * needs a group). @default false
   */
  readonly autoScaling?: boolean;
  /**
   * Load balancing and Auto Scaling (world/traffic-layout.ts): about 80% of the services behind
   * an ELBv2 target group (deregistration delay 30–300 s, healthy threshold × interval 20–150 s),
   * about 30% in an Auto Scaling group (all with `autoScaling`) that health-checks and replaces
   * its members. Off: no target group, and groups only with `autoScaling`. @default true
   */
  readonly traffic?: boolean;
  /** A deliberate defect (SIM_DEFECTS), to prove the checks catch it. @default none */
  readonly defect?: SimDefect;
  /**
   * A storm: this fraction of the first zone's instances fail their system status check at once,
   * an hour into the run ({@link STORM_AT_MINUTE}; a scenario's fault event, sim/scenario.ts), so
   * the breaker and the in-flight caps meet a zone-wide event. It replaces the default incidents.
   * @default none
   */
  readonly storm?: number;
  /**
   * The default scenario's incidents (incidents.ts): hosts failing in one zone as the change's
   * canary is leased (twice the zone's in-flight cap of instances, some of them the canary's), and
   * a zone event six hours in (30% of a zone the change is not at work in, for 20 minutes). They
   * make the change and remediation meet, so that a default run exercises every invariant. A storm
   * (`storm`) replaces them. @default true
   */
  readonly incidents?: boolean;
}

/** When a storm (`storm`) strikes: an hour into the run. */
export const STORM_AT_MINUTE = 60;

/** How long a storm's zone event lasts (minutes): then its instances still impaired recover by themselves. */
export const STORM_MINUTES = 120;

/**
 * The defaults: the design scale, a fault rate of 0.002% of the fleet an hour (2 an hour at
 * 100,000, about 180 over the four days the change takes), and the incidents (incidents.ts):
 * failing hosts under the change's canary, a zone event six hours in.
 */
export const FLEET_SIM_DEFAULTS = {
  instances: 100_000,
  zones: 3,
  services: 500,
  faultRate: 0.00002,
  churnRate: 0,
  seed: 1,
  action: 'reboot' as SimAction,
  bakeMinutes: 10,
  retryRate: 0.02,
  autoScaling: false,
  traffic: true,
  incidents: true,
} as const;

/** Validates options; throws an Error that says what was expected and what was found. */
export function checkFleetSimOptions(o: FleetSimOptions): void {
  const whole = (name: string, value: number, min: number, max: number) => {
    if (!Number.isInteger(value) || value < min || value > max)
      throw new Error(`${name}: expected a whole number from ${min} to ${max}, found ${value}`);
  };
  whole('instances', o.instances, 1, 1_000_000);
  whole('zones', o.zones, 1, 26);
  whole('services', o.services, 1, o.instances);
  checkRates(o);
  if (o.storm !== undefined && !(o.storm > 0 && o.storm <= 1))
    throw new Error(`storm: expected a fraction above 0, at most 1, found ${o.storm}`);
  const bake = o.bakeMinutes ?? FLEET_SIM_DEFAULTS.bakeMinutes;
  if (!(bake >= 0 && bake <= 1440)) throw new Error(`bakeMinutes: expected 0 to 1440, found ${bake}`);
}

function checkRates(o: {
  readonly seed: number;
  readonly faultRate?: number;
  readonly churnRate?: number;
  readonly retryRate?: number;
}): void {
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 2 ** 32 - 1)
    throw new Error(`seed: expected a whole number from 0 to ${2 ** 32 - 1}, found ${o.seed}`);
  for (const [name, value] of [
    ['faultRate', o.faultRate ?? 0],
    ['churnRate', o.churnRate ?? 0],
  ] as const)
    if (!(value >= 0 && value <= 1))
      throw new Error(`${name}: expected a fraction from 0 to 1 (per instance per hour), found ${value}`);
  const retry = o.retryRate ?? FLEET_SIM_DEFAULTS.retryRate;
  if (!(retry >= 0 && retry <= 1))
    throw new Error(`retryRate: expected a probability from 0 to 1, found ${retry}`);
}

/**
 * A rehearsal (`rehearseChange`): the operator's own change over their own fleet and services
 * (files as `fleetops plan` reads them, the fleet as `fleetops fleet export` writes it), with a
 * scenario of timed events, on the simulator.
 */
export interface RehearsalOptions {
  readonly fleet: { readonly instances: readonly Instance[] };
  readonly services: ServicesFile;
  readonly spec: ChangeSpec;
  readonly scenario?: Scenario;
  /** Random faults besides the scenario's (as in the synthetic mode). @default 0 */
  readonly faultRate?: number;
  /** @default 0 */
  readonly churnRate?: number;
  readonly seed: number;
  /** @default 0.02 */
  readonly retryRate?: number;
  /**
   * The target groups and Auto Scaling groups the fleet file records (world/fleet-layout.ts);
   * off: none. @default true
   */
  readonly traffic?: boolean;
  readonly defect?: SimDefect;
  /** The files' names, for the report. */
  readonly sources?: {
    readonly fleet: string;
    readonly services: string;
    readonly spec: string;
    readonly scenario?: string;
  };
}

export function checkRehearsalOptions(o: RehearsalOptions): void {
  checkRates(o);
  const live = o.fleet.instances.filter((i) => i.state !== 'terminated').length;
  if (live === 0) throw new Error('fleet: expected at least one instance that is not terminated, found none');
}

/** The change the simulation rolls out: every service, gated on status checks, paused (not stopped) by a failed gate. */
export function simulatedChangeSpec(
  target: { services: readonly string[] } | { instanceIds: readonly string[] },
  action: SimAction,
  bakeMinutes: number,
  attempt = 1,
): ChangeSpec {
  const what =
    action === 'reboot' ? 'simulated fleet-wide reboot' : 'simulated fleet-wide security patch (Run Command)';
  return changeSpecSchema.parse({
    id: attempt === 1 ? `sim-${action}` : `sim-${action}-${attempt}`,
    description: attempt === 1 ? what : `${what}: what is left after attempt ${attempt - 1} failed`,
    target,
    action:
      action === 'reboot'
        ? { type: 'reboot' }
        : {
            type: 'ssm-command',
            document: 'AWS-RunShellScript',
            parameters: { commands: ['dnf -y upgrade --security'] },
            timeoutSeconds: 900,
          },
    risk: 'medium',
    strategy: { bakeMinutes },
    gates: { statusChecks: true, errorThreshold: '5%', onFailure: 'pause', rollbackThreshold: '50%' },
    // The simulated person answers each approval this long after it is asked (operator.ts): what
    // the prediction should expect, as a team sets it for its own reviewers.
    approval: { expectedWaitMinutes: APPROVAL_MINUTES },
  });
}
