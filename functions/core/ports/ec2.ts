import type { InstanceCondition } from '../fleet/fleet';

/** The EC2 actions changes and remediations take (batched and paced by the adapter). */
export interface Ec2Port {
  reboot(ids: readonly string[]): Promise<void>;
  stop(ids: readonly string[]): Promise<void>;
  start(ids: readonly string[]): Promise<void>;
  setTags(ids: readonly string[], tags: Readonly<Record<string, string>>): Promise<void>;
  /** State and status-check health of each instance (instances EC2 does not report are absent). */
  conditions(ids: readonly string[]): Promise<Map<string, InstanceCondition>>;
}
