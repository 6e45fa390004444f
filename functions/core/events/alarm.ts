/**
 * CloudWatch alarm state changes of FleetOps' status-check alarms into findings.
 */
import * as z from 'zod';
import { STATUS_CHECK_ALARM_PREFIX } from '../defaults';
import type { FindingKind } from './findings';
import { ignore, type Outcome, shorten } from './outcome';
import { EventError, fail, instanceIdSchema, problemText, read, text } from './problems';
import { isoInstant } from './times';

/** Alarms FleetOps creates for status checks are named with this prefix (one home: core/defaults.ts). */
export const DEFAULT_STATUS_CHECK_ALARM_PREFIX = STATUS_CHECK_ALARM_PREFIX;

/**
 * The EC2 status-check metrics. StatusCheckFailed (either check) counts as a system failure: the
 * host is the likelier cause, and the system ladder (stop-start moves the instance) covers both.
 */
const STATUS_METRICS: Readonly<Record<string, FindingKind>> = {
  StatusCheckFailed_System: 'system-status-check-failed',
  StatusCheckFailed: 'system-status-check-failed',
  StatusCheckFailed_Instance: 'instance-status-check-failed',
};

const ALARM_STATES = ['OK', 'ALARM', 'INSUFFICIENT_DATA'] as const;

const TIMESTAMP_EXPECTED = 'an ISO 8601 timestamp such as "2019-10-02T17:04:40.989+0000"';

const nameSchema = z.looseObject(
  { alarmName: text('the alarm name (a non-empty string)') },
  { error: 'an object (the alarm state change detail)' },
);

/**
 * The documented shape of "CloudWatch Alarm State Change" (single-metric, metric math and
 * composite alarms), reduced to what FleetOps reads; everything else passes unread.
 */
const stateChangeSchema = z.looseObject({
  state: z.looseObject(
    {
      value: z.enum(ALARM_STATES, { error: 'one of "OK", "ALARM", "INSUFFICIENT_DATA"' }),
      timestamp: text(TIMESTAMP_EXPECTED),
      reason: z.string({ error: 'a reason (a string)' }).optional(),
    },
    { error: 'an object with value and timestamp (the new state)' },
  ),
  // Composite alarms have an alarmRule and no metrics; metric math has expressions beside metricStat.
  configuration: z
    .looseObject(
      {
        metrics: z
          .array(
            z.looseObject(
              {
                metricStat: z
                  .looseObject(
                    {
                      metric: z.looseObject(
                        {
                          name: text('a metric name'),
                          dimensions: z
                            .looseObject(
                              { InstanceId: instanceIdSchema.optional() },
                              { error: 'an object of dimension names to values' },
                            )
                            .optional(),
                        },
                        { error: 'an object with the metric name and dimensions' },
                      ),
                    },
                    { error: 'an object with the metric' },
                  )
                  .optional(),
              },
              { error: 'an object (one of the alarm’s metrics)' },
            ),
            { error: 'a list of metrics' },
          )
          .optional(),
      },
      { error: 'an object (the alarm configuration)' },
    )
    .optional(),
});

/** An instance id closing the alarm name, after a separator: `fleetops-status-i-0abc…`. */
const NAME_INSTANCE = /(?:^|[-_.:/])(i-[0-9a-f]{8,17})$/;

/**
 * A finding from a CloudWatch alarm state change:
 * 1. alarms FleetOps does not manage (name without the prefix) are ignored before anything else
 *    is read, since their shape is not FleetOps' business; so are transitions to OK or
 *    INSUFFICIENT_DATA, and managed alarms that do not watch a status-check metric;
 * 2. the instance is the InstanceId dimension of the alarm's metrics or, without one, the instance
 *    id that ends the alarm name;
 * 3. the key is the alarm name and the state's timestamp: a replay repeats it, a new episode of
 *    the same alarm does not.
 */
export function alarmOutcome(detail: unknown, prefix: string): Outcome {
  const { alarmName } = read(nameSchema, detail, ['detail']);
  if (!alarmName.startsWith(prefix)) {
    return ignore(`alarm ${alarmName} is not managed by FleetOps (its name does not start with "${prefix}")`);
  }
  const d = read(stateChangeSchema, detail, ['detail']);
  const at = isoInstant(d.state.timestamp);
  if (at === undefined) fail(['detail', 'state', 'timestamp'], TIMESTAMP_EXPECTED, d.state.timestamp);
  if (d.state.value !== 'ALARM') return ignore(`alarm ${alarmName} moved to ${d.state.value}, not ALARM`);

  const metrics = (d.configuration?.metrics ?? []).flatMap((m) =>
    m.metricStat ? [m.metricStat.metric] : [],
  );
  const names = [...new Set(metrics.map((m) => m.name))];
  const watched = names.filter((n) => Object.hasOwn(STATUS_METRICS, n));
  if (names.length > 0 && watched.length === 0) {
    return ignore(`alarm ${alarmName} watches ${names.join(', ')}, not an EC2 status check`);
  }
  // Without metrics (a composite alarm) the prefix is the only evidence: a status check, kind unknown.
  const metric =
    watched.find((n) => STATUS_METRICS[n] === 'system-status-check-failed') ??
    watched[0] ??
    'StatusCheckFailed';
  const kind = STATUS_METRICS[metric];

  const instanceId = instanceFrom(metrics, alarmName, prefix);
  const reason = d.state.reason ? `: ${shorten(d.state.reason, 160)}` : '';
  return {
    findings: [
      {
        instanceId,
        kind,
        key: `${alarmName}@${at}`,
        detail: `${metric} alarm ${alarmName} in ALARM${reason}`,
        source: `aws.cloudwatch:${metric}`,
      },
    ],
  };
}

function instanceFrom(
  metrics: ReadonlyArray<{ dimensions?: { InstanceId?: string } }>,
  alarmName: string,
  prefix: string,
): string {
  const ids = [
    ...new Set(metrics.flatMap((m) => (m.dimensions?.InstanceId ? [m.dimensions.InstanceId] : []))),
  ];
  if (ids.length > 1) {
    // One alarm per instance: an alarm over several cannot say which one failed.
    throw new EventError(
      problemText(
        ['detail', 'configuration', 'metrics'],
        'a single InstanceId across the alarm’s metrics',
        ids.map((id) => JSON.stringify(id)).join(' and '),
      ),
    );
  }
  if (ids.length === 1) return ids[0];
  const fromName = NAME_INSTANCE.exec(alarmName.slice(prefix.length));
  if (!fromName) {
    fail(
      ['detail', 'alarmName'],
      'a name ending in an EC2 instance id (the alarm has no InstanceId dimension)',
      alarmName,
    );
  }
  return fromName[1];
}
