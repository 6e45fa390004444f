import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { abortRollout, type RolloutPorts } from '../../functions/core/change/rollout/rollout';
import { rolloutHarness } from '../support/rollout-harness';

/**
 * Rollback, abort, crashes, concurrent changes and freezes: the real ASL run by
 * aws-local-stepfunctions, the real handler against moto (its own region and table).
 */
describe('rollout: rollback, abort, crash, concurrency, freezes', () => {
  const h = rolloutHarness('eu-south-1');
  const latency = [
    { name: 'Latency', namespace: 'App', statistic: 'Average', direction: 'increase', critical: true },
  ];

  async function tagsOf(ids: readonly string[]) {
    const described = await h.ec2.send(new DescribeInstancesCommand({ InstanceIds: [...ids] }));
    return new Map(
      (described.Reservations ?? [])
        .flatMap((r) => r.Instances ?? [])
        .map((i) => [i.InstanceId!, Object.fromEntries((i.Tags ?? []).map((t) => [t.Key!, t.Value!]))]),
    );
  }

  /** Fails the test when any service's ledger holds more than its capacity, overall or in a zone. */
  async function expectBudgetsKept() {
    for (const service of ['web', 'api', 'db']) {
      const ledger = (await h.stores.leases.ledger(service)) as Record<string, unknown> | undefined;
      if (!ledger) continue;
      expect(Number(ledger.used ?? 0)).toBeLessThanOrEqual(Number(ledger.capacity));
      for (const zone of h.zones) {
        if (ledger[`capacity@${zone}`] === undefined) continue;
        expect(Number(ledger[`used@${zone}`] ?? 0)).toBeLessThanOrEqual(Number(ledger[`capacity@${zone}`]));
      }
    }
  }

  it('rolls back automatically when a later wave regresses latency: newest first, larger waves, budgets kept', async () => {
    const { plan } = await h.plannedChange('tag-v5', {
      action: { type: 'set-tag', tags: { 'app-version': '5' } },
      rollback: { action: { type: 'set-tag', tags: { 'app-version': '4' } } },
      gates: { metrics: latency },
    });
    // Wave 2's instances answer 60% slower once changed; waves 0 and 1 are fine.
    const slow = new Set(plan.waves[2].instances);
    await h.putLatency(
      plan.waves.flatMap((w) => w.instances),
      (id) => (slow.has(id) ? 160 : 100),
    );
    const execution = h.runChange('tag-v5', {
      wrap: (_state, call) => async (input) => {
        await expectBudgetsKept();
        return call(input);
      },
    });
    await expect(execution.result).rejects.toThrow(/ChangeRolledBack|rolled back/);

    const changes = h.changes();
    const changed = plan.waves.slice(0, 3).flatMap((w) => w.instances);
    expect((await changes.get('tag-v5'))?.status).toBe('rolled-back');
    expect((await changes.get('tag-v5-rollback'))?.status).toBe('completed');
    const audit = await h.stores.fleet.auditOf('change:tag-v5', 300);
    expect(audit.find((r) => r.action === 'gate.failed')?.reason).toMatch(/wave 2: .*judge: fail/);
    expect(audit.map((r) => r.action)).toEqual(
      expect.arrayContaining(['rollback.started', 'change.rolled-back']),
    );

    // Newest first: the failed wave's instances lead the rollback; larger waves than the rollout's.
    const rollback = await changes.loadPlan('tag-v5-rollback');
    const order = rollback.waves.flatMap((w) => w.instances);
    expect(order.sort()).toEqual([...changed].sort());
    expect(slow.has(rollback.waves[0].instances[0])).toBe(true);
    // As few waves as the budgets allow (db's budget of 1 binds: one db instance per wave).
    const services = new Map((await h.stores.fleet.listInstances()).map((i) => [i.id, i.service]));
    const per = (s: string) => changed.filter((id) => services.get(id) === s).length;
    expect(rollback.waves.length).toBe(
      Math.max(per('db'), Math.ceil(per('web') / 5), Math.ceil(per('api') / 3)),
    );
    const largest = Math.max(...plan.waves.slice(0, 3).map((w) => w.size));
    for (const w of rollback.waves) expect(w.size).toBeLessThanOrEqual(2 * largest);

    // Every changed instance restored, exactly once; the rest never touched; nothing held.
    const tags = await tagsOf(plan.waves.flatMap((w) => w.instances));
    for (const id of changed) expect(tags.get(id)?.['app-version']).toBe('4');
    for (const id of plan.waves.slice(3).flatMap((w) => w.instances)) {
      expect(tags.get(id)?.['app-version']).toBeUndefined();
    }
    expect((await h.stores.leases.actionsOf('tag-v5-rollback')).length).toBe(changed.length);
    expect(await h.leasesOf('tag-v5')).toEqual([]);
    expect(await h.leasesOf('tag-v5-rollback')).toEqual([]);
    for (const service of ['web', 'api', 'db']) expect((await h.stores.leases.ledger(service))?.used).toBe(0);
  });

  it('abort mid-wave releases every lease; abort --rollback then undoes what was done', async () => {
    const { plan } = await h.plannedChange('color-1', {
      action: { type: 'set-tag', tags: { color: 'blue' } },
      rollback: { action: { type: 'set-tag', tags: { color: 'green' } } },
    });
    let gates = 0;
    let heldAtAbort = 0;
    let stopped = false;
    const execution = h.runChange('color-1', {
      wrap: (state, call) => async (input) => {
        // StopExecution: no state runs after it (the local runner only stops at its next wait).
        if (stopped) throw new Error('the execution was stopped');
        if (state === 'Health gate' && ++gates === 2) {
          stopped = true;
          // What `fleetops change abort` does while wave 1 bakes: stop the execution, release.
          heldAtAbort = (await h.leasesOf('color-1')).length;
          await abortRollout(
            {
              ...h.ports,
              changes: h.changes(),
              fleet: h.stores.fleet,
              leases: h.stores.leases,
              now: Date.now,
            },
            'color-1',
            'alice',
            'operator abort',
          );
          execution.abort();
          throw new Error('the execution was stopped');
        }
        return call(input);
      },
    });
    await expect(execution.result).rejects.toThrow(/abort/i);
    expect(heldAtAbort).toBe(plan.waves[1].size);
    expect(await h.leasesOf('color-1')).toEqual([]);
    // The wave's instances keep counting (the action may be half done) until sync sees them.
    const counted = async () =>
      (await Promise.all(['web', 'api', 'db'].map((s) => h.stores.leases.ledger(s)))).map(
        (l) => l?.used ?? 0,
      );
    expect((await counted()).reduce((a, b) => a + b, 0)).toBe(plan.waves[1].size);
    await h.sync();
    expect(await counted()).toEqual([0, 0, 0]);
    expect((await h.changes().get('color-1'))?.status).toBe('aborted');
    expect(
      (await h.stores.fleet.auditOf('change:color-1', 100)).find((r) => r.action === 'change.aborted')
        ?.reason,
    ).toBe(`operator abort; ${plan.waves[1].size} leases released`);

    // `change abort --rollback`: the same state machine, started as <id>-rollback.
    const rollback = h.runChange('color-1-rollback', { input: { changeId: 'color-1', rollback: true } });
    await expect(rollback.result).rejects.toThrow(/ChangeRolledBack|rolled back/);
    const done = plan.waves.slice(0, 2).flatMap((w) => w.instances);
    const tags = await tagsOf(plan.waves.flatMap((w) => w.instances));
    for (const id of done) expect(tags.get(id)?.color).toBe('green');
    for (const id of plan.waves.slice(2).flatMap((w) => w.instances))
      expect(tags.get(id)?.color).toBeUndefined();
    // An aborted change stays aborted; its rollback completed.
    expect((await h.changes().get('color-1'))?.status).toBe('aborted');
    expect((await h.changes().get('color-1-rollback'))?.status).toBe('completed');
  });

  it('a crash between applying an action and recording it does not apply it twice on retry', async () => {
    const web = (await h.stores.fleet.listInstances()).filter((i) => i.service === 'web').slice(0, 20);
    const { plan } = await h.plannedChange('reboot-crash', {
      target: { instanceIds: web.map((i) => i.id) },
      action: { type: 'reboot' },
    });
    const rebooted = new Map<string, number>();
    let crashes = 0;
    const crashed = new Set<number>();
    const base = h.ports;
    const ports: RolloutPorts = {
      ...base,
      ec2: {
        ...base.ec2,
        // The adapter is a class: a spread drops its methods, so each one used is passed on by name.
        consoleOutputAt: (i) => base.ec2.consoleOutputAt(i),
        conditions: (ids) => base.ec2.conditions(ids),
        reboot: async (ids) => {
          for (const id of ids) rebooted.set(id, (rebooted.get(id) ?? 0) + 1);
          await base.ec2.reboot(ids);
        },
      },
      changes: {
        ...base.changes,
        get: (id) => base.changes.get(id),
        save: (...a) => base.changes.save(...a),
        loadPlan: (id) => base.changes.loadPlan(id),
        loadSpec: (id) => base.changes.loadSpec(id),
        setStatus: (...a) => base.changes.setStatus(...a),
        awaitApproval: (...a) => base.changes.awaitApproval(...a),
        claimApproval: (...a) => base.changes.claimApproval(...a),
        settleApproval: (...a) => base.changes.settleApproval(...a),
        waveRecords: (...a) => base.changes.waveRecords(...a),
        // The step dies right after the instances were rebooted, in every other wave.
        recordWave: async (id, wave, part, body, now) => {
          if (
            part.startsWith('apply#') &&
            wave % 2 === 0 &&
            (body.applied as string[]).length > 0 &&
            !crashed.has(wave)
          ) {
            crashed.add(wave);
            crashes++;
            throw new Error('Lambda crashed after applying the action');
          }
          return base.changes.recordWave(id, wave, part, body, now);
        },
      },
    };
    await h.runChange('reboot-crash', { handler: (event) => h.stepWith(ports, event) }).result;
    expect(crashes).toBe(Math.ceil(plan.waves.length / 2));
    expect((await h.changes().get('reboot-crash'))?.status).toBe('completed');
    const all = plan.waves.flatMap((w) => w.instances);
    expect([...rebooted.keys()].sort()).toEqual([...all].sort());
    expect([...rebooted.values()].every((n) => n === 1)).toBe(true);
    const applied = (await h.stores.fleet.auditOf('change:reboot-crash', 500)).filter(
      (r) => r.action === 'wave.applied',
    );
    expect(applied.some((r) => /applied to 0, already applied [1-9]/.test(r.reason))).toBe(true);
  });

  it('two changes over the same services at once never exceed a budget together, and both finish', async () => {
    // The same 18 instances for both (12 web, 6 api, every zone): every wave of one competes with the other's.
    const all = await h.stores.fleet.listInstances();
    const pick = (service: string, n: number) =>
      h.zones.flatMap((zone) => all.filter((i) => i.service === service && i.zone === zone).slice(0, n / 3));
    const targets = [...pick('web', 12), ...pick('api', 6)].map((i) => i.id);
    for (const [id, tag] of [
      ['both-a', 'a'],
      ['both-b', 'b'],
    ]) {
      await h.plannedChange(id, {
        target: { instanceIds: targets },
        action: { type: 'set-tag', tags: { [`concurrent-${tag}`]: 'yes' } },
      });
    }
    const services = await h.stores.fleet.getServices();
    const inventory = new Map((await h.stores.fleet.listInstances()).map((i) => [i.id, i]));
    let checks = 0;
    const check = async () => {
      checks++;
      await expectBudgetsKept();
      // What is really held: leases of both changes, per service and per zone.
      const held = (await h.stores.leases.activeLeases(Date.now())).map((l) => inventory.get(l.instanceId)!);
      const web = held.filter((i) => i.service === 'web').length;
      const api = held.filter((i) => i.service === 'api');
      expect(web).toBeLessThanOrEqual(5); // 10% of 51
      expect(api.length).toBeLessThanOrEqual(3);
      for (const zone of h.zones) expect(api.filter((i) => i.zone === zone).length).toBeLessThanOrEqual(1);
    };
    expect(services.services.web).toBeDefined();
    // Checked whenever a wave is about to act: when the most is held.
    const wrap = (state: string, call: (input: unknown) => Promise<unknown>) => async (input: unknown) => {
      if (state === 'Apply the action') await check();
      return call(input);
    };
    const waits = { 'Wait for budget': 200 };
    await Promise.all([
      h.runChange('both-a', { wrap, waits }).result,
      h.runChange('both-b', { wrap, waits }).result,
    ]);
    expect(checks).toBeGreaterThan(8);
    const tags = await tagsOf(targets);
    for (const t of tags.values()) {
      expect(t['concurrent-a']).toBe('yes');
      expect(t['concurrent-b']).toBe('yes');
    }
    const refusals = [
      ...(await h.stores.fleet.auditOf('owner:both-a', 500)),
      ...(await h.stores.fleet.auditOf('owner:both-b', 500)),
    ].filter((r) => r.action === 'hold.refused');
    // They did meet: one waited for the other's budget at least once.
    expect(refusals.length).toBeGreaterThan(0);
  }, 600_000);

  it('a freeze that starts while a wave waits for budget holds the wave: nothing acts while frozen', async () => {
    // The db budget (1) is held by someone else: the wave waits for it. Meanwhile a freeze starts.
    const db = (await h.stores.fleet.listInstances()).filter((i) => i.service === 'db').map((i) => i.id);
    const other = await h.stores.leases.acquire({
      owner: 'someone-else',
      instanceIds: [db[0]],
      nonDisruptiveServices: new Set(),
      ttlMs: 3_600_000,
      now: Date.now(),
    });
    expect(other.acquired).toBe(true);
    await h.plannedChange('frozen-wait', {
      target: { instanceIds: [db[1]] },
      action: { type: 'set-tag', tags: { 'frozen-wait': '1' } },
    });
    let freezeId = '';
    let frozen = false;
    let checksWhileFrozen = 0;
    let appliedWhileFrozen = false;
    try {
      await h.runChange('frozen-wait', {
        wrap: (state, call) => async (input) => {
          if (state === 'Apply the action' && frozen) appliedWhileFrozen = true;
          if (state === 'Check freeze and time window' && frozen && ++checksWhileFrozen === 2) {
            await h.stores.fleet.endFreeze(freezeId, new Date().toISOString());
            frozen = false;
          }
          const out = (await call(input)) as { acquired?: boolean };
          if (state === 'Lease the wave' && out.acquired === false && !freezeId) {
            const now = Date.now();
            freezeId = (
              await h.stores.fleet.putFreeze({
                scope: 'account',
                start: new Date(now - 1000).toISOString(),
                end: new Date(now + 3_600_000).toISOString(),
                reason: 'incident review',
                createdBy: 'test',
              })
            ).id;
            frozen = true;
            await h.stores.leases.releaseAll('someone-else');
          }
          return out;
        },
      }).result;
    } finally {
      if (frozen) await h.stores.fleet.endFreeze(freezeId, new Date().toISOString());
      await h.stores.leases.releaseAll('someone-else');
    }
    expect(freezeId).not.toBe('');
    expect(appliedWhileFrozen).toBe(false);
    expect(checksWhileFrozen).toBe(2);
    expect((await h.changes().get('frozen-wait'))?.status).toBe('completed');
  });

  it('an active freeze holds a change until it ends; an emergency change goes through, recorded', async () => {
    const now = Date.now();
    const freeze = await h.stores.fleet.putFreeze({
      scope: 'account',
      start: new Date(now - 60_000).toISOString(),
      end: new Date(now + 3_600_000).toISOString(),
      reason: 'peak sales',
      createdBy: 'test',
    });
    const few = (await h.stores.fleet.listInstances())
      .filter((i) => i.service === 'web')
      .slice(0, 4)
      .map((i) => i.id);
    await h.plannedChange('frozen-1', {
      target: { instanceIds: few },
      action: { type: 'set-tag', tags: { frozen: '1' } },
    });
    let checks = 0;
    let appliedWhileFrozen = false;
    let ended = false;
    await h.runChange('frozen-1', {
      wrap: (state, call) => async (input) => {
        if (state === 'Apply the action' && !ended) appliedWhileFrozen = true;
        if (state === 'Check freeze and time window' && ++checks === 3) {
          await h.stores.fleet.endFreeze(freeze.id, new Date().toISOString());
          ended = true;
        }
        return call(input);
      },
    }).result;
    expect(appliedWhileFrozen).toBe(false);
    const audit = await h.stores.fleet.auditOf('change:frozen-1', 500);
    expect(audit.filter((r) => r.action === 'freeze.blocked').length).toBe(2);
    expect((await h.changes().get('frozen-1'))?.status).toBe('completed');

    const again = await h.stores.fleet.putFreeze({
      scope: 'account',
      start: new Date(Date.now() - 60_000).toISOString(),
      end: new Date(Date.now() + 3_600_000).toISOString(),
      reason: 'peak sales',
      createdBy: 'test',
    });
    try {
      await h.plannedChange('frozen-2', {
        target: { instanceIds: few },
        action: { type: 'set-tag', tags: { frozen: '2' } },
        emergency: { reason: 'CVE-2026-1234 is being exploited' },
      });
      await h.runChange('frozen-2').result;
      const overrides = (await h.stores.fleet.auditOf('change:frozen-2', 500)).filter(
        (r) => r.action === 'freeze.overridden',
      );
      expect(overrides.length).toBeGreaterThan(0);
      expect(overrides[0].reason).toMatch(/CVE-2026-1234/);
    } finally {
      await h.stores.fleet.endFreeze(again.id, new Date().toISOString());
    }
  });
});
