import { accumulateFromEnv, settingsFromEnv } from '../../functions/app/environment';

const BASE = { TABLE_NAME: 'fleet', TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:fleetops' };

describe("the handlers' environment (what the stack sets, read once, checked)", () => {
  it("gives the remediation step FleetOps' defaults when the stack set nothing else", () => {
    // Prepare / Act
    const settings = settingsFromEnv.remediation({ ...BASE });
    // Assess
    expect(settings).toEqual({
      table: 'fleet',
      topicArn: BASE.TOPIC_ARN,
      breaker: {
        maxUnhealthyFraction: 0.2,
        maxInFlightPerScope: 5,
        inFlight: {},
        recheckMinutes: 10,
        holdMinutes: 360,
      },
      relapse: { windowMinutes: 1440, flapLimit: 3 },
    });
  });

  it('reads every remediation setting the stack passes', () => {
    const settings = settingsFromEnv.remediation({
      ...BASE,
      BREAKER_MAX_UNHEALTHY_PERCENT: '12.5',
      BREAKER_MAX_IN_FLIGHT: '8',
      BREAKER_RECHECK_MINUTES: '5',
      BREAKER_HOLD_MINUTES: '0',
      RELAPSE_WINDOW_MINUTES: '720',
      FLAP_LIMIT: '1',
      IN_FLIGHT_PER_ZONE: '40',
    });
    expect(settings.breaker).toEqual({
      maxUnhealthyFraction: 0.125,
      maxInFlightPerScope: 8,
      inFlight: { zone: 40 },
      recheckMinutes: 5,
      holdMinutes: 0,
    });
    expect(settings.relapse).toEqual({ windowMinutes: 720, flapLimit: 1 });
  });

  it('fails fast on a value it cannot use, naming the variable, what it expected and what it found', () => {
    expect(() => settingsFromEnv.remediation({ ...BASE, FLAP_LIMIT: '0' })).toThrow(
      'environment variable FLAP_LIMIT: expected a whole number from 1 to 20, found "0"',
    );
    expect(() => settingsFromEnv.remediation({ ...BASE, IN_FLIGHT_PER_ACCOUNT: 'lots' })).toThrow(
      'environment variable IN_FLIGHT_PER_ACCOUNT: expected a whole number from 1 to 10000, found "lots"',
    );
    expect(() => accumulateFromEnv({ ACCUMULATE_SYSTEM_CHECK_MINUTES: '2.5' })).toThrow(
      'environment variable ACCUMULATE_SYSTEM_CHECK_MINUTES: expected a whole number from 0 to 60, found "2.5"',
    );
    expect(() => settingsFromEnv.remediation({ TABLE_NAME: 'fleet' })).toThrow(
      'missing environment variables: TOPIC_ARN',
    );
  });

  it('gives triage and the sweep the accumulation windows per kind', () => {
    expect(
      settingsFromEnv.triage({
        TABLE_NAME: 'fleet',
        REMEDIATION_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:r',
      }).accumulate,
    ).toEqual({ 'instance-status-check-failed': 5, 'system-status-check-failed': 10 });
    expect(
      settingsFromEnv.inventory({
        TABLE_NAME: 'fleet',
        MANAGED_TAG_KEY: 'fleetops:managed',
        MANAGED_TAG_VALUE: 'true',
        SERVICE_TAG_KEY: 'fleetops:service',
        ACCUMULATE_INSTANCE_CHECK_MINUTES: '0',
        ACCUMULATE_SYSTEM_CHECK_MINUTES: '20',
      }).accumulate,
    ).toEqual({ 'instance-status-check-failed': 0, 'system-status-check-failed': 20 });
  });
});
