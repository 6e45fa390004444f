/**
 * The deployment's settings: the CDK context (`cdk.json`, or `-c key=value`), read once and
 * validated at synth time; their defaults come from functions/core/defaults.ts. Not to be
 * confused with the handlers' environment (functions/app/environment.ts, what each Lambda reads
 * at run time, set from these) or the input files (functions/core/input/files.ts).
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import {
  BREAKER_MAX_IN_FLIGHT,
  BREAKER_MAX_UNHEALTHY_PERCENT,
  MANAGED_TAG,
  SERVICE_TAG_KEY,
} from '../functions/core/defaults';

/** Deployment settings, read once from `cdk.json` context (or `-c key=value`) and validated at synth time. */
export interface FleetOpsSettings {
  readonly removalPolicy: RemovalPolicy;
  readonly managedTag: { readonly key: string; readonly value: string };
  readonly serviceTagKey: string;
  readonly inventoryRate: Duration;
  readonly logRetention: RetentionDays;
  /** Where pages and summaries go besides the topic's other subscribers (an e-mail address). */
  readonly notificationEmail?: string;
  /** The remediation breaker: the fraction of a scope unhealthy at once that stops automatic action there. */
  readonly breakerMaxUnhealthyPercent: number;
  /** The remediation breaker: cases in flight per scope that stop another from starting. */
  readonly breakerMaxInFlight: number;
}

const REMOVAL_POLICIES: Record<string, RemovalPolicy> = {
  retain: RemovalPolicy.RETAIN,
  destroy: RemovalPolicy.DESTROY,
};

/** The context keys, their defaults, and what each must look like. */
export const SETTINGS = {
  'fleetops:removalPolicy': { default: 'retain', expected: 'retain or destroy' },
  'fleetops:managedTagKey': { default: MANAGED_TAG.key, expected: 'a tag key (1–128 characters)' },
  'fleetops:managedTagValue': { default: MANAGED_TAG.value, expected: 'a tag value (0–256 characters)' },
  'fleetops:serviceTagKey': { default: SERVICE_TAG_KEY, expected: 'a tag key (1–128 characters)' },
  'fleetops:inventoryRateMinutes': { default: 5, expected: 'a whole number of minutes from 1 to 1440' },
  'fleetops:notificationEmail': { default: '', expected: 'an e-mail address, or empty for none' },
  'fleetops:breakerMaxUnhealthyPercent': {
    default: BREAKER_MAX_UNHEALTHY_PERCENT,
    expected: 'a percentage from 1 to 100',
  },
  'fleetops:breakerMaxInFlight': {
    default: BREAKER_MAX_IN_FLIGHT,
    expected: 'a whole number from 1 to 1000',
  },
  'fleetops:logRetentionDays': {
    default: 90,
    expected: `one of CloudWatch's retention periods in days (${Object.values(RetentionDays)
      .filter((d) => typeof d === 'number' && d > 0)
      .join(', ')})`,
  },
} as const;

export function readSettings(scope: Construct): FleetOpsSettings {
  const problems: string[] = [];
  const get = (key: keyof typeof SETTINGS): unknown => scope.node.tryGetContext(key) ?? SETTINGS[key].default;
  const check = <T>(key: keyof typeof SETTINGS, parse: (raw: unknown) => T | undefined): T => {
    const raw = get(key);
    const value = parse(raw);
    if (value === undefined)
      problems.push(`context ${key}: expected ${SETTINGS[key].expected}, found ${JSON.stringify(raw)}`);
    return value as T;
  };
  const tagKey = (raw: unknown) =>
    typeof raw === 'string' && raw.length >= 1 && raw.length <= 128 ? raw : undefined;
  const settings: FleetOpsSettings = {
    removalPolicy: check('fleetops:removalPolicy', (raw) => REMOVAL_POLICIES[String(raw)]),
    managedTag: {
      key: check('fleetops:managedTagKey', tagKey),
      value: check('fleetops:managedTagValue', (raw) =>
        typeof raw === 'string' && raw.length <= 256 ? raw : undefined,
      ),
    },
    serviceTagKey: check('fleetops:serviceTagKey', tagKey),
    inventoryRate: check('fleetops:inventoryRateMinutes', (raw) => {
      const n = Number(raw);
      return Number.isInteger(n) && n >= 1 && n <= 1440 ? Duration.minutes(n) : undefined;
    }),
    logRetention: check('fleetops:logRetentionDays', (raw) => {
      const n = Number(raw);
      return Object.values(RetentionDays).includes(n) && n > 0 ? (n as RetentionDays) : undefined;
    }),
    notificationEmail:
      check('fleetops:notificationEmail', (raw) =>
        raw === '' || (typeof raw === 'string' && /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(raw))
          ? String(raw)
          : undefined,
      ) || undefined,
    breakerMaxUnhealthyPercent: check('fleetops:breakerMaxUnhealthyPercent', (raw) => {
      const n = Number(raw);
      return Number.isFinite(n) && n >= 1 && n <= 100 ? n : undefined;
    }),
    breakerMaxInFlight: check('fleetops:breakerMaxInFlight', (raw) => {
      const n = Number(raw);
      return Number.isInteger(n) && n >= 1 && n <= 1000 ? n : undefined;
    }),
  };
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return settings;
}
