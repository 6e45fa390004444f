/**
 * The handlers' environment: what each Lambda reads from its environment variables (set by the
 * stack, lib/*.ts), read once at load, checked, and turned into typed settings. A missing
 * variable fails fast at the first cold start, naming every one that is missing, not far away
 * later. Not to be confused with the CDK context (lib/settings.ts) or the input files
 * (functions/core/input/files.ts). The composition root (functions/app/ports.ts) takes these.
 */
import {
  ACCUMULATE_MINUTES,
  BREAKER_HOLD_MINUTES,
  BREAKER_MAX_IN_FLIGHT,
  BREAKER_MAX_UNHEALTHY_PERCENT,
  BREAKER_RECHECK_MINUTES,
  RELAPSE_FLAP_LIMIT,
  RELAPSE_WINDOW_MINUTES,
} from '../core/defaults';
import type { FindingKind } from '../core/events/findings';
import type { BreakerThresholds } from '../core/remediation/breaker';
import type { RelapseSettings } from '../core/remediation/relapse';

type Env = NodeJS.ProcessEnv;

/** The named variables, every one of them required; throws naming all that are missing. */
export function readEnvironment<const Names extends readonly string[]>(
  names: Names,
  env: Env = process.env,
): { readonly [K in Names[number]]: string } {
  const missing = names.filter((name) => !env[name]);
  if (missing.length > 0) throw new Error(`missing environment variables: ${missing.join(', ')}`);
  return Object.fromEntries(names.map((name) => [name, env[name] as string])) as {
    [K in Names[number]]: string;
  };
}

/**
 * Remediation's tuning as the stack passes it (lib/settings.ts `RemediationTuning`): the variables
 * are named here, once, for the stack that sets them and the handlers that read them.
 */
export interface RemediationTuningVariables {
  readonly accumulate: { readonly instanceCheckMinutes: number; readonly systemCheckMinutes: number };
  readonly hold: { readonly recheckMinutes: number; readonly holdMinutes: number };
  readonly relapse: { readonly windowMinutes: number; readonly flapLimit: number };
  readonly inFlight: { readonly account?: number; readonly zone?: number; readonly service?: number };
}

/** The accumulation windows: what triage and the sweep (both open cases) need. */
export function accumulateEnvironment(
  t: Pick<RemediationTuningVariables, 'accumulate'>,
): Record<string, string> {
  return {
    ACCUMULATE_INSTANCE_CHECK_MINUTES: String(t.accumulate.instanceCheckMinutes),
    ACCUMULATE_SYSTEM_CHECK_MINUTES: String(t.accumulate.systemCheckMinutes),
  };
}

/** The hold, relapse and in-flight settings: what the remediation step needs. */
export function remediationStepEnvironment(t: RemediationTuningVariables): Record<string, string> {
  return {
    BREAKER_RECHECK_MINUTES: String(t.hold.recheckMinutes),
    BREAKER_HOLD_MINUTES: String(t.hold.holdMinutes),
    RELAPSE_WINDOW_MINUTES: String(t.relapse.windowMinutes),
    FLAP_LIMIT: String(t.relapse.flapLimit),
    ...(t.inFlight.account ? { IN_FLIGHT_PER_ACCOUNT: String(t.inFlight.account) } : {}),
    ...(t.inFlight.zone ? { IN_FLIGHT_PER_ZONE: String(t.inFlight.zone) } : {}),
    ...(t.inFlight.service ? { IN_FLIGHT_PER_SERVICE: String(t.inFlight.service) } : {}),
  };
}

/**
 * An optional numeric variable: its default when unset; otherwise a number within [min, max]
 * (whole unless `fraction`), or an error naming the variable, what it expected and what it found.
 */
function numberOf(
  env: Env,
  name: string,
  fallback: number,
  { min, max, whole = true }: { min: number; max: number; whole?: boolean },
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max || (whole && !Number.isInteger(n))) {
    throw new Error(
      `environment variable ${name}: expected ${whole ? 'a whole number' : 'a number'} from ${min} to ${max}, found "${raw}"`,
    );
  }
  return n;
}

/** The accumulation window per kind, from ACCUMULATE_*_CHECK_MINUTES (core/defaults.ts otherwise). */
export function accumulateFromEnv(env: Env = process.env): Readonly<Partial<Record<FindingKind, number>>> {
  const minutes = { min: 0, max: 60 };
  return {
    'instance-status-check-failed': numberOf(
      env,
      'ACCUMULATE_INSTANCE_CHECK_MINUTES',
      ACCUMULATE_MINUTES['instance-status-check-failed'],
      minutes,
    ),
    'system-status-check-failed': numberOf(
      env,
      'ACCUMULATE_SYSTEM_CHECK_MINUTES',
      ACCUMULATE_MINUTES['system-status-check-failed'],
      minutes,
    ),
  };
}

/** The rollout step: the fleet-state table and the topic it tells people on. */
export interface RolloutSettings {
  readonly table: string;
  readonly topicArn: string;
}

/** The remediation step: the table, the topic it pages on, the breaker's thresholds, the relapse window. */
export interface RemediationSettings {
  readonly table: string;
  readonly topicArn: string;
  readonly breaker: Required<
    Pick<
      BreakerThresholds,
      'maxUnhealthyFraction' | 'maxInFlightPerScope' | 'inFlight' | 'recheckMinutes' | 'holdMinutes'
    >
  >;
  readonly relapse: Required<RelapseSettings>;
}

/** Triage: the table, the remediation state machine it starts cases on, the accumulation windows. */
export interface TriageSettings {
  readonly table: string;
  readonly remediationArn: string;
  /** @default core/defaults.ts ACCUMULATE_MINUTES */
  readonly accumulate?: Readonly<Partial<Record<FindingKind, number>>>;
}

/** The inventory sweep: the table, the tags, and the remediation state machine when deployed with it. */
export interface InventorySettings {
  readonly table: string;
  readonly managedTag: { readonly key: string; readonly value: string };
  readonly serviceTagKey: string;
  readonly remediationArn?: string;
  /** The FleetOps topic: the sweep pages about instances it cannot bring back into traffic. */
  readonly topicArn?: string;
  /** The accumulation windows of the cases it opens. @default core/defaults.ts ACCUMULATE_MINUTES */
  readonly accumulate?: Readonly<Partial<Record<FindingKind, number>>>;
}

/** Each handler's settings from its environment (the variables lib/*.ts sets). */
export const settingsFromEnv = {
  rollout(env: Env = process.env): RolloutSettings {
    const e = readEnvironment(['TABLE_NAME', 'TOPIC_ARN'] as const, env);
    return { table: e.TABLE_NAME, topicArn: e.TOPIC_ARN };
  },
  remediation(env: Env = process.env): RemediationSettings {
    const e = readEnvironment(['TABLE_NAME', 'TOPIC_ARN'] as const, env);
    const cap = (name: string) => (env[name] ? numberOf(env, name, 0, { min: 1, max: 10_000 }) : undefined);
    const caps = {
      account: cap('IN_FLIGHT_PER_ACCOUNT'),
      zone: cap('IN_FLIGHT_PER_ZONE'),
      service: cap('IN_FLIGHT_PER_SERVICE'),
    };
    return {
      table: e.TABLE_NAME,
      topicArn: e.TOPIC_ARN,
      breaker: {
        maxUnhealthyFraction:
          numberOf(env, 'BREAKER_MAX_UNHEALTHY_PERCENT', BREAKER_MAX_UNHEALTHY_PERCENT, {
            min: 1,
            max: 100,
            whole: false,
          }) / 100,
        maxInFlightPerScope: numberOf(env, 'BREAKER_MAX_IN_FLIGHT', BREAKER_MAX_IN_FLIGHT, {
          min: 1,
          max: 1000,
        }),
        // In-flight caps per scope (core/remediation/caps.ts); unset: scaled to the fleet.
        inFlight: Object.fromEntries(Object.entries(caps).filter(([, n]) => n !== undefined)),
        recheckMinutes: numberOf(env, 'BREAKER_RECHECK_MINUTES', BREAKER_RECHECK_MINUTES, {
          min: 1,
          max: 120,
        }),
        holdMinutes: numberOf(env, 'BREAKER_HOLD_MINUTES', BREAKER_HOLD_MINUTES, { min: 0, max: 10_080 }),
      },
      relapse: {
        windowMinutes: numberOf(env, 'RELAPSE_WINDOW_MINUTES', RELAPSE_WINDOW_MINUTES, {
          min: 0,
          max: 43_200,
        }),
        flapLimit: numberOf(env, 'FLAP_LIMIT', RELAPSE_FLAP_LIMIT, { min: 1, max: 20 }),
      },
    };
  },
  triage(env: Env = process.env): TriageSettings {
    const e = readEnvironment(['TABLE_NAME', 'REMEDIATION_STATE_MACHINE_ARN'] as const, env);
    return {
      table: e.TABLE_NAME,
      remediationArn: e.REMEDIATION_STATE_MACHINE_ARN,
      accumulate: accumulateFromEnv(env),
    };
  },
  inventory(env: Env = process.env): InventorySettings {
    const e = readEnvironment(
      ['TABLE_NAME', 'MANAGED_TAG_KEY', 'MANAGED_TAG_VALUE', 'SERVICE_TAG_KEY'] as const,
      env,
    );
    return {
      table: e.TABLE_NAME,
      managedTag: { key: e.MANAGED_TAG_KEY, value: e.MANAGED_TAG_VALUE },
      serviceTagKey: e.SERVICE_TAG_KEY,
      ...(env.REMEDIATION_STATE_MACHINE_ARN ? { remediationArn: env.REMEDIATION_STATE_MACHINE_ARN } : {}),
      ...(env.TOPIC_ARN ? { topicArn: env.TOPIC_ARN } : {}),
      accumulate: accumulateFromEnv(env),
    };
  },
};
