/** An SSM Run Command a change sends. */
export interface SsmCommand {
  readonly document: string;
  readonly parameters: Readonly<Record<string, readonly string[]>>;
  readonly timeoutSeconds: number;
  readonly comment: string;
}
