import { StartInstancesCommand, StopInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { planChange } from '../../functions/core/change/plan/planner';
import { changeSpecSchema } from '../../functions/core/change/spec';
import { serviceCatalog } from '../../functions/core/fleet/services';
import { rolloutHarness } from '../support/rollout-harness';

/**
 * The rollout checks its stored plan again before the first wave ("Load the plan"), through the
 * real ASL with the real handler against moto: a plan the budgets no longer allow, or one edited
 * in storage, never starts and says why; instances that went away or down since planning do not
 * stop it (each wave skips or judges them).
 */
describe('rollout: the plan checked again at the start', () => {
  const h = rolloutHarness('ap-northeast-2');

  const statusOf = async (id: string) => (await h.changes().get(id))?.status;
  const auditOf = async (id: string) => h.stores.fleet.auditOf(`change:${id}`, 100);

  it('refuses to start a plan the budgets no longer allow, records why and holds nothing', async () => {
    const { plan } = await h.plannedChange('tightened', {
      target: { services: ['web'] },
      action: { type: 'reboot' },
    });
    expect(Math.max(...plan.waves.map((w) => w.size))).toBeGreaterThan(1);
    const before = await h.stores.fleet.getServices();
    // After planning, web's budget drops to one at a time: the plan's later waves no longer fit.
    await h.stores.fleet.putServices(
      {
        ...before,
        services: { ...before.services, web: { maxUnavailable: { kind: 'count', value: 1 }, impact: {} } },
      },
      'test',
      Date.now(),
    );
    try {
      await h.notices();
      await expect(h.runChange('tightened').result).rejects.toMatchObject({
        cause: { name: 'ChangeNotStarted' },
      });
    } finally {
      await h.stores.fleet.putServices(before, 'test', Date.now());
    }
    const record = await h.changes().get('tightened');
    expect(record?.status).toBe('failed');
    const notStarted = (await auditOf('tightened')).find((r) => r.action === 'change.not-started');
    expect(notStarted?.reason).toMatch(
      /^the change did not start: the plan breaks \d+ rules?: wave 1: \d+ of web unavailable at once exceeds its budget \(1\), even with nothing else down/,
    );
    expect((await auditOf('tightened')).map((r) => r.action)).not.toContain('lease.acquired');
    expect(await h.changes().waveRecords('tightened')).toEqual([]);
    expect(await h.leasesOf('tightened')).toEqual([]);
    expect((await h.notices()).map((n) => n.subject)).toContain('FleetOps: tightened did not start');
  });

  it('refuses a plan edited in storage (an instance changed twice)', async () => {
    const spec = changeSpecSchema.parse({
      id: 'edited',
      description: 'edited',
      target: { services: ['db'] },
      action: { type: 'set-tag', tags: { patched: 'yes' } },
      risk: 'low',
    });
    const instances = await h.stores.fleet.listInstances();
    const catalog = serviceCatalog(await h.stores.fleet.getServices());
    const plan = planChange({ instances, catalog, spec });
    const [w0, w1, ...rest] = plan.waves;
    const twice = w0.instances[0];
    // Saved as it is (the store's digest covers what was saved, so only the re-check can tell).
    await h
      .changes()
      .save(
        spec,
        { ...plan, waves: [w0, { ...w1, instances: [twice, ...w1.instances.slice(1)] }, ...rest] },
        'test',
        Date.now(),
      );
    await expect(h.runChange('edited').result).rejects.toMatchObject({
      cause: { name: 'ChangeNotStarted' },
    });
    expect(await statusOf('edited')).toBe('failed');
    expect((await auditOf('edited')).find((r) => r.action === 'change.not-started')?.reason).toContain(
      `wave 1: ${twice} is changed twice`,
    );
    expect(await h.stores.leases.actionsOf('edited')).toEqual([]);
  });

  it('starts a plan whose instances went away or stopped since planning: the waves skip them, saying why', async () => {
    const web = (await h.stores.fleet.listInstances())
      .filter((i) => i.service === 'web' && i.zone === h.zones[1] && i.state === 'running')
      .map((i) => i.id)
      .sort()
      .slice(0, 4);
    const { plan } = await h.plannedChange('drifted', {
      target: { instanceIds: web },
      action: { type: 'set-tag', tags: { drifted: 'yes' } },
      gates: { statusChecks: false },
    });
    // The canary's instance stops; one of the last wave is terminated (a scale-in), both after planning.
    const stopped = plan.waves[0].instances[0];
    const gone = plan.waves.at(-1)!.instances.at(-1)!;
    expect(gone).not.toBe(stopped);
    await h.ec2.send(new TerminateInstancesCommand({ InstanceIds: [gone] }));
    await h.ec2.send(new StopInstancesCommand({ InstanceIds: [stopped] }));
    await h.sync();
    try {
      await h.runChange('drifted').result;
    } finally {
      await h.ec2.send(new StartInstancesCommand({ InstanceIds: [stopped] }));
      await h.sync();
    }
    expect(await statusOf('drifted')).toBe('completed');
    expect((await auditOf('drifted')).map((r) => r.action)).not.toContain('change.not-started');
    const tagged = (await h.stores.leases.actionsOf('drifted')).map((a) => a.instanceId).sort();
    expect(tagged).toEqual(web.filter((id) => id !== gone && id !== stopped).sort());
    // Both skipped by their wave; the stopped one would get a final wave had it been back by then.
    const skipped = (await h.changes().waveRecords('drifted'))
      .filter((r) => r.part.startsWith('skipped#'))
      .flatMap((r) => r.body.instances as Array<{ id: string; reason: string }>);
    expect(skipped).toEqual(
      expect.arrayContaining([
        { id: stopped, reason: 'not running (state: stopped)' },
        { id: gone, reason: 'terminated' },
      ]),
    );
  });
});
