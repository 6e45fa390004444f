import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  EventError,
  HEALTH_EVENT_KINDS,
  type ParsedEvent,
  parseEvent,
} from '../../functions/core/events/parse';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'events');
const PUBLIC = path.join(FIXTURES, 'public');
/** Where the public samples live on the development machine; CI has only the copies. */
const SHARED = '/work/shared/fixtures/aws-events';

const text = (name: string) => readFileSync(path.join(FIXTURES, name), 'utf8');
const fixture = (name: string): Record<string, unknown> => JSON.parse(text(name));
const publicSample = (name: string) => readFileSync(path.join(PUBLIC, `${name}.txt`), 'utf8');

type Key = string | number;

/** A copy of a fixture with one field set (or, with `undefined`, deleted). */
function edited(name: string, ...edits: Array<[ReadonlyArray<Key>, unknown]>): Record<string, unknown> {
  const event = fixture(name);
  for (const [at, value] of edits) {
    const parent = at.slice(0, -1).reduce<unknown>((node, key) => (node as Record<Key, unknown>)[key], event);
    const last = at[at.length - 1];
    if (value === undefined) delete (parent as Record<Key, unknown>)[last];
    else (parent as Record<Key, unknown>)[last] = value;
  }
  return event;
}

/** The EventError's message; fails the test on success or on any other error. */
function errorOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (!(error instanceof EventError)) throw error;
    expect(error.name).toBe('EventError');
    return error.message;
  }
  throw new Error('expected an EventError, but the event parsed');
}

const ids = (parsed: ParsedEvent) => parsed.findings.map((f) => f.instanceId);

const RETIREMENT_ARN =
  'arn:aws:health:us-east-1::event/EC2/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED_8f2a61c4-0b7e';
const REBOOT_ARN =
  'arn:aws:health:eu-west-1::event/EC2/AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED/AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED_5e1c9d3a-77a0';

describe('public samples', () => {
  it('keeps byte-for-byte copies of the shared samples', () => {
    if (!existsSync(SHARED)) {
      // Outside the development machine only the copies exist; the other tests read those.
      expect(readdirSync(PUBLIC).filter((f) => f.endsWith('.json.txt'))).toHaveLength(3);
      return;
    }
    const originals = readdirSync(SHARED).filter((f) => f.endsWith('.json'));
    expect(originals.sort()).toEqual(
      readdirSync(PUBLIC)
        .filter((f) => f.endsWith('.json.txt'))
        .map((f) => f.replace(/\.txt$/, ''))
        .sort(),
    );
    for (const name of originals) {
      expect(readFileSync(path.join(PUBLIC, `${name}.txt`))).toEqual(readFileSync(path.join(SHARED, name)));
    }
  });

  it('reads the AWS Health scheduled change of the NTH sample, placeholders and all', () => {
    expect(parseEvent(publicSample('aws-health-scheduledChange.nth.json'))).toEqual({
      eventId: '7fb65329-1628-4cf3-a740-95fg457h1402',
      source: 'aws.health',
      detailType: 'AWS Health Event',
      findings: [
        {
          instanceId: 'i-12345678',
          kind: 'scheduled-maintenance',
          // The sample has no statusCode (older events did not carry one).
          key: 'arn:aws:health:region::event/id#no-status',
          deadline: '2016-06-05T15:10:09.000Z',
          detail:
            'AWS_EC2_DEDICATED_HOST_NETWORK_MAINTENANCE_SCHEDULED: A description of the event will be provided here',
          source: 'aws.health:AWS_EC2_DEDICATED_HOST_NETWORK_MAINTENANCE_SCHEDULED',
        },
      ],
    });
  });

  it('ignores the EC2 user guide state change (pending), with the reason', () => {
    expect(parseEvent(publicSample('ec2-state-change.ec2-user-guide.json'))).toEqual({
      eventId: '7bf73129-1428-4cd3-a780-95db273d1602',
      source: 'aws.ec2',
      detailType: 'EC2 Instance State-change Notification',
      findings: [],
      ignored: 'instance i-abcd1111 is pending; only stopped and terminated instances are findings',
    });
  });

  it('reads the NTH Spot interruption warning: the deadline is two minutes after the event', () => {
    expect(parseEvent(publicSample('spot-itn-event.nth.json'))).toEqual({
      eventId: '1e5527d7-bb36-4607-3370-4164db56a40e',
      source: 'aws.ec2',
      detailType: 'EC2 Spot Instance Interruption Warning',
      findings: [
        {
          instanceId: 'i-0b662ef9931388ba0',
          kind: 'spot-interruption',
          key: 'spot-interruption@1970-01-01T00:00:00.000Z',
          deadline: '1970-01-01T00:02:00.000Z',
          detail: 'Spot interruption warning: EC2 will terminate the instance',
          source: 'aws.ec2:EC2 Spot Instance Interruption Warning',
        },
      ],
    });
  });

  it('reads the JSON text (an SQS body) and the parsed object alike', () => {
    for (const name of ['aws-health-scheduledChange.nth.json', 'spot-itn-event.nth.json']) {
      const body = publicSample(name);
      expect(parseEvent(JSON.parse(body))).toEqual(parseEvent(body));
    }
  });
});

/** The EC2 Health codes FleetOps acts on, and the kind of finding each one is. */
const HEALTH_CODES: ReadonlyArray<[string, string]> = [
  ['AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED', 'scheduled-retirement'],
  ['AWS_EC2_PERSISTENT_INSTANCE_RETIREMENT_SCHEDULED', 'scheduled-retirement'],
  ['AWS_EC2_DEDICATED_HOST_RETIREMENT_SCHEDULED', 'scheduled-retirement'],
  ['AWS_EC2_INSTANCE_STOP_SCHEDULED', 'scheduled-stop'],
  ['AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED', 'scheduled-reboot'],
  ['AWS_EC2_INSTANCE_REBOOT_FLEXIBLE_MAINTENANCE_SCHEDULED', 'scheduled-reboot'],
  ['AWS_EC2_SYSTEM_REBOOT_MAINTENANCE_SCHEDULED', 'scheduled-reboot'],
  ['AWS_EC2_SYSTEM_MAINTENANCE_EVENT', 'scheduled-maintenance'],
  ['AWS_EC2_MAINTENANCE_SCHEDULED', 'scheduled-maintenance'],
  ['AWS_EC2_INSTANCE_NETWORK_MAINTENANCE_SCHEDULED', 'scheduled-maintenance'],
  ['AWS_EC2_INSTANCE_POWER_MAINTENANCE_SCHEDULED', 'scheduled-maintenance'],
  ['AWS_EC2_DEDICATED_HOST_NETWORK_MAINTENANCE_SCHEDULED', 'scheduled-maintenance'],
  ['AWS_EC2_DEDICATED_HOST_POWER_MAINTENANCE_SCHEDULED', 'scheduled-maintenance'],
  ['AWS_EC2_DEGRADED_HARDWARE_ISSUE', 'degraded-hardware'],
  ['AWS_EC2_INSTANCE_STORE_DRIVE_PERFORMANCE_DEGRADED', 'degraded-hardware'],
];

describe('AWS Health events', () => {
  it('reads the newer fields, instance ARNs and ids, and skips volumes and resolved entities', () => {
    const parsed = parseEvent(fixture('health-retirement.newer-fields.json'));

    expect(parsed.ignored).toBeUndefined();
    expect(parsed.findings).toEqual(
      ['i-0a1b2c3d4e5f60718', 'i-1a2b3c4d'].map((instanceId) => ({
        instanceId,
        kind: 'scheduled-retirement',
        key: `${RETIREMENT_ARN}#upcoming`,
        deadline: '2026-08-27T13:19:03.000Z',
        detail:
          'AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED: EC2 has detected degradation of the underlying hardware hosting your Amazon EC2 instance. Your instance will be stopped or terminated after the retirement date.',
        source: 'aws.health:AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED',
      })),
    );
  });

  it('gives each page of a large event its own entities under the same key, whatever the page', () => {
    const first = parseEvent(fixture('health-reboot.page-1-of-2.json'));
    const second = parseEvent(fixture('health-reboot.page-2-of-2.json'));

    expect(ids(first)).toEqual(['i-0aaaaaaaaaaaaaaa1', 'i-0aaaaaaaaaaaaaaa2']);
    expect(ids(second)).toEqual(['i-0bbbbbbbbbbbbbbb1', 'i-0bbbbbbbbbbbbbbb2']);
    const keys = new Set([...first.findings, ...second.findings].map((f) => f.key));
    expect([...keys]).toEqual([`${REBOOT_ARN}#upcoming`]);
    // Only the entities differ between the pages' findings; the pages' own ids do not leak in.
    expect({ ...second.findings[0], instanceId: 'x' }).toEqual({ ...first.findings[0], instanceId: 'x' });
    expect(first.findings[0]).toMatchObject({
      kind: 'scheduled-reboot',
      deadline: '2026-03-16T02:00:00.000Z',
    });
    expect(first.eventId).not.toBe(second.eventId);
  });

  it('repeats the key on a replay and changes it when the status moves on', () => {
    const upcoming = parseEvent(fixture('health-reboot.page-1-of-2.json'));
    const replay = parseEvent(fixture('health-reboot.page-1-of-2.json'));
    const open = parseEvent(
      edited(
        'health-reboot.page-1-of-2.json',
        [['id'], 'another-delivery'],
        [['detail', 'statusCode'], 'open'],
      ),
    );

    expect(replay).toEqual(upcoming);
    expect(open.findings.map((f) => f.key)).toEqual([`${REBOOT_ARN}#open`, `${REBOOT_ARN}#open`]);
  });

  it('ignores a closed event', () => {
    expect(parseEvent(fixture('health-retirement.closed.json'))).toEqual({
      eventId: '0d1f5b2e-6c39-4f6e-9a53-2b7c8e4f1a99',
      source: 'aws.health',
      detailType: 'AWS Health Event',
      findings: [],
      ignored: 'the event is closed',
    });
  });

  it('ignores events of other services, EC2 codes FleetOps does not act on, and abuse events', () => {
    expect(parseEvent(fixture('health-elb-api-issue.aws-docs.json')).ignored).toBe(
      'an AWS Health event for ELASTICLOADBALANCING, not EC2',
    );
    expect(parseEvent(fixture('health-ec2-operational-issue.aws-docs.json')).ignored).toBe(
      'AWS Health event type AWS_EC2_OPERATIONAL_ISSUE is not one FleetOps acts on',
    );
    const abuse = parseEvent(
      edited('health-elb-api-issue.aws-docs.json', [['detail-type'], 'AWS Health Abuse Event']),
    );
    expect(abuse).toMatchObject({ detailType: 'AWS Health Abuse Event', findings: [] });
    expect(abuse.ignored).toMatch(/Abuse Event/);
    // Object.prototype's members are not event codes.
    expect(
      parseEvent(edited('health-retirement.newer-fields.json', [['detail', 'eventTypeCode'], 'constructor']))
        .ignored,
    ).toBe('AWS Health event type constructor is not one FleetOps acts on');
  });

  it('ignores a category FleetOps does not act on, and accepts the three it does', () => {
    const investigation = edited('health-retirement.newer-fields.json', [
      ['detail', 'eventTypeCategory'],
      'investigation',
    ]);
    expect(parseEvent(investigation).ignored).toBe(
      'AWS Health category investigation is not one FleetOps acts on',
    );
    for (const category of ['issue', 'scheduledChange', 'accountNotification']) {
      const event = edited('health-retirement.newer-fields.json', [
        ['detail', 'eventTypeCategory'],
        category,
      ]);
      expect(parseEvent(event).findings).toHaveLength(2);
    }
  });

  it('reads hardware degradation as an issue without a deadline', () => {
    const docs = parseEvent(fixture('health-instance-store-degraded.aws-docs.json'));
    const issue = parseEvent(fixture('health-degraded-hardware.issue.json'));

    expect(docs.findings).toEqual([
      {
        instanceId: 'i-abcd1111',
        kind: 'degraded-hardware',
        key: 'arn:aws:health:us-east-1::event/AWS_EC2_INSTANCE_STORE_DRIVE_PERFORMANCE_DEGRADED_90353408594353980#open',
        detail:
          'AWS_EC2_INSTANCE_STORE_DRIVE_PERFORMANCE_DEGRADED: A description of the event will be provided here',
        source: 'aws.health:AWS_EC2_INSTANCE_STORE_DRIVE_PERFORMANCE_DEGRADED',
      },
    ]);
    expect(issue.findings).toEqual([
      expect.objectContaining({ instanceId: 'i-0123456789abcdef0', kind: 'degraded-hardware' }),
    ]);
    expect(issue.findings[0]).not.toHaveProperty('deadline');
  });

  it('reads the AWS documentation retirement sample (an instance ARN, no resources field)', () => {
    expect(parseEvent(fixture('health-instance-retirement.aws-docs.json')).findings).toEqual([
      expect.objectContaining({
        instanceId: 'i-1234567890abcdef0',
        kind: 'scheduled-retirement',
        deadline: '2026-08-27T13:19:03.000Z',
      }),
    ]);
  });

  it.each(HEALTH_CODES)('maps %s to %s, with startTime as the deadline of scheduled kinds', (code, kind) => {
    const parsed = parseEvent(
      edited('health-retirement.newer-fields.json', [['detail', 'eventTypeCode'], code]),
    );

    expect(parsed.findings.map((f) => [f.kind, f.source, f.deadline])).toEqual(
      Array(2).fill([
        kind,
        `aws.health:${code}`,
        kind.startsWith('scheduled-') ? '2026-08-27T13:19:03.000Z' : undefined,
      ]),
    );
  });

  it('maps exactly the codes listed above, and no other', () => {
    expect(HEALTH_EVENT_KINDS).toEqual(Object.fromEntries(HEALTH_CODES));
  });

  it('takes ISO 8601 start times as well as RFC dates', () => {
    const event = edited('health-retirement.newer-fields.json', [
      ['detail', 'startTime'],
      '2026-08-27T15:19:03+02:00',
    ]);
    expect(parseEvent(event).findings[0].deadline).toBe('2026-08-27T13:19:03.000Z');
  });

  it('records an instance named twice (id and ARN) once', () => {
    const event = edited('health-retirement.newer-fields.json', [
      ['detail', 'affectedEntities'],
      [
        { entityValue: 'i-0a1b2c3d4e5f60718' },
        { entityValue: 'arn:aws:ec2:us-east-1:1:instance/i-0a1b2c3d4e5f60718' },
      ],
    ]);
    expect(ids(parseEvent(event))).toEqual(['i-0a1b2c3d4e5f60718']);
  });

  it('ignores an event whose entities hold no instance', () => {
    const event = edited('health-retirement.newer-fields.json', [
      ['detail', 'affectedEntities'],
      [{ entityValue: 'vol-0123456789abcdef0' }, { entityValue: 'h-0123456789abcdef0' }],
    ]);
    expect(parseEvent(event)).toMatchObject({
      findings: [],
      ignored: 'no EC2 instance among the affected entities that needs action',
    });
  });
});

describe('EC2 events', () => {
  it.each([
    ['ec2-state-stopped.json', 'unexpected-stop', 'stopped'],
    ['ec2-state-terminated.json', 'unexpected-termination', 'terminated'],
  ])('reads %s as %s, keyed by state and time', (name, kind, state) => {
    expect(parseEvent(fixture(name)).findings).toEqual([
      {
        instanceId: 'i-0d15ea5e0d15ea5e0',
        kind,
        key: `${state}@2026-05-05T03:12:09.000Z`,
        detail: `the instance is ${state}`,
        source: 'aws.ec2:EC2 Instance State-change Notification',
      },
    ]);
  });

  it('keys a later stop apart from the first, and a replay with it', () => {
    const first = parseEvent(fixture('ec2-state-stopped.json'));
    const replay = parseEvent(fixture('ec2-state-stopped.json'));
    const later = parseEvent(edited('ec2-state-stopped.json', [['time'], '2026-05-06T03:12:09Z']));

    expect(replay.findings).toEqual(first.findings);
    expect(later.findings[0].key).not.toBe(first.findings[0].key);
  });

  it.each(['pending', 'running', 'stopping', 'shutting-down'])('ignores a change to %s', (state) => {
    const parsed = parseEvent(edited('ec2-state-stopped.json', [['detail', 'state'], state]));
    expect(parsed).toMatchObject({ findings: [], ignored: expect.stringContaining(`is ${state}`) });
  });

  it('gives a hibernating Spot instance no two minutes', () => {
    const sample = JSON.parse(publicSample('spot-itn-event.nth.json'));
    sample.detail['instance-action'] = 'hibernate';
    expect(parseEvent(sample).findings[0].deadline).toBe('1970-01-01T00:00:00.000Z');
    sample.detail['instance-action'] = 'stop';
    expect(parseEvent(sample).findings[0].deadline).toBe('1970-01-01T00:02:00.000Z');
  });

  it('reads a rebalance recommendation, without a deadline', () => {
    expect(parseEvent(fixture('rebalance-recommendation.nth.json'))).toEqual({
      eventId: '5d5555d5-dd55-5555-5555-5555dd55d55d',
      source: 'aws.ec2',
      detailType: 'EC2 Instance Rebalance Recommendation',
      findings: [
        {
          instanceId: 'i-0b662ef9931388ba0',
          kind: 'rebalance-recommendation',
          key: 'rebalance-recommendation@2020-10-26T14:14:14.000Z',
          detail: 'Spot rebalance recommendation: elevated risk of interruption',
          source: 'aws.ec2:EC2 Instance Rebalance Recommendation',
        },
      ],
    });
  });
});

describe('CloudWatch alarm state changes', () => {
  const STATUS = 'alarm-status-system.json';
  const METRIC = ['detail', 'configuration', 'metrics', 0, 'metricStat', 'metric'];

  it('reads FleetOps’ system status-check alarm going to ALARM', () => {
    expect(parseEvent(fixture(STATUS)).findings).toEqual([
      {
        instanceId: 'i-0c0ffee0c0ffee001',
        kind: 'system-status-check-failed',
        key: 'fleetops-status-i-0c0ffee0c0ffee001@2026-04-14T09:31:12.405Z',
        detail:
          'StatusCheckFailed_System alarm fleetops-status-i-0c0ffee0c0ffee001 in ALARM: Threshold Crossed: 2 out of the last 2 datapoints [1.0 (14/04/26 09:30:00), 1.0 (14/04/26 09:29:00)] were greater than or equal to the threshold (1.0) (minimum…',
        source: 'aws.cloudwatch:StatusCheckFailed_System',
      },
    ]);
  });

  it.each([
    ['StatusCheckFailed_Instance', 'instance-status-check-failed'],
    ['StatusCheckFailed', 'system-status-check-failed'],
  ])('maps the metric %s to %s', (metric, kind) => {
    const parsed = parseEvent(edited(STATUS, [[...METRIC, 'name'], metric]));
    expect(parsed.findings).toEqual([expect.objectContaining({ kind, source: `aws.cloudwatch:${metric}` })]);
  });

  it('takes the instance from the alarm name when the metric has no InstanceId dimension', () => {
    const event = edited(
      STATUS,
      [['detail', 'alarmName'], 'fleetops-status-system-i-0c0ffee0c0ffee009'],
      [[...METRIC, 'dimensions'], undefined],
    );
    expect(ids(parseEvent(event))).toEqual(['i-0c0ffee0c0ffee009']);
  });

  it('reads a managed composite alarm (no metrics) by its name, as a system check', () => {
    expect(parseEvent(fixture('alarm-status-composite.json')).findings).toEqual([
      expect.objectContaining({
        instanceId: 'i-0c0ffee0c0ffee002',
        kind: 'system-status-check-failed',
        key: 'fleetops-status-any-i-0c0ffee0c0ffee002@2026-04-14T10:02:45.120Z',
      }),
    ]);
  });

  it.each(['OK', 'INSUFFICIENT_DATA'])('ignores a transition to %s', (value) => {
    expect(parseEvent(edited(STATUS, [['detail', 'state', 'value'], value])).ignored).toBe(
      `alarm fleetops-status-i-0c0ffee0c0ffee001 moved to ${value}, not ALARM`,
    );
  });

  it('ignores alarms FleetOps does not manage, before reading anything else', () => {
    expect(parseEvent(fixture('alarm-cpu.aws-docs.json')).ignored).toBe(
      'alarm ServerCpuTooHigh is not managed by FleetOps (its name does not start with "fleetops-status-")',
    );
    const odd = edited('alarm-cpu.aws-docs.json', [['detail', 'state'], 'not an object']);
    expect(parseEvent(odd).findings).toEqual([]);
  });

  it('ignores a managed alarm that watches something other than a status check', () => {
    expect(parseEvent(edited(STATUS, [[...METRIC, 'name'], 'CPUUtilization'])).ignored).toBe(
      'alarm fleetops-status-i-0c0ffee0c0ffee001 watches CPUUtilization, not an EC2 status check',
    );
  });

  it('uses the configured prefix', () => {
    const renamed = edited(STATUS, [['detail', 'alarmName'], 'ops-sc-i-0c0ffee0c0ffee001']);
    expect(ids(parseEvent(renamed, { statusCheckAlarmPrefix: 'ops-sc-' }))).toEqual(['i-0c0ffee0c0ffee001']);
    expect(parseEvent(fixture(STATUS), { statusCheckAlarmPrefix: 'ops-sc-' }).ignored).toMatch(/not managed/);
    expect(errorOf(() => parseEvent(fixture(STATUS), { statusCheckAlarmPrefix: '' }))).toBe(
      'options.statusCheckAlarmPrefix: expected a non-empty string, found ""',
    );
  });
});

describe('malformed events', () => {
  const ENVELOPE_EXPECTED =
    'expected an EventBridge event (a JSON object with id, source, detail-type, time and detail)';
  const DATE = 'expected a date such as "Sat, 05 Jun 2021 21:00:00 GMT" or an ISO 8601 timestamp';
  const ALARM_METRIC = ['detail', 'configuration', 'metrics', 0, 'metricStat', 'metric'];

  it.each<[string, () => unknown, string]>([
    ['a number', () => 42, `event: ${ENVELOPE_EXPECTED}, found 42`],
    ['null', () => null, `event: ${ENVELOPE_EXPECTED}, found null`],
    ['a list', () => [1, 2], `event: ${ENVELOPE_EXPECTED}, found a list of 2`],
    ['JSON text of a string', () => '"hello"', `event: ${ENVELOPE_EXPECTED}, found "hello"`],
    [
      'no id',
      () => edited('ec2-state-stopped.json', [['id'], undefined]),
      'id: expected the event id (a non-empty string), found nothing (the field is missing)',
    ],
    [
      'an empty id',
      () => edited('ec2-state-stopped.json', [['id'], '']),
      'id: expected the event id (a non-empty string), found ""',
    ],
    [
      'an unknown source',
      () => edited('ec2-state-stopped.json', [['source'], 'aws.s3']),
      'source: expected one of "aws.health", "aws.ec2", "aws.cloudwatch", found "aws.s3"',
    ],
    [
      'an unknown detail type',
      () => edited('ec2-state-stopped.json', [['detail-type'], 'EBS Volume Notification']),
      'detail-type: expected a detail type of aws.ec2: "EC2 Instance State-change Notification", "EC2 Spot Instance Interruption Warning", "EC2 Instance Rebalance Recommendation", found "EBS Volume Notification"',
    ],
    [
      'no detail',
      () => edited('ec2-state-stopped.json', [['detail'], undefined]),
      'detail: expected an object (the event detail), found nothing (the field is missing)',
    ],
    [
      'a detail that is text',
      () => edited('ec2-state-stopped.json', [['detail'], '{"instance-id":"i-0d15ea5e0d15ea5e0"}']),
      'detail: expected an object (the event detail), found "{\\"instance-id\\":\\"i-0d15ea5e0d15ea5e0\\"}"',
    ],
    [
      'a placeholder time the event depends on',
      () => edited('rebalance-recommendation.nth.json', [['time'], 'yyyy-mm-ddThh:mm:ssZ']),
      'time: expected the event time (ISO 8601, such as "2021-11-11T21:29:54Z"), found "yyyy-mm-ddThh:mm:ssZ"',
    ],
    [
      'several problems at once',
      () => edited('ec2-state-stopped.json', [['id'], 7], [['source'], undefined]),
      'id: expected the event id (a non-empty string), found 7; source: expected one of "aws.health", "aws.ec2", "aws.cloudwatch", found nothing (the field is missing)',
    ],
    [
      'a state change for a volume',
      () => edited('ec2-state-stopped.json', [['detail', 'instance-id'], 'vol-123']),
      'detail.instance-id: expected an EC2 instance id, found "vol-123"',
    ],
    [
      'an unknown instance state',
      () => edited('ec2-state-stopped.json', [['detail', 'state'], 'exploded']),
      'detail.state: expected one of "pending", "running", "stopping", "stopped", "shutting-down", "terminated", found "exploded"',
    ],
    [
      'an unknown Spot action',
      () =>
        edited('rebalance-recommendation.nth.json', [
          ['detail-type'],
          'EC2 Spot Instance Interruption Warning',
        ]),
      'detail.instance-action: expected one of "terminate", "stop", "hibernate", found nothing (the field is missing)',
    ],
    [
      'a rebalance recommendation without an instance',
      () => edited('rebalance-recommendation.nth.json', [['detail', 'instance-id'], undefined]),
      'detail.instance-id: expected an EC2 instance id, found nothing (the field is missing)',
    ],
    [
      'a Health entity that claims to be an instance but is not one',
      () =>
        edited('health-retirement.newer-fields.json', [
          ['detail', 'affectedEntities', 1, 'entityValue'],
          'i-xyz',
        ]),
      'detail.affectedEntities[1].entityValue: expected an EC2 instance id, found "i-xyz"',
    ],
    [
      'a Health instance ARN with a bad id',
      () =>
        edited('health-retirement.newer-fields.json', [
          ['detail', 'affectedEntities', 0, 'entityValue'],
          'arn:aws:ec2:us-east-1:123456789012:instance/web-1',
        ]),
      'detail.affectedEntities[0].entityValue: expected an EC2 instance id, found "arn:aws:ec2:us-east-1:123456789012:instance/web-1"',
    ],
    [
      'a Health entity without a value',
      () =>
        edited('health-retirement.newer-fields.json', [
          ['detail', 'affectedEntities', 2],
          { status: 'PENDING' },
        ]),
      'detail.affectedEntities[2].entityValue: expected the affected entity’s id (a string), found nothing (the field is missing)',
    ],
    [
      'a Health event without its ARN',
      () => edited('health-retirement.newer-fields.json', [['detail', 'eventArn'], undefined]),
      'detail.eventArn: expected an AWS Health event ARN ("arn:aws:health:…"), found nothing (the field is missing)',
    ],
    [
      'a Health event ARN of another service',
      () =>
        edited('health-retirement.newer-fields.json', [
          ['detail', 'eventArn'],
          'arn:aws:ec2:us-east-1::event/x',
        ]),
      'detail.eventArn: expected an AWS Health event ARN ("arn:aws:health:…"), found "arn:aws:ec2:us-east-1::event/x"',
    ],
    [
      'an unknown Health status',
      () => edited('health-retirement.newer-fields.json', [['detail', 'statusCode'], 'resolved']),
      'detail.statusCode: expected one of "open", "upcoming", "closed", found "resolved"',
    ],
    [
      'a scheduled change without a start time',
      () => edited('health-retirement.newer-fields.json', [['detail', 'startTime'], undefined]),
      `detail.startTime: ${DATE}, found nothing (the field is missing)`,
    ],
    [
      'a start time that is not a date',
      () => edited('health-retirement.newer-fields.json', [['detail', 'startTime'], 'next Tuesday']),
      `detail.startTime: ${DATE}, found "next Tuesday"`,
    ],
    [
      'a start time on a day that does not exist',
      () =>
        edited('health-retirement.newer-fields.json', [
          ['detail', 'startTime'],
          'Mon, 30 Feb 2026 10:00:00 GMT',
        ]),
      `detail.startTime: ${DATE}, found "Mon, 30 Feb 2026 10:00:00 GMT"`,
    ],
    [
      'a page past the last',
      () => edited('health-reboot.page-2-of-2.json', [['detail', 'page'], '3']),
      'detail.page: expected a page number no greater than totalPages (2), found "3"',
    ],
    [
      'a page zero',
      () => edited('health-reboot.page-2-of-2.json', [['detail', 'page'], '0']),
      'detail.page: expected a page number (a whole number from 1, as a string or a number), found "0"',
    ],
    [
      'an alarm InstanceId that is not an instance id',
      () => edited('alarm-status-system.json', [[...ALARM_METRIC, 'dimensions', 'InstanceId'], 'web-1']),
      'detail.configuration.metrics[0].metricStat.metric.dimensions.InstanceId: expected an EC2 instance id, found "web-1"',
    ],
    [
      'an alarm over two instances',
      () =>
        edited('alarm-status-system.json', [
          ['detail', 'configuration', 'metrics', 1],
          {
            id: 'm2',
            metricStat: {
              metric: { name: 'StatusCheckFailed_System', dimensions: { InstanceId: 'i-0123456789abcdef0' } },
            },
          },
        ]),
      'detail.configuration.metrics: expected a single InstanceId across the alarm’s metrics, found "i-0c0ffee0c0ffee001" and "i-0123456789abcdef0"',
    ],
    [
      'an alarm without dimension whose name ends in no instance id',
      () =>
        edited(
          'alarm-status-system.json',
          [[...ALARM_METRIC, 'dimensions'], {}],
          [['detail', 'alarmName'], 'fleetops-status-web'],
        ),
      'detail.alarmName: expected a name ending in an EC2 instance id (the alarm has no InstanceId dimension), found "fleetops-status-web"',
    ],
    [
      'an alarm state time that is not a timestamp',
      () => edited('alarm-status-system.json', [['detail', 'state', 'timestamp'], '14/04/26 09:31']),
      'detail.state.timestamp: expected an ISO 8601 timestamp such as "2019-10-02T17:04:40.989+0000", found "14/04/26 09:31"',
    ],
    [
      'an unknown alarm state',
      () => edited('alarm-status-system.json', [['detail', 'state', 'value'], 'BROKEN']),
      'detail.state.value: expected one of "OK", "ALARM", "INSUFFICIENT_DATA", found "BROKEN"',
    ],
    [
      'an alarm without a name',
      () => edited('alarm-status-system.json', [['detail', 'alarmName'], undefined]),
      'detail.alarmName: expected the alarm name (a non-empty string), found nothing (the field is missing)',
    ],
  ])('rejects %s, saying where, what was expected and what was found', (_what, build, message) => {
    const input = build();
    expect(
      errorOf(() => parseEvent(typeof input === 'string' ? input : JSON.parse(JSON.stringify(input)))),
    ).toBe(message);
  });

  it('rejects text that is not JSON', () => {
    expect(errorOf(() => parseEvent('{"id": '))).toMatch(
      /^event: expected an EventBridge event as JSON text, found text that is not JSON \(.+\)$/,
    );
  });
});
