import { RemovalPolicy } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/** Deployment settings, read once from `cdk.json` context (or `-c key=value`) and validated at synth time. */
export interface FleetOpsSettings {
  readonly removalPolicy: RemovalPolicy;
}

const REMOVAL_POLICIES: Record<string, RemovalPolicy> = {
  retain: RemovalPolicy.RETAIN,
  destroy: RemovalPolicy.DESTROY,
};

export function readSettings(scope: Construct): FleetOpsSettings {
  const raw = scope.node.tryGetContext('fleetops:removalPolicy') ?? 'retain';
  const removalPolicy = REMOVAL_POLICIES[String(raw)];
  if (removalPolicy === undefined) {
    throw new Error(
      `context fleetops:removalPolicy: expected one of ${Object.keys(REMOVAL_POLICIES).join(', ')}, found ${JSON.stringify(raw)}`,
    );
  }
  return { removalPolicy };
}
