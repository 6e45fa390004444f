import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { runCli } from '../../cli/main';
import { DynamoChangeStore } from '../../functions/adapters/dynamo-change-store';
import { documentClient } from '../../functions/adapters/dynamo-client';
import { DynamoFleetStore } from '../../functions/adapters/dynamo-fleet-store';
import { DynamoLeaseStore } from '../../functions/adapters/dynamo-lease-store';
import { managedTags, runInstances } from '../support/aws';

const REGION = 'ca-central-1';
const scratch = mkdtempSync(join(tmpdir(), 'fleetops-live-'));

async function fleetops(...args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (t) => (out += t), err: (t) => (err += t), color: false });
  return { code, out, err };
}

function file(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}

describe('fleetops against a live table (moto)', () => {
  const saved = { ...process.env };
  const table = `fleetops-cli-${randomUUID().slice(0, 8)}`;
  beforeAll(async () => {
    process.env.AWS_REGION = REGION;
    process.env.FLEETOPS_TABLE = table;
    const ec2 = new EC2Client({ region: REGION });
    for (const [service, zone, count] of [
      ['web', 'ca-central-1a', 6],
      ['web', 'ca-central-1b', 6],
      ['db', 'ca-central-1a', 3],
    ] as const) {
      await runInstances(ec2, count, zone, managedTags(service));
    }
  });
  afterAll(() => {
    process.env = saved;
  });

  it('refuses to run without a table', async () => {
    delete process.env.FLEETOPS_TABLE;
    const result = await fleetops('fleet', 'status');
    process.env.FLEETOPS_TABLE = table;
    expect(result).toEqual({
      code: 2,
      out: '',
      err: 'error: --table: expected the fleet-state table (--table NAME or FLEETOPS_TABLE), found neither\n',
    });
  });

  it('creates the table once', async () => {
    expect(await fleetops('store', 'init')).toMatchObject({ code: 0, out: `created table ${table}\n` });
    expect(await fleetops('store', 'init')).toMatchObject({
      code: 0,
      out: `table ${table} already exists\n`,
    });
  });

  it('rejects a malformed services file and writes nothing', async () => {
    const bad = file('bad.yaml', 'services:\n  web: { maxUnavailable: 10%, maxUnavailablePerZne: 1 }\n');
    const result = await fleetops('services', 'apply', bad);
    expect(result.code).toBe(2);
    expect(result.err).toContain(
      'services.web.maxUnavailablePerZne: expected no field "maxUnavailablePerZne"',
    );
    const status = JSON.parse((await fleetops('fleet', 'status', '--json')).out);
    expect(status.services).toEqual([]);
  });

  it('syncs the inventory, applies budgets and shows status per service and zone', async () => {
    const sync = await fleetops('inventory', 'sync', '--json');
    expect(sync.code).toBe(0);
    expect(JSON.parse(sync.out)).toMatchObject({
      observed: 15,
      written: 15,
      ec2Requests: { DescribeInstances: 1 },
    });

    const services = file(
      'services.yaml',
      'services:\n  web: { maxUnavailable: 50%, maxUnavailablePerZone: 2 }\n',
    );
    expect(await fleetops('services', 'apply', services)).toMatchObject({
      code: 0,
      out: 'applied 1 service budget; 1 ledger updated\n',
    });

    const status = JSON.parse((await fleetops('fleet', 'status', '--json')).out);
    expect(status.services).toEqual([
      expect.objectContaining({ service: 'db', instances: 3, used: 0, capacity: 1 }),
      expect.objectContaining({
        service: 'web',
        instances: 12,
        used: 0,
        capacity: 6,
        zones: [
          expect.objectContaining({ zone: 'ca-central-1a', instances: 6, running: 6, held: 0, capacity: 2 }),
          expect.objectContaining({ zone: 'ca-central-1b', instances: 6, running: 6, held: 0, capacity: 2 }),
        ],
      }),
    ]);
    const text = await fleetops('fleet', 'status');
    expect(text.out).toMatch(/^web\s+\(all\)\s+12\s+0\/6$/m);
  });

  it('plans live: fleet and budgets from the table, other holders’ leases counted', async () => {
    // Another owner (a remediation) holds one web instance.
    const db = documentClient(new DynamoDBClient({}));
    const leases = new DynamoLeaseStore(db, table);
    const web = (await new DynamoFleetStore(db, table).listInstances()).filter((i) => i.service === 'web');
    const grant = await leases.acquire({
      owner: 'remediation-7',
      instanceIds: [web[0].id],
      nonDisruptiveServices: new Set(),
      ttlMs: 3_600_000,
      now: Date.now(),
    });
    expect(grant.acquired).toBe(true);

    const spec = file(
      'spec.yaml',
      'id: live-1\ndescription: d\ntarget: { services: [web] }\naction: { type: reboot }\nrisk: low\n',
    );
    const plan = JSON.parse((await fleetops('plan', '--spec', spec, '--json')).out);
    expect(plan.skipped).toEqual([{ id: web[0].id, reason: 'held by remediation-7' }]);
    expect(plan.summary.planned).toBe(11);
    // The held instance spends web's budget: no wave may take more than 5 more (6 − 1) of web.
    for (const wave of plan.waves) expect(wave.services.web).toBeLessThanOrEqual(5);
    await leases.releaseAll('remediation-7');

    expect((await fleetops('plan', '--spec', spec, '--fleet', 'examples/fleet.json')).code).toBe(2);
  });

  it('starts a change once (execution named after it), and shows its status', async () => {
    const { SFNClient, CreateStateMachineCommand } = await import('@aws-sdk/client-sfn');
    const machine = await new SFNClient({}).send(
      new CreateStateMachineCommand({
        name: `rollout-${table}`,
        roleArn: 'arn:aws:iam::123456789012:role/fleetops-rollout',
        definition: JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Succeed' } } }),
      }),
    );
    const arn = machine.stateMachineArn!;
    const spec = file(
      'start.yaml',
      'id: start-1\ndescription: d\ntarget: { services: [db] }\naction: { type: reboot }\nrisk: low\n',
    );

    // Without --yes, and nobody at a terminal to say yes: nothing is stored or started.
    expect(await fleetops('change', 'start', spec, '--state-machine', arn)).toMatchObject({
      code: 0,
      out: expect.stringMatching(/not started\n$/),
    });
    expect(JSON.parse((await fleetops('change', 'list', '--json')).out)).toEqual([]);

    const first = await fleetops('change', 'start', spec, '--yes', '--state-machine', arn);
    expect(first.out).toMatch(/^started start-1: arn:aws:states:.*:execution:.*:start-1$/m);
    const again = await fleetops('change', 'start', spec, '--yes', '--state-machine', arn);
    expect(again.out).toMatch(/start-1 was already started with this plan/);

    const status = JSON.parse(
      (await fleetops('change', 'status', 'start-1', '--json', '--state-machine', arn)).out,
    );
    expect(status.change).toMatchObject({
      id: 'start-1',
      status: 'planned',
      createdBy: expect.stringMatching(/^cli:/),
    });
    expect(status.execution.arn).toMatch(/:execution:.*:start-1$/);
    expect(status.history.map((h: { action: string }) => h.action)).toEqual([
      'change.start-repeated',
      'change.started',
    ]);
    expect((await fleetops('change', 'status', 'nope')).code).toBe(2);

    // At an approval point (as the rollout's step function leaves it), a person answers once.
    const changes = new DynamoChangeStore(documentClient(new DynamoDBClient({})), table);
    expect((await fleetops('change', 'approve', 'start-1', '--reason', 'looks good')).code).toBe(2);
    await changes.setStatus('start-1', 'running', 'test', Date.now());
    await changes.awaitApproval('start-1', 'task-token-1', 1, 'the canary passed', Date.now());
    expect(await fleetops('change', 'approve', 'start-1', '--reason', 'canary looks good')).toMatchObject({
      code: 0,
      out: 'start-1: approved before wave 1\n',
    });
    expect(await fleetops('change', 'reject', 'start-1', '--reason', 'too late')).toMatchObject({
      code: 2,
      err: 'change start-1 is not waiting for an approval (or another answer to it is under way)\n',
    });
    expect((await changes.get('start-1'))?.status).toBe('running');

    // Abort: the execution stops, every hold of the change is released, the change ends.
    const db = documentClient(new DynamoDBClient({}));
    const leases = new DynamoLeaseStore(db, table);
    const dbInstances = (await new DynamoFleetStore(db, table).listInstances()).filter(
      (i) => i.service === 'db',
    );
    const hold = await leases.acquire({
      owner: 'start-1',
      instanceIds: [dbInstances[0].id],
      nonDisruptiveServices: new Set(),
      ttlMs: 3_600_000,
      now: Date.now(),
    });
    expect(hold.acquired).toBe(true);
    const aborted = await fleetops(
      'change',
      'abort',
      'start-1',
      '--reason',
      'wrong kernel',
      '--state-machine',
      arn,
    );
    expect(aborted).toMatchObject({
      code: 0,
      out: expect.stringMatching(/^start-1: aborted \(.*; 1 leases released\)\n$/),
    });
    expect((await leases.activeLeases(Date.now())).filter((l) => l.owner === 'start-1')).toEqual([]);
    expect(await leases.ledger('db')).toMatchObject({ used: 1, observed: 1 }); // counted until the next sync
    expect((await changes.get('start-1'))?.status).toBe('aborted');
  });

  it('aborts with --rollback by starting <id>-rollback, and refuses it when the spec cannot undo', async () => {
    const { SFNClient, CreateStateMachineCommand, DescribeExecutionCommand } = await import(
      '@aws-sdk/client-sfn'
    );
    const sfn = new SFNClient({});
    const arn = (
      await sfn.send(
        new CreateStateMachineCommand({
          name: `rollout-rb-${table}`,
          roleArn: 'arn:aws:iam::123456789012:role/fleetops-rollout',
          definition: JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Succeed' } } }),
        }),
      )
    ).stateMachineArn!;
    const undoable = file(
      'undoable.yaml',
      [
        'id: tag-rb',
        'description: tag web',
        'target: { services: [web] }',
        'action: { type: set-tag, tags: { tier: gold } }',
        'rollback: { action: { type: set-tag, tags: { tier: silver } } }',
        'risk: low',
        '',
      ].join('\n'),
    );
    const plain = file(
      'plain.yaml',
      'id: tag-plain\ndescription: d\ntarget: { services: [web] }\naction: { type: set-tag, tags: { a: b } }\nrisk: low\n',
    );
    for (const spec of [undoable, plain]) {
      expect((await fleetops('change', 'start', spec, '--yes', '--state-machine', arn)).code).toBe(0);
    }
    expect(
      await fleetops('change', 'abort', 'tag-plain', '--reason', 'no', '--rollback', '--state-machine', arn),
    ).toMatchObject({ code: 2, err: expect.stringContaining('declares no rollback action') });
    const aborted = await fleetops(
      'change',
      'abort',
      'tag-rb',
      '--reason',
      'bad tier',
      '--rollback',
      '--state-machine',
      arn,
    );
    expect(aborted.code).toBe(0);
    expect(aborted.out).toMatch(
      /^tag-rb-rollback: started: arn:aws:states:.*:execution:.*:tag-rb-rollback$/m,
    );
    const execution = await sfn.send(
      new DescribeExecutionCommand({ executionArn: aborted.out.trim().split(': ').at(-1) }),
    );
    expect(JSON.parse(execution.input ?? '{}')).toEqual({ changeId: 'tag-rb', rollback: true });
    expect(
      (
        await fleetops(
          'change',
          'start',
          undoable,
          '--yes',
          '--emergency-reason',
          'short',
          '--state-machine',
          arn,
        )
      ).code,
    ).toBe(2);
  });

  it('watches a change wave by wave until it ends, then exits by how it ended', async () => {
    const db = documentClient(new DynamoDBClient({}));
    const changes = new DynamoChangeStore(db, table);
    const { changeSpecSchema } = await import('../../functions/core/change/spec');
    const { planChange } = await import('../../functions/core/change/plan/planner');
    const { serviceCatalog } = await import('../../functions/core/fleet/services');
    const fleet = new DynamoFleetStore(db, table);
    const spec = changeSpecSchema.parse({
      id: 'watch-1',
      description: 'reboot db',
      target: { services: ['db'] },
      action: { type: 'reboot' },
      risk: 'low',
    });
    const plan = planChange({
      instances: await fleet.listInstances(),
      catalog: serviceCatalog(await fleet.getServices()),
      spec,
    });
    expect(plan.waves.length).toBeGreaterThan(1);
    await changes.save(spec, plan, 'test', Date.now());
    await changes.setStatus('watch-1', 'running', 'started', Date.now());
    const record = (wave: number, verdict: string) =>
      Promise.all([
        changes.recordWave('watch-1', wave, 'apply#1', { applied: plan.waves[wave].instances }, Date.now()),
        changes.recordWave(
          'watch-1',
          wave,
          'result',
          { verdict, outcomes: Object.fromEntries(plan.waves[wave].instances.map((i) => [i, 'ok'])) },
          Date.now(),
        ),
      ]);
    await record(0, 'pass');
    const watching = fleetops('change', 'watch', 'watch-1', '--interval', '0.05');
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (let w = 1; w < plan.waves.length; w++) await record(w, 'pass');
    await changes.setStatus('watch-1', 'completed', 'every wave passed its gate', Date.now());
    const watched = await watching;
    expect(watched.code).toBe(0);
    const lines = watched.out.split('\n');
    expect(lines[0]).toBe('watch-1: running — started');
    expect(lines).toContain('watch-1: completed — every wave passed its gate');
    expect(lines.filter((l) => /^ {2}wave +\d+ .* passed$/.test(l))).toHaveLength(plan.waves.length);
    // Each line once, however many times it looked.
    expect(new Set(lines).size).toBe(lines.length);
    expect((await fleetops('change', 'watch', 'nope')).code).toBe(2);
  });

  it('lists remediation cases and shows one with every decision and its reason', async () => {
    const { DynamoRemediationStore } = await import('../../functions/adapters/dynamo-remediation-store');
    const cases = new DynamoRemediationStore(documentClient(new DynamoDBClient({})), table);
    const finding = {
      instanceId: 'i-0123456789abcdef0',
      kind: 'system-status-check-failed' as const,
      key: 'alarm@2026-11-27T00:00:00Z',
      detail: 'StatusCheckFailed_System in ALARM',
      source: 'aws.cloudwatch:fleetops-status-i-0123456789abcdef0',
    };
    const { case: opened } = await cases.open(finding, '2026-11-27T00:00:00.000Z', Date.now());
    await cases.decide(
      opened.id,
      {
        instanceId: finding.instanceId,
        action: 'reboot',
        at: '2026-11-27T00:00:01.000Z',
        reason: 'thin data: ladder order, reboot',
      },
      { status: 'acting', tried: ['reboot'] },
      Date.now(),
    );
    // Acting: counted in flight (the breaker's cap); once it ends, no longer.
    expect((await cases.inFlight()).map((c) => c.id)).toEqual([opened.id]);
    await cases.setStatus(opened.id, 'recovered', 'reboot recovered the instance', Date.now());
    expect(await cases.inFlight()).toEqual([]);
    await cases.setStatus(opened.id, 'acting', 'thin data: ladder order, reboot', Date.now());
    const list = await fleetops('remediation', 'list');
    expect(list.code).toBe(0);
    expect(list.out).toContain(`${opened.id}  acting    reboot  thin data: ladder order, reboot`);
    const shown = await fleetops('remediation', 'show', opened.id);
    expect(shown.out).toContain('finding: system-status-check-failed on i-0123456789abcdef0');
    expect(shown.out).toMatch(/2026-11-27T00:00:01.000Z {2}reboot +thin data: ladder order, reboot/);
    expect(JSON.parse((await fleetops('remediation', 'show', opened.id, '--json')).out).tried).toEqual([
      'reboot',
    ]);
    expect(await fleetops('remediation', 'show', 'nope')).toMatchObject({
      code: 2,
      err: 'no remediation case nope\n',
    });
  });

  it('starts, lists and ends freezes, and refuses bad ones', async () => {
    const started = await fleetops(
      'freeze',
      'start',
      '--reason',
      'peak season',
      '--minutes',
      '60',
      '--service',
      'web',
    );
    expect(started.code).toBe(0);
    const id = started.out.split(':')[0];
    const list = JSON.parse((await fleetops('freeze', 'list', '--json')).out);
    expect(list).toEqual([
      expect.objectContaining({ id, scope: 'service:web', reason: 'peak season', active: true }),
    ]);
    // A change touching web is blocked (exit 3), one touching db is not; an emergency goes through.
    expect(await fleetops('freeze', 'check', '--services', 'web,db', '--subject', 'change:c1')).toMatchObject(
      {
        code: 3,
        out: expect.stringMatching(/^frozen: frozen by frz-\w+ \(service:web, until .*: peak season\)\n$/),
      },
    );
    expect((await fleetops('freeze', 'check', '--services', 'db')).code).toBe(0);
    const emergency = await fleetops(
      'freeze',
      'check',
      '--services',
      'web',
      '--subject',
      'change:c2',
      '--emergency-reason',
      'CVE fix',
    );
    expect(emergency.code).toBe(0);
    const db = documentClient(new DynamoDBClient({}));
    const audit = new DynamoFleetStore(db, table);
    expect((await audit.auditOf('change:c1')).map((r) => r.action)).toEqual(['freeze.blocked']);
    expect(await audit.auditOf('change:c2')).toEqual([
      expect.objectContaining({ action: 'freeze.overridden', reason: expect.stringMatching(/: CVE fix$/) }),
    ]);
    expect(await fleetops('freeze', 'end', id)).toMatchObject({ code: 0 });
    expect(await fleetops('freeze', 'end', id)).toMatchObject({
      code: 2,
      err: `no freeze ${id} in force (unknown, or already ended)\n`,
    });
    expect(JSON.parse((await fleetops('freeze', 'list', '--json')).out)).toEqual([]);

    expect((await fleetops('freeze', 'start', '--reason', 'x')).err).toContain(
      'give exactly one of --until and --minutes',
    );
    expect((await fleetops('freeze', 'start', '--reason', 'x', '--until', 'tomorrow')).code).toBe(2);
  });
});
