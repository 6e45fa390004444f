/**
 * The services file: what each service tolerates (its budget and which actions disrupt it), and
 * the catalog use cases read it through.
 */
import * as z from 'zod';
import { ACTIONS } from '../change/actions/index';
import { ACTION_TYPES, type ActionType } from '../change/spec';
import { type Quantity, quantitySchema } from '../safety/quantity';

export type Impact = 'disruptive' | 'non-disruptive';

const impactSchema = z.partialRecord(z.enum(ACTION_TYPES), z.enum(['disruptive', 'non-disruptive']));

const servicePolicySchema = z.strictObject({
  maxUnavailable: quantitySchema,
  maxUnavailablePerZone: quantitySchema.optional(),
  impact: impactSchema.default({}),
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
