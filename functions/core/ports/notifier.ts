/** The FleetOps topic: pages, approvals waiting, gates failed, changes ended (SNS: sns-notify). */
export interface Notifier {
  publish(subject: string, message: string): Promise<void>;
}
