import { FLEET_SHARDS } from './table-design';

/**
 * Key builders for every item in the fleet-state table, and for its index entries (gsi1, gsi2)
 * and the prefixes queries read them by: the one place that knows the key formats (the items
 * and access patterns are listed in docs/store.md). The stores build no key themselves.
 */

/** Epoch milliseconds as a fixed-width string, so that string order is time order. */
export const sortableTime = (ms: number) => String(Math.max(0, Math.floor(ms))).padStart(15, '0');

const shardName = (n: number) => `FLEET#${String(n).padStart(2, '0')}`;

/** The fleet shard (gsi2 partition) an instance's items are listed under. */
export function fleetShard(instanceId: string): string {
  let hash = 2166136261;
  for (let i = 0; i < instanceId.length; i++) {
    hash ^= instanceId.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  return shardName((hash >>> 0) % FLEET_SHARDS);
}

/** Every fleet shard, for a whole-fleet read (one Query each). */
export const fleetShards = (): string[] => Array.from({ length: FLEET_SHARDS }, (_, i) => shardName(i));

const wavePart = (wave: number, part = '') => `WAVE#${String(wave).padStart(5, '0')}#${part}`;
const ownerPartition = (owner: string) => `OWNER#${owner}`;

/** The table's items (pk, sk). */
export const keys = {
  instance: (id: string) => ({ pk: `INSTANCE#${id}`, sk: 'META' }),
  lease: (id: string) => ({ pk: `INSTANCE#${id}`, sk: 'LEASE' }),
  action: (id: string, changeId: string) => ({ pk: `INSTANCE#${id}`, sk: `ACTION#${changeId}` }),
  finding: (id: string, kind: string, key: string) => ({
    pk: `INSTANCE#${id}`,
    sk: `FINDING#${kind}#${key}`,
  }),
  /** Which remediation case a finding went to (written with the case, or with its joining it). */
  findingCase: (id: string, kind: string, key: string) => ({
    pk: `INSTANCE#${id}`,
    sk: `CASEOF#${kind}#${key}`,
  }),
  /** The instance's active case of a kind: at most one, claimed with a conditional write. */
  activeCase: (id: string, kind: string) => ({ pk: `INSTANCE#${id}`, sk: `ACTIVECASE#${kind}` }),
  /** How the instance's last status-check remediation ended (relapse.ts): one per instance. */
  lastRemediation: (id: string) => ({ pk: `INSTANCE#${id}`, sk: 'LASTREMEDIATION' }),
  case: (id: string) => ({ pk: `CASE#${id}`, sk: 'STATUS' }),
  /** Recovered and not-recovered counts of a ladder step for a failure kind (`statsKey`). */
  outcome: (statsKey: string) => ({ pk: 'STATS', sk: `OUTCOME#${statsKey}` }),
  breaker: (scope: string) => ({ pk: 'BREAKER', sk: scope }),
  /** A scope's counts for the breaker (scope-health.ts): members, unavailable (the sweep), flagged (findings). */
  health: (scope: string) => ({ pk: 'HEALTH', sk: scope }),
  /** An in-flight cap's holders and their number (`account`, `zone:<z>`, `service:<s>`). */
  inFlight: (scope: string) => ({ pk: 'INFLIGHT', sk: scope }),
  budget: (service: string) => ({ pk: `SERVICE#${service}`, sk: 'BUDGET' }),
  ledger: (service: string) => ({ pk: `SERVICE#${service}`, sk: 'LEDGER' }),
  reservation: (service: string, holder: string) => ({
    pk: `SERVICE#${service}`,
    sk: `RESERVATION#${holder}`,
  }),
  serviceDefaults: () => ({ pk: 'CONFIG', sk: 'SERVICE_DEFAULTS' }),
  freeze: (id: string) => ({ pk: 'FREEZE', sk: id }),
  /** An instance taken out of traffic (TrafficExit), kept until it is back: its own partition. */
  trafficExit: (instanceId: string) => ({ pk: `TRAFFIC#${instanceId}`, sk: 'EXIT' }),
  change: (id: string, part: string) => ({ pk: `CHANGE#${id}`, sk: part }),
  changeStatus: (id: string) => keys.change(id, 'STATUS'),
  changeSpec: (id: string) => keys.change(id, 'SPEC'),
  planChunk: (id: string, n: number) => keys.change(id, `PLAN#${String(n).padStart(4, '0')}`),
  /** A chunk of a revision of the plan (the first plan's chunks are `planChunk`'s). */
  planRevisionChunk: (id: string, revision: number, n: number) =>
    keys.change(id, `${sortPrefixes.planRevision(revision)}${String(n).padStart(4, '0')}`),
  /** What a step wrote about a wave: `apply#<n>`, `result`. */
  waveRecord: (id: string, wave: number, part: string) => keys.change(id, wavePart(wave, part)),
  audit: (subject: string, at: string, seq: string) => ({ pk: `AUDIT#${subject}`, sk: `${at}#${seq}` }),
};

/** A ledger's per-zone attribute (`capacity@<zone>`, `used@<zone>`, `observed@<zone>`). */
export const ledgerZoneAttribute = (count: 'capacity' | 'used' | 'observed', zone: string) =>
  `${count}@${zone}`;
/** The zone a per-zone ledger attribute names, if it is one of that count. */
export const zoneOfLedgerAttribute = (count: 'capacity' | 'used' | 'observed', attribute: string) =>
  attribute.startsWith(`${count}@`) ? attribute.slice(count.length + 1) : undefined;

/** Partitions and sort-key prefixes that queries read (`pk = :p AND begins_with(sk, :prefix)`). */
export const partitions = {
  change: (id: string) => `CHANGE#${id}`,
  audit: (subject: string) => `AUDIT#${subject}`,
  freezes: 'FREEZE',
  stats: 'STATS',
  inFlight: 'INFLIGHT',
};
export const sortPrefixes = {
  planChunks: 'PLAN#',
  planRevision: (revision: number) => `PLANR#${String(revision).padStart(6, '0')}#`,
  waveRecords: 'WAVE#',
  waveRecordsOf: (wave: number) => wavePart(wave),
  outcomes: 'OUTCOME#',
};

export const SERVICES_COLLECTION = 'SERVICES';
export const RESERVATIONS_COLLECTION = 'RESERVATIONS';
export const CHANGES_COLLECTION = 'CHANGES';
export const CASES_COLLECTION = 'CASES';
export const OPEN_FINDINGS_COLLECTION = 'FINDINGS#open';
/** Findings (gsi1) whose intake has not finished: recorded, but their case not yet started or joined. */
export const UNSETTLED_FINDINGS_COLLECTION = 'FINDINGS#unsettled';
/** Cases acting now (gsi1), so counting them reads only them. */
export const IN_FLIGHT_CASES = 'CASES#acting';

type Finding = { readonly instanceId: string; readonly kind: string; readonly key: string };

/**
 * Index entries (gsi1pk/gsi1sk, gsi2pk/gsi2sk) of each kind of item, and the partitions and
 * prefixes the index queries read them by.
 */
export const indexKeys = {
  /** By service and zone (gsi1); the instance's fleet shard (gsi2). */
  instance: (instance: { readonly id: string; readonly service: string; readonly zone: string }) => ({
    gsi1pk: `SERVICE#${instance.service}`,
    gsi1sk: `ZONE#${instance.zone}#${instance.id}`,
    gsi2pk: fleetShard(instance.id),
    gsi2sk: `INSTANCE#${instance.id}`,
  }),
  /** A held lease: by its owner (gsi1, removed on release); the instance's fleet shard (gsi2). */
  lease: (owner: string, instanceId: string) => ({
    gsi1pk: ownerPartition(owner),
    gsi1sk: `INSTANCE#${instanceId}`,
    gsi2pk: fleetShard(instanceId),
    gsi2sk: `LEASE#${instanceId}`,
  }),
  /** A fenced action record, by its change (gsi1). */
  action: (changeId: string, instanceId: string) => ({
    gsi1pk: partitions.change(changeId),
    gsi1sk: `INSTANCE#${instanceId}`,
  }),
  /** A reservation: by its owner (gsi1); in the reservations collection by expiry (gsi2). */
  reservation: (owner: string, service: string, holder: string, until: number) => ({
    gsi1pk: ownerPartition(owner),
    gsi1sk: `RESERVATION#${service}#${holder}`,
    gsi2pk: RESERVATIONS_COLLECTION,
    gsi2sk: indexKeys.reservationExpiry(keys.reservation(service, holder), until),
  }),
  /** A reservation's place in the collection by expiry (it moves when the reservation is extended). */
  reservationExpiry: (reservation: { readonly pk: string; readonly sk: string }, until: number) =>
    `${sortableTime(until)}#${reservation.pk}#${reservation.sk}`,
  /** A recorded finding: unsettled (gsi1) until its intake finishes; open (gsi2) until its case ends. */
  finding: (finding: Finding, now: number) => ({
    gsi1pk: UNSETTLED_FINDINGS_COLLECTION,
    gsi1sk: `${sortableTime(now)}#${finding.instanceId}#${finding.kind}#${finding.key}`,
    gsi2pk: OPEN_FINDINGS_COLLECTION,
    gsi2sk: `${sortableTime(now)}#${finding.instanceId}#${finding.kind}`,
  }),
  /** The audit trail by day (gsi2). */
  audit: (record: { readonly subject: string; readonly at: string }, seq: string) => ({
    gsi2pk: `AUDIT#${record.at.slice(0, 10)}`,
    gsi2sk: `${record.at}#${record.subject}#${seq}`,
  }),
  /** A traffic exit, listed under the instance's fleet shard (gsi2), so the sweep reads them all shard by shard. */
  trafficExit: (instanceId: string) => ({
    gsi2pk: fleetShard(instanceId),
    gsi2sk: `TRAFFIC#${instanceId}`,
  }),
  /** A declared budget, in the services collection (gsi2). */
  budget: (service: string) => ({ gsi2pk: SERVICES_COLLECTION, gsi2sk: service }),
  /** The change history, newest first (gsi2). */
  change: (id: string, createdAt: number) => ({
    gsi2pk: CHANGES_COLLECTION,
    gsi2sk: `${sortableTime(createdAt)}#${id}`,
  }),
  /** The case history, newest first (gsi2). */
  case: (id: string, createdAt: number) => ({
    gsi2pk: CASES_COLLECTION,
    gsi2sk: `${sortableTime(createdAt)}#${id}`,
  }),
  /** A case acting now (gsi1): present while it acts, removed after. */
  inFlightCase: (id: string) => ({ gsi1pk: IN_FLIGHT_CASES, gsi1sk: id }),

  // What the index queries read.
  owner: ownerPartition,
  ownerLeases: 'INSTANCE#',
  ownerReservations: 'RESERVATION#',
  shardInstances: 'INSTANCE#' as const,
  shardLeases: 'LEASE#' as const,
  shardTrafficExits: 'TRAFFIC#' as const,
};
