/**
 * The composition root: which adapter serves each port, over which AWS client, with which
 * settings. The Lambda handlers (functions/handlers/), the local runtime (cli/local/) and the
 * test harnesses (test/support/) all compose their ports here, so FleetOps is wired once.
 *
 * One `…Clients()` and one `…Ports(settings, clients)` per workflow, each a top-level function:
 * a handler's bundle keeps only the clients its own workflow calls (esbuild drops the rest, the
 * AWS SDK packages being free of side effects). Callers with their own clients (a region, an
 * emulator, fewer retries) pass them in.
 */
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { AsgReplacer, pacedAutoScalingClient } from '../adapters/asg-replacer';
import { CloudWatchSamples } from '../adapters/cloudwatch-metrics';
import { DynamoChangeStore } from '../adapters/dynamo-change-store';
import { type DocumentClient, documentClient } from '../adapters/dynamo-client';
import { DynamoFleetStore } from '../adapters/dynamo-fleet-store';
import { DynamoLeaseStore } from '../adapters/dynamo-lease-store';
import { DynamoRemediationStore } from '../adapters/dynamo-remediation-store';
import { Ec2Actions } from '../adapters/ec2-actions';
import { Ec2FleetInventory, pacedEc2Client } from '../adapters/ec2-inventory';
import { Elbv2Traffic, pacedElbv2Client } from '../adapters/elbv2-traffic';
import { DynamoTrafficExits } from '../adapters/fleet-store/traffic-exits';
import { NamedExecutions } from '../adapters/sfn-executions';
import { SnsNotify } from '../adapters/sns-notify';
import { SsmCommands } from '../adapters/ssm-commands';
import type { RolloutPorts } from '../core/change/rollout/rollout';
import { EC2_ACTION_RATE, EC2_DESCRIBE_RATE, SDK_RETRY } from '../core/defaults';
import type { RemediationPorts } from '../core/remediation/remediate';
import type { TriagePorts } from '../core/remediation/triage';
import { TokenBucket } from '../core/shared/token-bucket';
import {
  accumulateFromEnv,
  type InventorySettings,
  type RemediationSettings,
  type RolloutSettings,
  type TriageSettings,
} from './environment';

/** An EC2 client paced for the mutating actions (tags, reboot, stop, start): their own, smaller bucket. */
export function ec2ActionsClient(client?: EC2Client): EC2Client {
  return pacedEc2Client(new TokenBucket(EC2_ACTION_RATE.ratePerSecond, EC2_ACTION_RATE.capacity), client);
}

/** An EC2 client paced for the Describe* calls of the inventory. */
export function ec2DescribeClient(client?: EC2Client): EC2Client {
  return pacedEc2Client(new TokenBucket(EC2_DESCRIBE_RATE.ratePerSecond, EC2_DESCRIBE_RATE.capacity), client);
}

/** Every store over the fleet-state table (the local runtime and the CLI read them all). */
export function fleetStores(db: DocumentClient, table: string) {
  return {
    fleet: new DynamoFleetStore(db, table),
    leases: new DynamoLeaseStore(db, table),
    changes: new DynamoChangeStore(db, table),
    cases: new DynamoRemediationStore(db, table),
    exits: new DynamoTrafficExits(db, table),
  };
}

// The rollout.

export interface RolloutClients {
  readonly db: DocumentClient;
  /** Paced for EC2's mutating actions (see ec2ActionsClient). */
  readonly ec2: EC2Client;
  readonly ssm: SSMClient;
  /** Paced: every Auto Scaling call shares the account's one bucket (see pacedAutoScalingClient). */
  readonly autoscaling: AutoScalingClient;
  /** Paced for ELB's Describe* and registration buckets (see pacedElbv2Client). */
  readonly elbv2: ElasticLoadBalancingV2Client;
  readonly cloudwatch: CloudWatchClient;
  readonly sns: SNSClient;
}

export function rolloutClients(): RolloutClients {
  return {
    db: documentClient(),
    ec2: ec2ActionsClient(),
    ssm: new SSMClient(SDK_RETRY),
    autoscaling: pacedAutoScalingClient(),
    elbv2: pacedElbv2Client(),
    cloudwatch: new CloudWatchClient({}),
    sns: new SNSClient({}),
  };
}

export function rolloutPorts(
  settings: RolloutSettings,
  clients: RolloutClients = rolloutClients(),
): RolloutPorts {
  const { db } = clients;
  return {
    changes: new DynamoChangeStore(db, settings.table),
    leases: new DynamoLeaseStore(db, settings.table),
    fleet: new DynamoFleetStore(db, settings.table),
    ec2: new Ec2Actions(clients.ec2),
    ssm: new SsmCommands(clients.ssm),
    autoscaling: new AsgReplacer(clients.autoscaling),
    traffic: new Elbv2Traffic(clients.elbv2),
    exits: new DynamoTrafficExits(db, settings.table),
    metrics: new CloudWatchSamples(clients.cloudwatch),
    notify: new SnsNotify(clients.sns, settings.topicArn),
    now: () => Date.now(),
    actor: 'rollout',
  };
}

// The remediation.

export interface RemediationClients {
  readonly db: DocumentClient;
  /** Paced for EC2's mutating actions (see ec2ActionsClient). */
  readonly ec2: EC2Client;
  /** Paced: every Auto Scaling call shares the account's one bucket (see pacedAutoScalingClient). */
  readonly autoscaling: AutoScalingClient;
  /** Paced for ELB's Describe* and registration buckets (see pacedElbv2Client). */
  readonly elbv2: ElasticLoadBalancingV2Client;
  readonly sns: SNSClient;
}

export function remediationClients(): RemediationClients {
  return {
    db: documentClient(),
    ec2: ec2ActionsClient(),
    autoscaling: pacedAutoScalingClient(),
    elbv2: pacedElbv2Client(),
    sns: new SNSClient({}),
  };
}

export function remediationPorts(
  settings: RemediationSettings,
  clients: RemediationClients = remediationClients(),
): RemediationPorts {
  const { db } = clients;
  return {
    cases: new DynamoRemediationStore(db, settings.table),
    leases: new DynamoLeaseStore(db, settings.table),
    fleet: new DynamoFleetStore(db, settings.table),
    ec2: new Ec2Actions(clients.ec2),
    autoscaling: new AsgReplacer(clients.autoscaling),
    traffic: new Elbv2Traffic(clients.elbv2),
    exits: new DynamoTrafficExits(db, settings.table),
    notify: new SnsNotify(clients.sns, settings.topicArn),
    now: () => Date.now(),
    rng: Math.random,
    actor: 'remediation',
    breaker: settings.breaker,
    relapse: settings.relapse,
  };
}

// Triage.

export interface TriageClients {
  readonly db: DocumentClient;
  readonly sfn: SFNClient;
}

export function triageClients(): TriageClients {
  return { db: documentClient(), sfn: new SFNClient({}) };
}

export function triagePorts(settings: TriageSettings, clients: TriageClients = triageClients()): TriagePorts {
  return {
    fleet: new DynamoFleetStore(clients.db, settings.table),
    cases: new DynamoRemediationStore(clients.db, settings.table),
    executions: new NamedExecutions(clients.sfn, settings.remediationArn),
    now: () => Date.now(),
    actor: 'triage',
    accumulate: settings.accumulate ?? accumulateFromEnv({}),
  };
}

// The inventory sweep.

export interface InventoryClients {
  readonly db: DocumentClient;
  /** Paced for the Describe* calls (see ec2DescribeClient). */
  readonly ec2: EC2Client;
  /** Needed only when the sweep hands its findings to the remediation state machine. */
  readonly sfn?: SFNClient;
  /** The managed target groups and their targets (paced, see pacedElbv2Client). */
  readonly elbv2?: ElasticLoadBalancingV2Client;
  /** Groups' lifecycle states, and ExitStandby for what the sweep brings back (paced). */
  readonly autoscaling?: AutoScalingClient;
  /** Paced for EC2's mutating actions: starts an instance the sweep brings back (see ec2ActionsClient). */
  readonly ec2Actions?: EC2Client;
  /** Needed only when the sweep pages (a topic is configured). */
  readonly sns?: SNSClient;
}

export function inventoryClients(settings: Pick<InventorySettings, 'remediationArn'> = {}): InventoryClients {
  return {
    db: documentClient(),
    ec2: ec2DescribeClient(),
    ...(settings.remediationArn ? { sfn: new SFNClient({}) } : {}),
    elbv2: pacedElbv2Client(),
    autoscaling: pacedAutoScalingClient(),
    ec2Actions: ec2ActionsClient(),
  };
}

/**
 * The sweep's ports: EC2's view of the managed fleet, the store and the ledgers it brings in
 * line, the managed target groups and Auto Scaling groups it records each instance's place in,
 * the traffic exits it brings back when their owner let go (starting a stopped instance through
 * `ec2Actions`), and, when deployed with the remediation, where its findings go (syncInventory,
 * then handOverFindings); with the topic, it pages about exits it cannot bring back (once per
 * instance and reason).
 */
export function inventoryPorts(
  settings: InventorySettings,
  clients: InventoryClients = inventoryClients(settings),
) {
  const fleet = new DynamoFleetStore(clients.db, settings.table);
  const actor = 'inventory-sync';
  return {
    inventory: new Ec2FleetInventory(clients.ec2, {
      managedTag: settings.managedTag,
      serviceTagKey: settings.serviceTagKey,
    }),
    store: fleet,
    leases: new DynamoLeaseStore(clients.db, settings.table),
    traffic: new Elbv2Traffic(clients.elbv2 ?? pacedElbv2Client(), { managedTag: settings.managedTag }),
    autoscaling: new AsgReplacer(clients.autoscaling ?? pacedAutoScalingClient()),
    exits: new DynamoTrafficExits(clients.db, settings.table),
    ec2Actions: new Ec2Actions(clients.ec2Actions ?? ec2ActionsClient()),
    ...(settings.topicArn
      ? { notify: new SnsNotify(clients.sns ?? new SNSClient({}), settings.topicArn) }
      : {}),
    actor,
    remediation: settings.remediationArn
      ? {
          cases: new DynamoRemediationStore(clients.db, settings.table),
          executions: new NamedExecutions(clients.sfn ?? new SFNClient({}), settings.remediationArn),
          fleet,
          now: () => Date.now(),
          actor,
          accumulate: settings.accumulate ?? accumulateFromEnv({}),
        }
      : undefined,
  };
}
