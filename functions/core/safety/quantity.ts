/**
 * A quantity of instances as operators write it (a count or a percentage), resolved to a count.
 */
import * as z from 'zod';

/**
 * A quantity of instances as operators write it: a whole count (`3`) or a percentage of a
 * population (`"10%"`). Budgets and wave limits share this type.
 */
export type Quantity =
  | { readonly kind: 'count'; readonly value: number }
  | { readonly kind: 'percent'; readonly value: number };

const PERCENT = /^(\d{1,3}(?:\.\d+)?)%$/;

export const quantitySchema = z
  .union([z.number(), z.string()], {
    error: 'expected a count (a whole number ≥ 0) or a percentage such as "10%"',
  })
  .transform((raw, ctx): Quantity => {
    if (typeof raw === 'number') {
      if (!Number.isInteger(raw) || raw < 0) {
        ctx.addIssue({
          code: 'custom',
          message: 'expected a count (a whole number ≥ 0) or a percentage such as "10%"',
        });
        return z.NEVER;
      }
      return { kind: 'count', value: raw };
    }
    const match = PERCENT.exec(raw.trim());
    const percent = match ? Number(match[1]) : Number.NaN;
    if (!(percent >= 0 && percent <= 100)) {
      ctx.addIssue({
        code: 'custom',
        message: 'expected a percentage between "0%" and "100%", or a whole count',
      });
      return z.NEVER;
    }
    return { kind: 'percent', value: percent };
  });

/**
 * Resolves a quantity against a population. Percentages round **down**: a budget never allows
 * more than the declared fraction (10% of 9 instances is 0, not 1). Write a count where a
 * small service must still allow one instance at a time.
 */
export function resolveQuantity(quantity: Quantity, population: number): number {
  if (quantity.kind === 'count') return quantity.value;
  // The epsilon keeps 30% of 10 at 3 despite binary floating point (0.3 * 10 = 2.9999…).
  return Math.floor((quantity.value * population) / 100 + 1e-9);
}

export function formatQuantity(quantity: Quantity): string {
  return quantity.kind === 'count' ? String(quantity.value) : `${quantity.value}%`;
}
