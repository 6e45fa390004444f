import { DescribeInstancesCommand, StartInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { queryAll } from '../../functions/adapters/dynamo-client';
import { rolloutHarness } from '../support/rollout-harness';

describe('rollout state machine (the real ASL, the real handler, moto)', () => {
  const h = rolloutHarness('eu-north-1');
  const { ec2, plannedChange, withApproval, decide, sync } = h;
  const runChange = (id: string, wrap?: ReturnType<typeof h.withApproval>) => h.runChange(id, { wrap });

  it('rolls a change over 99 instances in three zones: every instance once, budgets kept, all released', async () => {
    const { plan, instances } = await plannedChange('tag-v2', {
      action: { type: 'set-tag', tags: { 'app-version': '2' } },
    });
    const execution = runChange('tag-v2');
    const entered: string[] = [];
    const logs = (async () => {
      for await (const event of execution.eventLogs)
        if (event.type === 'StateEntered') entered.push(event.state.name);
    })();
    await execution.result;
    await logs;

    // Every instance changed exactly once, by this change.
    const actions = await queryAll(h.stores.db, h.stores.table, {
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :c',
      ExpressionAttributeValues: { ':c': 'CHANGE#tag-v2' },
    });
    expect(actions.map((a) => a.instanceId).sort()).toEqual(plan.waves.flatMap((w) => w.instances).sort());
    expect(actions).toHaveLength(instances.length);
    const described = await ec2.send(
      new DescribeInstancesCommand({ InstanceIds: plan.waves.flatMap((w) => w.instances) }),
    );
    for (const r of described.Reservations ?? []) {
      for (const i of r.Instances ?? []) expect(i.Tags).toContainEqual({ Key: 'app-version', Value: '2' });
    }
    // Budgets are back, no lease is left, the change is complete.
    expect(await h.stores.leases.activeLeases(Date.now())).toEqual([]);
    for (const service of ['web', 'api', 'db']) expect((await h.stores.leases.ledger(service))?.used).toBe(0);
    expect((await h.changes().get('tag-v2'))?.status).toBe('completed');
    // State transitions grow with waves, not instances: 14 states per wave (when nothing has to
    // wait for a window, a budget or a slow action), plus 5 (the choices that tell a rollout from a rollback).
    expect(entered.filter((s) => s === 'Apply the action')).toHaveLength(plan.waves.length);
    expect(entered.length).toBe(14 * plan.waves.length + 5);
  });

  it('waits for a person after the canary, holding nothing, then goes on when approved', async () => {
    const { plan } = await plannedChange('tag-v3', {
      action: { type: 'set-tag', tags: { 'app-version': '3' } },
      risk: 'medium',
    });
    expect(plan.waves[0].approvalAfter).toBe('canary');
    const changes = h.changes();
    let heldWhileWaiting = -1;
    const wrap = withApproval('tag-v3', 'approve', 'canary looks fine', {
      whileWaiting: async () => {
        expect((await changes.get('tag-v3'))?.status).toBe('waiting-approval');
        heldWhileWaiting = (await h.stores.leases.activeLeases(Date.now())).filter(
          (l) => l.owner === 'tag-v3',
        ).length;
      },
    });
    const execution = runChange('tag-v3', wrap);
    await execution.result;
    expect(h.answeredToken).toBe('token-tag-v3');
    expect(heldWhileWaiting).toBe(0);
    expect((await changes.get('tag-v3'))?.status).toBe('completed');
    const actions = (await h.stores.fleet.auditOf('change:tag-v3', 200)).map((r) => r.action);
    expect(actions).toContain('approval.requested');
    expect(actions).toContain('approval.granted');
    // A second decision finds nothing to answer.
    expect(await decide('tag-v3', 'approve', 'again')).toBeUndefined();
  });

  it('ends a rejected change cleanly at the approval point', async () => {
    await plannedChange('tag-v4', {
      action: { type: 'set-tag', tags: { 'app-version': '4' } },
      risk: 'medium',
    });
    const changes = h.changes();
    const execution = runChange('tag-v4', withApproval('tag-v4', 'reject', 'latency looks off'));
    await expect(execution.result).rejects.toThrow(/ChangeRejected|rejected/i);
    expect((await changes.get('tag-v4'))?.status).toBe('failed');
    expect((await h.stores.fleet.auditOf('change:tag-v4', 200)).map((r) => r.action)).toContain(
      'approval.rejected',
    );
    expect((await h.stores.leases.activeLeases(Date.now())).filter((l) => l.owner === 'tag-v4')).toEqual([]);
  });

  it('pauses on a failed gate when the spec says so, and goes on when a person approves', async () => {
    await plannedChange('reboot-pause', {
      action: { type: 'reboot' },
      gates: { errorThreshold: 0, onFailure: 'pause' },
    });
    const changes = h.changes();
    let broke = '';
    let pausedFor = '';
    const wrap = withApproval('reboot-pause', 'approve', 'bad host repaired', {
      before: async (state) => {
        if (state !== 'Health gate' || broke) return;
        // Break web's canary: web has room in its budget for one instance down.
        const inventory = new Map((await h.stores.fleet.listInstances()).map((i) => [i.id, i.service]));
        broke = (await changes.loadPlan('reboot-pause')).waves[0].instances.find(
          (id) => inventory.get(id) === 'web',
        )!;
        await ec2.send(new StopInstancesCommand({ InstanceIds: [broke] }));
      },
      whileWaiting: async () => {
        pausedFor = (await changes.get('reboot-pause'))?.status ?? '';
        // The person repairs the host (the next sync sees it) and lets the rollout go on.
        await ec2.send(new StartInstancesCommand({ InstanceIds: [broke] }));
        await sync();
      },
    });
    const execution = runChange('reboot-pause', wrap);
    await execution.result;
    expect(pausedFor).toBe('waiting-approval');
    expect((await changes.get('reboot-pause'))?.status).toBe('completed');
    const audit = await h.stores.fleet.auditOf('change:reboot-pause', 300);
    expect(audit.find((r) => r.action === 'approval.requested')?.reason).toMatch(
      /failed its health gate and the spec says pause/,
    );
    // 30 s alone; a reboot of 99 instances with a pause and a repair, behind a moto server that has
    // served every file before it on this worker: more than the 120 s default late in a full run.
  }, 300_000);

  it('fails the gate when the canary judge sees latency regress on the wave, and records why', async () => {
    const { plan } = await plannedChange('reboot-slow', {
      action: { type: 'reboot' },
      gates: {
        metrics: [
          { name: 'Latency', namespace: 'App', statistic: 'Average', direction: 'increase', critical: true },
        ],
      },
    });
    // Metrics per instance over the last minutes: the canary's instances answer 50% slower.
    const canary = new Set(plan.waves[0].instances);
    await h.putLatency(
      plan.waves.flatMap((w) => w.instances),
      (id) => (canary.has(id) ? 150 : 100),
    );
    // A reboot leaves nothing to undo: the change fails, saying so.
    await expect(runChange('reboot-slow').result).rejects.toThrow(/ChangeFailed|not rolled back/);
    const failed = (await h.stores.fleet.auditOf('change:reboot-slow', 200)).find(
      (r) => r.action === 'gate.failed',
    );
    expect(failed?.reason).toMatch(/judge: fail .*critical metric Latency: higher by/);
    expect((await h.changes().get('reboot-slow'))?.status).toBe('failed');
    expect((await h.stores.leases.activeLeases(Date.now())).filter((l) => l.owner === 'reboot-slow')).toEqual(
      [],
    );
  });

  it('bakes longer when there are too few samples to judge, then asks a person', async () => {
    await plannedChange('reboot-quiet', {
      action: { type: 'reboot' },
      gates: { metrics: [{ name: 'Requests', namespace: 'Quiet', statistic: 'Sum', direction: 'decrease' }] },
    });
    const changes = h.changes();
    let gates = 0;
    let asked = '';
    const wrap = withApproval('reboot-quiet', 'reject', 'no traffic to judge by', {
      before: async (state) => {
        if (state === 'Health gate') gates++;
      },
      whileWaiting: async () => {
        asked = (await h.stores.fleet.auditOf('change:reboot-quiet', 50)).find(
          (r) => r.action === 'approval.requested',
        )!.reason;
      },
    });
    await expect(runChange('reboot-quiet', wrap).result).rejects.toThrow();
    // No samples at all: the first gate and three extensions are inconclusive, then a person decides.
    expect(gates).toBe(4);
    expect(asked).toBe(
      'approval needed before wave 1: wave 0 could not be judged, even after longer bakes; approving goes on with wave 1',
    );
    const actions = (await h.stores.fleet.auditOf('change:reboot-quiet', 200)).map((r) => r.action);
    expect(actions.filter((a) => a === 'gate.inconclusive')).toHaveLength(4);
    expect((await changes.get('reboot-quiet'))?.status).toBe('failed');
  });

  it('fails the gate when an instance of a wave breaks, releases the wave and records why', async () => {
    await plannedChange('reboot-bad', { action: { type: 'reboot' }, gates: { errorThreshold: 0 } });
    let broke = '';
    const wrap = (state: string, call: (input: unknown) => Promise<unknown>) => async (input: unknown) => {
      // The first wave's instances are rebooted; one of them does not come back.
      if (state === 'Health gate' && !broke) {
        const plan = await h.changes().loadPlan('reboot-bad');
        broke = plan.waves[0].instances[0];
        await ec2.send(new StopInstancesCommand({ InstanceIds: [broke] }));
      }
      return call(input);
    };
    const execution = runChange('reboot-bad', wrap);
    await expect(execution.result).rejects.toThrow();
    const record = await h.changes().get('reboot-bad');
    expect(record?.status).toBe('failed');
    const audit = await h.stores.fleet.auditOf('change:reboot-bad');
    expect(audit.map((r) => r.action)).toContain('gate.failed');
    expect(audit.find((r) => r.action === 'gate.failed')?.reason).toContain(broke);
    // The wave's leases were released; the broken instance keeps counting against its budget.
    expect((await h.stores.leases.activeLeases(Date.now())).filter((l) => l.owner === 'reboot-bad')).toEqual(
      [],
    );
    const service = (await h.stores.fleet.listInstances()).find((i) => i.id === broke)!.service;
    expect((await h.stores.leases.ledger(service))?.observed).toBe(1);
  });
});
