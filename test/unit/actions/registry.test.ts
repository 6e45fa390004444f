import {
  ACTIONS,
  type ActionModule,
  type ActionPorts,
  actionModule,
  settleLimitSeconds,
} from '../../../functions/core/change/actions/index';
import { reboot } from '../../../functions/core/change/actions/reboot';
import { ACTION_TYPES, type ActionType, actionSchema } from '../../../functions/core/change/spec';

/** Fake ports that record each call (and answer what the test says). */
function fakePorts(
  answers: {
    conditions?: Record<
      string,
      {
        state: string;
        health: string;
        rootDevice?: 'ebs' | 'instance-store';
        spot?: 'one-time' | 'persistent';
      }
    >;
    consoleAt?: Record<string, number>;
    groups?: Record<string, string>;
    health?: Record<string, { desired: number; healthy: string[]; members: string[] }>;
    ssmStates?: Record<string, 'pending' | 'success' | 'failed'>;
    failed?: Record<string, Record<string, string>>;
  } = {},
) {
  const calls: string[] = [];
  const ports: ActionPorts = {
    ec2: {
      reboot: async (ids) => void calls.push(`reboot ${ids.join(',')}`),
      stop: async (ids) => void calls.push(`stop ${ids.join(',')}`),
      start: async (ids) => void calls.push(`start ${ids.join(',')}`),
      setTags: async (ids, tags) => void calls.push(`tag ${ids.join(',')} ${JSON.stringify(tags)}`),
      consoleOutputAt: async (ids) => {
        calls.push(`console ${ids.join(',')}`);
        return new Map(ids.filter((id) => answers.consoleAt?.[id]).map((id) => [id, answers.consoleAt![id]]));
      },
      conditions: async (ids) => {
        calls.push(`conditions ${ids.join(',')}`);
        return new Map(
          ids.filter((id) => answers.conditions?.[id]).map((id) => [id, answers.conditions![id]]),
        );
      },
    },
    ssm: {
      send: async (ids, command) => {
        calls.push(`ssm ${ids.join(',')} ${command.document} ${command.comment}`);
        return [{ commandId: 'c-1', instanceIds: [...ids] }];
      },
      states: async (commandIds) =>
        new Map(commandIds.map((id) => [id, answers.ssmStates?.[id] ?? 'success'])),
      failedInstances: async (commandId) => new Map(Object.entries(answers.failed?.[commandId] ?? {})),
    },
    autoscaling: {
      groupsOf: async (ids) =>
        new Map(ids.filter((id) => answers.groups?.[id]).map((id) => [id, answers.groups![id]])),
      terminateKeepingCapacity: async (id) => void calls.push(`terminate ${id}`),
      terminateDecrementingCapacity: async () => undefined,
      setDesiredCapacity: async () => undefined,
      describeGroup: async () => undefined,
      lifecycleOf: async () => new Map(),
      enterStandby: async () => undefined,
      exitStandby: async () => undefined,
      describeGroups: async () => [],
      health: async (groups) =>
        new Map(groups.filter((g) => answers.health?.[g]).map((g) => [g, answers.health![g]])),
    },
  };
  return { ports, calls };
}

const running = { state: 'running', health: 'ok' };
const sent = (
  fields: Partial<{
    applied: string[];
    commands: Array<{ commandId: string; instanceIds: string[] }>;
    groups: Record<string, string>;
    sentAt: Record<string, number>;
  }> = {},
) => ({
  applied: [],
  commands: [],
  groups: {},
  sentAt: {},
  ...fields,
});

describe('the action registry', () => {
  it('has one module per action type of the spec, each under its own type', () => {
    expect(Object.keys(ACTIONS).sort()).toEqual([...ACTION_TYPES].sort());
    for (const type of ACTION_TYPES) expect(ACTIONS[type].type).toBe(type);
    expect(actionModule('reboot')).toBe(reboot);
    expect(actionModule({ type: 'reboot' })).toBe(reboot);
  });

  it('keeps the estimates, settle limits and undo the rollout has always used', () => {
    const minutes = Object.fromEntries(ACTION_TYPES.map((t) => [t, ACTIONS[t].minutes]));
    expect(minutes).toEqual({ 'set-tag': 1, 'ssm-command': 5, reboot: 5, 'stop-start': 10, replace: 15 });
    const parse = (a: unknown) => actionSchema.parse(a);
    expect(settleLimitSeconds(parse({ type: 'set-tag', tags: { a: 'b' } }))).toBe(0);
    expect(settleLimitSeconds(parse({ type: 'reboot' }))).toBe(1200);
    expect(settleLimitSeconds(parse({ type: 'stop-start' }))).toBe(1800);
    expect(settleLimitSeconds(parse({ type: 'replace' }))).toBe(3600);
    expect(settleLimitSeconds(parse({ type: 'ssm-command', document: 'D', timeoutSeconds: 120 }))).toBe(720);
    const undo = Object.fromEntries(ACTION_TYPES.map((t) => [t, ACTIONS[t].undo]));
    expect(undo).toEqual({
      'set-tag': 'spec-rollback',
      'ssm-command': 'spec-rollback',
      reboot: 'nothing',
      'stop-start': 'nothing',
      replace: 'nothing',
    });
    for (const t of ACTION_TYPES) expect(ACTIONS[t].disruptiveByDefault).toBe(true);
  });

  it('decides an instance in doubt as each action allows: exactly once where it can be known', () => {
    const decide = (t: ActionType, state?: string) =>
      ACTIONS[t].inDoubt(state ? { state, health: 'ok' } : undefined);
    expect(decide('set-tag')).toBe('send');
    expect(decide('stop-start', 'running')).toBe('send');
    expect(decide('stop-start', 'stopping')).toBe('sent');
    expect(decide('reboot', 'running')).toBe('sent');
    expect(decide('replace')).toBe('sent');
    expect(decide('ssm-command', 'running')).toBe('unknown');
  });

  it('refuses at compile time a registry that misses a type or a module that misses a member', () => {
    // @ts-expect-error: set-tag has no module
    const partial: { readonly [T in ActionType]: ActionModule<T> } = {
      reboot: ACTIONS.reboot,
      'stop-start': ACTIONS['stop-start'],
      'ssm-command': ACTIONS['ssm-command'],
      replace: ACTIONS.replace,
    };
    const { finished: _finished, ...rest } = reboot;
    // @ts-expect-error: a module without `finished`
    const incomplete: ActionModule<'reboot'> = rest;
    expect(partial).toBeDefined();
    expect(incomplete).toBeDefined();
  });
});

describe('each action through its ports', () => {
  it('skips instances EC2 no longer runs before an instance action, and reads nothing before replace', async () => {
    const { ports, calls } = fakePorts({
      conditions: { 'i-1': running, 'i-2': { state: 'terminated', health: 'unknown' } },
    });
    const pre = await ACTIONS.reboot.preflight(ports, ['i-1', 'i-2', 'i-3']);
    expect(pre.gone).toEqual([
      { id: 'i-2', reason: 'terminated before the action' },
      { id: 'i-3', reason: 'not reported by EC2 before the action' },
    ]);
    expect(await ACTIONS.replace.preflight(ports, ['i-1'])).toEqual({ gone: [], conditions: new Map() });
    expect(calls).toEqual(['conditions i-1,i-2,i-3']);
  });

  it('routes replace through Auto Scaling and refuses an instance in no group', async () => {
    const { ports } = fakePorts({ groups: { 'i-1': 'cache' } });
    const routed = await ACTIONS.replace.route(ports, ['i-1', 'i-2']);
    expect(routed.refused).toEqual([{ id: 'i-2', reason: 'not in an Auto Scaling group' }]);
    expect([...routed.groups]).toEqual([['i-1', 'cache']]);
    expect(await ACTIONS['set-tag'].route(ports, ['i-1'])).toEqual({ refused: [], groups: new Map() });
  });

  it('applies each action with its own call', async () => {
    const { ports, calls } = fakePorts();
    const ctx = { changeId: 'c', wave: 2 };
    await ACTIONS.reboot.apply(ports, { type: 'reboot' }, ['i-1'], ctx);
    await ACTIONS['stop-start'].apply(ports, { type: 'stop-start' }, ['i-1'], ctx);
    await ACTIONS['set-tag'].apply(ports, { type: 'set-tag', tags: { v: '2' } }, ['i-1'], ctx);
    await ACTIONS.replace.apply(ports, { type: 'replace' }, ['i-1', 'i-2'], ctx);
    const ssm = await ACTIONS['ssm-command'].apply(
      ports,
      { type: 'ssm-command', document: 'D', parameters: {}, timeoutSeconds: 60 },
      ['i-1'],
      ctx,
    );
    expect(ssm.commands).toEqual([{ commandId: 'c-1', instanceIds: ['i-1'] }]);
    expect(calls).toEqual([
      'reboot i-1',
      'stop i-1',
      'tag i-1 {"v":"2"}',
      'terminate i-1',
      'terminate i-2',
      'ssm i-1 D fleetops c wave 2',
    ]);
  });

  it('finishes stop-start by starting what stopped, and waits for it to run again', async () => {
    const { ports, calls } = fakePorts({
      conditions: { 'i-1': { state: 'stopped', health: 'unknown' }, 'i-2': running },
    });
    const done = await ACTIONS['stop-start'].finished(ports, sent({ applied: ['i-1', 'i-2'] }), [
      'i-1',
      'i-2',
    ]);
    expect([...done]).toEqual(['i-2']);
    expect(calls).toContain('start i-1');
    expect([...(await ACTIONS['set-tag'].finished(ports, sent(), ['i-1']))]).toEqual(['i-1']);
  });

  it('finishes a reboot only on proof that the instance restarted, then with its checks concluded', async () => {
    const { ports } = fakePorts({
      conditions: {
        'i-1': running,
        'i-2': running,
        'i-3': { state: 'running', health: 'initializing' },
      },
      // i-1 posted console output after the request; i-2 only before it (the reboot has not happened).
      consoleAt: { 'i-1': 2_000, 'i-2': 500, 'i-3': 2_000 },
    });
    const view = sent({
      applied: ['i-1', 'i-2', 'i-3'],
      sentAt: { 'i-1': 1_000, 'i-2': 1_000, 'i-3': 1_000 },
    });
    expect([...(await ACTIONS.reboot.finished(ports, view, ['i-1', 'i-2', 'i-3']))]).toEqual(['i-1']);
    const outcomes = new Map<string, string>();
    await ACTIONS.reboot.outcomes(ports, view, ['i-1', 'i-2', 'i-3'], outcomes);
    expect(Object.fromEntries(outcomes)).toEqual({
      'i-2': 'no proof it rebooted: no console output posted since the request',
    });
  });

  it('never stops an instance-store-backed or a one-time Spot instance', async () => {
    const { ports } = fakePorts({
      conditions: {
        'i-1': { ...running, rootDevice: 'instance-store' },
        'i-2': { ...running, spot: 'one-time' },
        'i-3': { ...running, spot: 'persistent' },
      },
    });
    const pre = await ACTIONS['stop-start'].preflight(ports, ['i-1', 'i-2', 'i-3']);
    expect(pre.gone).toEqual([
      { id: 'i-1', reason: 'instance-store root device: a stop would lose its data' },
      { id: 'i-2', reason: 'one-time Spot instance: it cannot be stopped' },
    ]);
  });

  it('finishes replace when each group is back to desired without the replaced instances', async () => {
    const groups = { 'i-1': 'cache' };
    const refilled = fakePorts({
      health: { cache: { desired: 2, healthy: ['i-8', 'i-9'], members: ['i-8', 'i-9'] } },
    });
    expect([
      ...(await ACTIONS.replace.finished(refilled.ports, sent({ applied: ['i-1'], groups }), ['i-1'])),
    ]).toEqual(['i-1']);
    const stuck = fakePorts({
      health: { cache: { desired: 2, healthy: ['i-1', 'i-9'], members: ['i-1', 'i-9'] } },
    });
    expect(
      (await ACTIONS.replace.finished(stuck.ports, sent({ applied: ['i-1'], groups }), ['i-1'])).size,
    ).toBe(0);
  });

  it('gives the gate SSM invocations that failed, and a group missing capacity', async () => {
    const { ports } = fakePorts({
      ssmStates: { 'c-1': 'failed' },
      failed: { 'c-1': { 'i-2': 'TimedOut' } },
      health: { cache: { desired: 3, healthy: ['i-8'], members: ['i-1', 'i-8'] } },
    });
    const ssmOut = new Map<string, string>();
    const checked = await ACTIONS['ssm-command'].outcomes(
      ports,
      sent({ applied: ['i-1', 'i-2', 'i-3'], commands: [{ commandId: 'c-1', instanceIds: ['i-1', 'i-2'] }] }),
      ['i-1', 'i-2', 'i-3'],
      ssmOut,
    );
    expect(checked).toEqual(['i-1', 'i-2', 'i-3']);
    expect(Object.fromEntries(ssmOut)).toEqual({
      'i-2': 'command TimedOut',
      'i-3': 'command outcome unknown (the step stopped after sending it)',
    });
    const replaceOut = new Map<string, string>();
    const judged = await ACTIONS.replace.outcomes(
      ports,
      sent({ applied: ['i-1'], groups: { 'i-1': 'cache' } }),
      ['i-1'],
      replaceOut,
    );
    expect(judged).toEqual(['i-8']);
    expect(Object.fromEntries(replaceOut)).toEqual({
      'i-1': 'not replaced: still in cache',
      'cache#missing-1': 'cache: 2 of 3 not in service and healthy',
      'cache#missing-2': 'cache: 2 of 3 not in service and healthy',
    });
    expect(
      await ACTIONS.replace.stillUnavailable(ports, sent({ groups: { 'i-1': 'cache' } }), ['i-1']),
    ).toEqual(['i-1']);
  });

  it('keeps an instance action counting as unavailable until the instance is back in service', async () => {
    const { ports } = fakePorts({
      conditions: { 'i-1': running, 'i-2': { state: 'running', health: 'initializing' } },
    });
    expect(await ACTIONS.reboot.stillUnavailable(ports, sent(), ['i-1', 'i-2', 'i-3'])).toEqual([
      'i-2',
      'i-3',
    ]);
  });
});
