/**
 * The rollout workflow's test harness: a fleet in moto, the real rollout handler module and its
 * ports, the real ASL run by aws-local-stepfunctions, and the helpers the rollout tests share
 * (planned changes, approvals, latency, notices, leases).
 */
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeInstancesCommand, EC2Client, StartInstancesCommand } from '@aws-sdk/client-ec2';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { fleetStores, inventoryPorts } from '../../functions/app/ports';
import { planViolations } from '../../functions/core/change/plan/plan-check';
import { planChange } from '../../functions/core/change/plan/planner';
import { decideApproval, type RolloutPorts } from '../../functions/core/change/rollout/rollout';
import { changeSpecSchema } from '../../functions/core/change/spec';
import { MANAGED_TAG, SERVICE_TAG_KEY } from '../../functions/core/defaults';
import { serviceCatalog } from '../../functions/core/fleet/services';
import { syncInventory } from '../../functions/core/fleet/sync-inventory';
import { ROLLOUT_STATES } from '../../functions/steps/state-names';
import { runTracked } from './asl-paths';
import { freshTable, managedTags, runInstances } from './aws';
import { answeredLocally, bindTasks, loadDefinition, noRetryWaits, noWaits } from './local-sfn';

export const definition = loadDefinition('state-machines/rollout.asl.json', {
  RolloutStepFunctionArn: 'arn:aws:lambda:eu-north-1:123456789012:function:fleetops-rollout-step',
});

type Handler = (event: unknown, context: Context) => Promise<unknown>;
type Wrap = Parameters<typeof bindTasks>[2];

/**
 * The rollout workflow against moto, for one test file: a fleet of 99 instances (web 51, api 24,
 * db 24 over three zones) in its own region and table, budgets, the real handler module, and
 * the real ASL run by aws-local-stepfunctions. Registers its own hooks.
 */
export function rolloutHarness(region: string) {
  const zones = ['a', 'b', 'c'].map((z) => `${region}${z}`);
  const saved = { ...process.env };
  const ec2 = new EC2Client({ region });
  const sqs = new SQSClient({ region });
  const h = {
    region,
    zones,
    ec2,
    stores: undefined as unknown as Awaited<ReturnType<typeof freshTable>>,
    handler: undefined as unknown as Handler,
    /** The handler module's ports (the same adapters the Lambda uses), for tests that wrap them. */
    ports: undefined as unknown as RolloutPorts,
    stepWith: undefined as unknown as (ports: RolloutPorts, event: unknown) => Promise<unknown>,
    changes: () => fleetStores(h.stores.db, h.stores.table).changes,
    /**
     * Inventory sync from the emulator's EC2, ELB and Auto Scaling (composed as the sweep's): the
     * table and the ledgers follow the fleet, and what an owner left out of traffic comes back.
     */
    sync: () => {
      const sweep = inventoryPorts(
        { table: h.stores.table, managedTag: MANAGED_TAG, serviceTagKey: SERVICE_TAG_KEY },
        { db: h.stores.db, ec2 },
      );
      return syncInventory({
        ec2: sweep.inventory,
        store: h.stores.fleet,
        leases: h.stores.leases,
        traffic: sweep.traffic,
        autoscaling: sweep.autoscaling,
        exits: sweep.exits,
        ec2Actions: sweep.ec2Actions,
        now: Date.now(),
        actor: 'test',
      });
    },
    /** The token the last `decide` answered. */
    answeredToken: undefined as string | undefined,
    /** What a person does with `fleetops change approve|reject`: takes the kept token, records the decision. */
    decide: (changeId: string, decision: 'approve' | 'reject', reason: string) =>
      decideApproval(
        { changes: h.changes(), fleet: h.stores.fleet, now: Date.now, answers: answeredLocally },
        changeId,
        decision,
        'alice',
        reason,
      ),
    /**
     * Task bindings for a change that reaches an approval point: the step function keeps the
     * task token (as Lambda would, from the Payload), a person decides, and the waiting task
     * ends as SendTaskSuccess, or SendTaskFailure(error: Rejected), would end it. `before` sees
     * every Task state first; `whileWaiting` runs while the execution waits.
     */
    withApproval(
      changeId: string,
      decision: 'approve' | 'reject',
      reason: string,
      hooks: { before?: (state: string) => Promise<void>; whileWaiting?: () => Promise<void> } = {},
    ): Wrap {
      return (state, call) => async (input) => {
        await hooks.before?.(state);
        if (state !== ROLLOUT_STATES.waitForApproval) return call(input);
        await call((input as { Payload: unknown }).Payload);
        await hooks.whileWaiting?.();
        h.answeredToken = (await h.decide(changeId, decision, reason))?.token;
        if (decision === 'reject') throw Object.assign(new Error(reason), { name: 'Rejected' });
        return { approvedBy: 'alice' };
      };
    },
    /** Runs a stored change through the ASL, every Task bound to the real handler (optionally wrapped). */
    runChange(
      changeId: string,
      options: {
        wrap?: Wrap;
        handler?: Handler;
        input?: Record<string, unknown>;
        waits?: Record<string, number>;
      } = {},
    ) {
      return runTracked(definition, 'rollout.asl.json', options.input ?? { changeId }, {
        overrides: {
          taskResourceLocalHandlers: bindTasks(definition, options.handler ?? h.handler, options.wrap),
          waitTimeOverrides: { ...noWaits(definition), ...options.waits },
          retryIntervalOverrides: noRetryWaits(definition),
        },
        context: { Task: { Token: `token-${changeId}` } },
      });
    },
    /** Plans a change over the fleet in the table (checked by the independent plan checker) and saves it. */
    async plannedChange(id: string, fields: Record<string, unknown>) {
      const spec = changeSpecSchema.parse({
        id,
        description: id,
        target: { services: ['web', 'api', 'db'] },
        risk: 'low',
        ...fields,
      });
      const instances = await h.stores.fleet.listInstances();
      const catalog = serviceCatalog(await h.stores.fleet.getServices());
      const plan = planChange({ instances, catalog, spec });
      expect(planViolations(plan, { instances, catalog, spec })).toEqual([]);
      await h.changes().save(spec, plan, 'test', Date.now());
      return { spec, plan, instances };
    },
    /** Writes six minutes of a per-instance metric to moto's CloudWatch. */
    async putLatency(ids: readonly string[], latencyOf: (id: string) => number) {
      const cloudwatch = new CloudWatchClient({ region });
      const now = Date.now();
      for (const id of ids) {
        await cloudwatch.send(
          new PutMetricDataCommand({
            Namespace: 'App',
            MetricData: [1, 2, 3, 4, 5, 6].map((k) => ({
              MetricName: 'Latency',
              Dimensions: [{ Name: 'InstanceId', Value: id }],
              Timestamp: new Date(now - k * 60_000),
              Value: latencyOf(id) + ((k * 7 + id.charCodeAt(id.length - 1)) % 10),
            })),
          }),
        );
      }
    },
    noticesUrl: '',
    /** What the rollout published to the topic since the last call: subject and message. */
    async notices(): Promise<Array<{ subject: string; message: string }>> {
      const out: Array<{ subject: string; message: string }> = [];
      for (;;) {
        const got = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: h.noticesUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
        );
        if (!got.Messages?.length) return out;
        for (const m of got.Messages) {
          const body = JSON.parse(m.Body ?? '{}') as { Subject?: string; Message?: string };
          out.push({ subject: body.Subject ?? '', message: body.Message ?? '' });
          await sqs.send(
            new DeleteMessageCommand({ QueueUrl: h.noticesUrl, ReceiptHandle: m.ReceiptHandle }),
          );
        }
      }
    },
    /** Another owner (a remediation, another change) holds these instances, and their budget, for an hour. */
    async holdAsAnother(ids: readonly string[], owner = 'someone-else') {
      const held = await h.stores.leases.acquire({
        owner,
        instanceIds: ids,
        nonDisruptiveServices: new Set(),
        ttlMs: 3_600_000,
        now: Date.now(),
      });
      expect(held.acquired).toBe(true);
    },
    /** Lets go of what another owner holds ({@link holdAsAnother}). */
    async letGo(owner = 'someone-else') {
      await h.stores.leases.release(owner, await h.leasesOf(owner), new Set());
    },
    /** Leases a change still holds. */
    async leasesOf(owner: string) {
      return (await h.stores.leases.activeLeases(Date.now())).filter((l) => l.owner === owner);
    },
  };

  beforeAll(async () => {
    process.env.AWS_REGION = region;
    h.stores = await freshTable();
    for (const [k, service] of ['web', 'api', 'db'].entries()) {
      for (const zone of zones) await runInstances(ec2, k === 0 ? 17 : 8, zone, managedTags(service));
    }
    await h.stores.fleet.putServices(
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
    await h.sync();
    process.env.TABLE_NAME = h.stores.table;
    // The topic the rollout publishes to, read back through a subscribed queue.
    const sns = new SNSClient({ region });
    const topicArn = (await sns.send(new CreateTopicCommand({ Name: `fleetops-${h.stores.table}` })))
      .TopicArn!;
    h.noticesUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `notices-${h.stores.table}` })))
      .QueueUrl!;
    const queueArn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: h.noticesUrl, AttributeNames: ['QueueArn'] }))
    ).Attributes!.QueueArn!;
    await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: queueArn }));
    process.env.TOPIC_ARN = topicArn;
    process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
    jest.resetModules();
    const module = await import('../../functions/handlers/rollout-step');
    h.handler = module.handler;
    h.ports = module.ports;
    h.stepWith = module.rolloutStepWith;
  });
  afterAll(() => {
    process.env = saved;
  });
  // Tests that break an instance repair it, and the next sync brings the table and the ledgers back.
  afterEach(async () => {
    const described = await ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: ['stopped'] }] }),
    );
    const stopped = (described.Reservations ?? [])
      .flatMap((r) => r.Instances ?? [])
      .filter((i) => i.State?.Name === 'stopped')
      .map((i) => i.InstanceId!);
    if (stopped.length > 0) await ec2.send(new StartInstancesCommand({ InstanceIds: stopped }));
    await h.sync();
  });
  return h;
}
