/**
 * The approval answers port (`ApprovalAnswers`) over Step Functions' task tokens.
 */
import { SendTaskFailureCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { ApprovalAnswers } from '../core/ports/approval-answers';

/**
 * Answers an approval's task token. Step Functions says TaskTimedOut when "the task token has
 * either expired or the task associated with the token has already been closed": a retried
 * answer whose first attempt got through (or an approval past its timeout) is `closed`, not an error.
 */
export class SfnTaskAnswers implements ApprovalAnswers {
  constructor(private readonly sfn: SFNClient) {}

  async succeed(token: string, output: Record<string, unknown>): Promise<'sent' | 'closed'> {
    return this.answer(() =>
      this.sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify(output) })),
    );
  }

  async fail(token: string, error: string, cause: string): Promise<'sent' | 'closed'> {
    return this.answer(() => this.sfn.send(new SendTaskFailureCommand({ taskToken: token, error, cause })));
  }

  private async answer(send: () => Promise<unknown>): Promise<'sent' | 'closed'> {
    try {
      await send();
      return 'sent';
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === 'TaskTimedOut' || name === 'TaskDoesNotExist') return 'closed';
      throw error;
    }
  }
}
