// Store benchmarks against a local moto server (started here on a free loopback port):
// 1. leasing a 1,000-instance wave (20 services, budgets with room): DynamoDB requests and time;
// 2. a 10,000-instance inventory sync: EC2 requests (a paging EC2 stand-in, 1,000 per page as
//    EC2 pages, paced by the real token bucket) and the DynamoDB requests of the table side.
// Prints one JSON line.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeInstanceStatusCommand, DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { startMotoServer } from '../cli/local/moto-server';
import { countRequests, documentClient } from '../functions/adapters/dynamo-client';
import { DynamoFleetStore } from '../functions/adapters/dynamo-fleet-store';
import { DynamoLeaseStore } from '../functions/adapters/dynamo-lease-store';
import { Ec2FleetInventory, pacedEc2Client } from '../functions/adapters/ec2-inventory';
import { createFleetTable } from '../functions/adapters/table-admin';
import { EC2_DESCRIBE_RATE, MANAGED_TAG, SERVICE_TAG_KEY } from '../functions/core/defaults';
import { syncInventory } from '../functions/core/fleet/sync-inventory';
import { TokenBucket } from '../functions/core/shared/token-bucket';

const RUNS = Number(process.argv[2] ?? 5);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

async function main() {
  const moto = await startMotoServer();
  process.env.AWS_ENDPOINT_URL = moto.endpoint;
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_REGION: 'us-east-1',
  });
  try {
    const client = new DynamoDBClient({});
    const db = documentClient(client);
    const requests = countRequests(db);
    // A fresh table per run: moto copies the whole table on every transaction, so leftovers
    // of earlier runs would slow later ones.
    const freshStores = async () => {
      const table = `bench-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
      await createFleetTable(client, table);
      return { fleet: new DynamoFleetStore(db, table), leases: new DynamoLeaseStore(db, table) };
    };

    // 1. Lease a 1,000-instance wave.
    const services = Array.from({ length: 20 }, (_, s) => `svc-${String(s).padStart(2, '0')}`);
    const wave = Array.from({ length: 1000 }, (_, k) => ({
      id: `i-${(0x100000 + k).toString(16).padStart(17, '0')}`,
      service: services[k % services.length],
      zone: 'us-east-1a',
    }));
    const acquireMs: number[] = [];
    const releaseMs: number[] = [];
    let acquireRequests: Record<string, number> = {};
    let releaseRequests: Record<string, number> = {};
    for (let run = 0; run < RUNS; run++) {
      const { fleet, leases } = await freshStores();
      for (const service of services) {
        await fleet.reconcileLedger({
          service,
          capacity: 100,
          observed: 0,
          zones: new Map([['us-east-1a', { capacity: 100, observed: 0 }]]),
        });
      }
      await fleet.putInstances(
        wave.map((m) => ({ ...m, state: 'running' as const, health: 'ok' as const, tags: {} })),
        Date.now(),
      );
      requests.clear();
      let start = process.hrtime.bigint();
      const outcome = await leases.acquire({
        owner: `bench-${run}`,
        instanceIds: wave.map((m) => m.id),
        nonDisruptiveServices: new Set(),
        ttlMs: 600_000,
        now: Date.now(),
      });
      acquireMs.push(ms(start));
      if (!outcome.acquired) throw new Error(`lease refused: ${outcome.reason}`);
      acquireRequests = Object.fromEntries(requests);
      requests.clear();
      start = process.hrtime.bigint();
      await leases.release(`bench-${run}`, outcome.leases);
      releaseMs.push(ms(start));
      releaseRequests = Object.fromEntries(requests);
    }

    // 2. A 10,000-instance sync.
    const { fleet, leases } = await freshStores();
    const ec2 = new EC2Client({});
    const ec2Mock = mockClient(ec2);
    const all = Array.from({ length: 10_000 }, (_, k) => ({
      InstanceId: `i-${(0x200000 + k).toString(16).padStart(17, '0')}`,
      Placement: { AvailabilityZone: `us-east-1${'abc'[k % 3]}` },
      State: { Name: 'running' as const },
      Tags: [
        { Key: MANAGED_TAG.key, Value: MANAGED_TAG.value },
        { Key: SERVICE_TAG_KEY, Value: `svc-${String(k % 200).padStart(3, '0')}` },
      ],
    }));
    const page = <T>(items: T[], input: { MaxResults?: number; NextToken?: string }) => {
      const start = Number(input.NextToken ?? 0);
      const size = input.MaxResults ?? 1000;
      const next = start + size < items.length ? String(start + size) : undefined;
      return { items: items.slice(start, start + size), next };
    };
    ec2Mock.on(DescribeInstancesCommand).callsFake((input) => {
      const { items, next } = page(all, input);
      return { Reservations: [{ Instances: items }], NextToken: next };
    });
    ec2Mock.on(DescribeInstanceStatusCommand).callsFake((input) => {
      const { items, next } = page(all, input);
      const statuses = items.map((i) => ({
        InstanceId: i.InstanceId,
        SystemStatus: { Status: 'ok' as const },
        InstanceStatus: { Status: 'ok' as const },
      }));
      return { InstanceStatuses: statuses, NextToken: next };
    });
    const paced = pacedEc2Client(
      new TokenBucket(EC2_DESCRIBE_RATE.ratePerSecond, EC2_DESCRIBE_RATE.capacity),
      ec2,
    );
    const sync = async (label: string) => {
      const inventory = new Ec2FleetInventory(paced);
      requests.clear();
      const start = process.hrtime.bigint();
      const report = await syncInventory({
        ec2: inventory,
        store: fleet,
        leases,
        now: Date.now(),
        actor: 'bench',
      });
      return {
        label,
        ms: ms(start),
        written: report.written,
        ec2Requests: Object.fromEntries(inventory.requests),
        dynamoRequests: Object.fromEntries(requests),
      };
    };
    const first = await sync('first sync (10,000 new instances)');
    const second = await sync('second sync (nothing changed)');

    process.stdout.write(
      `${JSON.stringify({
        lease: {
          instances: wave.length,
          services: services.length,
          runs: RUNS,
          acquireMedianMs: median(acquireMs),
          releaseMedianMs: median(releaseMs),
          acquireRequests,
          releaseRequests,
        },
        sync: [first, second],
      })}\n`,
    );
  } finally {
    await moto.stop();
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
