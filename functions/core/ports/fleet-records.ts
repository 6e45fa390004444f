import type { ServicesFile } from '../fleet/services';

export interface Freeze {
  readonly id: string;
  /** `account`, or `service:<name>`. */
  readonly scope: string;
  readonly start: string;
  readonly end: string;
  readonly reason: string;
  readonly createdBy: string;
  readonly endedAt?: string;
}

export interface AuditRecord {
  /** What the record is about: `change:<id>`, `instance:<id>`, `service:<name>`, `freeze:<id>`, `inventory`. */
  readonly subject: string;
  readonly actor: string;
  /** What happened or was decided, e.g. `lease.acquired`, `wave.skipped`, `freeze.override`. */
  readonly action: string;
  readonly reason: string;
  readonly at: string;
  readonly details?: Record<string, unknown>;
}

export interface ServiceStore {
  putServices(file: ServicesFile, actor: string, now: number): Promise<void>;
  getServices(): Promise<ServicesFile>;
}
