import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
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

  /** Web instances by zone, in id order: `counts[k]` of zone k. */
  async function webByZone(counts: readonly number[]): Promise<string[][]> {
    const fleet = await h.stores.fleet.listInstances();
    return counts.map((n, k) =>
      fleet
        .filter((i) => i.service === 'web' && i.zone === h.zones[k] && i.state === 'running')
        .map((i) => i.id)
        .sort()
        .slice(0, n),
    );
  }

  /** Runs a change, recording each state entered with its input. */
  async function runRecorded(id: string, wrap?: ReturnType<typeof h.withApproval>) {
    const execution = h.runChange(id, { wrap });
    const entered: Array<{ name: string; input: Record<string, unknown> }> = [];
    const logs = (async () => {
      for await (const event of execution.eventLogs)
        if (event.type === 'StateEntered')
          entered.push({ name: event.state.name, input: event.state.input as Record<string, unknown> });
    })();
    await execution.result.catch(() => undefined);
    await logs;
    return entered;
  }

  it('bakes each zone before the next: the first longer, then the others, each bake ending with a look at the zone', async () => {
    // Prepare: one web instance in the first zone (the canary, then an approval), two in each other.
    const [a, b, c] = await webByZone([1, 2, 2]);
    await h.plannedChange('zones', {
      target: { instanceIds: [...a, ...b, ...c] },
      action: { type: 'set-tag', tags: { zones: 'yes' } },
      risk: 'medium',
      strategy: { firstZoneBakeMinutes: 30, zoneBakeMinutes: 5, zoneOrder: h.zones },
    });

    // Act
    const entered = await runRecorded('zones', h.withApproval('zones', 'approve', 'canary fine'));

    // Assess: after the canary's zone (and its approval) a 30-minute bake, after the second 5 minutes, none after the last.
    expect(await statusOf('zones')).toBe('completed');
    const bakes = entered
      .filter((e) => e.name === ROLLOUT_STATES.bakeZone)
      .map((e) => e.input.zoneBakeSeconds);
    expect(bakes).toEqual([1800, 300]);
    expect(entered.filter((e) => e.name === ROLLOUT_STATES.checkBakedZone)).toHaveLength(2);
    const looks = (await h.changes().waveRecords('zones')).filter((r) => r.part === 'zone-bake');
    expect(looks.map((r) => [r.body.zone, r.body.verdict, r.body.changed])).toEqual([
      [h.zones[0], 'pass', 1],
      [h.zones[1], 'pass', 2],
    ]);
    expect((await auditOf('zones')).filter((r) => r.action === 'zone.passed')).toHaveLength(2);
  });

  it('a zone unhealthy after its bake under pause asks a person before the next zone; approving goes on without a second bake', async () => {
    const [a, b] = await webByZone([2, 2]);
    await h.plannedChange('zone-pause', {
      target: { instanceIds: [...a, ...b] },
      action: { type: 'set-tag', tags: { zonePause: 'yes' } },
      strategy: { zoneBakeMinutes: 10, zoneOrder: h.zones },
      gates: { onFailure: 'pause' },
    });
    // During the first zone's bake, one of its changed instances stops.
    let broken = false;
    const wrap = h.withApproval('zone-pause', 'approve', 'known, go on', {
      before: async (state) => {
        if (state === ROLLOUT_STATES.checkBakedZone && !broken) {
          broken = true;
          await h.ec2.send(new StopInstancesCommand({ InstanceIds: [a[0]] }));
        }
      },
    });

    const entered = await runRecorded('zone-pause', wrap);

    expect(await statusOf('zone-pause')).toBe('completed');
    const names = entered.map((e) => e.name);
    expect(names.filter((n) => n === ROLLOUT_STATES.bakeZone)).toHaveLength(1);
    expect(names).toContain('Ask about the baked zone');
    const look = (await h.changes().waveRecords('zone-pause')).find((r) => r.part === 'zone-bake');
    expect(look?.body).toMatchObject({ verdict: 'fail', unhealthy: 1, changed: 2 });
    expect(String(look?.body.reason)).toContain(`${a[0]} (stopped, status checks`);
    const notices = await h.notices();
    expect(notices.map((n) => n.subject)).toContain(
      `FleetOps: zone-pause zone ${h.zones[0]} failed after its bake`,
    );
    // The second zone was changed after the approval.
    expect(await changedBy('zone-pause')).toEqual([...a, ...b].sort());
  });

  it('an alarm firing after the zone bake rolls the change back when the spec says rollback', async () => {
    const [a, b] = await webByZone([2, 2]);
    const cloudwatch = new CloudWatchClient({ region: h.region });
    await cloudwatch.send(
      new PutMetricAlarmCommand({
        AlarmName: 'zone-undo-errors',
        Namespace: 'App',
        MetricName: 'Errors',
        Statistic: 'Sum',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      }),
    );
    const alarm = (state: 'OK' | 'ALARM') =>
      cloudwatch.send(
        new SetAlarmStateCommand({ AlarmName: 'zone-undo-errors', StateValue: state, StateReason: 'test' }),
      );
    await alarm('OK');
    await h.plannedChange('zone-undo', {
      target: { instanceIds: [...a, ...b] },
      action: { type: 'set-tag', tags: { zoneUndo: 'yes' } },
      rollback: { action: { type: 'set-tag', tags: { zoneUndo: 'no' } } },
      strategy: { zoneBakeMinutes: 10, zoneOrder: h.zones },
      gates: { alarms: ['zone-undo-errors'] },
    });
    // The alarm fires during the first zone's bake, and is quiet again once the zone was looked at.
    const wrap = (state: string, call: (input: unknown) => Promise<unknown>) => async (input: unknown) => {
      if (state !== ROLLOUT_STATES.checkBakedZone) return call(input);
      await alarm('ALARM');
      const out = await call(input);
      await alarm('OK');
      return out;
    };

    const entered = await runRecorded('zone-undo', wrap);

    // The second zone was never touched; the first zone's changed instances were rolled back.
    expect(await changedBy('zone-undo')).toEqual([...a].sort());
    expect(entered.map((e) => e.name)).toContain(ROLLOUT_STATES.planRollback);
    const look = (await h.changes().waveRecords('zone-undo')).find((r) => r.part === 'zone-bake');
    expect(look?.body.reason).toMatch(/alarms: zone-undo-errors in ALARM/);
    expect((await h.changes().get('zone-undo-rollback'))?.status).toBe('completed');
    expect(await statusOf('zone-undo')).toBe('rolled-back');
  });

  it('waits only when nothing at all fits: recorded and paged once, and the change fails after strategy.budgetWaitMinutes', async () => {
    // Prepare: db's budget is 1, and another owner holds a db instance (and so the budget) for
    // longer than the change waits.
    const db = (await running('db')).slice(0, 2);
    const other = (await running('db')).at(-1)!;
    await h.plannedChange('no-room', {
      target: { instanceIds: db },
      action: { type: 'set-tag', tags: { noRoom: 'yes' } },
      strategy: { budgetWaitMinutes: 5 },
    });
    await h.holdAsAnother([other]);
    await h.notices();
    try {
      // Act
      const entered = await runRecorded('no-room');

      // Assess: 60 + 120 + 240 s of waits reach 5 minutes: three waits, then the change fails saying why.
      const waits = entered.filter((e) => e.name === ROLLOUT_STATES.waitForBudget);
      expect(waits.map((e) => (e.input.lease as { waitSeconds: number }).waitSeconds)).toEqual([
        60, 120, 240,
      ]);
      expect(await statusOf('no-room')).toBe('failed');
      expect((await h.changes().get('no-room'))?.statusReason).toMatch(
        /^nothing of the wave fitted its budgets for the whole wait \(strategy.budgetWaitMinutes\): nothing fits now: budget:db has no room now \(waited 7 minutes\)/,
      );
      const pages = (await h.notices()).filter((n) => n.subject.includes('waits for budget'));
      expect(pages.map((n) => n.subject)).toEqual(['FleetOps: no-room wave 0 waits for budget']);
      expect((await auditOf('no-room')).filter((a) => a.action === 'wave.waiting')).toHaveLength(1);
      expect(await h.leasesOf('no-room')).toEqual([]);
    } finally {
      await h.letGo();
    }
  });

  it('a final wave that finds no room in its budgets waits half an hour, then leaves its instances listed; the change completes', async () => {
    // Prepare: two web instances (web's budget is 5), one stopped before planning.
    const [kept, away, ...others] = (await running('web')).slice(0, 7);
    await h.ec2.send(new StopInstancesCommand({ InstanceIds: [away] }));
    await h.sync();
    await h.plannedChange('late-no-room', {
      target: { instanceIds: [kept, away] },
      action: { type: 'set-tag', tags: { lateNoRoom: 'yes' } },
    });
    // At the only wave's release the stopped one is back (it gets a final wave); right after, another
    // owner takes web's whole budget.
    let done = false;
    const wrap = (state: string, call: (input: unknown) => Promise<unknown>) => async (input: unknown) => {
      if (state !== ROLLOUT_STATES.releaseWave || done) return call(input);
      done = true;
      await h.ec2.send(new StartInstancesCommand({ InstanceIds: [away] }));
      await h.sync();
      const out = await call(input);
      await h.holdAsAnother(others);
      return out;
    };
    try {
      const entered = await runRecorded('late-no-room', wrap);

      // 60 + 120 + 240 + 480 + 900 s of waits make half an hour; then the final wave lets go.
      expect(entered.filter((e) => e.name === ROLLOUT_STATES.waitForBudget)).toHaveLength(5);
      expect(await statusOf('late-no-room')).toBe('completed');
      expect(await changedBy('late-no-room')).toEqual([kept]);
      const plan = await h.changes().loadPlan('late-no-room');
      const final = plan.waves.at(-1)!;
      expect(final.joiners).toBe('revisit');
      const skipped = (await h.changes().waveRecords('late-no-room', final.index)).filter((r) =>
        r.part.startsWith('skipped#'),
      );
      expect(skipped.flatMap((r) => r.body.instances as Array<{ id: string; reason: string }>)).toEqual([
        {
          id: away,
          reason: 'final wave: no room in its budgets after 30 minutes (budget:web has no room now)',
        },
      ]);
    } finally {
      await h.letGo();
    }
  });
});
