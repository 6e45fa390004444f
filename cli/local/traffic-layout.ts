/**
 * The local runtime's load balancing, created in moto: a VPC with one subnet per zone, and for
 * the demo fleet's traffic service an ELBv2 target group (tagged managed, a short deregistration
 * delay and quick health checks, so the demo's waits stay short) and an Auto Scaling group that
 * attaches it, its instances attached as members (moto then tags them `aws:autoscaling:groupName`
 * and registers them with the group's target group, as AWS does).
 */
import {
  AttachInstancesCommand,
  type AutoScalingClient,
  CreateAutoScalingGroupCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import {
  CreateTargetGroupCommand,
  type ElasticLoadBalancingV2Client,
  ModifyTargetGroupAttributesCommand,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { MANAGED_TAG, SERVICE_TAG_KEY } from '../../functions/core/defaults';
import type { TargetGroupSettings } from '../../functions/core/ports/traffic';

/** The service behind a load balancer, as the fleet spec declares it. */
export interface TrafficServiceSpec {
  readonly service: string;
  /** `deregistration_delay.timeout_seconds` (AWS: 0–3600, default 300). */
  readonly deregistrationDelaySeconds: number;
  /** AWS: 5–300 s. */
  readonly healthCheckIntervalSeconds: number;
  /** AWS: 2–10 consecutive successful checks before `healthy`. */
  readonly healthyThresholdCount: number;
}

/** What was created: the service's group, its target group and the group's sizes. */
export interface TrafficLayout {
  readonly service: string;
  readonly group: string;
  readonly targetGroup: TargetGroupSettings & { readonly name: string };
  /** The group's MinSize: its members less what the service's budget lets be unavailable. */
  readonly minSize: number;
  readonly maxSize: number;
}

/** A VPC and one subnet per zone (the group's VPCZoneIdentifier; the service's instances launch there). */
export async function createNetwork(ec2: EC2Client, zones: readonly string[]): Promise<Network> {
  const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.20.0.0/16' }))).Vpc?.VpcId ?? '';
  const subnets = new Map<string, string>();
  for (const [k, zone] of zones.entries()) {
    const created = await ec2.send(
      new CreateSubnetCommand({ VpcId: vpc, CidrBlock: `10.20.${k}.0/24`, AvailabilityZone: zone }),
    );
    subnets.set(zone, created.Subnet?.SubnetId ?? '');
  }
  return { vpc, subnets };
}

export interface Network {
  readonly vpc: string;
  /** Subnet id by zone. */
  readonly subnets: ReadonlyMap<string, string>;
}

/**
 * The target group (tagged managed) and the group that attaches it, the service's instances
 * attached as members. MinSize is set after attaching (AttachInstances raises desired capacity
 * by the instances attached) to members − the budget's allowance, so Standby with a decrement
 * (EnterStandby refuses below the minimum) can take out as many as the budget allows, no more.
 */
export async function createTrafficLayout(
  clients: { ec2: EC2Client; elbv2: ElasticLoadBalancingV2Client; autoscaling: AutoScalingClient },
  spec: TrafficServiceSpec,
  network: Network,
  members: readonly string[],
  allowance: number,
): Promise<TrafficLayout> {
  const { ec2, elbv2, autoscaling } = clients;
  const tags = [
    { Key: MANAGED_TAG.key, Value: MANAGED_TAG.value },
    { Key: SERVICE_TAG_KEY, Value: spec.service },
  ];
  const name = `${spec.service}-http`;
  const group = `${spec.service}-group`;
  const subnetIds = [...network.subnets.values()];
  const created = await elbv2.send(
    new CreateTargetGroupCommand({
      Name: name,
      Protocol: 'HTTP',
      Port: 80,
      VpcId: network.vpc,
      HealthCheckIntervalSeconds: spec.healthCheckIntervalSeconds,
      HealthyThresholdCount: spec.healthyThresholdCount,
      Tags: tags,
    }),
  );
  const targetGroupArn = created.TargetGroups?.[0]?.TargetGroupArn ?? '';
  await elbv2.send(
    new ModifyTargetGroupAttributesCommand({
      TargetGroupArn: targetGroupArn,
      Attributes: [
        { Key: 'deregistration_delay.timeout_seconds', Value: String(spec.deregistrationDelaySeconds) },
      ],
    }),
  );
  await ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: `${spec.service}-template`,
      LaunchTemplateData: { ImageId: 'ami-12c6146b', InstanceType: 't3.micro' },
    }),
  );
  const maxSize = members.length + Math.max(allowance, 1);
  await autoscaling.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: group,
      LaunchTemplate: { LaunchTemplateName: `${spec.service}-template` },
      MinSize: 0,
      MaxSize: maxSize,
      DesiredCapacity: 0,
      VPCZoneIdentifier: subnetIds.join(','),
      TargetGroupARNs: [targetGroupArn],
      // ELB health checks: AWS replaces a member its target group reports unhealthy, too.
      HealthCheckType: 'ELB',
      HealthCheckGracePeriod: 30,
      // Instances the group launches (a replacement) are managed and of the service, like the rest.
      Tags: tags.map((t) => ({
        ...t,
        PropagateAtLaunch: true,
        ResourceId: group,
        ResourceType: 'auto-scaling-group',
      })),
    }),
  );
  // AttachInstances takes at most 20 instances a request.
  for (let k = 0; k < members.length; k += 20) {
    await autoscaling.send(
      new AttachInstancesCommand({ AutoScalingGroupName: group, InstanceIds: members.slice(k, k + 20) }),
    );
  }
  const minSize = Math.max(0, members.length - allowance);
  await autoscaling.send(
    new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: group, MinSize: minSize }),
  );
  // Registering twice is harmless (AWS attaches members to the group's target groups itself).
  for (let k = 0; k < members.length; k += 100) {
    await elbv2.send(
      new RegisterTargetsCommand({
        TargetGroupArn: targetGroupArn,
        Targets: members.slice(k, k + 100).map((Id) => ({ Id })),
      }),
    );
  }
  return {
    service: spec.service,
    group,
    targetGroup: {
      name,
      targetGroupArn,
      deregistrationDelaySeconds: spec.deregistrationDelaySeconds,
      healthCheckIntervalSeconds: spec.healthCheckIntervalSeconds,
      healthyThresholdCount: spec.healthyThresholdCount,
    },
    minSize,
    maxSize,
  };
}
