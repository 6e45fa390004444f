import type { AutoScalingPort } from '../../functions/core/ports/autoscaling';
import type { TrafficPort } from '../../functions/core/ports/traffic';
import { bringBack, restore } from '../../functions/core/traffic/protocol';
import { MemoryTrafficExits } from '../../sim/adapters';

/**
 * ExitStandby adds the capacity back, so a group that scaled out while FleetOps had members in
 * Standby can refuse it (at its MaxSize), and a pending update of the group refuses it too
 * (ResourceContention): bringing instances back must never crash the step that asks — the exit
 * stays, the next look or the sweep asks again.
 */
describe('traffic protocol: bringing back', () => {
  it('keeps an exit returning when ExitStandby is refused, and sends it again at the next look', async () => {
    const exits = new MemoryTrafficExits();
    await exits.put([
      {
        instanceId: 'i-0000000000000000a',
        owner: 'chg',
        standby: 'web-asg',
        deregistered: [],
        targetGroups: [],
        phase: 'out',
        since: 0,
        drainSeconds: 300,
        readySeconds: 90,
      },
    ]);
    let refuse = true;
    const asked: string[][] = [];
    const autoscaling = {
      lifecycleOf: async (ids: readonly string[]) =>
        new Map(ids.map((id) => [id, { group: 'web-asg', lifecycle: 'Standby' }])),
      exitStandby: async (_group: string, ids: readonly string[]) => {
        asked.push([...ids]);
        if (refuse)
          throw Object.assign(
            new Error('New SetDesiredCapacity value 11 is above max value 10 for the AutoScalingGroup.'),
            {
              name: 'ValidationError',
            },
          );
      },
    } as unknown as AutoScalingPort;
    const deps = {
      traffic: { register: async () => {}, targetHealth: async () => new Map() } as unknown as TrafficPort,
      autoscaling,
      exits,
      ec2: { conditions: async () => new Map(), start: async () => {} },
      now: () => 1000,
    };

    await expect(bringBack(deps, 'chg', ['i-0000000000000000a'])).resolves.toBeDefined();
    expect((await exits.of(['i-0000000000000000a'])).get('i-0000000000000000a')?.phase).toBe('returning');

    refuse = false;
    await bringBack(deps, 'chg', ['i-0000000000000000a']);
    expect(asked).toEqual([['i-0000000000000000a'], ['i-0000000000000000a']]);
  });

  it('restore keeps the exit, stuck, of an instance still in Standby because ExitStandby was refused', async () => {
    // A change that ends (a failed gate, the last wave's release) restores what it took out; a
    // group at its MaxSize after a scale-out refuses ExitStandby. Removing the exit then would
    // leave the instance out of traffic with nothing to say so: it stays, for the sweep.
    const exits = new MemoryTrafficExits();
    await exits.put([
      {
        instanceId: 'i-0000000000000000b',
        owner: 'chg',
        standby: 'web-asg',
        deregistered: [],
        targetGroups: [],
        phase: 'returning',
        since: 0,
        returnedAt: 500,
        drainSeconds: 300,
        readySeconds: 90,
      },
    ]);
    let lifecycle = 'Standby';
    const autoscaling = {
      lifecycleOf: async (ids: readonly string[]) =>
        new Map(ids.map((id) => [id, { group: 'web-asg', lifecycle }])),
      exitStandby: async () => {
        if (lifecycle === 'Standby' && refuse)
          throw Object.assign(new Error('above max value'), { name: 'ValidationError' });
        lifecycle = 'InService';
      },
    } as unknown as AutoScalingPort;
    let refuse = true;
    const deps = {
      traffic: { register: async () => {}, targetHealth: async () => new Map() } as unknown as TrafficPort,
      autoscaling,
      exits,
      ec2: {
        conditions: async (ids: readonly string[]) =>
          new Map(ids.map((id) => [id, { state: 'running' as const }])),
        start: async () => {},
      },
      now: () => 1000,
    };

    const first = await restore(deps as never, 'chg', ['i-0000000000000000b']);
    expect(first.restored).toEqual([]);
    expect(first.stuck).toEqual([
      { id: 'i-0000000000000000b', reason: expect.stringMatching(/still in Standby in web-asg/) },
    ]);
    const kept = (await exits.of(['i-0000000000000000b'])).get('i-0000000000000000b');
    expect(kept).toMatchObject({
      owner: 'chg',
      phase: 'returning',
      stuck: expect.stringMatching(/ExitStandby refused/),
    });

    // Asked again (the sweep): the group has room now, the instance is back and the exit gone.
    refuse = false;
    const again = await restore(deps as never, 'chg', ['i-0000000000000000b']);
    expect(again).toEqual({ restored: ['i-0000000000000000b'], stuck: [] });
    expect((await exits.of(['i-0000000000000000b'])).size).toBe(0);
  });
});
