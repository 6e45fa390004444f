/**
 * The notifier port (`Notifier`) over SNS: the FleetOps topic.
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Notifier } from '../core/ports/notifier';

/** Pages and summaries to the FleetOps topic (subscribers: a pager, a chat channel, e-mail). */
export class SnsNotify implements Notifier {
  constructor(
    private readonly sns: SNSClient,
    private readonly topicArn: string,
  ) {}

  async publish(subject: string, message: string): Promise<void> {
    await this.sns.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        // SNS subjects: at most 100 printable ASCII characters, no line breaks.
        Subject: subject.replace(/[^\x20-\x7e]/g, ' ').slice(0, 100),
        Message: message,
      }),
    );
  }
}
