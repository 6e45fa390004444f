import { StartInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import type { Plan } from '../../functions/core/change/plan/planner';
import { ROLLOUT_STATES } from '../../functions/steps/state-names';
import { managedTags, runInstances } from '../support/aws';
import { rolloutHarness } from '../support/rollout-harness';

/**
 * Live waves through the real ASL with the real handler against moto: a wave sized against the
 * ledger when it is leased (a budget that shrank after planning: smaller waves, a plan revision,
 * the change still completes), final waves for an instance launched mid-change and for one that
 * was down at planning and is back, the zone bakes, and what a wait for budget tells people.
 */
describe('rollout: live waves against the ledger as it is now', () => {
  const h = rolloutHarness('eu-south-2');

  const statusOf = async (id: string) => (await h.changes().get(id))?.status;
  const auditOf = async (id: string) => h.stores.fleet.auditOf(`change:${id}`, 500);
  const running = async (service: string) =>
    (await h.stores.fleet.listInstances())
      .filter((i) => i.service === service && i.state === 'running')
      .map((i) => i.id)
      .sort();
  /** The instances each wave leased, as the lease step recorded them (the plan's last revision, less the skipped). */
  async function leasedWaves(id: string): Promise<{ plan: Plan; waves: string[][] }> {
    const plan = await h.changes().loadPlan(id);
    const records = await h.changes().waveRecords(id);
    const waves = plan.waves.map((w) => {
      const skipped = new Set(
        records
          .filter((r) => r.wave === w.index && r.part.startsWith('skipped#'))
          .flatMap((r) => (r.body.instances as Array<{ id: string }>).map((x) => x.id)),
      );
      return w.instances.filter((i) => !skipped.has(i));
    });
    return { plan, waves };
  }
  const changedBy = async (id: string) =>
    (await h.stores.leases.actionsOf(id)).map((a) => a.instanceId).sort();

  it('a budget that shrinks after planning: later waves are smaller, the plan is revised with why, and the change completes', async () => {
    // Prepare: web (51, at most 10% = 5 unavailable) planned with its whole budget free.
    const { plan } = await h.plannedChange('shrink', {
      target: { services: ['web'] },
      action: { type: 'set-tag', tags: { shrink: 'yes' } },
    });
    expect(Math.max(...plan.waves.map((w) => w.size))).toBe(5);
    // After planning, three web instances of the plan's last waves go down (stopped: the sweep
    // counts them), leaving room for 2.
    const down = plan.waves
      .slice(-2)
      .flatMap((w) => w.instances)
      .slice(0, 3);
    await h.ec2.send(new StopInstancesCommand({ InstanceIds: down }));
    await h.sync();
    expect((await h.stores.leases.ledger('web'))?.used).toBe(3);

    // Act
    await h.runChange('shrink').result;

    // Assess: completed; every running web instance changed once; no wave took more than the room.
    expect(await statusOf('shrink')).toBe('completed');
    expect(await changedBy('shrink')).toEqual((await running('web')).filter((i) => !down.includes(i)));
    const { plan: revised, waves } = await leasedWaves('shrink');
    expect(Math.max(...waves.map((w) => w.length))).toBe(2);
    expect(revised.revision).toBeGreaterThan(0);
    expect(revised.waves.length).toBeGreaterThan(plan.waves.length);
    expect(revised.revisions?.[0]).toMatchObject({ wave: 2 });
    expect(revised.revisions?.[0].reason).toMatch(/deferred: budget:web has no room now/);
    expect((await auditOf('shrink')).map((a) => a.action)).toContain('plan.revised');
    // The stopped ones are skipped at their wave with why, and not changed (still down at the end).
    const skipped = (await h.changes().waveRecords('shrink'))
      .filter((r) => r.part.startsWith('skipped#'))
      .flatMap((r) => r.body.instances as Array<{ id: string; reason: string }>);
    expect(skipped.map((s) => s.id).sort()).toEqual([...down].sort());
    expect(new Set(skipped.map((s) => s.reason))).toEqual(new Set(['not running (state: stopped)']));
    expect(await h.leasesOf('shrink')).toEqual([]);
    await h.ec2.send(new StartInstancesCommand({ InstanceIds: down }));
  });

  it('an instance launched mid-change gets the change in a final wave; one down at planning is changed once it is back', async () => {
    // Prepare: api (24 over three zones) with one instance stopped before planning.
    const api = await running('api');
    const away = api[0];
    await h.ec2.send(new StopInstancesCommand({ InstanceIds: [away] }));
    await h.sync();
    const { plan } = await h.plannedChange('joiners', {
      target: { services: ['api'] },
      action: { type: 'set-tag', tags: { joiners: 'yes' } },
    });
    // It is down, and it takes its zone's whole api budget (1 a zone): the zone's others wait too.
    const fleet = await h.stores.fleet.listInstances();
    const awayZone = fleet.find((i) => i.id === away)!.zone;
    const zoneA = fleet.filter((i) => i.service === 'api' && i.zone === awayZone).map((i) => i.id);
    expect(plan.skipped.map((s) => s.id).sort()).toEqual([...zoneA].sort());
    expect(plan.skipped.find((s) => s.id === away)?.reason).toBe('not running (state: stopped)');
    expect(plan.skipped.find((s) => s.id !== away)?.reason).toMatch(`budget:api@${awayZone} exhausted`);
    // Mid-change (after the second wave), Auto Scaling launches an api instance from the old
    // template, and the stopped one is started again; the sweep sees both.
    let launched = '';
    let releases = 0;
    const wrap = (state: string, call: (input: unknown) => Promise<unknown>) => async (input: unknown) => {
      const out = await call(input);
      if (state === ROLLOUT_STATES.releaseWave && ++releases === 2) {
        [launched] = await runInstances(h.ec2, 1, h.zones.find((z) => z !== awayZone)!, managedTags('api'));
        await h.ec2.send(new StartInstancesCommand({ InstanceIds: [away] }));
        await h.sync();
      }
      return out;
    };

    // Act
    await h.runChange('joiners', { wrap }).result;

    // Assess: both changed, once, in the final waves the revision added; the change completed.
    expect(await statusOf('joiners')).toBe('completed');
    expect(await changedBy('joiners')).toEqual([...api, launched].sort());
    const revised = await h.changes().loadPlan('joiners');
    const finals = revised.waves.filter((w) => w.joiners !== undefined);
    expect(finals.flatMap((w) => w.instances).sort()).toEqual([...zoneA, launched].sort());
    // Under the same rules: one api instance a zone at a time.
    for (const w of finals) expect(w.size).toBe(1);
    expect(revised.revisions?.at(-1)).toMatchObject({
      lateCount: 1,
      revisitCount: zoneA.length,
      late: [launched],
      revisits: [...zoneA].sort(),
    });
    expect(revised.revisions?.at(-1)?.reason).toBe(
      `final waves: 1 launched after planning, ${zoneA.length} back since they were skipped`,
    );
  });
});
