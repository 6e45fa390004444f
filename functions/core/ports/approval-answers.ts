/**
 * Answers a waiting task token (SendTaskSuccess / SendTaskFailure; Step Functions: sfn-task-answers).
 * `closed` when Step Functions says the task is already closed or timed out (TaskTimedOut): a
 * retried answer after a crash.
 */
export interface ApprovalAnswers {
  succeed(token: string, output: Record<string, unknown>): Promise<'sent' | 'closed'>;
  fail(token: string, error: string, cause: string): Promise<'sent' | 'closed'>;
}
