import { FLEET_SHARDS } from './table-design';

/** Key builders for every item in the table: the one place that knows the key formats. */

export function fleetShard(instanceId: string): string {
  let hash = 2166136261;
  for (let i = 0; i < instanceId.length; i++) {
    hash ^= instanceId.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  return `FLEET#${String((hash >>> 0) % FLEET_SHARDS).padStart(2, '0')}`;
}

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
  case: (id: string) => ({ pk: `CASE#${id}`, sk: 'STATUS' }),
  budget: (service: string) => ({ pk: `SERVICE#${service}`, sk: 'BUDGET' }),
  ledger: (service: string) => ({ pk: `SERVICE#${service}`, sk: 'LEDGER' }),
  reservation: (service: string, holder: string) => ({
    pk: `SERVICE#${service}`,
    sk: `RESERVATION#${holder}`,
  }),
  serviceDefaults: () => ({ pk: 'CONFIG', sk: 'SERVICE_DEFAULTS' }),
  freeze: (id: string) => ({ pk: 'FREEZE', sk: id }),
  change: (id: string, part: string) => ({ pk: `CHANGE#${id}`, sk: part }),
  audit: (subject: string, at: string, seq: string) => ({ pk: `AUDIT#${subject}`, sk: `${at}#${seq}` }),
};

export const SERVICES_COLLECTION = 'SERVICES';
export const RESERVATIONS_COLLECTION = 'RESERVATIONS';
export const OPEN_FINDINGS_COLLECTION = 'FINDINGS#open';
/** Findings (gsi1) whose intake has not finished: recorded, but their case not yet started or joined. */
export const UNSETTLED_FINDINGS_COLLECTION = 'FINDINGS#unsettled';

/** Epoch milliseconds as a fixed-width string, so that string order is time order. */
export const sortableTime = (ms: number) => String(Math.max(0, Math.floor(ms))).padStart(15, '0');
