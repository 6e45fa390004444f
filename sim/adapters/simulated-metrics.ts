import type { MetricsPort } from '../../functions/core/ports/metrics';
import type { ApiRequests } from './common';

/**
 * CloudWatch for a rehearsal: every instance publishes every metric a spec names, one sample a
 * period (dimension InstanceId), around 100 with a few percent of noise that is a pure function
 * of the instance, the metric and the minute (so the same run gives the same samples); a
 * latency regression multiplies the samples of instances the change acted on, from the later of
 * the regression's start and the instance's change, by its factor. The canary judge then sees
 * what it would see in an account where the change made those instances slower.
 *
 * Alarms a spec names are taken to exist and to stay `OK`: the simulated account has no
 * service-level metric an alarm could watch. (The synthetic change gates on status checks only.)
 */

const PERIOD_MS = 60_000;
/** GetMetricData takes at most 500 queries (one per instance here) a request. */
const QUERIES_PER_REQUEST = 500;

export interface Regression {
  /** The services it affects (all when absent), and the zone. */
  readonly services?: readonly string[];
  readonly zone?: string;
  readonly metric?: string;
  readonly factor: number;
  readonly from: number;
}

export class SimulatedMetrics {
  private readonly regressions: Regression[] = [];
  /** When the change (any attempt, not its rollback) first acted on each instance. */
  private readonly changedAt = new Map<string, number>();
  /** Samples the judge read that a regression raised. */
  regressedSamples = 0;

  constructor(
    private readonly placeOf: (id: string) => { readonly service: string; readonly zone: string } | undefined,
  ) {}

  regress(r: Regression): void {
    this.regressions.push(r);
  }

  /** The change acted on this instance now (its first time counts). */
  changed(id: string, at: number): void {
    if (!this.changedAt.has(id)) this.changedAt.set(id, at);
  }

  port(requests: ApiRequests): MetricsPort {
    return {
      alarmStates: async (names) => {
        requests.count('DescribeAlarms');
        return new Map(names.map((n) => [n, 'OK']));
      },
      samples: async (metric, ids, window) => {
        const out: number[] = [];
        const period = Math.max(PERIOD_MS, window.periodSeconds * 1000);
        const first = Math.ceil(window.start.getTime() / period) * period;
        for (let k = 0; k < ids.length; k += QUERIES_PER_REQUEST) {
          requests.count('GetMetricData');
          for (const id of ids.slice(k, k + QUERIES_PER_REQUEST)) {
            const factors = this.factorsFor(id, metric.name);
            for (let t = first; t < window.end.getTime(); t += period) {
              let value = 100 * (1 + 0.05 * noise(id, metric.name, t));
              for (const f of factors)
                if (t >= f.from) {
                  value *= f.factor;
                  this.regressedSamples++;
                }
              out.push(value);
            }
          }
        }
        return out;
      },
    };
  }

  /** The regressions that apply to this instance's samples, each from when it applies. */
  private factorsFor(id: string, metric: string): Array<{ from: number; factor: number }> {
    if (this.regressions.length === 0) return [];
    const at = this.changedAt.get(id);
    const place = this.placeOf(id);
    if (at === undefined || !place) return [];
    return this.regressions
      .filter(
        (r) =>
          (r.metric === undefined || r.metric === metric) &&
          (r.services === undefined || r.services.includes(place.service)) &&
          (r.zone === undefined || r.zone === place.zone),
      )
      .map((r) => ({ from: Math.max(r.from, at), factor: r.factor }));
  }
}

/** A value in [-1, 1) from the instance, the metric and the time (FNV-1a, then a mix). */
function noise(id: string, metric: string, t: number): number {
  let h = 0x811c9dc5;
  const text = `${id}|${metric}|${t}`;
  for (let k = 0; k < text.length; k++) h = Math.imul(h ^ text.charCodeAt(k), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return ((h >>> 0) / 4294967296) * 2 - 1;
}
