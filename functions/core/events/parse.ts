/**
 * The entry of event parsing: an EventBridge event in, findings (or the reason there are none) out,
 * by source and detail type.
 */
import * as z from 'zod';
import { alarmOutcome, DEFAULT_STATUS_CHECK_ALARM_PREFIX } from './alarm';
import { EC2_DETAIL_TYPES, type Ec2DetailType, ec2Outcome } from './ec2';
import type { Finding } from './findings';
import { healthOutcome } from './health';
import type { Outcome } from './outcome';
import { EventError, fail, read, text } from './problems';
import { isoInstant } from './times';

export { DEFAULT_STATUS_CHECK_ALARM_PREFIX } from './alarm';
export { HEALTH_EVENT_KINDS } from './health';
export { EventError } from './problems';

export interface ParsedEvent {
  /** The envelope id. */
  readonly eventId: string;
  /** e.g. 'aws.health', 'aws.ec2', 'aws.cloudwatch'. */
  readonly source: string;
  readonly detailType: string;
  readonly findings: readonly Finding[];
  /** Events that are valid but carry nothing for FleetOps (e.g. a Health event for another service, an EC2 state change to 'running'): empty findings and this reason. */
  readonly ignored?: string;
}

export interface ParseOptions {
  /**
   * Alarms whose name starts with this are FleetOps' status-check alarms; others are ignored.
   * @default STATUS_CHECK_ALARM_PREFIX (core/defaults.ts): `fleetops-status-`
   */
  readonly statusCheckAlarmPrefix?: string;
}

/** The detail types FleetOps reads, by source. Anything else is a wiring mistake, reported as one. */
const DETAIL_TYPES = {
  'aws.health': ['AWS Health Event', 'AWS Health Abuse Event'],
  'aws.ec2': EC2_DETAIL_TYPES,
  'aws.cloudwatch': ['CloudWatch Alarm State Change'],
} as const satisfies Record<string, readonly string[]>;
type Source = keyof typeof DETAIL_TYPES;
const SOURCES = Object.keys(DETAIL_TYPES) as Source[];

const quoted = (values: readonly string[]) => values.map((v) => JSON.stringify(v)).join(', ');

/**
 * The EventBridge envelope. Lenient on what FleetOps does not read (`version`, `account` and
 * `resources` are placeholders or odd ARNs in public samples, and the EC2 user guide's sample has
 * no `version`); strict on what it does.
 */
const envelopeSchema = z.looseObject(
  {
    id: text('the event id (a non-empty string)'),
    'detail-type': text('the detail type (a non-empty string)'),
    source: z.enum(SOURCES, { error: `one of ${quoted(SOURCES)}` }),
    time: text('the event time (ISO 8601, such as "2021-11-11T21:29:54Z")'),
    detail: z.looseObject({}, { error: 'an object (the event detail)' }),
  },
  { error: 'an EventBridge event (a JSON object with id, source, detail-type, time and detail)' },
);

/**
 * Reads one EventBridge event, as an SQS message body delivers it (the JSON text or the parsed
 * object), into FleetOps findings:
 * 1. read the envelope and check the source and detail type are ones FleetOps subscribes to;
 * 2. hand the detail to the reader for its type (AWS Health, EC2, CloudWatch alarm);
 * 3. return the findings, or none and the reason when the event is valid but says nothing
 *    FleetOps acts on.
 * Pure: the same input gives the same output. Throws only EventError.
 */
export function parseEvent(raw: unknown, options: ParseOptions = {}): ParsedEvent {
  const prefix = options.statusCheckAlarmPrefix ?? DEFAULT_STATUS_CHECK_ALARM_PREFIX;
  if (typeof prefix !== 'string' || prefix === '') {
    // An empty prefix would make every alarm in the account look like FleetOps'.
    throw new EventError(
      `options.statusCheckAlarmPrefix: expected a non-empty string, found ${JSON.stringify(prefix) ?? String(prefix)}`,
    );
  }
  const value = typeof raw === 'string' ? fromJson(raw) : raw;
  const envelope = read(envelopeSchema, value);
  const source = envelope.source;
  const detailType = envelope['detail-type'];
  const known: readonly string[] = DETAIL_TYPES[source];
  if (!known.includes(detailType)) {
    fail(['detail-type'], `a detail type of ${source}: ${quoted(known)}`, detailType);
  }
  const time = isoInstant(envelope.time);
  if (time === undefined)
    fail(['time'], 'the event time (ISO 8601, such as "2021-11-11T21:29:54Z")', envelope.time);

  let outcome: Outcome;
  switch (source) {
    case 'aws.health':
      outcome = healthOutcome(detailType, envelope.detail);
      break;
    case 'aws.ec2':
      outcome = ec2Outcome(detailType as Ec2DetailType, envelope.detail, time);
      break;
    case 'aws.cloudwatch':
      outcome = alarmOutcome(envelope.detail, prefix);
      break;
  }
  return {
    eventId: envelope.id,
    source,
    detailType,
    findings: outcome.findings,
    ...(outcome.ignored === undefined ? {} : { ignored: outcome.ignored }),
  };
}

function fromJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch (error) {
    throw new EventError(
      `event: expected an EventBridge event as JSON text, found text that is not JSON (${(error as Error).message})`,
    );
  }
}
