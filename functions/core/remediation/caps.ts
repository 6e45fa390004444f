/**
 * Remediation's in-flight caps per scope: how many cases may be acting at once in the account, in
 * one zone, and on one service. They are enforced by the lease store (taken with the case's lease,
 * in the same transaction, released with it), so concurrent cases can never exceed them together;
 * the breaker's fraction of unhealthy instances (breaker.ts) is the other brake.
 */
import type { InFlightCap } from '../ports/lease-store';

export interface InFlightLimits {
  /** Cases acting at once in the whole account. @default max(floor, ⌈fleet ÷ 1,000⌉); floor: `fleetops:breakerMaxInFlight` (5) */
  readonly account?: number;
  /** In one zone. @default max(3, ⌈account cap ÷ 3⌉): a zone-wide event uses a third of the account's. */
  readonly zone?: number;
  /** On one service (its disruption budget also bounds it). @default max(2, ⌈account cap ÷ 10⌉) */
  readonly service?: number;
}

/** The caps a case acting on `target` takes, from the settings or the defaults scaled to the fleet. */
export function inFlightCaps(
  target: { readonly zone: string; readonly service: string },
  fleetSize: number,
  limits: InFlightLimits = {},
  floor = 5,
): InFlightCap[] {
  const account = limits.account ?? Math.max(floor, Math.ceil(fleetSize / 1000));
  const zone = limits.zone ?? Math.max(3, Math.ceil(account / 3));
  const service = limits.service ?? Math.max(2, Math.ceil(account / 10));
  for (const [name, n] of Object.entries({ account, zone, service })) {
    if (!(Number.isInteger(n) && n >= 1))
      throw new Error(`expected the in-flight cap per ${name} to be a whole number ≥ 1, found ${n}`);
  }
  return [
    { scope: 'account', max: account },
    { scope: `zone:${target.zone}`, max: zone },
    { scope: `service:${target.service}`, max: service },
  ];
}
