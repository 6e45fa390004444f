/**
 * The change spec an operator writes (target, action, risk, strategy, gates, rollback, emergency,
 * approval, windows), as a zod schema: parsed once, with its defaults, and typed from it.
 */
import * as z from 'zod';
import { quantitySchema } from '../safety/quantity';

/** The kinds of action a change applies to each instance. */
export const ACTION_TYPES = ['ssm-command', 'reboot', 'stop-start', 'replace', 'set-tag'] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

export const RISK_CLASSES = ['low', 'medium', 'high', 'kernel'] as const;
export type RiskClass = (typeof RISK_CLASSES)[number];

/** Suffix of the change that rolls a change back (its own id, plan, leases and records). */
export const ROLLBACK_SUFFIX = '-rollback';

/**
 * Step Functions execution names (at most 80 characters): the change id becomes one, and so
 * does its rollback's, `<id>-rollback`.
 */
const changeIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,70}$/, {
  error: 'expected 1–71 letters, digits, "-" or "_", starting with a letter or digit',
});

const tagMapSchema = z.record(z.string().min(1), z.string());

export const actionSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({
      type: z.literal('ssm-command'),
      document: z.string().min(1),
      parameters: z.record(z.string(), z.array(z.string())).default({}),
      timeoutSeconds: z.number().int().min(30).max(172800).default(3600),
    }),
    z.strictObject({ type: z.literal('reboot') }),
    z.strictObject({ type: z.literal('stop-start') }),
    z.strictObject({ type: z.literal('replace') }),
    z.strictObject({
      type: z.literal('set-tag'),
      tags: tagMapSchema.refine((tags) => Object.keys(tags).length > 0, {
        error: 'expected at least one tag',
      }),
    }),
  ],
  { error: `expected an action whose type is one of ${ACTION_TYPES.join(', ')}` },
);
export type Action = z.infer<typeof actionSchema>;

const targetSchema = z
  .strictObject({
    services: z.array(z.string().min(1)).min(1).optional(),
    tags: tagMapSchema.optional(),
    instanceIds: z
      .array(z.string().regex(/^i-[0-9a-f]{8,17}$/, { error: 'expected an EC2 instance id' }))
      .min(1)
      .optional(),
  })
  .refine((t) => t.services !== undefined || t.tags !== undefined || t.instanceIds !== undefined, {
    error: 'expected at least one of services, tags or instanceIds',
  });

const growthSchema = z
  .strictObject({
    mode: z.enum(['linear', 'exponential']),
    factor: z.number().gt(0).max(100),
  })
  .superRefine((g, ctx) => {
    if (g.mode === 'exponential' && g.factor <= 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['factor'],
        message: 'expected a factor greater than 1 for exponential growth',
      });
    }
  });

/**
 * The longest wait a spec may ask for (a bake, a zone's bake, a budget wait, an expected approval
 * wait): a week. Step Functions' Wait states allow a year, but a change that sits a week at one
 * point is a change someone forgot.
 */
const WEEK_MINUTES = 7 * 24 * 60;
const waitMinutes = z.number().min(0).max(WEEK_MINUTES);

/*
 * The settings below that are optional without a zod default (zone bakes, the budget wait, the
 * expected approval wait) are read through the functions after the schema, which apply their
 * defaults: a spec is stored as parsed when its change starts and read back without parsing, so a
 * change started before a setting existed has none, and both must read the same way.
 */
const strategySchema = z.strictObject({
  canary: z.number().int().min(1).max(100).default(1),
  growth: growthSchema.default({ mode: 'exponential', factor: 2 }),
  maxWaveSize: quantitySchema.optional(),
  bakeMinutes: z.number().min(0).max(1440).default(10),
  zoneConcurrency: z.number().int().min(1).max(32).default(1),
  zoneOrder: z.array(z.string().min(1)).min(1).optional(),
  /**
   * A bake after the last wave of a zone (group) before the first wave of the next, on top of
   * that wave's own bake (CodeDeploy's zonal `monitorDurationInSeconds`). Default 0.
   */
  zoneBakeMinutes: waitMinutes.optional(),
  /**
   * The bake after the first zone (group) instead (CodeDeploy's `firstZoneMonitorDurationInSeconds`):
   * usually longer, since the first zone is where a bad change shows first. Default: zoneBakeMinutes.
   */
  firstZoneBakeMinutes: waitMinutes.optional(),
  /**
   * How long a wave sized live waits when nothing of it fits its budgets now, before the change
   * fails (recorded and paged when the wait begins). Default 240.
   */
  budgetWaitMinutes: z.number().gt(0).max(WEEK_MINUTES).optional(),
});

const metricGateSchema = z.strictObject({
  name: z.string().min(1),
  namespace: z.string().min(1),
  statistic: z.string().min(1).default('Average'),
  direction: z.enum(['increase', 'decrease', 'either']).default('increase'),
  critical: z.boolean().default(false),
});

const gatesSchema = z.strictObject({
  statusChecks: z.boolean().default(true),
  alarms: z.array(z.string().min(1)).default([]),
  metrics: z.array(metricGateSchema).default([]),
  /** Unhealthy instances a wave may have and still pass (a count or a percentage of the wave). */
  errorThreshold: quantitySchema.default({ kind: 'count', value: 0 }),
  /** What a failed gate does. */
  onFailure: z.enum(['rollback', 'pause']).default('rollback'),
  /**
   * With `onFailure: pause`: more unhealthy instances than this in one wave roll back instead
   * of pausing (a wave that broke badly is not left for a person to find).
   */
  rollbackThreshold: quantitySchema.optional(),
});

/**
 * How a failed change is undone: the action that restores an instance, applied to the changed
 * instances newest first, in waves `waveFactor` times the rollout's largest (budgets still hold).
 */
const rollbackSchema = z.strictObject({
  action: actionSchema,
  waveFactor: z.number().min(1).max(100).default(2),
});

const approvalSchema = z.strictObject({
  afterCanary: z.boolean().optional(),
  /**
   * How long a person is expected to take at each approval point: the prediction adds it after
   * each wave that waits for approval (it bounds nothing; Wait for approval times out after 7
   * days). Default 60.
   */
  expectedWaitMinutes: waitMinutes.optional(),
});

export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export const clockSchema = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'expected a time of day "HH:MM" (24-hour)' });

const windowSchema = z.strictObject({
  days: z
    .array(z.enum(DAYS))
    .min(1)
    .default([...DAYS]),
  start: clockSchema,
  end: clockSchema,
  timezone: z
    .string()
    .refine(isTimeZone, { error: 'expected an IANA time zone such as "UTC" or "Europe/Berlin"' })
    .default('UTC'),
});

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export const changeSpecSchema = z.strictObject({
  id: changeIdSchema,
  description: z.string().min(1),
  target: targetSchema,
  action: actionSchema,
  risk: z.enum(RISK_CLASSES),
  strategy: strategySchema.default(strategySchema.parse({})),
  gates: gatesSchema.default(gatesSchema.parse({})),
  rollback: rollbackSchema.optional(),
  /**
   * An emergency change (a security fix, say) goes through freezes; every wave that does is
   * recorded as an override with this reason.
   */
  emergency: z.strictObject({ reason: z.string().min(10) }).optional(),
  approval: approvalSchema.default({}),
  windows: z.array(windowSchema).default([]),
});

export type ChangeSpec = z.infer<typeof changeSpecSchema>;
export type ChangeStrategy = ChangeSpec['strategy'];

/** Defaults of the settings read through the functions below. */
export const SPEC_DEFAULTS = {
  zoneBakeMinutes: 0,
  budgetWaitMinutes: 240,
  expectedApprovalWaitMinutes: 60,
} as const;

type ZoneBakes = Pick<ChangeStrategy, 'zoneBakeMinutes' | 'firstZoneBakeMinutes'>;

/**
 * The bake, in whole seconds, after a zone (group) of waves before the next zone's first wave:
 * `zoneIndex` counts the zone changes before this one, so 0 is the bake after the first zone
 * (`firstZoneBakeMinutes`, or `zoneBakeMinutes` when it is not given, as CodeDeploy does) and
 * every later one is `zoneBakeMinutes`.
 */
export function zoneBakeSecondsAfter(strategy: ZoneBakes, zoneIndex: number): number {
  const every = strategy.zoneBakeMinutes ?? SPEC_DEFAULTS.zoneBakeMinutes;
  const minutes = zoneIndex === 0 ? (strategy.firstZoneBakeMinutes ?? every) : every;
  return Math.round(minutes * 60);
}

/** How long a live wave waits when nothing fits its budgets before the change fails (minutes). */
export function budgetWaitMinutes(strategy: Pick<ChangeStrategy, 'budgetWaitMinutes'>): number {
  return strategy.budgetWaitMinutes ?? SPEC_DEFAULTS.budgetWaitMinutes;
}

/** The wait the prediction expects at each approval point (minutes). */
export function expectedApprovalWaitMinutes(approval: ChangeSpec['approval']): number {
  return approval.expectedWaitMinutes ?? SPEC_DEFAULTS.expectedApprovalWaitMinutes;
}
