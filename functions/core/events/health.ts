/**
 * AWS Health events (scheduled EC2 events, retirements, issues) into findings.
 */
import * as z from 'zod';
import type { Finding, FindingKind } from './findings';
import { ignore, type Outcome, shorten } from './outcome';
import { fail, INSTANCE_ID, INSTANCE_ID_EXPECTED, read, text } from './problems';
import { healthInstant } from './times';

/**
 * The AWS Health event types (service EC2) FleetOps acts on. Any other EC2 code is a valid event
 * that is ignored with its code in the reason, so an operator can see what to add here.
 */
export const HEALTH_EVENT_KINDS: Readonly<Record<string, FindingKind>> = {
  AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED: 'scheduled-retirement',
  AWS_EC2_PERSISTENT_INSTANCE_RETIREMENT_SCHEDULED: 'scheduled-retirement',
  // The host goes; the instances on it (listed as entities, when they are) go with it.
  AWS_EC2_DEDICATED_HOST_RETIREMENT_SCHEDULED: 'scheduled-retirement',
  AWS_EC2_INSTANCE_STOP_SCHEDULED: 'scheduled-stop',
  AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED: 'scheduled-reboot',
  AWS_EC2_INSTANCE_REBOOT_FLEXIBLE_MAINTENANCE_SCHEDULED: 'scheduled-reboot',
  AWS_EC2_SYSTEM_REBOOT_MAINTENANCE_SCHEDULED: 'scheduled-reboot',
  AWS_EC2_SYSTEM_MAINTENANCE_EVENT: 'scheduled-maintenance',
  AWS_EC2_MAINTENANCE_SCHEDULED: 'scheduled-maintenance',
  // Network and power maintenance of the host (or a Dedicated Host) at NotBefore.
  AWS_EC2_INSTANCE_NETWORK_MAINTENANCE_SCHEDULED: 'scheduled-maintenance',
  AWS_EC2_INSTANCE_POWER_MAINTENANCE_SCHEDULED: 'scheduled-maintenance',
  AWS_EC2_DEDICATED_HOST_NETWORK_MAINTENANCE_SCHEDULED: 'scheduled-maintenance',
  AWS_EC2_DEDICATED_HOST_POWER_MAINTENANCE_SCHEDULED: 'scheduled-maintenance',
  AWS_EC2_DEGRADED_HARDWARE_ISSUE: 'degraded-hardware',
  // The physical drives behind the instance store are failing: hardware, with no schedule.
  AWS_EC2_INSTANCE_STORE_DRIVE_PERFORMANCE_DEGRADED: 'degraded-hardware',
};

/** Kinds that happen at a time AWS sets (the event's startTime, EC2's NotBefore). */
const SCHEDULED: ReadonlySet<FindingKind> = new Set<FindingKind>([
  'scheduled-retirement',
  'scheduled-stop',
  'scheduled-reboot',
  'scheduled-maintenance',
]);

const CATEGORIES: ReadonlySet<string> = new Set(['issue', 'scheduledChange', 'accountNotification']);

/** Read first, for every Health event: enough to tell whether it concerns FleetOps at all. */
const headerSchema = z.looseObject(
  {
    // The key is built from it, so it must at least look like what AWS sends (placeholders such
    // as `arn:aws:health:region::event/id` in public samples pass).
    eventArn: text('an AWS Health event ARN ("arn:aws:health:…")').regex(/^arn:[^:\s]*:health:\S*$/, {
      error: 'an AWS Health event ARN ("arn:aws:health:…")',
    }),
    service: text('the affected service, such as "EC2"'),
    eventTypeCode: text('an event type code, such as "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED"'),
    eventTypeCategory: text('an event type category, such as "scheduledChange"'),
  },
  { error: 'an object (the AWS Health event detail)' },
);

const PAGE_EXPECTED = 'a page number (a whole number from 1, as a string or a number)';
const pageSchema = z.custom<string | number>(
  (v) =>
    (typeof v === 'string' && /^[1-9]\d{0,8}$/.test(v)) ||
    (typeof v === 'number' && Number.isSafeInteger(v) && v >= 1),
  { error: PAGE_EXPECTED },
);

const DATE_EXPECTED = 'a date such as "Sat, 05 Jun 2021 21:00:00 GMT" or an ISO 8601 timestamp';

/**
 * Read for EC2 events FleetOps acts on. Fields it does not use (eventScopeCode, eventRegion,
 * affectedAccount, lastUpdatedTime, personas…) pass unread. communicationId is deliberately not
 * used for keys: AWS appends the page number to it ("…-2"), so it differs between pages.
 */
const ec2DetailSchema = z.looseObject({
  // Documented as required, but older events and public samples (the NTH one) come without it.
  statusCode: z
    .enum(['open', 'upcoming', 'closed'], { error: 'one of "open", "upcoming", "closed"' })
    .optional(),
  startTime: z.string({ error: DATE_EXPECTED }).optional(),
  page: pageSchema.optional(),
  totalPages: pageSchema.optional(),
  eventDescription: z
    .array(
      z.looseObject(
        {
          language: z.string({ error: 'a language code such as "en_US"' }).optional(),
          latestDescription: z.string({ error: 'a description (a string)' }).optional(),
        },
        { error: 'an object with language and latestDescription' },
      ),
      { error: 'a list of descriptions' },
    )
    .optional(),
  affectedEntities: z
    .array(
      z.looseObject(
        {
          entityValue: z.string({ error: 'the affected entity’s id (a string)' }),
          status: z.string({ error: 'an entity status such as "PENDING"' }).optional(),
        },
        { error: 'an object with entityValue' },
      ),
      { error: 'a list of affected entities' },
    )
    .optional(),
});

/** An instance ARN, as newer Health events give entities: `arn:aws:ec2:region:account:instance/i-…`. */
const INSTANCE_ARN = /^arn:aws[a-z-]*:ec2:[^:]*:[^:]*:instance\/(.*)$/;

/**
 * Findings from one AWS Health event (or one page of it):
 * 1. events for another service, another category or an EC2 code FleetOps does not act on are
 *    ignored, and so is a closed event;
 * 2. each affected entity that is an instance (an id or an instance ARN) gets a finding; volumes,
 *    hosts and other entities are skipped, and so are entities AWS marks RESOLVED (nothing is left
 *    to do for them: acting anyway would stop-start an instance for nothing);
 * 3. the key is the event ARN and its status: pages of one event share it (the ARN is the same on
 *    every page), a replay repeats it, and a new status (upcoming → open) is a new finding;
 * 4. scheduled kinds take startTime (NotBefore) as their deadline.
 */
export function healthOutcome(detailType: string, detail: unknown): Outcome {
  if (detailType === 'AWS Health Abuse Event') {
    return ignore('an AWS Health Abuse Event, not an EC2 maintenance or hardware event');
  }
  const header = read(headerSchema, detail, ['detail']);
  if (header.service !== 'EC2') return ignore(`an AWS Health event for ${header.service}, not EC2`);
  if (!CATEGORIES.has(header.eventTypeCategory)) {
    return ignore(`AWS Health category ${header.eventTypeCategory} is not one FleetOps acts on`);
  }
  // hasOwn: a code such as "constructor" must not find Object.prototype's members.
  const kind = Object.hasOwn(HEALTH_EVENT_KINDS, header.eventTypeCode)
    ? HEALTH_EVENT_KINDS[header.eventTypeCode]
    : undefined;
  if (kind === undefined) {
    return ignore(`AWS Health event type ${header.eventTypeCode} is not one FleetOps acts on`);
  }

  const body = read(ec2DetailSchema, detail, ['detail']);
  checkPages(body.page, body.totalPages);
  if (body.statusCode === 'closed') return ignore('the event is closed');

  let deadline: string | undefined;
  if (SCHEDULED.has(kind)) {
    deadline = body.startTime === undefined ? undefined : healthInstant(body.startTime);
    if (deadline === undefined) fail(['detail', 'startTime'], DATE_EXPECTED, body.startTime);
  }

  // Not the communicationId (it carries the page number) nor the envelope id (new on every page).
  // Events without a status (older ones) get a marker of their own rather than a guessed status.
  const key = `${header.eventArn}#${body.statusCode ?? 'no-status'}`;
  const description = englishDescription(body.eventDescription);
  const detailText = description ? `${header.eventTypeCode}: ${shorten(description)}` : header.eventTypeCode;
  const findings: Finding[] = [];
  const seen = new Set<string>();
  (body.affectedEntities ?? []).forEach((entity, i) => {
    const instanceId = instanceOf(entity.entityValue, ['detail', 'affectedEntities', i, 'entityValue']);
    if (instanceId === undefined || entity.status === 'RESOLVED' || seen.has(instanceId)) return;
    seen.add(instanceId);
    findings.push({
      instanceId,
      kind,
      key,
      ...(deadline === undefined ? {} : { deadline }),
      detail: detailText,
      source: `aws.health:${header.eventTypeCode}`,
    });
  });
  if (findings.length === 0) return ignore('no EC2 instance among the affected entities that needs action');
  return { findings };
}

/**
 * The instance an entity names, or undefined for entities that are not instances (vol-…, h-…,
 * other ARNs). Something that claims to be an instance (`i-…`, an instance ARN) but is not a valid
 * id is an error: skipping it would drop a finding without anyone knowing.
 */
function instanceOf(value: string, path: ReadonlyArray<string | number>): string | undefined {
  const arn = INSTANCE_ARN.exec(value);
  const candidate = arn ? arn[1] : value;
  if (INSTANCE_ID.test(candidate)) return candidate;
  if (arn || candidate.startsWith('i-')) fail(path, INSTANCE_ID_EXPECTED, value);
  return undefined;
}

function checkPages(page: string | number | undefined, totalPages: string | number | undefined): void {
  if (page === undefined || totalPages === undefined) return;
  if (Number(page) > Number(totalPages)) {
    fail(['detail', 'page'], `a page number no greater than totalPages (${totalPages})`, page);
  }
}

function englishDescription(
  descriptions: ReadonlyArray<{ language?: string; latestDescription?: string }> | undefined,
): string | undefined {
  const list = descriptions ?? [];
  const chosen =
    list.find((d) => d.language === 'en_US' && d.latestDescription) ?? list.find((d) => d.latestDescription);
  return chosen?.latestDescription;
}
