/**
 * The services file: what each service tolerates (its budget and which actions disrupt it), and
 * the catalog use cases read it through.
 */
import * as z from 'zod';
import { ACTIONS } from '../change/actions/index';
import { ACTION_TYPES, type ActionType, clockSchema, DAYS, isTimeZone } from '../change/spec';
import { type Quantity, quantitySchema } from '../safety/quantity';

export type Impact = 'disruptive' | 'non-disruptive';

const impactSchema = z.partialRecord(z.enum(ACTION_TYPES), z.enum(['disruptive', 'non-disruptive']));

/**
 * When a service prefers disruption (local time): scheduled events (retirements, reboots,
 * maintenance) are acted on at the first such time that leaves the safety margin before AWS acts
 * (remediation/timing.ts). The change spec's clock, days and time-zone checks; a window whose end
 * is not after its start runs across midnight.
 */
export const quietWindowSchema = z.strictObject({
  days: z.array(z.enum(DAYS)).min(1).optional(),
  start: clockSchema,
  end: clockSchema,
  timezone: z.string().refine(isTimeZone, { error: 'expected an IANA time zone such as "Europe/Berlin"' }),
});

export type QuietWindowSetting = z.infer<typeof quietWindowSchema>;

const servicePolicySchema = z.strictObject({
  maxUnavailable: quantitySchema,
  maxUnavailablePerZone: quantitySchema.optional(),
  impact: impactSchema.default({}),
  quietWindow: quietWindowSchema.optional(),
});

/**
 * The reverse protocol: what each service tolerates. A service that is not declared gets
 * `defaults`, and when the file declares no defaults, {@link CONSERVATIVE_DEFAULT}.
 */
export const servicesFileSchema = z.strictObject({
  defaults: servicePolicySchema.optional(),
  services: z.record(z.string().min(1), servicePolicySchema).default({}),
});

export type ServicesFile = z.infer<typeof servicesFileSchema>;

export interface DisruptionBudget {
  readonly maxUnavailable: Quantity;
  readonly maxUnavailablePerZone?: Quantity;
  readonly impact: Partial<Record<ActionType, Impact>>;
  /** When the service prefers disruption from scheduled events (absent: the file's `defaults`'). */
  readonly quietWindow?: QuietWindowSetting;
}

/**
 * A service's quiet window: its own, else the file's `defaults`' (the account's), else none (a
 * scheduled event is then acted on at once, ahead of its deadline).
 */
export function quietWindowOf(
  file: ServicesFile,
  service: string | undefined,
): QuietWindowSetting | undefined {
  const own =
    service !== undefined && Object.hasOwn(file.services, service)
      ? file.services[service].quietWindow
      : undefined;
  return own ?? file.defaults?.quietWindow;
}

/**
 * What an undeclared service tolerates: one instance unavailable at a time, overall (and
 * therefore in any zone), and every action counts as disruptive.
 */
export const CONSERVATIVE_DEFAULT: DisruptionBudget = Object.freeze({
  maxUnavailable: Object.freeze({ kind: 'count', value: 1 }),
  impact: Object.freeze({}),
}) as DisruptionBudget;

export interface ServiceCatalog {
  budgetOf(service: string): { readonly budget: DisruptionBudget; readonly declared: boolean };
}

export function serviceCatalog(file: ServicesFile): ServiceCatalog {
  const fallback = file.defaults ?? CONSERVATIVE_DEFAULT;
  return {
    budgetOf(service) {
      const declared = Object.hasOwn(file.services, service);
      return { budget: declared ? file.services[service] : fallback, declared };
    },
  };
}

export function isDisruptive(budget: DisruptionBudget, action: ActionType): boolean {
  const declared = budget.impact[action];
  return declared === undefined ? ACTIONS[action].disruptiveByDefault : declared === 'disruptive';
}
