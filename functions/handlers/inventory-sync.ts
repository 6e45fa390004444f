/**
 * The inventory sweep's Lambda, on a schedule: EC2 into the fleet-state table and the ledgers,
 * then the sweep's findings to remediation cases when deployed with the remediation. Reads its
 * settings once, composes its ports (functions/app/ports.ts), and runs under middy.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { ScheduledEvent } from 'aws-lambda';
import { settingsFromEnv } from '../app/environment';
import { inventoryPorts } from '../app/ports';
import { SERVICE_NAME } from '../core/defaults';
import { syncInventory, trafficDepsOf } from '../core/fleet/sync-inventory';
import { handOverFindings } from '../core/remediation/triage';

const settings = settingsFromEnv.inventory();
const logger = new Logger({ serviceName: SERVICE_NAME, persistentKeys: { component: 'inventory-sync' } });
export const ports = inventoryPorts(settings);
const { inventory, store, leases, remediation, traffic, autoscaling } = ports;

/**
 * The scheduled inventory sweep: EC2 (with each instance's Auto Scaling group and target health)
 * → the fleet-state table, findings and ledgers, exits abandoned by a dead owner brought back
 * into traffic; each new finding (an impaired status check, a scheduled event), and each one an
 * earlier sweep or triage
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
    actor: ports.actor,
    // What the sweep reads of traffic and Auto Scaling, and what brings abandoned exits back.
    ...trafficDepsOf(ports),
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
    elbRequests: Object.fromEntries(traffic.requests),
    autoscalingRequests: Object.fromEntries(autoscaling.requests),
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
