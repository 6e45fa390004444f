import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
} from '@aws-sdk/client-auto-scaling';
import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { CreateLaunchTemplateCommand, DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import type { RolloutPorts } from '../../functions/core/change/rollout/rollout';
import { rolloutHarness } from '../support/rollout-harness';

/** The actions besides set-tag and reboot, through the real ASL and handler against moto. */
describe('rollout actions: SSM Run Command, stop-start, replace', () => {
  const h = rolloutHarness('us-west-2');

  const ids = async (service: string, n: number) =>
    (await h.stores.fleet.listInstances())
      .filter((i) => i.service === service && i.state === 'running')
      .slice(0, n)
      .map((i) => i.id);

  it('runs an SSM document on every instance once, at most 50 per command, and keeps each result', async () => {
    const { plan } = await h.plannedChange('patch-ssm', {
      target: { services: ['api'] },
      action: {
        type: 'ssm-command',
        document: 'AWS-RunShellScript',
        parameters: { commands: ['yum -y update openssl'] },
      },
    });
    await h.runChange('patch-ssm').result;
    expect((await h.changes().get('patch-ssm'))?.status).toBe('completed');
    const records = await h.changes().waveRecords('patch-ssm');
    const commands = records
      .filter((r) => r.part.startsWith('apply#'))
      .flatMap((r) => r.body.commands as Array<{ commandId: string; instanceIds: string[] }>);
    const sent = commands.flatMap((c) => c.instanceIds);
    expect(sent.sort()).toEqual(plan.waves.flatMap((w) => w.instances).sort());
    for (const c of commands) expect(c.instanceIds.length).toBeLessThanOrEqual(50);
    const results = records.filter((r) => r.part === 'result');
    expect(results).toHaveLength(plan.waves.length);
    for (const r of results) {
      expect(Object.values(r.body.outcomes as Record<string, string>).every((o) => o === 'ok')).toBe(true);
    }
  });

  it('fails the wave when an SSM invocation fails, naming the instance and its status', async () => {
    const [first] = await ids('db', 1);
    await h.plannedChange('patch-ssm-bad', {
      target: { instanceIds: [first] },
      action: { type: 'ssm-command', document: 'AWS-RunShellScript', parameters: { commands: ['false'] } },
    });
    // moto reports every command as a success: the failure is what SSM would report.
    const ports: RolloutPorts = {
      ...h.ports,
      ssm: {
        send: (i, c) => h.ports.ssm.send(i, c),
        states: async (commandIds) => new Map(commandIds.map((id) => [id, 'failed' as const])),
        failedInstances: async () => new Map([[first, 'Failed']]),
      },
    };
    await expect(
      h.runChange('patch-ssm-bad', { handler: (event) => h.stepWith(ports, event) }).result,
    ).rejects.toThrow(/ChangeFailed|not rolled back/);
    const record = await h.changes().get('patch-ssm-bad');
    expect(record?.status).toBe('failed');
    const gate = (await h.stores.fleet.auditOf('change:patch-ssm-bad', 50)).find(
      (r) => r.action === 'gate.failed',
    );
    expect(gate?.reason).toContain(`${first} (command Failed)`);
  });

  it('stops and starts each instance once, then waits until it runs again', async () => {
    const targets = await ids('db', 3);
    const { plan } = await h.plannedChange('move-hosts', {
      target: { instanceIds: targets },
      action: { type: 'stop-start' },
    });
    const stopped: string[] = [];
    const started: string[] = [];
    const ports: RolloutPorts = {
      ...h.ports,
      ec2: {
        reboot: (i) => h.ports.ec2.reboot(i),
        setTags: (i, t) => h.ports.ec2.setTags(i, t),
        conditions: (i) => h.ports.ec2.conditions(i),
        consoleOutputAt: (i) => h.ports.ec2.consoleOutputAt(i),
        stop: async (i) => {
          stopped.push(...i);
          await h.ports.ec2.stop(i);
        },
        start: async (i) => {
          started.push(...i);
          await h.ports.ec2.start(i);
        },
      },
    };
    await h.runChange('move-hosts', { handler: (event) => h.stepWith(ports, event) }).result;
    expect(plan.waves).toHaveLength(3); // db's budget: one at a time
    expect(stopped.sort()).toEqual([...targets].sort());
    expect(started.sort()).toEqual([...targets].sort());
    const described = await h.ec2.send(new DescribeInstancesCommand({ InstanceIds: targets }));
    for (const i of (described.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
      expect(i.State?.Name).toBe('running');
    }
    expect((await h.changes().get('move-hosts'))?.status).toBe('completed');
  });

  it('replaces instances of an Auto Scaling group without shrinking it, and refuses instances in none', async () => {
    const autoscaling = new AutoScalingClient({ region: h.region });
    await h.ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: 'cache',
        LaunchTemplateData: { ImageId: 'ami-12c6146b', InstanceType: 't3.micro' },
      }),
    );
    await autoscaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'cache',
        MinSize: 0,
        MaxSize: 8,
        DesiredCapacity: 4,
        LaunchTemplate: { LaunchTemplateName: 'cache' },
        AvailabilityZones: [h.zones[0]],
        Tags: [
          { Key: 'fleetops:managed', Value: 'true', PropagateAtLaunch: true },
          { Key: 'fleetops:service', Value: 'cache', PropagateAtLaunch: true },
        ],
      }),
    );
    const services = await h.stores.fleet.getServices();
    await h.stores.fleet.putServices(
      {
        ...services,
        services: {
          ...services.services,
          cache: { maxUnavailable: { kind: 'count', value: 2 }, impact: {} },
        },
      },
      'test',
      Date.now(),
    );
    await h.sync();
    const originals = await ids('cache', 10);
    expect(originals).toHaveLength(4);

    await h.plannedChange('new-ami', { target: { services: ['cache'] }, action: { type: 'replace' } });
    await h.runChange('new-ami').result;
    expect((await h.changes().get('new-ami'))?.status).toBe('completed');
    const group = (
      await autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['cache'] }))
    ).AutoScalingGroups![0];
    expect(group.DesiredCapacity).toBe(4);
    const members = (group.Instances ?? []).map((i) => i.InstanceId!);
    expect(members).toHaveLength(4);
    for (const id of originals) expect(members).not.toContain(id);
    expect((await h.stores.leases.actionsOf('new-ami')).map((a) => a.instanceId).sort()).toEqual(
      originals.sort(),
    );
    // The next sync sees the originals gone and the replacements in the fleet.
    await h.sync();
    expect((await ids('cache', 10)).sort()).toEqual([...members].sort());

    const [web] = await ids('web', 1);
    await h.plannedChange('replace-loner', { target: { instanceIds: [web] }, action: { type: 'replace' } });
    await expect(h.runChange('replace-loner').result).rejects.toThrow();
    const gate = (await h.stores.fleet.auditOf('change:replace-loner', 50)).find(
      (r) => r.action === 'gate.failed',
    );
    expect(gate?.reason).toContain(`${web} (not in an Auto Scaling group)`);
    const described = await h.ec2.send(new DescribeInstancesCommand({ InstanceIds: [web] }));
    expect(described.Reservations?.[0].Instances?.[0].State?.Name).toBe('running');
  });

  it("fails a wave while one of the spec's alarms fires, and names a missing alarm", async () => {
    const cloudwatch = new CloudWatchClient({ region: h.region });
    await cloudwatch.send(
      new PutMetricAlarmCommand({
        AlarmName: 'app-5xx-rate',
        Namespace: 'App',
        MetricName: '5xx',
        Statistic: 'Sum',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 10,
        ComparisonOperator: 'GreaterThanThreshold',
      }),
    );
    const targets = await ids('api', 2);
    await cloudwatch.send(
      new SetAlarmStateCommand({ AlarmName: 'app-5xx-rate', StateValue: 'OK', StateReason: 'quiet' }),
    );
    await h.plannedChange('alarm-ok', {
      target: { instanceIds: targets },
      action: { type: 'set-tag', tags: { alarmed: 'no' } },
      gates: { alarms: ['app-5xx-rate'] },
    });
    await h.runChange('alarm-ok').result;
    expect((await h.changes().get('alarm-ok'))?.status).toBe('completed');

    await cloudwatch.send(
      new SetAlarmStateCommand({ AlarmName: 'app-5xx-rate', StateValue: 'ALARM', StateReason: '5xx spike' }),
    );
    await h.plannedChange('alarm-firing', {
      target: { instanceIds: targets },
      action: { type: 'set-tag', tags: { alarmed: 'yes' } },
      gates: { alarms: ['app-5xx-rate', 'app-latnecy-p99'] },
    });
    await expect(h.runChange('alarm-firing').result).rejects.toThrow();
    const gate = (await h.stores.fleet.auditOf('change:alarm-firing', 50)).find(
      (r) => r.action === 'gate.failed',
    );
    expect(gate?.reason).toContain('alarms: app-5xx-rate in ALARM, app-latnecy-p99 does not exist');
  });
});
