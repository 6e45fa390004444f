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
  ACCUMULATE_MINUTES,
  BREAKER_HOLD_MINUTES,
  BREAKER_MAX_IN_FLIGHT,
  BREAKER_MAX_UNHEALTHY_PERCENT,
  BREAKER_RECHECK_MINUTES,
  MANAGED_TAG,
  RELAPSE_FLAP_LIMIT,
  RELAPSE_WINDOW_MINUTES,
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
  /** Remediation's timing and brakes (functions/core/defaults.ts says why each default is what it is). */
  readonly remediation: RemediationTuning;
}

/** Remediation's settings besides the breaker's thresholds: each handler gets them as environment variables. */
export interface RemediationTuning {
  /** Minutes a status-check failure waits before its first action (a system check: where EC2 may recover it). */
  readonly accumulate: { readonly instanceCheckMinutes: number; readonly systemCheckMinutes: number };
  /** How often a case the open breaker holds looks again, and for how long at most. */
  readonly hold: { readonly recheckMinutes: number; readonly holdMinutes: number };
  /** A failure within this window of the last case's end continues its ladder; this many in a row page. */
  readonly relapse: { readonly windowMinutes: number; readonly flapLimit: number };
  /** In-flight caps per scope; unset: scaled to the fleet (functions/core/remediation/caps.ts). */
  readonly inFlight: { readonly account?: number; readonly zone?: number; readonly service?: number };
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
  'fleetops:accumulateInstanceCheckMinutes': {
    default: ACCUMULATE_MINUTES['instance-status-check-failed'],
    expected: 'a whole number of minutes from 0 to 60',
  },
  'fleetops:accumulateSystemCheckMinutes': {
    default: ACCUMULATE_MINUTES['system-status-check-failed'],
    expected: 'a whole number of minutes from 0 to 60',
  },
  'fleetops:breakerRecheckMinutes': {
    default: BREAKER_RECHECK_MINUTES,
    expected: 'a whole number of minutes from 1 to 120',
  },
  'fleetops:breakerHoldMinutes': {
    default: BREAKER_HOLD_MINUTES,
    expected: 'a whole number of minutes from 0 to 10080 (a week)',
  },
  'fleetops:relapseWindowMinutes': {
    default: RELAPSE_WINDOW_MINUTES,
    expected: 'a whole number of minutes from 0 to 43200 (30 days)',
  },
  'fleetops:flapLimit': { default: RELAPSE_FLAP_LIMIT, expected: 'a whole number from 1 to 20' },
  'fleetops:inFlightPerAccount': {
    default: '',
    expected: 'a whole number from 1 to 10000, or empty to scale with the fleet',
  },
  'fleetops:inFlightPerZone': {
    default: '',
    expected: 'a whole number from 1 to 10000, or empty to scale with the fleet',
  },
  'fleetops:inFlightPerService': {
    default: '',
    expected: 'a whole number from 1 to 10000, or empty to scale with the fleet',
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
  const whole = (min: number, max: number) => (raw: unknown) => {
    const n = Number(raw);
    return raw !== '' && Number.isInteger(n) && n >= min && n <= max ? n : undefined;
  };
  /** A cap: empty (scaled to the fleet, as null) or a whole number. */
  const cap = (raw: unknown) => (raw === '' ? null : whole(1, 10_000)(raw));
  const caps = {
    account: check('fleetops:inFlightPerAccount', cap),
    zone: check('fleetops:inFlightPerZone', cap),
    service: check('fleetops:inFlightPerService', cap),
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
    remediation: {
      accumulate: {
        instanceCheckMinutes: check('fleetops:accumulateInstanceCheckMinutes', whole(0, 60)),
        systemCheckMinutes: check('fleetops:accumulateSystemCheckMinutes', whole(0, 60)),
      },
      hold: {
        recheckMinutes: check('fleetops:breakerRecheckMinutes', whole(1, 120)),
        holdMinutes: check('fleetops:breakerHoldMinutes', whole(0, 10_080)),
      },
      relapse: {
        windowMinutes: check('fleetops:relapseWindowMinutes', whole(0, 43_200)),
        flapLimit: check('fleetops:flapLimit', whole(1, 20)),
      },
      inFlight: Object.fromEntries(Object.entries(caps).filter(([, n]) => typeof n === 'number')),
    },
  };
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return settings;
}
