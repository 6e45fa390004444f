import type { InstanceCondition } from '../fleet/fleet';

/** The EC2 actions changes and remediations take (batched and paced by the adapter). */
export interface Ec2Port {
  reboot(ids: readonly string[]): Promise<void>;
  stop(ids: readonly string[]): Promise<void>;
  start(ids: readonly string[]): Promise<void>;
  setTags(ids: readonly string[], tags: Readonly<Record<string, string>>): Promise<void>;
  /**
   * When each instance's console output was last posted (GetConsoleOutput's Timestamp, epoch
   * ms). EC2 posts it shortly after a boot, a reboot or a stop, so a timestamp later than a
   * reboot request proves the instance did restart (RebootInstances only queues a request).
   */
  consoleOutputAt(ids: readonly string[]): Promise<Map<string, number>>;
  /** State and status-check health of each instance (instances EC2 does not report are absent). */
  conditions(ids: readonly string[]): Promise<Map<string, InstanceCondition>>;
}
