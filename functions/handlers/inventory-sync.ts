import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { SFNClient } from '@aws-sdk/client-sfn';
import middy from '@middy/core';
import type { ScheduledEvent } from 'aws-lambda';
import { documentClient } from '../adapters/dynamo-client';
import { DynamoFleetStore } from '../adapters/dynamo-fleet-store';
import { DynamoLeaseStore } from '../adapters/dynamo-lease-store';
import { DynamoRemediationStore } from '../adapters/dynamo-remediation-store';
import { Ec2FleetInventory } from '../adapters/ec2-inventory';
import { NamedExecutions } from '../adapters/sfn-executions';
import { syncInventory } from '../core/fleet/sync-inventory';
import { handOverFindings } from '../core/remediation/triage';
import { readConfig } from './config';

const config = readConfig(['TABLE_NAME', 'MANAGED_TAG_KEY', 'MANAGED_TAG_VALUE', 'SERVICE_TAG_KEY'] as const);
const logger = new Logger({ serviceName: 'fleetops', persistentKeys: { component: 'inventory-sync' } });
const db = documentClient();
const store = new DynamoFleetStore(db, config.TABLE_NAME);
const leases = new DynamoLeaseStore(db, config.TABLE_NAME);
const inventory = Ec2FleetInventory.withDefaults({
  managedTag: { key: config.MANAGED_TAG_KEY, value: config.MANAGED_TAG_VALUE },
  serviceTagKey: config.SERVICE_TAG_KEY,
});

/** Where the sweep's findings go (the remediation state machine), when deployed with it. */
const remediationArn = process.env.REMEDIATION_STATE_MACHINE_ARN;
const remediation = remediationArn
  ? {
      cases: new DynamoRemediationStore(db, config.TABLE_NAME),
      executions: new NamedExecutions(new SFNClient({}), remediationArn),
      fleet: store,
      now: () => Date.now(),
      actor: 'inventory-sync',
    }
  : undefined;

/**
 * The scheduled inventory sweep: EC2 → the fleet-state table, findings and ledgers; each new
 * finding (an impaired status check, a scheduled event), and each one an earlier sweep or triage
 * recorded but never saw through to its case (a crash, a timeout), goes to a remediation case as
 * an event from EventBridge would: the same scheduled event from AWS Health and from here is one
 * case. A finding whose intake fails is logged and left for the next sweep.
 */
export const handler = middy(async (event: ScheduledEvent) => {
  const report = await syncInventory({
    ec2: inventory,
    store,
    leases,
    now: Date.now(),
    actor: 'inventory-sync',
  });
  const handOver = remediation ? await handOverFindings(remediation, report.findings) : undefined;
  for (const { finding, reason } of handOver?.failed ?? []) {
    logger.error('finding not handed over (the next sweep retries it)', {
      instanceId: finding.instanceId,
      kind: finding.kind,
      key: finding.key,
      reason,
    });
  }
  logger.info('inventory synced', {
    scheduledAt: event.time,
    ...report,
    findings: report.findings.map((f) => `${f.instanceId}:${f.kind}`),
    ec2Requests: Object.fromEntries(inventory.requests),
    cases: (handOver?.cases ?? []).map(
      (c) => `${c.outcome.caseId ?? c.finding.instanceId}:${c.outcome.outcome}`,
    ),
  });
  return {
    ...report,
    findings: report.findings.length,
    ...(handOver ? { handedOver: handOver.cases.length, failed: handOver.failed.length } : {}),
  };
}).use(injectLambdaContext(logger));
