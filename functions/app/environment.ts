/**
 * The handlers' environment: what each Lambda reads from its environment variables (set by the
 * stack, lib/*.ts), read once at load, checked, and turned into typed settings. A missing
 * variable fails fast at the first cold start, naming every one that is missing, not far away
 * later. Not to be confused with the CDK context (lib/settings.ts) or the input files
 * (functions/core/input/files.ts). The composition root (functions/app/ports.ts) takes these.
 */
import { BREAKER_MAX_IN_FLIGHT, BREAKER_MAX_UNHEALTHY_PERCENT } from '../core/defaults';
import type { BreakerThresholds } from '../core/remediation/breaker';

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

/** The rollout step: the fleet-state table and the topic it tells people on. */
export interface RolloutSettings {
  readonly table: string;
  readonly topicArn: string;
}

/** The remediation step: the table, the topic it pages on, the breaker's thresholds. */
export interface RemediationSettings {
  readonly table: string;
  readonly topicArn: string;
  readonly breaker: Required<
    Pick<BreakerThresholds, 'maxUnhealthyFraction' | 'maxInFlightPerScope' | 'inFlight'>
  >;
}

/** Triage: the table and the remediation state machine it starts cases on. */
export interface TriageSettings {
  readonly table: string;
  readonly remediationArn: string;
}

/** The inventory sweep: the table, the tags, and the remediation state machine when deployed with it. */
export interface InventorySettings {
  readonly table: string;
  readonly managedTag: { readonly key: string; readonly value: string };
  readonly serviceTagKey: string;
  readonly remediationArn?: string;
  /** The FleetOps topic: the sweep pages about instances it cannot bring back into traffic. */
  readonly topicArn?: string;
}

/** Each handler's settings from its environment (the variables lib/*.ts sets). */
export const settingsFromEnv = {
  rollout(env: Env = process.env): RolloutSettings {
    const e = readEnvironment(['TABLE_NAME', 'TOPIC_ARN'] as const, env);
    return { table: e.TABLE_NAME, topicArn: e.TOPIC_ARN };
  },
  remediation(env: Env = process.env): RemediationSettings {
    const e = readEnvironment(['TABLE_NAME', 'TOPIC_ARN'] as const, env);
    return {
      table: e.TABLE_NAME,
      topicArn: e.TOPIC_ARN,
      breaker: {
        maxUnhealthyFraction:
          Number(env.BREAKER_MAX_UNHEALTHY_PERCENT ?? BREAKER_MAX_UNHEALTHY_PERCENT) / 100,
        maxInFlightPerScope: Number(env.BREAKER_MAX_IN_FLIGHT ?? BREAKER_MAX_IN_FLIGHT),
        // In-flight caps per scope (core/remediation/caps.ts); unset: scaled to the fleet.
        inFlight: {
          ...(env.IN_FLIGHT_PER_ACCOUNT ? { account: Number(env.IN_FLIGHT_PER_ACCOUNT) } : {}),
          ...(env.IN_FLIGHT_PER_ZONE ? { zone: Number(env.IN_FLIGHT_PER_ZONE) } : {}),
          ...(env.IN_FLIGHT_PER_SERVICE ? { service: Number(env.IN_FLIGHT_PER_SERVICE) } : {}),
        },
      },
    };
  },
  triage(env: Env = process.env): TriageSettings {
    const e = readEnvironment(['TABLE_NAME', 'REMEDIATION_STATE_MACHINE_ARN'] as const, env);
    return { table: e.TABLE_NAME, remediationArn: e.REMEDIATION_STATE_MACHINE_ARN };
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
    };
  },
};
