import { readFileSync } from 'node:fs';
import { DynamoRemediationStore } from '../../functions/adapters/dynamo-remediation-store';
import { findingsFor } from '../../functions/core/events/findings';
import { parseEvent } from '../../functions/core/events/parse';
import type { Instance } from '../../functions/core/fleet/fleet';
import { decideRemediation, type RemediationPorts } from '../../functions/core/remediation/remediate';
import { triageFinding } from '../../functions/core/remediation/triage';
import { freshTable } from '../support/aws';

/**
 * A case that two sources reached (AWS Health and the sweep, for one retirement) closes both
 * findings when it ends: a joined finding left open would count for the breaker forever. The
 * DynamoDB stores against moto.
 */
describe('a case with several sources', () => {
  it('closes every finding that reached it when it ends', async () => {
    const stores = await freshTable();
    const cases = new DynamoRemediationStore(stores.db, stores.table);
    const [health] = parseEvent(
      readFileSync('test/fixtures/events/health-instance-retirement.aws-docs.json', 'utf8'),
    ).findings;
    const instance: Instance = {
      id: health.instanceId,
      service: 'web',
      zone: 'us-east-1a',
      state: 'running',
      health: 'ok',
      tags: {},
      scheduledEvents: [
        {
          id: 'instance-event-0d59937288b749b32',
          code: 'instance-retirement',
          notBefore: '2026-08-27T13:19:03.000Z',
          description: 'The instance is running on degraded hardware',
        },
      ],
    };
    const [swept] = findingsFor({ instance }, instance, '2026-08-01T00:00:00.000Z');
    const now = Date.parse('2026-08-01T00:00:00Z');
    const intake = {
      fleet: stores.fleet,
      cases,
      executions: { start: async () => ({ started: true }) },
      now: () => now,
      actor: 'test',
    };
    const first = await triageFinding(intake, health);
    const second = await triageFinding(intake, swept);
    expect(second.caseId).toBe(first.caseId);
    expect((await stores.fleet.openFindings()).map((f) => f.key).sort()).toEqual(
      [health.key, swept.key].sort(),
    );

    // The instance is gone from the inventory: the case ends recorded, closing what reached it.
    const unused = () => {
      throw new Error('not on this path');
    };
    const ports = {
      cases,
      fleet: stores.fleet,
      leases: stores.leases,
      ec2: { conditions: unused },
      autoscaling: { groupsOf: unused },
      notify: { publish: unused },
      now: () => now,
      rng: () => 0.5,
      actor: 'test',
    } as unknown as RemediationPorts;
    const decided = await decideRemediation(ports, { caseId: first.caseId!, attempts: 0, polls: 0 });
    expect(decided.action).toBe('record-only');
    expect(await stores.fleet.openFindings()).toEqual([]);
  });
});
