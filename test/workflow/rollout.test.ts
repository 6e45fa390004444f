import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  DescribeInstancesCommand,
  EC2Client,
  StartInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { StateMachine } from 'aws-local-stepfunctions';
import { DynamoChangeStore } from '../../functions/adapters/dynamo-change-store';
import { queryAll } from '../../functions/adapters/dynamo-client';
import { Ec2FleetInventory } from '../../functions/adapters/ec2-inventory';
import { changeSpecSchema } from '../../functions/core/change-spec';
import { planViolations } from '../../functions/core/plan-check';
import { planChange } from '../../functions/core/planner';
import { decideApproval } from '../../functions/core/rollout';
import { serviceCatalog } from '../../functions/core/services';
import { syncInventory } from '../../functions/core/sync-inventory';
import { freshTable, managedTags, runInstances } from '../support/aws';
import { bindTasks, loadDefinition, noWaits } from '../support/local-sfn';

const REGION = 'eu-north-1';
const ZONES = ['eu-north-1a', 'eu-north-1b', 'eu-north-1c'];
const definition = loadDefinition('state-machines/rollout.asl.json', {
  RolloutStepFunctionArn: 'arn:aws:lambda:eu-north-1:123456789012:function:fleetops-rollout-step',
});

describe('rollout state machine (the real ASL, the real handler, moto)', () => {
  const saved = { ...process.env };
  const ec2 = new EC2Client({ region: REGION });
  let stores: Awaited<ReturnType<typeof freshTable>>;
  let handler: (event: unknown, context: import('aws-lambda').Context) => Promise<unknown>;

  beforeAll(async () => {
    process.env.AWS_REGION = REGION;
    stores = await freshTable();
    for (const [k, service] of ['web', 'api', 'db'].entries()) {
      for (const zone of ZONES) {
        await runInstances(ec2, k === 0 ? 17 : 8, zone, managedTags(service));
      }
    }
    await stores.fleet.putServices(
      {
        services: {
          web: { maxUnavailable: { kind: 'percent', value: 10 }, impact: {} },
          api: {
            maxUnavailable: { kind: 'count', value: 3 },
            maxUnavailablePerZone: { kind: 'count', value: 1 },
            impact: {},
          },
          db: { maxUnavailable: { kind: 'count', value: 1 }, impact: {} },
        },
      },
      'test',
      0,
    );
    await sync();
    process.env.TABLE_NAME = stores.table;
    process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
    jest.resetModules();
    ({ handler } = await import('../../functions/handlers/rollout-step'));
  });
  afterAll(() => {
    process.env = saved;
  });
  // Tests that break an instance repair it, and the next sync brings the table and the ledgers back.
  afterEach(async () => {
    const described = await ec2.send(new DescribeInstancesCommand({}));
    const stopped = (described.Reservations ?? [])
      .flatMap((r) => r.Instances ?? [])
      .filter((i) => i.State?.Name === 'stopped')
      .map((i) => i.InstanceId!);
    if (stopped.length > 0) await ec2.send(new StartInstancesCommand({ InstanceIds: stopped }));
    await sync();
  });

  /** Inventory sync from the emulator's EC2: the table and the ledgers follow the fleet. */
  const sync = () =>
    syncInventory({
      ec2: new Ec2FleetInventory(ec2),
      store: stores.fleet,
      leases: stores.leases,
      now: Date.now(),
      actor: 'test',
    });

  /** What a person does with `fleetops change approve|reject`: takes the kept token, records the decision. */
  let answeredToken: string | undefined;
  async function decide(changeId: string, decision: 'approve' | 'reject', reason: string) {
    const changes = new DynamoChangeStore(stores.db, stores.table);
    return decideApproval(
      { changes, fleet: stores.fleet, now: Date.now },
      changeId,
      decision,
      'alice',
      reason,
    );
  }

  /**
   * Task bindings for a change that reaches an approval point: the step function keeps the task
   * token (as Lambda would, from the Payload), a person decides, and the waiting task ends as
   * SendTaskSuccess, or SendTaskFailure(error: Rejected), would end it. `before` sees every
   * Task state first; `whileWaiting` runs while the execution waits.
   */
  function withApproval(
    changeId: string,
    decision: 'approve' | 'reject',
    reason: string,
    hooks: { before?: (state: string) => Promise<void>; whileWaiting?: () => Promise<void> } = {},
  ) {
    return (state: string, call: (input: unknown) => Promise<unknown>) => async (input: unknown) => {
      await hooks.before?.(state);
      if (state !== 'Wait for approval') return call(input);
      await call((input as { Payload: unknown }).Payload);
      await hooks.whileWaiting?.();
      answeredToken = (await decide(changeId, decision, reason))?.token;
      if (decision === 'reject') throw Object.assign(new Error(reason), { name: 'Rejected' });
      return { approvedBy: 'alice' };
    };
  }

  /** Runs a stored change through the ASL, every Task bound to the real handler (optionally wrapped). */
  function runChange(changeId: string, wrap?: Parameters<typeof bindTasks>[2]) {
    return new StateMachine(definition as never).run(
      { changeId },
      {
        overrides: {
          taskResourceLocalHandlers: bindTasks(definition, handler, wrap),
          waitTimeOverrides: noWaits(definition),
        },
        context: { Task: { Token: `token-${changeId}` } },
      },
    );
  }

  async function plannedChange(id: string, fields: Record<string, unknown>) {
    const spec = changeSpecSchema.parse({
      id,
      description: id,
      target: { services: ['web', 'api', 'db'] },
      risk: 'low',
      ...fields,
    });
    const instances = await stores.fleet.listInstances();
    const catalog = serviceCatalog(await stores.fleet.getServices());
    const plan = planChange({ instances, catalog, spec });
    expect(planViolations(plan, { instances, catalog, spec })).toEqual([]);
    await new DynamoChangeStore(stores.db, stores.table).save(spec, plan, 'test', Date.now());
    return { spec, plan, instances };
  }

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
    const actions = await queryAll(stores.db, stores.table, {
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
    expect(await stores.leases.activeLeases(Date.now())).toEqual([]);
    for (const service of ['web', 'api', 'db']) expect((await stores.leases.ledger(service))?.used).toBe(0);
    expect((await new DynamoChangeStore(stores.db, stores.table).get('tag-v2'))?.status).toBe('completed');
    // State transitions grow with waves, not instances: 14 states per wave (when nothing has to
    // wait for a window, a budget or a slow action), plus 3.
    expect(entered.filter((s) => s === 'Apply the action')).toHaveLength(plan.waves.length);
    expect(entered.length).toBe(14 * plan.waves.length + 3);
  });

  it('waits for a person after the canary, holding nothing, then goes on when approved', async () => {
    const { plan } = await plannedChange('tag-v3', {
      action: { type: 'set-tag', tags: { 'app-version': '3' } },
      risk: 'medium',
    });
    expect(plan.waves[0].approvalAfter).toBe('canary');
    const changes = new DynamoChangeStore(stores.db, stores.table);
    let heldWhileWaiting = -1;
    const wrap = withApproval('tag-v3', 'approve', 'canary looks fine', {
      whileWaiting: async () => {
        expect((await changes.get('tag-v3'))?.status).toBe('waiting-approval');
        heldWhileWaiting = (await stores.leases.activeLeases(Date.now())).filter(
          (l) => l.owner === 'tag-v3',
        ).length;
      },
    });
    const execution = runChange('tag-v3', wrap);
    await execution.result;
    expect(answeredToken).toBe('token-tag-v3');
    expect(heldWhileWaiting).toBe(0);
    expect((await changes.get('tag-v3'))?.status).toBe('completed');
    const actions = (await stores.fleet.auditOf('change:tag-v3', 200)).map((r) => r.action);
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
    const changes = new DynamoChangeStore(stores.db, stores.table);
    const execution = runChange('tag-v4', withApproval('tag-v4', 'reject', 'latency looks off'));
    await expect(execution.result).rejects.toThrow(/ChangeRejected|rejected/i);
    expect((await changes.get('tag-v4'))?.status).toBe('failed');
    expect((await stores.fleet.auditOf('change:tag-v4', 200)).map((r) => r.action)).toContain(
      'approval.rejected',
    );
    expect((await stores.leases.activeLeases(Date.now())).filter((l) => l.owner === 'tag-v4')).toEqual([]);
  });

  it('pauses on a failed gate when the spec says so, and goes on when a person approves', async () => {
    await plannedChange('reboot-pause', {
      action: { type: 'reboot' },
      gates: { errorThreshold: 0, onFailure: 'pause' },
    });
    const changes = new DynamoChangeStore(stores.db, stores.table);
    let broke = '';
    let pausedFor = '';
    const wrap = withApproval('reboot-pause', 'approve', 'bad host repaired', {
      before: async (state) => {
        if (state !== 'Health gate' || broke) return;
        // Break web's canary: web has room in its budget for one instance down.
        const inventory = new Map((await stores.fleet.listInstances()).map((i) => [i.id, i.service]));
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
    const audit = await stores.fleet.auditOf('change:reboot-pause', 300);
    expect(audit.find((r) => r.action === 'approval.requested')?.reason).toMatch(
      /failed its health gate and the spec says pause/,
    );
  });

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
    const cloudwatch = new CloudWatchClient({ region: REGION });
    const now = Date.now();
    for (const id of plan.waves.flatMap((w) => w.instances)) {
      await cloudwatch.send(
        new PutMetricDataCommand({
          Namespace: 'App',
          MetricData: [1, 2, 3, 4, 5, 6].map((k) => ({
            MetricName: 'Latency',
            Dimensions: [{ Name: 'InstanceId', Value: id }],
            Timestamp: new Date(now - k * 60_000),
            Value: (canary.has(id) ? 150 : 100) + ((k * 7 + id.charCodeAt(id.length - 1)) % 10),
          })),
        }),
      );
    }
    await expect(runChange('reboot-slow').result).rejects.toThrow();
    const failed = (await stores.fleet.auditOf('change:reboot-slow', 200)).find(
      (r) => r.action === 'gate.failed',
    );
    expect(failed?.reason).toMatch(/judge: fail .*critical metric Latency: higher by/);
    expect((await new DynamoChangeStore(stores.db, stores.table).get('reboot-slow'))?.status).toBe('failed');
    expect((await stores.leases.activeLeases(Date.now())).filter((l) => l.owner === 'reboot-slow')).toEqual(
      [],
    );
  });

  it('bakes longer when there are too few samples to judge, then asks a person', async () => {
    await plannedChange('reboot-quiet', {
      action: { type: 'reboot' },
      gates: { metrics: [{ name: 'Requests', namespace: 'Quiet', statistic: 'Sum', direction: 'decrease' }] },
    });
    const changes = new DynamoChangeStore(stores.db, stores.table);
    let gates = 0;
    let asked = '';
    const wrap = withApproval('reboot-quiet', 'reject', 'no traffic to judge by', {
      before: async (state) => {
        if (state === 'Health gate') gates++;
      },
      whileWaiting: async () => {
        asked = (await stores.fleet.auditOf('change:reboot-quiet', 50)).find(
          (r) => r.action === 'approval.requested',
        )!.reason;
      },
    });
    await expect(runChange('reboot-quiet', wrap).result).rejects.toThrow();
    // No samples at all: the first gate and three extensions are inconclusive, then a person decides.
    expect(gates).toBe(4);
    expect(asked).toBe(
      'approval needed before wave 1: wave 0 could not be judged: too few samples, even after longer bakes',
    );
    const actions = (await stores.fleet.auditOf('change:reboot-quiet', 200)).map((r) => r.action);
    expect(actions.filter((a) => a === 'gate.inconclusive')).toHaveLength(4);
    expect((await changes.get('reboot-quiet'))?.status).toBe('failed');
  });

  it('fails the gate when an instance of a wave breaks, releases the wave and records why', async () => {
    await plannedChange('reboot-bad', { action: { type: 'reboot' }, gates: { errorThreshold: 0 } });
    let broke = '';
    const wrap = (state: string, call: (input: unknown) => Promise<unknown>) => async (input: unknown) => {
      // The first wave's instances are rebooted; one of them does not come back.
      if (state === 'Health gate' && !broke) {
        const plan = await new DynamoChangeStore(stores.db, stores.table).loadPlan('reboot-bad');
        broke = plan.waves[0].instances[0];
        await ec2.send(new StopInstancesCommand({ InstanceIds: [broke] }));
      }
      return call(input);
    };
    const execution = runChange('reboot-bad', wrap);
    await expect(execution.result).rejects.toThrow();
    const record = await new DynamoChangeStore(stores.db, stores.table).get('reboot-bad');
    expect(record?.status).toBe('failed');
    const audit = await stores.fleet.auditOf('change:reboot-bad');
    expect(audit.map((r) => r.action)).toContain('gate.failed');
    expect(audit.find((r) => r.action === 'gate.failed')?.reason).toContain(broke);
    // The wave's leases were released; the broken instance keeps counting against its budget.
    expect((await stores.leases.activeLeases(Date.now())).filter((l) => l.owner === 'reboot-bad')).toEqual(
      [],
    );
    const service = (await stores.fleet.listInstances()).find((i) => i.id === broke)!.service;
    expect((await stores.leases.ledger(service))?.observed).toBe(1);
  });
});
