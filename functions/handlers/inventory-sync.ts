import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { ScheduledEvent } from 'aws-lambda';
import { documentClient } from '../adapters/dynamo-client';
import { DynamoFleetStore } from '../adapters/dynamo-fleet-store';
import { DynamoLeaseStore } from '../adapters/dynamo-lease-store';
import { Ec2FleetInventory } from '../adapters/ec2-inventory';
import { syncInventory } from '../core/sync-inventory';
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

/** The scheduled inventory sweep: EC2 → the fleet-state table, findings and ledgers. */
export const handler = middy(async (event: ScheduledEvent) => {
  const report = await syncInventory({
    ec2: inventory,
    store,
    leases,
    now: Date.now(),
    actor: 'inventory-sync',
  });
  logger.info('inventory synced', {
    scheduledAt: event.time,
    ...report,
    findings: report.findings.map((f) => `${f.instanceId}:${f.kind}`),
    ec2Requests: Object.fromEntries(inventory.requests),
  });
  return { ...report, findings: report.findings.length };
}).use(injectLambdaContext(logger));
