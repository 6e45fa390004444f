/**
 * A rehearsal's scenario (`fleetops simulate --scenario X.yaml`): timed events over the run, at
 * offsets from its start. Parsed like every input file (functions/core/input/files.ts): YAML or
 * JSON, validated with zod, each problem with its file, line, field path, expected and found.
 *
 * ```yaml
 * events:
 *   - at: 1h                      # offsets: 90m, 2h, 1h30m, 45s, 1d
 *     fault: { zone: us-east-1b, fraction: 0.5, kind: system-status-check-failed, duration: 2h }
 *   - at: 3h
 *     terminate: { service: web, count: 5 }        # a scale-in
 *   - at: 3h
 *     launch: { service: web, zone: us-east-1a, fraction: 0.1 }   # a scale-out
 *   - at: 30m
 *     latency-regression: { service: api, factor: 1.5 }
 *   - at: 6h
 *     freeze: { duration: 2h, services: [web], reason: game day }
 * ```
 */
import * as z from 'zod';
import type { Instance } from '../functions/core/fleet/fleet';
import { parseWithSchema } from '../functions/core/input/files';

const UNITS: Readonly<Record<string, number>> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };
const DURATION = /^(?:\d+(?:\.\d+)?[dhms])+$/;

/** `90m`, `2h`, `1h30m`, `45s`, `1d` → milliseconds. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (!DURATION.test(t)) return undefined;
  let ms = 0;
  for (const [, n, unit] of t.matchAll(/(\d+(?:\.\d+)?)([dhms])/g)) ms += Number(n) * UNITS[unit];
  return Math.round(ms);
}

const durationSchema = z
  .string({ error: 'expected a duration such as "90m", "2h" or "1h30m"' })
  .transform((raw, ctx) => {
    const ms = parseDuration(raw);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: 'expected a duration such as "90m", "2h" or "1h30m"' });
      return z.NEVER;
    }
    return ms;
  });

const services = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
  error: 'expected a service name or a list of them',
});

/** Which instances an event applies to: those of the services and zone given (all when absent). */
const where = {
  service: services.optional(),
  zone: z.string().min(1).optional(),
};

/** How many of the matching instances (drawn from the seed): `count` or `fraction`, not both. */
const howMany = {
  count: z.number().int().min(1).optional(),
  fraction: z.number().gt(0).max(1).optional(),
};

function oneOfCountOrFraction(
  e: { count?: number; fraction?: number },
  ctx: z.RefinementCtx,
  required: boolean,
) {
  if (e.count !== undefined && e.fraction !== undefined)
    ctx.addIssue({ code: 'custom', path: ['fraction'], message: 'expected count or fraction, not both' });
  else if (required && e.count === undefined && e.fraction === undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['count'],
      message: 'expected count (or fraction) of the matching instances',
    });
}

export const FAULT_KINDS = ['system-status-check-failed', 'instance-status-check-failed'] as const;

const faultSchema = z
  .strictObject({
    ...where,
    ...howMany,
    /** The status check the instances fail (as the simulator's faults: a status-check alarm fires). */
    kind: z.enum(FAULT_KINDS).default('system-status-check-failed'),
    /** What is wrong underneath, which decides what fixes it; absent, drawn as for random faults. */
    cause: z.enum(['hardware', 'software']).optional(),
    /** The fault ends by itself after this long (absent: only an action or a person ends it). */
    duration: durationSchema.optional(),
  })
  .superRefine((e, ctx) => oneOfCountOrFraction(e, ctx, false));

const churnSchema = z
  .strictObject({ ...where, ...howMany })
  .superRefine((e, ctx) => oneOfCountOrFraction(e, ctx, true));

const regressionSchema = z.strictObject({
  ...where,
  /** Each affected sample is multiplied by this (1.5: 50% slower). */
  factor: z.number().positive().default(1.5),
  /** The metric (a name the spec's gates.metrics uses); absent: every metric the spec gates on. */
  metric: z.string().min(1).optional(),
});

const freezeSchema = z.strictObject({
  duration: durationSchema,
  /** The services frozen; absent: the account. */
  services: z.array(z.string().min(1)).min(1).optional(),
  reason: z.string().min(1).default('scenario freeze'),
});

export const EVENT_KINDS = ['fault', 'terminate', 'launch', 'latency-regression', 'freeze'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

const eventSchema = z
  .strictObject({
    at: durationSchema,
    fault: faultSchema.optional(),
    terminate: churnSchema.optional(),
    launch: churnSchema.optional(),
    'latency-regression': regressionSchema.optional(),
    freeze: freezeSchema.optional(),
  })
  .superRefine((e, ctx) => {
    const kinds = EVENT_KINDS.filter((k) => e[k] !== undefined);
    if (kinds.length !== 1)
      ctx.addIssue({
        code: 'custom',
        path: kinds.length > 1 ? [kinds[1]] : [],
        message: `expected exactly one of ${EVENT_KINDS.join(', ')} (found ${kinds.length === 0 ? 'none' : kinds.join(' and ')})`,
      });
  });

export const scenarioSchema = z.strictObject({
  description: z.string().optional(),
  events: z.array(eventSchema).min(1),
});

type ParsedEvent = z.output<typeof eventSchema>;
type Where = { readonly services?: readonly string[]; readonly zone?: string };
type HowMany = { readonly count?: number; readonly fraction?: number };

/** One event, its kind named, `at` in milliseconds from the start, services as a list. */
export type ScenarioEvent = { readonly at: number; readonly index: number } & (
  | ({ readonly kind: 'fault' } & Where &
      HowMany & {
        readonly fault: (typeof FAULT_KINDS)[number];
        readonly cause?: 'hardware' | 'software';
        readonly duration?: number;
      })
  | ({ readonly kind: 'terminate' } & Where & HowMany)
  | ({ readonly kind: 'launch' } & Where & HowMany)
  | ({ readonly kind: 'latency-regression' } & Where & { readonly factor: number; readonly metric?: string })
  | {
      readonly kind: 'freeze';
      readonly duration: number;
      readonly services?: readonly string[];
      readonly reason: string;
    }
);

export interface Scenario {
  readonly description?: string;
  /** In time order (events at the same offset in file order). */
  readonly events: readonly ScenarioEvent[];
}

/** The fleet an event may name: its services and zones (so a typo is an error, not an event that matches nothing). */
export interface ScenarioFleet {
  readonly services: ReadonlySet<string>;
  readonly zones: ReadonlySet<string>;
}

export function scenarioFleet(instances: readonly Pick<Instance, 'service' | 'zone'>[]): ScenarioFleet {
  return {
    services: new Set(instances.map((i) => i.service)),
    zones: new Set(instances.map((i) => i.zone)),
  };
}

/**
 * Parses a scenario file: the schema, then, given the fleet, that every service and zone it names
 * is one of the fleet's (with the field's path and line). Throws an InputError.
 */
export function parseScenario(text: string, source: string, fleet?: ScenarioFleet): Scenario {
  const schema = fleet ? scenarioSchema.superRefine((s, ctx) => knownNames(s, ctx, fleet)) : scenarioSchema;
  const parsed = parseWithSchema(schema, text, source);
  const events = parsed.events.map((e, index) => toEvent(e, index));
  events.sort((a, b) => a.at - b.at || a.index - b.index);
  return { ...(parsed.description === undefined ? {} : { description: parsed.description }), events };
}

function knownNames(s: z.output<typeof scenarioSchema>, ctx: z.RefinementCtx, fleet: ScenarioFleet): void {
  const some = (set: ReadonlySet<string>) =>
    [...set]
      .sort()
      .slice(0, 5)
      .map((x) => `"${x}"`)
      .join(', ');
  s.events.forEach((e, i) => {
    for (const kind of EVENT_KINDS) {
      const body = e[kind] as { service?: string | string[]; services?: string[]; zone?: string } | undefined;
      if (!body) continue;
      const named = body.service ?? body.services;
      const list = named === undefined ? [] : Array.isArray(named) ? named : [named];
      list.forEach((name, k) => {
        if (!fleet.services.has(name))
          ctx.addIssue({
            code: 'custom',
            path: [
              'events',
              i,
              kind,
              body.service !== undefined ? 'service' : 'services',
              ...(Array.isArray(named) ? [k] : []),
            ],
            message: `expected a service of the fleet (such as ${some(fleet.services)})`,
          });
      });
      if (body.zone !== undefined && !fleet.zones.has(body.zone))
        ctx.addIssue({
          code: 'custom',
          path: ['events', i, kind, 'zone'],
          message: `expected a zone of the fleet (${some(fleet.zones)})`,
        });
    }
  });
}

function toEvent(e: ParsedEvent, index: number): ScenarioEvent {
  const list = (s: string | string[] | undefined) =>
    s === undefined ? {} : { services: Array.isArray(s) ? s : [s] };
  const base = { at: e.at, index };
  if (e.fault) {
    const { service, kind, ...rest } = e.fault;
    return { ...base, kind: 'fault', fault: kind, ...list(service), ...rest };
  }
  if (e.terminate) {
    const { service, ...rest } = e.terminate;
    return { ...base, kind: 'terminate', ...list(service), ...rest };
  }
  if (e.launch) {
    const { service, ...rest } = e.launch;
    return { ...base, kind: 'launch', ...list(service), ...rest };
  }
  if (e['latency-regression']) {
    const { service, ...rest } = e['latency-regression'];
    return { ...base, kind: 'latency-regression', ...list(service), ...rest };
  }
  return { ...base, kind: 'freeze', ...e.freeze! };
}

/** Whether an instance is one an event names (its services and zone; all when absent). */
export function matches(e: Where, i: Pick<Instance, 'service' | 'zone'>): boolean {
  return (
    (e.services === undefined || e.services.includes(i.service)) &&
    (e.zone === undefined || e.zone === i.zone)
  );
}

/** `count` of them, or `fraction` rounded to the nearest (at least one), or all. */
export function howManyOf(e: HowMany, matching: number): number {
  if (e.count !== undefined) return Math.min(e.count, matching);
  if (e.fraction !== undefined) return Math.min(matching, Math.max(1, Math.round(e.fraction * matching)));
  return matching;
}

/** An offset in words: 90 minutes → "1h30m". */
export function formatOffset(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return h === 0 ? `${m}m` : m === 0 ? `${h}h` : `${h}h${m}m`;
}
