import { StopInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import {
  type ApprovalAnswers,
  decideApproval,
  type RolloutPorts,
} from '../../functions/core/change/rollout/rollout';
import type { InstanceCondition } from '../../functions/core/fleet/fleet';
import { rolloutHarness } from '../support/rollout-harness';

/**
 * The rollouts that used to break, through the real ASL with the real handler against moto:
 * the last wave failing or not judged under `pause`, a metrics gate in the last wave, an instance
 * gone after planning, status checks still initializing, approvals answered across crashes, and
 * what the rollout tells people.
 */
describe('rollout: the last wave, the instance that left, checks not concluded, approvals', () => {
  const h = rolloutHarness('eu-west-2');
  const latency = [
    { name: 'Latency', namespace: 'App', statistic: 'Average', direction: 'increase', critical: true },
  ];

  /** `n` web instances of one zone, in id order (the planner's order within a zone). */
  async function webInZone(zone: number, n: number): Promise<string[]> {
    return (await h.stores.fleet.listInstances())
      .filter((i) => i.service === 'web' && i.zone === h.zones[zone] && i.state === 'running')
      .map((i) => i.id)
      .sort()
      .slice(0, n);
  }

  const statusOf = async (id: string) => (await h.changes().get(id))?.status;
  const auditOf = async (id: string) => h.stores.fleet.auditOf(`change:${id}`, 500);

  it('a last wave that fails its gate under pause waits for a person; approving ends the change completed, saying so', async () => {
    await h.notices();
    const ids = await webInZone(0, 3);
    const { plan } = await h.plannedChange('last-pause', {
      target: { instanceIds: ids },
      action: { type: 'reboot' },
      gates: { errorThreshold: 0, onFailure: 'pause' },
    });
    const last = plan.waves.at(-1)!;
    let broke = '';
    let waitedAfterLast = false;
    const wrap = h.withApproval('last-pause', 'approve', 'the host was repaired; accept the wave', {
      before: async (state) => {
        if (state !== 'Health gate' || broke) return;
        const records = await h.changes().waveRecords('last-pause', last.index);
        if (!records.some((r) => r.part.startsWith('apply#'))) return;
        broke = last.instances[0];
        await h.ec2.send(new StopInstancesCommand({ InstanceIds: [broke] }));
      },
      whileWaiting: async () => {
        waitedAfterLast =
          (await h.changes().get('last-pause'))?.statusReason?.includes('after the last wave') ?? false;
      },
    });
    const result = await h.runChange('last-pause', { wrap }).result;
    expect(result).toBeDefined();
    expect(broke).not.toBe('');
    expect(waitedAfterLast).toBe(true);
    const record = await h.changes().get('last-pause');
    expect(record?.status).toBe('completed');
    expect(record?.statusReason).toMatch(
      new RegExp(`accepted wave ${last.index} after a failed or unjudged gate`),
    );
    expect(await h.leasesOf('last-pause')).toEqual([]);

    // What people were told: the failed gate with its reasons, the approval with the command, the end.
    const notices = await h.notices();
    const subjects = notices.map((n) => n.subject);
    expect(subjects).toContain(`FleetOps: last-pause wave ${last.index} failed its health gate`);
    const waiting = notices.find((n) => n.subject === 'FleetOps: last-pause waits for approval');
    expect(waiting?.message).toContain('fleetops change approve last-pause --reason');
    expect(waiting?.message).toMatch(new RegExp(`gate: wave ${last.index}: 1 of \\d+ unhealthy`));
    expect(subjects).toContain('FleetOps: last-pause completed');
  });

  it('a last wave that fails under pause and is rejected ends failed, holding nothing', async () => {
    const ids = await webInZone(1, 2);
    const { plan } = await h.plannedChange('last-reject', {
      target: { instanceIds: ids },
      action: { type: 'reboot' },
      gates: { errorThreshold: 0, onFailure: 'pause' },
    });
    const last = plan.waves.at(-1)!;
    let broke = false;
    const wrap = h.withApproval('last-reject', 'reject', 'not worth it', {
      before: async (state) => {
        if (state !== 'Health gate' || broke) return;
        const records = await h.changes().waveRecords('last-reject', last.index);
        if (!records.some((r) => r.part.startsWith('apply#'))) return;
        broke = true;
        await h.ec2.send(new StopInstancesCommand({ InstanceIds: [last.instances[0]] }));
      },
    });
    await expect(h.runChange('last-reject', { wrap }).result).rejects.toThrow(/ChangeRejected|rejected/i);
    expect(await statusOf('last-reject')).toBe('failed');
    expect(await h.leasesOf('last-reject')).toEqual([]);
  });

  it('a last wave that cannot be judged asks a person after three longer bakes; approving completes it', async () => {
    const ids = await webInZone(2, 2);
    const { plan } = await h.plannedChange('last-unjudged', {
      target: { instanceIds: ids },
      action: { type: 'set-tag', tags: { 'app-version': 'u' } },
      // No sample is ever written for this metric: every gate is inconclusive.
      gates: { metrics: [{ ...latency[0], name: 'NeverWritten' }] },
    });
    const points: string[] = [];
    const wrap = h.withApproval('last-unjudged', 'approve', 'judged by hand', {
      before: async (state) => {
        if (state === 'Wait for approval')
          points.push(String((await h.changes().get('last-unjudged'))?.status));
      },
    });
    await h.runChange('last-unjudged', { wrap }).result;
    expect(points).toHaveLength(plan.waves.length);
    expect(await statusOf('last-unjudged')).toBe('completed');
    const inconclusive = (await auditOf('last-unjudged')).filter((r) => r.action === 'gate.inconclusive');
    expect(inconclusive).toHaveLength(4 * plan.waves.length);
  });

  it('a healthy change gated on metrics completes: the last wave is judged against the instances already changed', async () => {
    const ids = await webInZone(0, 4);
    const { plan } = await h.plannedChange('metrics-ok', {
      target: { instanceIds: ids },
      action: { type: 'set-tag', tags: { 'app-version': 'm' } },
      strategy: { canary: 2, growth: { mode: 'linear', factor: 2 } },
      gates: { metrics: latency },
    });
    expect(plan.waves.length).toBeGreaterThanOrEqual(2);
    await h.putLatency(ids, () => 100);
    await h.runChange('metrics-ok').result;
    expect(await statusOf('metrics-ok')).toBe('completed');
    const lastWave = plan.waves.at(-1)!.index;
    const passed = (await auditOf('metrics-ok')).filter((r) => r.action === 'gate.passed');
    expect(passed.find((r) => r.reason.startsWith(`wave ${lastWave}:`))?.reason).toMatch(
      /judge: pass .*against instances of the same services changed in earlier waves/,
    );
  });

  it('a regression that only the last wave brings still fails the judge (and is rolled back)', async () => {
    const ids = await webInZone(1, 4);
    const { plan } = await h.plannedChange('metrics-last-bad', {
      target: { instanceIds: ids },
      action: { type: 'set-tag', tags: { 'app-version': 'b' } },
      rollback: { action: { type: 'set-tag', tags: { 'app-version': 'a' } } },
      strategy: { canary: 2, growth: { mode: 'linear', factor: 2 } },
      gates: { metrics: latency },
    });
    const last = new Set(plan.waves.at(-1)!.instances);
    await h.putLatency(ids, (id) => (last.has(id) ? 170 : 100));
    await expect(h.runChange('metrics-last-bad').result).rejects.toMatchObject({
      cause: { name: 'ChangeRolledBack' },
    });
    expect(await statusOf('metrics-last-bad')).toBe('rolled-back');
    const failed = (await auditOf('metrics-last-bad')).find((r) => r.action === 'gate.failed');
    expect(failed?.reason).toMatch(
      /judge: fail .*against instances of the same services changed in earlier waves/,
    );
  });

  it('an instance terminated after planning is skipped with its reason; the rest of the wave goes on and the change completes', async () => {
    const ids = await webInZone(2, 4);
    const { plan } = await h.plannedChange('scale-in', {
      target: { instanceIds: ids },
      action: { type: 'reboot' },
    });
    // Auto Scaling scales in during the change: one instance of the last wave goes away,
    // and the sweep sees it before the wave (another is terminated after its lease: no sweep).
    const last = plan.waves.at(-1)!;
    const gone = last.instances[0];
    await h.ec2.send(new TerminateInstancesCommand({ InstanceIds: [gone] }));
    await h.sync();
    await h.runChange('scale-in').result;
    expect(await statusOf('scale-in')).toBe('completed');
    const skipped = (await h.changes().waveRecords('scale-in', last.index)).filter((r) =>
      r.part.startsWith('skipped#'),
    );
    expect(skipped.flatMap((r) => r.body.instances as unknown[])).toEqual([
      { id: gone, reason: 'terminated' },
    ]);
    expect((await auditOf('scale-in')).map((r) => r.action)).toContain('wave.skipped');
    const actions = await h.stores.leases.actionsOf('scale-in');
    expect(actions.map((a) => a.instanceId).sort()).toEqual(ids.filter((id) => id !== gone).sort());
  });

  it('an instance terminated after its lease, before the action, is skipped too (EC2 would refuse the whole batch)', async () => {
    const ids = (await webInZone(0, 8)).slice(4, 7);
    const { plan } = await h.plannedChange('gone-before-apply', {
      target: { instanceIds: ids },
      action: { type: 'reboot' },
    });
    const last = plan.waves.at(-1)!;
    let gone = '';
    await h.runChange('gone-before-apply', {
      wrap: (state, call) => async (input) => {
        const wave = (input as { state?: { wave?: number } }).state?.wave;
        if (state === 'Apply the action' && wave === last.index && !gone) {
          gone = last.instances[0];
          await h.ec2.send(new TerminateInstancesCommand({ InstanceIds: [gone] }));
        }
        return call(input);
      },
    }).result;
    expect(await statusOf('gone-before-apply')).toBe('completed');
    const skipped = (await h.changes().waveRecords('gone-before-apply', last.index)).filter((r) =>
      r.part.startsWith('skipped#'),
    );
    expect(skipped.flatMap((r) => r.body.instances as Array<{ id: string }>).map((s) => s.id)).toEqual([
      gone,
    ]);
    expect(await h.leasesOf('gone-before-apply')).toEqual([]);
  });

  it('status checks still initializing make the gate wait (recorded) instead of passing; it passes once they are ok', async () => {
    const ids = (await webInZone(1, 8)).slice(4, 6);
    await h.plannedChange('checks-init', {
      target: { instanceIds: ids },
      action: { type: 'reboot' },
    });
    // moto reports `ok` at once; EC2 reports `initializing` for minutes after a reboot. The
    // narrow fault model: the first instance's checks are still initializing at the first two
    // gates (settle has given up waiting for them: a long initialization).
    let gates = 0;
    let inGate = false;
    const ports: RolloutPorts = {
      ...h.ports,
      ec2: {
        ...h.ports.ec2,
        // The adapter is a class: a spread drops its methods, so each one used is passed on by name.
        consoleOutputAt: (i) => h.ports.ec2.consoleOutputAt(i),
        reboot: (i) => h.ports.ec2.reboot(i),
        stop: (i) => h.ports.ec2.stop(i),
        start: (i) => h.ports.ec2.start(i),
        setTags: (i, t) => h.ports.ec2.setTags(i, t),
        conditions: async (i) => {
          const real = await h.ports.ec2.conditions(i);
          const out = new Map<string, InstanceCondition>(real);
          if (inGate && gates <= 2 && i.includes(ids[0]))
            out.set(ids[0], { state: 'running', health: 'initializing' });
          return out;
        },
      },
    };
    await h.runChange('checks-init', {
      handler: (event) => h.stepWith(ports, event),
      wrap: (state, call) => async (input) => {
        inGate = state === 'Health gate';
        if (inGate) gates++;
        try {
          return await call(input);
        } finally {
          inGate = false;
        }
      },
    }).result;
    expect(await statusOf('checks-init')).toBe('completed');
    const waited = (await auditOf('checks-init')).filter((r) => r.action === 'gate.inconclusive');
    expect(waited.length).toBeGreaterThanOrEqual(1);
    expect(waited[0].reason).toMatch(/status checks not concluded yet/);
  });

  it('an action that outlasts its own limit goes to the gate, which names what did not finish; the leases outlived every wait', async () => {
    const ids = (await webInZone(0, 10)).slice(8, 10);
    await h.plannedChange('ssm-forever', {
      target: { instanceIds: ids },
      action: {
        type: 'ssm-command',
        document: 'AWS-RunShellScript',
        parameters: { commands: ['sleep 999999'] },
        timeoutSeconds: 7200,
      },
      strategy: { canary: 2 },
    });
    // The command never ends (moto ends every command at once: a narrow fault model), and each
    // look comes as late as the settle step asked: the clock moves by the wait it returned.
    let offset = 0;
    let untilSeen = 0;
    const ports: RolloutPorts = {
      ...h.ports,
      now: () => Date.now() + offset,
      ssm: {
        send: (i, c) => h.ports.ssm.send(i, c),
        failedInstances: (c) => h.ports.ssm.failedInstances(c),
        states: async (c) => new Map(c.map((id) => [id, 'pending' as const])),
      },
    };
    const waits: number[] = [];
    await h
      .runChange('ssm-forever', {
        handler: async (event) => {
          const out = (await h.stepWith(ports, event)) as { waitSeconds?: number; expired?: boolean };
          if ((event as { step?: string }).step === 'settle') {
            waits.push(out.waitSeconds ?? 0);
            const held = await h.stores.leases.heldBy('ssm-forever', ids, Date.now() + offset);
            expect(held).toHaveLength(ids.length);
            untilSeen = Math.max(untilSeen, ...held.map((l) => l.until));
            offset += (out.waitSeconds ?? 0) * 1000;
          }
          return out;
        },
      })
      .result.catch(() => undefined);
    // 2 h + 10 min of delivery: looks after 30 s, 60 s, 120 s, 240 s, then every 5 min until the
    // limit — far past the wave's first lease (45 min), which every look renewed.
    expect(waits[0]).toBe(30);
    expect(Math.max(...waits)).toBe(300);
    expect(waits.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(7200);
    expect(waits.length).toBeLessThan(40);
    expect(untilSeen).toBeGreaterThan(Date.now() + offset - 60_000);
    const failed = (await auditOf('ssm-forever')).find((r) => r.action === 'gate.failed');
    expect(failed?.reason).toMatch(/command still running after the bake/);
  });

  it('an approval answered across crashes is answered exactly once, and a different answer meanwhile is refused', async () => {
    const ids = (await webInZone(2, 8)).slice(4, 6);
    await h.plannedChange('approve-crash', {
      target: { instanceIds: ids },
      action: { type: 'set-tag', tags: { 'app-version': 'c' } },
      risk: 'medium',
    });
    const changes = h.changes();
    let sends = 0;
    let resolveWait!: (v: unknown) => void;
    /** The task token as Step Functions keeps it: answered once, closed after. */
    const answers = (crash?: 'before-send' | 'after-send'): ApprovalAnswers => ({
      succeed: async () => {
        if (crash === 'before-send') throw new Error('network: SendTaskSuccess never left');
        if (sends > 0) return 'closed';
        sends++;
        resolveWait({ approvedBy: 'alice' });
        if (crash === 'after-send') throw new Error('the CLI died after SendTaskSuccess');
        return 'sent';
      },
      fail: async () => {
        throw new Error('not expected');
      },
    });
    const decide = (a: ApprovalAnswers, decision: 'approve' | 'reject' = 'approve') =>
      decideApproval(
        { changes, fleet: h.stores.fleet, now: Date.now, answers: a },
        'approve-crash',
        decision,
        'alice',
        'ok',
      );
    const outcomes: unknown[] = [];
    await h.runChange('approve-crash', {
      wrap: (state, call) => async (input) => {
        if (state !== 'Wait for approval') return call(input);
        await call((input as { Payload: unknown }).Payload);
        const answered = new Promise((r) => {
          resolveWait = r;
        });
        // 1. The answer never left: nothing was consumed, a retry can still answer.
        await expect(decide(answers('before-send'))).rejects.toThrow(/never left/);
        // 2. Meanwhile a different answer is refused (the first one is under way).
        outcomes.push(await decide(answers(), 'reject'));
        // 3. The answer got through, the command died before recording it.
        await expect(decide(answers('after-send'))).rejects.toThrow(/died/);
        // 4. Retried: Step Functions says the task is closed; it is recorded, once.
        outcomes.push(await decide(answers()));
        return answered;
      },
    }).result;
    expect(sends).toBe(1);
    expect(outcomes[0]).toBeUndefined();
    expect(outcomes[1]).toMatchObject({ answer: 'closed' });
    expect(await statusOf('approve-crash')).toBe('completed');
    const granted = (await auditOf('approve-crash')).filter((r) => r.action === 'approval.granted');
    expect(granted).toHaveLength(1);
  });
});
