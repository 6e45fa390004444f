import { readFileSync } from 'node:fs';
import {
  EventBridgeClient,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { STATUS_CHECK_ALARM_PREFIX } from '../../functions/core/defaults';
import { parseEvent } from '../../functions/core/events/parse';
import { routingPatterns } from '../../lib/remediation';
import { cfnPattern } from '../../lib/routing-patterns';

/**
 * The routing rules FleetOps deploys, loaded into moto's EventBridge with an SQS target, and the
 * sample events put on the bus: what reaches the triage queue is what the rules select, and
 * every event that reaches it parses.
 */
describe('routing: the rule patterns against real-shaped events (moto EventBridge → SQS)', () => {
  const region = 'ap-northeast-1';
  const events = new EventBridgeClient({ region });
  const sqs = new SQSClient({ region });
  let queueUrl: string;

  beforeAll(async () => {
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `triage-${Date.now()}` }))).QueueUrl!;
    const queueArn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))
    ).Attributes!.QueueArn!;
    for (const [name, pattern] of Object.entries(routingPatterns(STATUS_CHECK_ALARM_PREFIX))) {
      await events.send(
        new PutRuleCommand({ Name: name, EventPattern: JSON.stringify(cfnPattern(pattern as never)) }),
      );
      await events.send(new PutTargetsCommand({ Rule: name, Targets: [{ Id: 'triage', Arn: queueArn }] }));
    }
  });

  const fixtures: Array<[string, boolean]> = [
    ['health-retirement.newer-fields.json', true],
    ['health-degraded-hardware.issue.json', true],
    ['health-reboot.page-1-of-2.json', true],
    ['health-elb-api-issue.aws-docs.json', false], // another service
    ['ec2-state-stopped.json', true],
    ['ec2-state-terminated.json', true],
    ['public/ec2-state-change.ec2-user-guide.json.txt', false], // pending: not routed
    ['public/spot-itn-event.nth.json.txt', true],
    ['rebalance-recommendation.nth.json', true],
    ['alarm-status-system.json', true],
    ['alarm-cpu.aws-docs.json', false], // not one of FleetOps' status-check alarms
  ];

  it('delivers exactly the events FleetOps acts on, and every delivered event parses', async () => {
    for (const [name] of fixtures) {
      const event = JSON.parse(readFileSync(`test/fixtures/events/${name}`, 'utf8'));
      const put = await events.send(
        new PutEventsCommand({
          Entries: [
            {
              Source: event.source,
              DetailType: event['detail-type'],
              Detail: JSON.stringify(event.detail),
              Resources: event.resources,
            },
          ],
        }),
      );
      expect(put.FailedEntryCount ?? 0).toBe(0);
    }
    const delivered: Array<{ source: string; 'detail-type': string; detail: Record<string, unknown> }> = [];
    for (let round = 0; round < 10; round++) {
      const batch = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      if (!batch.Messages?.length) break;
      delivered.push(...batch.Messages.map((m) => JSON.parse(m.Body!)));
    }
    const expected = fixtures.filter(([, routed]) => routed).length;
    expect(delivered).toHaveLength(expected);
    for (const event of delivered) expect(parseEvent(event).findings.length).toBeGreaterThan(0);
    const types = delivered.map((e) => e['detail-type']).sort();
    expect(types).toEqual(
      [
        'AWS Health Event',
        'AWS Health Event',
        'AWS Health Event',
        'CloudWatch Alarm State Change',
        'EC2 Instance Rebalance Recommendation',
        'EC2 Instance State-change Notification',
        'EC2 Instance State-change Notification',
        'EC2 Spot Instance Interruption Warning',
      ].sort(),
    );
  });
});
