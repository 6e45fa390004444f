/**
 * The local runtime's scenes. Scene 1: a good patch rolls out in waves, with an approval after
 * its canary, while health events arrive (one of them delivered twice). Scene 2: a bad config
 * regresses latency on its canary and the judge rolls it back, while a rack fails in zone c and
 * the storm trips the remediation breaker. Scene 3, alongside both: a rolling stop-start of the
 * service in an Auto Scaling group behind a target group, each wave out of traffic first.
 */
import { ROLLOUT_STATES } from '../../functions/steps/state-names';
import type { ChangeWorld } from './rollout-run';
import type { LocalRuntime } from './runtime';
import { type EventTemplates, type FaultModel, inject, writeLatency } from './world';

export interface SceneDeps {
  readonly runtime: LocalRuntime;
  readonly say: (line: string) => void;
  readonly faults: FaultModel;
  readonly events: EventTemplates;
  /** Plans, saves and runs a change through the rollout ASL (rollout-run.ts). */
  readonly runChange: (raw: unknown, world: ChangeWorld) => Promise<string>;
  /** Resolves once the triage queue is empty and every remediation started has ended. */
  readonly settled: () => Promise<void>;
}

/** An instance of a service in a zone (by index), for a scene to break. */
function pick(runtime: LocalRuntime, service: string, zone: number, k: number): string {
  const ids = runtime.instances.get(service)?.get(runtime.zones[zone]) ?? [];
  return ids[k % ids.length] ?? '';
}

/** Scene 1: the patch rolls out; health events arrive while it runs. */
export async function patchWithHealthEvents(deps: SceneDeps, patchSpec: unknown): Promise<void> {
  const { runtime, say, faults, events } = deps;
  say('scene 1: a change rolls out in waves while health events arrive');
  // Instances of services the change does not touch: a case on an instance a wave holds is
  // recorded and left alone (see the README), which is not what this scene is about.
  const hang = pick(runtime, 'batch', 0, 5);
  const hardware = pick(runtime, 'worker', 1, 7);
  const hostFault = pick(runtime, 'worker', 2, 1);
  let eventsSent: Promise<void> = Promise.resolve();
  let injected = false;
  const patch = deps.runChange(patchSpec, {
    afterCanary: () => {
      // Once: a medium-risk change also stops at its containment point.
      if (injected) return;
      injected = true;
      eventsSent = (async () => {
        faults.set(hang, 'software');
        const alarm = events.alarm(hang, 'Instance', 'hang-1');
        await inject(
          runtime,
          say,
          `a status-check alarm for ${hang} (batch; a software hang), delivered twice`,
          [alarm, alarm],
        );
        faults.set(hardware, 'hardware');
        await inject(runtime, say, `an AWS Health degraded-hardware issue for ${hardware} (worker)`, [
          events.degradedHardware(hardware),
        ]);
        faults.set(hostFault, 'hardware');
        await inject(runtime, say, `a system status-check alarm for ${hostFault} (worker; a failing host)`, [
          events.alarm(hostFault, 'System', 'host-1'),
        ]);
      })();
    },
  });
  await patch;
  await eventsSent;
  await deps.settled();
}

/**
 * Scene 2: a bad config; the judge compares the canary with the rest and rolls it back.
 * Meanwhile a rack in zone c fails: more than 20% of the zone at once trips the breaker.
 */
export async function badChangeDuringStorm(
  deps: SceneDeps,
  configSpec: { readonly target: { readonly services: readonly string[] } },
  rackSizes: Readonly<Record<string, number>>,
): Promise<void> {
  const { runtime, say, faults, events } = deps;
  say('scene 2: a bad change regresses latency on its canary; meanwhile a rack fails in zone c');
  const zoneC = runtime.zones[2];
  const zoneSize = [...runtime.instances.values()].reduce(
    (n, byZone) => n + (byZone.get(zoneC)?.length ?? 0),
    0,
  );
  const rack = Object.entries(rackSizes).flatMap(([service, n]) =>
    (runtime.instances.get(service)?.get(zoneC) ?? []).slice(-n),
  );
  const config = deps.runChange(configSpec, {
    beforeGate: () => writeLatency(runtime, configSpec.target.services),
  });
  const stormSent = (async () => {
    await new Promise((r) => setTimeout(r, 1500));
    for (const id of rack) faults.set(id, 'hardware');
    await inject(
      runtime,
      say,
      `system status-check alarms for ${rack.length} instances of one rack in ${zoneC} (${Math.round((100 * rack.length) / zoneSize)}% of the zone)`,
      rack.map((id, k) => events.alarm(id, 'System', `rack-${k}`)),
    );
  })();
  await Promise.all([config, stormSent]);
  await deps.settled();
}

/**
 * Scene 3 (alongside the others): a rolling stop-start of the service whose instances are
 * members of an Auto Scaling group behind a target group. Each wave enters Standby (desired
 * capacity decremented: the group launches nothing), drains for the target group's
 * deregistration delay, stops and starts, exits Standby, and is healthy again (threshold ×
 * interval) before it bakes and the next wave starts.
 */
export async function rollingChangeBehindLoadBalancer(
  deps: SceneDeps,
  spec: { readonly description: string },
): Promise<void> {
  const { runtime, say } = deps;
  const layout = runtime.traffic;
  if (!layout) return;
  say(
    `scene 3 (alongside 1 and 2): ${spec.description} — members of ${layout.group} behind target group ${layout.targetGroup.name}`,
  );
  // Settle looks every 2.5 s while instances drain and come back (15 s and more when deployed):
  // its looks share the handlers' paced Auto Scaling and ELB buckets with the other scenes.
  await deps.runChange(spec, { waits: { [ROLLOUT_STATES.waitForAction]: 2500 } });
}
