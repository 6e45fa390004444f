import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { runCli } from '../../cli/main';
import { documentClient } from '../../functions/adapters/dynamo-client';
import { DynamoFleetStore } from '../../functions/adapters/dynamo-fleet-store';
import { parseFleet, parseServices } from '../../functions/core/input/files';

/**
 * `fleetops fleet export` against a table (moto): the fleet as the table holds it, in the files
 * `fleetops plan --fleet --services` and `fleetops simulate --fleet --services` read. The example
 * rehearsal fleet goes into the table and comes back out the same.
 */

const REGION = 'sa-east-1';
const EXAMPLES = join(__dirname, '../../examples/rehearsal');
const scratch = mkdtempSync(join(tmpdir(), 'fleetops-export-'));

async function fleetops(...args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (t) => (out += t), err: (t) => (err += t), color: false });
  return { code, out, err };
}

describe('fleetops fleet export (moto)', () => {
  const saved = { ...process.env };
  const table = `fleetops-export-${randomUUID().slice(0, 8)}`;
  const example = parseFleet(readFileSync(join(EXAMPLES, 'fleet.json'), 'utf8'), 'fleet.json');
  const services = join(EXAMPLES, 'services.yaml');

  beforeAll(async () => {
    // Prepare: a table holding the example fleet (as the sweep writes it) and its budgets.
    process.env.AWS_REGION = REGION;
    process.env.FLEETOPS_TABLE = table;
    expect((await fleetops('store', 'init')).code).toBe(0);
    const store = new DynamoFleetStore(documentClient(new DynamoDBClient({})), table);
    await store.putInstances(example.instances, Date.parse('2026-01-05T00:00:00Z'));
    expect((await fleetops('services', 'apply', services)).code).toBe(0);
  });
  afterAll(() => {
    process.env = saved;
  });

  it('writes the instances as the table holds them, and the services file next to them', async () => {
    // Act
    const out = join(scratch, 'fleet.json');
    const result = await fleetops('fleet', 'export', '-o', out, '--json');

    // Assess
    expect(result.code).toBe(0);
    expect(JSON.parse(result.out)).toEqual({
      instances: 300,
      terminated: 0,
      services: 4,
      defaults: true,
      fleet: out,
      servicesFile: join(scratch, 'fleet.services.yaml'),
    });
    const exported = parseFleet(readFileSync(out, 'utf8'), out);
    expect(exported).toEqual(example);
    const budgets = parseServices(
      readFileSync(join(scratch, 'fleet.services.yaml'), 'utf8'),
      'fleet.services.yaml',
    );
    expect(budgets).toEqual(parseServices(readFileSync(services, 'utf8'), 'services.yaml'));
  });

  it('writes the fleet to standard output and the services where asked (JSON by its name)', async () => {
    const servicesOut = join(scratch, 'budgets.json');

    const result = await fleetops('fleet', 'export', '--services-out', servicesOut);

    expect(result.code).toBe(0);
    expect(parseFleet(result.out, 'stdout.json')).toEqual(example);
    expect(result.err).toBe(
      `exported 300 instances (0 terminated) to -, 4 service budgets and defaults to ${servicesOut}\n`,
    );
    expect(JSON.parse(readFileSync(servicesOut, 'utf8')).services.web).toEqual({
      maxUnavailable: '10%',
      maxUnavailablePerZone: '10%',
    });
  });

  it('exports what `fleetops plan` and `fleetops simulate` read as they are', async () => {
    // Prepare
    const out = join(scratch, 'again.json');
    await fleetops('fleet', 'export', '-o', out);
    const spec = join(EXAMPLES, 'change.yaml');

    // Act
    const plan = await fleetops(
      'plan',
      '--fleet',
      out,
      '--services',
      join(scratch, 'again.services.yaml'),
      '--spec',
      spec,
      '--json',
    );
    const rehearsal = await fleetops(
      'simulate',
      '--fleet',
      out,
      '--services',
      join(scratch, 'again.services.yaml'),
      '--spec',
      spec,
      '--json',
    );

    // Assess
    expect(plan.code).toBe(0);
    expect(JSON.parse(plan.out).summary).toMatchObject({ targeted: 300, planned: 298, skipped: 2 });
    expect(rehearsal.code).toBe(0);
    expect(JSON.parse(rehearsal.out).change).toMatchObject({ status: 'completed', planned: 298 });
  });

  it('refuses to write the services over the fleet file', async () => {
    const out = join(scratch, 'same.json');

    const result = await fleetops('fleet', 'export', '-o', out, '--services-out', out);

    expect(result.code).toBe(2);
    expect(result.err).toContain('--services-out: expected another file than --out');
  });
});
