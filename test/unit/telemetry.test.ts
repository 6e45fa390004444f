/**
 * The handlers' metrics, as CloudWatch receives them: embedded-metric-format lines on stdout
 * (Powertools), namespace FleetOps, dimension service — the names the dashboard and the breaker
 * alarm read (lib/observability.ts).
 */
describe('handler metrics (EMF)', () => {
  const saved = { ...process.env };
  afterAll(() => {
    process.env = saved;
  });

  it('writes the step counts and verdicts the dashboard and alarms read', async () => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    jest.resetModules();
    const lines: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const log = jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(' '));
    });
    try {
      const t = await import('../../functions/handlers/telemetry');
      t.rolloutStepMetrics('gate', { verdict: 'fail' });
      t.remediationStepMetrics('decide', { action: 'page', reason: 'breaker open (zone:a): …' });
      t.metrics.publishStoredMetrics();
    } finally {
      spy.mockRestore();
      log.mockRestore();
    }
    const emf = lines
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.includes('_aws'))
      .map((l) => JSON.parse(l));
    const names = emf.flatMap((e) =>
      e._aws.CloudWatchMetrics.flatMap((m: { Metrics: { Name: string }[] }) => m.Metrics.map((x) => x.Name)),
    );
    expect(names).toEqual(
      expect.arrayContaining(['GateVerdicts', 'RemediationDecisions', 'BreakerOpen', 'RolloutSteps']),
    );
    const gate = emf.find((e) => e.GateVerdicts !== undefined);
    expect(gate).toMatchObject({ service: 'fleetops', verdict: 'fail', GateVerdicts: 1 });
    expect(gate._aws.CloudWatchMetrics[0].Namespace).toBe('FleetOps');
  });
});
