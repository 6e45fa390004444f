/**
 * FleetOps as deployed, in one process against a moto server (startLocalRuntime): the table,
 * the fleet's instances, the routing, the topic, both state machines registered, and the
 * handlers' environment set, for the local runtime (demo.ts) to load the handler modules over.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { documentClient } from '../../functions/adapters/dynamo-client';
import { createFleetTable } from '../../functions/adapters/table-admin';
import { fleetStores, inventoryPorts } from '../../functions/app/ports';
import { MANAGED_TAG, SERVICE_TAG_KEY, STATUS_CHECK_ALARM_PREFIX } from '../../functions/core/defaults';
import { type ServicesFile, serviceCatalog } from '../../functions/core/fleet/services';
import { syncInventory } from '../../functions/core/fleet/sync-inventory';
import { resolveQuantity } from '../../functions/core/safety/quantity';
import { cfnPattern, routingPatterns } from '../../lib/routing-patterns';
import { loadDefinition } from './local-sfn';
import { type MotoServer, startMotoServer } from './moto-server';
import {
  createNetwork,
  createTrafficLayout,
  type Network,
  type TrafficLayout,
  type TrafficServiceSpec,
} from './traffic-layout';

/** What the local runtime seeds: services, their instances per zone and their budgets. */
export interface LocalFleetSpec {
  readonly services: Readonly<Record<string, { readonly perZone: number }>>;
  readonly budgets: ServicesFile;
  /** The service whose instances are members of an Auto Scaling group behind a target group. */
  readonly traffic?: TrafficServiceSpec;
}

/**
 * FleetOps as deployed, in one process against a moto server: the fleet-state table, EC2
 * instances with the managed and service tags, the routing rules (the stack's own patterns) into
 * an SQS queue with a dead-letter queue, the SNS topic, and both state machines registered in
 * moto's Step Functions (their executions run locally: see LocalExecutions). The handler modules
 * are the Lambda ones, loaded after the environment is set, as Lambda loads them.
 */
export interface LocalRuntime {
  readonly endpoint: string;
  readonly region: string;
  readonly zones: readonly string[];
  readonly table: string;
  readonly queueUrl: string;
  /** A queue subscribed to the topic: the pages and summaries FleetOps sent. */
  readonly pagesUrl: string;
  readonly topicArn: string;
  readonly remediationArn: string;
  readonly rolloutArn: string;
  readonly ec2: EC2Client;
  readonly events: EventBridgeClient;
  readonly sqs: SQSClient;
  readonly sfn: SFNClient;
  readonly cloudwatch: CloudWatchClient;
  readonly elbv2: ElasticLoadBalancingV2Client;
  readonly autoscaling: AutoScalingClient;
  /** The traffic service's group and target group, when the fleet declares one. */
  readonly traffic?: TrafficLayout;
  /** Every store over the table, composed as the handlers compose theirs (functions/app/ports.ts). */
  readonly stores: ReturnType<typeof fleetStores>;
  /** Instance ids by service and zone. */
  readonly instances: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;
  /** Inventory sync from moto's EC2 into the table and the ledgers. */
  sync(actor: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startLocalRuntime(
  fleet: LocalFleetSpec,
  options: { region?: string; log?: (line: string) => void } = {},
): Promise<LocalRuntime> {
  const log = options.log ?? (() => undefined);
  const region = options.region ?? 'us-east-1';
  const moto: MotoServer = await startMotoServer();
  // Interrupted (Ctrl-C, a CI timeout): stop the emulator before going.
  const onSignal = (signal: NodeJS.Signals) => {
    void moto.stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const stop = async () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await moto.stop();
  };
  try {
    log(`moto server on ${moto.endpoint}`);
    // Dummy credentials for the emulator: nothing here can reach AWS.
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: 'fleetops-local',
      AWS_SECRET_ACCESS_KEY: 'fleetops-local',
      AWS_SESSION_TOKEN: 'fleetops-local',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: process.env.FLEETOPS_LOCAL_LOG_LEVEL ?? 'ERROR',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_TRACE_ENABLED: 'false',
      MANAGED_TAG_KEY: MANAGED_TAG.key,
      MANAGED_TAG_VALUE: MANAGED_TAG.value,
      SERVICE_TAG_KEY,
    });
    const zones = ['a', 'b', 'c'].map((z) => `${region}${z}`);
    const dynamo = new DynamoDBClient({ region, maxAttempts: 3 });
    const db = documentClient(dynamo);
    const table = 'fleetops-local';
    await createFleetTable(dynamo, table);
    const stores = fleetStores(db, table);
    const ec2 = new EC2Client({ region });
    const elbv2 = new ElasticLoadBalancingV2Client({ region });
    const autoscaling = new AutoScalingClient({ region });
    // The traffic service launches into the group's subnets (one per zone).
    const network: Network | undefined = fleet.traffic ? await createNetwork(ec2, zones) : undefined;
    const instances = new Map<string, Map<string, string[]>>();
    for (const [service, { perZone }] of Object.entries(fleet.services)) {
      const byZone = new Map<string, string[]>();
      const subnets = service === fleet.traffic?.service ? network?.subnets : undefined;
      for (const zone of zones) {
        const run = await ec2.send(
          new RunInstancesCommand({
            ImageId: 'ami-12c6146b',
            InstanceType: 't3.micro',
            MinCount: perZone,
            MaxCount: perZone,
            Placement: { AvailabilityZone: zone },
            ...(subnets?.get(zone) ? { SubnetId: subnets.get(zone) } : {}),
            TagSpecifications: [
              {
                ResourceType: 'instance',
                Tags: [
                  { Key: MANAGED_TAG.key, Value: MANAGED_TAG.value },
                  { Key: SERVICE_TAG_KEY, Value: service },
                  { Key: 'app-config', Value: 'v42' },
                ],
              },
            ],
          }),
        );
        byZone.set(
          zone,
          (run.Instances ?? []).map((i) => i.InstanceId ?? ''),
        );
      }
      instances.set(service, byZone);
    }
    await stores.fleet.putServices(fleet.budgets, 'local-runtime', Date.now());
    let traffic: TrafficLayout | undefined;
    if (fleet.traffic && network) {
      const members = [...(instances.get(fleet.traffic.service)?.values() ?? [])].flat();
      const { budget } = serviceCatalog(fleet.budgets).budgetOf(fleet.traffic.service);
      traffic = await createTrafficLayout(
        { ec2, elbv2, autoscaling },
        fleet.traffic,
        network,
        members,
        resolveQuantity(budget.maxUnavailable, members.length),
      );
      log(
        `${traffic.service}: ${members.length} instances in Auto Scaling group ${traffic.group} (min ${traffic.minSize}), behind target group ${traffic.targetGroup.name} (deregistration delay ${traffic.targetGroup.deregistrationDelaySeconds} s, healthy after ${traffic.targetGroup.healthyThresholdCount} × ${traffic.targetGroup.healthCheckIntervalSeconds} s)`,
      );
    }
    // The sweep's ports over the runtime's own (unpaced) EC2, ELB and Auto Scaling clients,
    // without the hand-over.
    const sweep = inventoryPorts(
      { table, managedTag: MANAGED_TAG, serviceTagKey: SERVICE_TAG_KEY },
      { db, ec2, elbv2, autoscaling, ec2Actions: ec2 },
    );
    const sync = async (actor: string) => {
      await syncInventory({
        ec2: sweep.inventory,
        store: sweep.store,
        leases: sweep.leases,
        now: Date.now(),
        actor,
        traffic: sweep.traffic,
        autoscaling: sweep.autoscaling,
        exits: sweep.exits,
        ec2Actions: sweep.ec2Actions,
      });
    };
    await sync('local-runtime');

    // Routing: the stack's rule patterns, an SQS queue behind them, a dead-letter queue.
    const sqs = new SQSClient({ region });
    const events = new EventBridgeClient({ region });
    const queueArn = async (url: string) =>
      (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] })))
        .Attributes?.QueueArn ?? '';
    const dlqUrl =
      (await sqs.send(new CreateQueueCommand({ QueueName: 'fleetops-triage-dlq' }))).QueueUrl ?? '';
    const queueUrl =
      (
        await sqs.send(
          new CreateQueueCommand({
            QueueName: 'fleetops-triage',
            Attributes: {
              VisibilityTimeout: '5',
              RedrivePolicy: JSON.stringify({
                deadLetterTargetArn: await queueArn(dlqUrl),
                maxReceiveCount: 5,
              }),
            },
          }),
        )
      ).QueueUrl ?? '';
    const targetArn = await queueArn(queueUrl);
    for (const [name, pattern] of Object.entries(routingPatterns(STATUS_CHECK_ALARM_PREFIX))) {
      await events.send(
        new PutRuleCommand({ Name: name, EventPattern: JSON.stringify(cfnPattern(pattern)) }),
      );
      await events.send(new PutTargetsCommand({ Rule: name, Targets: [{ Id: 'triage', Arn: targetArn }] }));
    }

    const sns = new SNSClient({ region });
    const topicArn = (await sns.send(new CreateTopicCommand({ Name: 'fleetops' }))).TopicArn ?? '';
    // What a page looks like: the topic's messages land in a queue the runtime reads.
    const pagesUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'fleetops-pages' }))).QueueUrl ?? '';
    await sns.send(
      new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: await queueArn(pagesUrl) }),
    );

    const sfn = new SFNClient({ region });
    const register = async (name: string, file: string, substitution: string) =>
      (
        await sfn.send(
          new CreateStateMachineCommand({
            name,
            roleArn: `arn:aws:iam::123456789012:role/${name}`,
            definition: JSON.stringify(
              loadDefinition(file, {
                [substitution]: `arn:aws:lambda:${region}:123456789012:function:${name}-step`,
              }),
            ),
          }),
        )
      ).stateMachineArn ?? '';
    const rolloutArn = await register(
      'fleetops-rollout',
      'state-machines/rollout.asl.json',
      'RolloutStepFunctionArn',
    );
    const remediationArn = await register(
      'fleetops-remediation',
      'state-machines/remediation.asl.json',
      'RemediationStepFunctionArn',
    );
    Object.assign(process.env, {
      TABLE_NAME: table,
      TOPIC_ARN: topicArn,
      REMEDIATION_STATE_MACHINE_ARN: remediationArn,
      ROLLOUT_STATE_MACHINE_ARN: rolloutArn,
    });
    return {
      endpoint: moto.endpoint,
      region,
      zones,
      table,
      queueUrl,
      topicArn,
      remediationArn,
      rolloutArn,
      ec2,
      events,
      sqs,
      sfn,
      cloudwatch: new CloudWatchClient({ region }),
      elbv2,
      autoscaling,
      ...(traffic ? { traffic } : {}),
      stores,
      instances,
      sync,
      pagesUrl,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
