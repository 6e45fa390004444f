/**
 * EC2 events (state-change notifications, Spot interruption warnings) into findings.
 */
import * as z from 'zod';
import { ignore, type Outcome } from './outcome';
import { instanceIdSchema, read } from './problems';
import { plusMinutes } from './times';

export const EC2_DETAIL_TYPES = [
  'EC2 Instance State-change Notification',
  'EC2 Spot Instance Interruption Warning',
  'EC2 Instance Rebalance Recommendation',
] as const;
export type Ec2DetailType = (typeof EC2_DETAIL_TYPES)[number];

/** The states EC2 documents for state-change notifications. */
const STATES = ['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated'] as const;

const DETAIL_EXPECTED = 'an object (the event detail)';

const stateChangeSchema = z.looseObject(
  {
    'instance-id': instanceIdSchema,
    state: z.enum(STATES, { error: `one of ${STATES.map((s) => `"${s}"`).join(', ')}` }),
  },
  { error: DETAIL_EXPECTED },
);

/** What EC2 does at the interruption; hibernation starts at once, without the two minutes. */
const ACTIONS = ['terminate', 'stop', 'hibernate'] as const;

const spotWarningSchema = z.looseObject(
  {
    'instance-id': instanceIdSchema,
    'instance-action': z.enum(ACTIONS, { error: `one of ${ACTIONS.map((a) => `"${a}"`).join(', ')}` }),
  },
  { error: DETAIL_EXPECTED },
);

const rebalanceSchema = z.looseObject({ 'instance-id': instanceIdSchema }, { error: DETAIL_EXPECTED });

/** EC2 sends the interruption warning two minutes before it acts. */
const SPOT_WARNING_MINUTES = 2;

/**
 * Findings from an aws.ec2 event; `time` is the envelope's time as ISO 8601 UTC.
 * - State change: stopped → unexpected-stop, terminated → unexpected-termination (whether someone
 *   asked for it is the policy's question, not the parser's); other states are ignored. Keyed by
 *   state and time: a replay (same event, same time) repeats the key, a later stop does not.
 * - Spot interruption warning: deadline two minutes after the event time, or the event time itself
 *   when the instance hibernates.
 * - Rebalance recommendation: no deadline; keyed by time.
 */
export function ec2Outcome(detailType: Ec2DetailType, detail: unknown, time: string): Outcome {
  switch (detailType) {
    case 'EC2 Instance State-change Notification': {
      const d = read(stateChangeSchema, detail, ['detail']);
      const instanceId = d['instance-id'];
      const kind =
        d.state === 'stopped'
          ? 'unexpected-stop'
          : d.state === 'terminated'
            ? 'unexpected-termination'
            : undefined;
      if (kind === undefined) {
        return ignore(
          `instance ${instanceId} is ${d.state}; only stopped and terminated instances are findings`,
        );
      }
      return {
        findings: [
          {
            instanceId,
            kind,
            key: `${d.state}@${time}`,
            detail: `the instance is ${d.state}`,
            source: `aws.ec2:${detailType}`,
          },
        ],
      };
    }
    case 'EC2 Spot Instance Interruption Warning': {
      const d = read(spotWarningSchema, detail, ['detail']);
      const action = d['instance-action'];
      return {
        findings: [
          {
            instanceId: d['instance-id'],
            kind: 'spot-interruption',
            key: `spot-interruption@${time}`,
            deadline: action === 'hibernate' ? time : plusMinutes(time, SPOT_WARNING_MINUTES),
            detail: `Spot interruption warning: EC2 will ${action} the instance`,
            source: `aws.ec2:${detailType}`,
          },
        ],
      };
    }
    case 'EC2 Instance Rebalance Recommendation': {
      const d = read(rebalanceSchema, detail, ['detail']);
      return {
        findings: [
          {
            instanceId: d['instance-id'],
            kind: 'rebalance-recommendation',
            key: `rebalance-recommendation@${time}`,
            detail: 'Spot rebalance recommendation: elevated risk of interruption',
            source: `aws.ec2:${detailType}`,
          },
        ],
      };
    }
  }
}
