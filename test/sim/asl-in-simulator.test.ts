import { readFileSync } from 'node:fs';
import { deployedDefinitions, type SimDefinitions } from '../../sim/asl/state-machines';
import { type FleetSimReport, simulateFleet } from '../../sim/fleet-sim';

/**
 * The simulator runs the deployed state machines, not a copy: the states an execution enters are
 * the definition file's, and a limit changed in the definition changes what the simulation does.
 */

type States = Record<string, Record<string, unknown>>;

/** A deep copy of a deployed definition (through JSON: a plain object of this realm), `edit` applied to its States. */
function modified(which: keyof SimDefinitions, edit: (states: States) => void): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(deployedDefinitions()[which]));
  edit(copy.States as States);
  return copy;
}

const fleet = { instances: 2000, zones: 3, services: 50, seed: 1, faultRate: 0.001 } as const;
let deployed: FleetSimReport;
const entered = { rollout: new Set<string>(), remediation: new Set<string>() };

beforeAll(async () => {
  deployed = await simulateFleet(fleet, { onState: (machine, state) => entered[machine].add(state) });
});

describe('the simulator runs state-machines/*.asl.json', () => {
  it.each([
    ['rollout', 'state-machines/rollout.asl.json'],
    ['remediation', 'state-machines/remediation.asl.json'],
  ] as const)('enters only states of %s, and the ones a change or a case must pass', (machine, file) => {
    // Prepare: the state names, read from the file itself.
    const names = Object.keys(JSON.parse(readFileSync(file, 'utf8')).States);

    // Assess
    expect(entered[machine].size).toBeGreaterThan(0);
    for (const state of entered[machine]) expect(names).toContain(state);
    const mustPass =
      machine === 'rollout'
        ? ['Load the plan', 'Lease the wave', 'Wait for budget', 'Wait for the action', 'Bake', 'Health gate']
        : ['Wait until it is time', 'Decide', 'Lease the instance', 'Act', 'Wait before verifying', 'Verify'];
    for (const state of mustPass) expect(entered[machine]).toContain(state);
  });

  it('is deterministic on virtual time: the same options give the same report, observed or not, and the real timers come back', async () => {
    // Act
    const again = await simulateFleet(fleet);

    // Assess
    expect(JSON.stringify({ ...again, wallClock: undefined })).toBe(
      JSON.stringify({ ...deployed, wallClock: undefined }),
    );
    expect(Math.abs(Date.now() - Date.parse(new Date().toISOString()))).toBeLessThan(1000);
    expect(String(setTimeout)).not.toMatch(/clock/);
  });

  it('waits for budget as long as the definition says', async () => {
    // Prepare: "Wait for budget" waits 1 s instead of the lease step's 60 s doubling to 15 min.
    const rollout = modified('rollout', (states) => {
      const wait = states['Wait for budget'];
      expect(wait.SecondsPath).toBe('$.lease.waitSeconds');
      delete wait.SecondsPath;
      wait.Seconds = 1;
    });

    // Act
    const r = await simulateFleet(fleet, { definitions: { rollout } });

    // Assess: the deployed definition spent a minute or more at each refusal (the lease step's
    // backoff), this one a second: its change ends sooner.
    expect(deployed.change.leaseRefusals).toBeGreaterThan(0);
    expect(r.change.leaseRefusals).toBeGreaterThan(0);
    expect(r.change.makespanMinutes).toBeLessThan(deployed.change.makespanMinutes);
    expect(r.invariants.byInvariant['disruption-budget']).toBe(0);
  });

  it('verifies a remediation as early as the definition says, and the ladder pays for it', async () => {
    // Prepare: "Action finished?" verifies after 1 poll (30 s) instead of 40, done or not.
    const remediation = modified('remediation', (states) => {
      const finished = states['Action finished?'] as { Choices: Array<Record<string, unknown>> };
      const bound = finished.Choices.find((c) => 'NumericGreaterThanEquals' in c)!;
      expect(bound.NumericGreaterThanEquals).toBe(40);
      bound.NumericGreaterThanEquals = 1;
    });

    // Act
    const r = await simulateFleet(fleet, { definitions: { remediation } });

    // Assess: a reboot still under way is verified as not recovered, so more cases climb the
    // ladder to its end and page a person.
    expect(r.remediation.pages.instance).toBeGreaterThan(deployed.remediation.pages.instance);
    expect(r.remediation.outcomes.paged).toBeGreaterThan(deployed.remediation.outcomes.paged ?? 0);
    expect(r.invariants.violations).toBe(0);
  });

  it("ends the change through the definition's Catch when an approval outlasts its TimeoutSeconds", async () => {
    // Prepare: a person answers 15 minutes after being asked; the approval now times out after 10.
    const rollout = modified('rollout', (states) => {
      expect(states['Wait for approval'].TimeoutSeconds).toBe(604800);
      states['Wait for approval'].TimeoutSeconds = 600;
    });

    // Act
    const r = await simulateFleet(fleet, { definitions: { rollout } });

    // Assess: deployed, the approvals are granted; here each one times out (States.Timeout,
    // caught by States.ALL), the change ends failed, and the person's late answer goes nowhere.
    expect(deployed.change.approvals).toBeGreaterThan(0);
    expect(r.change.approvals).toBe(0);
    expect(r.change.attempts[0]).toMatchObject({
      status: 'failed',
      reason: 'a step failed: States.Timeout (States.Timeout)',
    });
    expect(r.invariants.violations).toBe(0);
  });

  it('stops with an error when a Task without a TimeoutSeconds outlasts the Lambda timeout the simulator gives it', async () => {
    // Prepare: Step Functions would wait for the 15-minute approval; the simulator gives an untimed
    // Task its Lambda's 15 minutes (aws-local-stepfunctions would give it 60 s): the approval uses
    // them all, and the Lambda would have been cut off as it answered.
    const rollout = modified('rollout', (states) => {
      delete states['Wait for approval'].TimeoutSeconds;
    });

    // Act / Assess
    await expect(simulateFleet(fleet, { definitions: { rollout } })).rejects.toThrow(
      /Wait for approval ran 900 s, past the 900 s a Task without a TimeoutSeconds is given/,
    );
  });

  it('with a defect injected, reports a Task past its Lambda timeout rather than stopping: the report is the point', async () => {
    // Prepare: the same untimed approval, in a run with a deliberate defect.
    const rollout = modified('rollout', (states) => {
      delete states['Wait for approval'].TimeoutSeconds;
    });

    // Act
    const r = await simulateFleet({ ...fleet, defect: 'ignore-budgets' }, { definitions: { rollout } });

    // Assess: counted, the first one said, and the run went on to its end.
    expect(r.simulation.taskOverruns?.count).toBeGreaterThan(0);
    expect(r.simulation.taskOverruns?.first).toMatch(
      /^minute \d+: rollout: Task Wait for approval ran 900 s, past the 900 s/,
    );
    expect(r.change.status).not.toBe('running');
  });
});
