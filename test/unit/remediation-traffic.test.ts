import { stopStartGuard } from '../../functions/core/remediation/traffic';

/** The ladder's stop-start guard: the live condition first, the inventory record otherwise. */
describe('stopStartGuard', () => {
  it.each([
    [{}, undefined, undefined],
    [{ rootDevice: 'ebs' as const }, undefined, undefined],
    [{ spot: 'persistent' as const }, undefined, undefined],
    [
      { rootDevice: 'instance-store' as const },
      undefined,
      'its root device is instance store (its data is lost on stop)',
    ],
    [{ spot: 'one-time' as const }, undefined, 'it is a one-time Spot instance (it cannot be stopped)'],
  ])('record %j, no live condition → %s', (record, condition, expected) => {
    expect(stopStartGuard(record, condition)).toBe(expected);
  });

  it('the live condition wins over the inventory record', () => {
    expect(
      stopStartGuard({ rootDevice: 'instance-store' }, { state: 'running', health: 'ok', rootDevice: 'ebs' }),
    ).toBeUndefined();
    expect(
      stopStartGuard({ spot: 'persistent' }, { state: 'running', health: 'ok', spot: 'one-time' }),
    ).toMatch(/one-time Spot/);
  });

  it('an instance the inventory does not know and EC2 does not describe is not guarded', () => {
    expect(stopStartGuard(undefined, undefined)).toBeUndefined();
  });
});
