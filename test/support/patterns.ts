/** CDK's EventPattern (camelCase keys) as CloudFormation and EventBridge take it. */
export function cfnPattern(pattern: Record<string, unknown>): Record<string, unknown> {
  const { detailType, ...rest } = pattern;
  return { ...rest, ...(detailType ? { 'detail-type': detailType } : {}) };
}
