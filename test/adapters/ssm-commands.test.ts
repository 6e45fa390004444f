import { EC2Client } from '@aws-sdk/client-ec2';
import { ListCommandInvocationsCommand, ListCommandsCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { SsmCommands } from '../../functions/adapters/ssm-commands';
import { runInstances } from '../support/aws';

describe('SSM Run Command adapter', () => {
  const region = 'ap-south-1';

  it('sends at most 50 instance ids per command and reads every command as finished (moto)', async () => {
    const ec2 = new EC2Client({ region });
    const ids = [
      ...(await runInstances(ec2, 60, `${region}a`, { team: 'ssm' })),
      ...(await runInstances(ec2, 60, `${region}b`, { team: 'ssm' })),
    ];
    const ssm = new SsmCommands(new SSMClient({ region }));
    const sent = await ssm.send(ids, {
      document: 'AWS-RunShellScript',
      parameters: { commands: ['uptime'] },
      timeoutSeconds: 600,
      comment: 'fleetops test',
    });
    expect(sent.map((c) => c.instanceIds.length)).toEqual([50, 50, 20]);
    expect(sent.flatMap((c) => c.instanceIds)).toEqual(ids);
    const states = await ssm.states(sent.map((c) => c.commandId));
    expect([...states.values()]).toEqual(['success', 'success', 'success']);
  });

  // moto neither fails invocations nor implements ListCommandInvocations: SSM's answers, mocked.
  it('lists the failed invocations of a command over every page, and tells running from failed', async () => {
    const client = new SSMClient({ region });
    const mock = mockClient(client);
    mock
      .on(ListCommandInvocationsCommand, { CommandId: 'c-1' })
      .resolvesOnce({
        CommandInvocations: [
          { InstanceId: 'i-1', Status: 'Success' },
          { InstanceId: 'i-2', Status: 'Failed' },
        ],
        NextToken: 'next',
      })
      .resolvesOnce({ CommandInvocations: [{ InstanceId: 'i-3', Status: 'TimedOut' }] });
    mock
      .on(ListCommandsCommand, { CommandId: 'c-1' })
      .resolves({ Commands: [{ CommandId: 'c-1', Status: 'Success', ErrorCount: 1 }] })
      .on(ListCommandsCommand, { CommandId: 'c-2' })
      .resolves({ Commands: [{ CommandId: 'c-2', Status: 'InProgress' }] })
      .on(ListCommandsCommand, { CommandId: 'c-3' })
      .resolves({ Commands: [{ CommandId: 'c-3', Status: 'TimedOut' }] });
    const ssm = new SsmCommands(client);
    expect(await ssm.failedInstances('c-1')).toEqual(
      new Map([
        ['i-2', 'Failed'],
        ['i-3', 'TimedOut'],
      ]),
    );
    expect(await ssm.states(['c-1', 'c-2', 'c-3'])).toEqual(
      new Map([
        ['c-1', 'failed'],
        ['c-2', 'pending'],
        ['c-3', 'failed'],
      ]),
    );
    mock.restore();
  });
});
