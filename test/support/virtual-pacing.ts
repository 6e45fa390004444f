/**
 * The AWS request pacing (functions/core/shared/token-bucket.ts) on virtual time in every test
 * file, as the simulator runs it: each bucket still counts its tokens and serves its callers in
 * order, but a wait for a token moves a clock forward instead of sleeping. moto throttles
 * nothing, and no test asserts how fast requests go out; test/unit/token-bucket.test.ts holds
 * the pacing to its rate on a clock of its own.
 *
 * A mock factory, not a patch of the loaded module: the workflow tests load the handlers afresh
 * (jest.resetModules), and Jest runs the factory again for each fresh registry. The module is the
 * real one; only its default clock's time is virtual. Processes a test spawns (the local runtime)
 * keep real time.
 */
jest.mock('../../functions/core/shared/token-bucket', () => {
  const pacing = jest.requireActual<typeof import('../../functions/core/shared/token-bucket')>(
    '../../functions/core/shared/token-bucket',
  );
  let ahead = 0;
  pacing.realClock.now = () => Date.now() + ahead;
  pacing.realClock.sleep = (ms) => {
    ahead += ms;
    // As a real sleep does, let whatever else is under way (another actor's request) run first.
    return new Promise((resolve) => setImmediate(resolve));
  };
  return pacing;
});
