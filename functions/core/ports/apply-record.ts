/**
 * What one apply attempt sent for a wave, kept with the change as the wave record `apply#<time>`
 * (read back by settle, the gate and the release). Written twice: the intent (`sending`) just
 * before the call, then the record once it returned.
 */
export interface ApplyRecord {
  readonly applied: readonly string[];
  readonly commands?: ReadonlyArray<{ commandId: string; instanceIds: string[] }>;
  readonly groups?: Readonly<Record<string, string>>;
  readonly refused?: ReadonlyArray<{ id: string; reason: string }>;
  /** Recorded, but whether the action was sent is unknown (a crash in between). */
  readonly unknown?: readonly string[];
  /** The intent written just before the call (replaced by the record once it returned). */
  readonly sending?: readonly string[];
}
