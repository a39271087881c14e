import type { Row } from '../servicenow/response.js';

/** c: created in this version, u: updated, d: deleted. */
export type Op = 'c' | 'u' | 'd';

/** One change to deliver: a row version, or a delete (row null). */
export interface ChangeRecord {
  op: Op;
  table: string;
  instance: string;
  sysId: string;
  /** Raw `sys_updated_on` (for deletes: when the delete was recorded). */
  updatedOn: string;
  row: Row | null;
}

/**
 * A destination. `write` resolves only when the records are durable there (stdout drained,
 * file fsynced, Kafka acknowledged); the pipeline commits the checkpoint after that, never before.
 */
export interface Sink {
  readonly name: string;
  /** Connects and checks health before any data moves. */
  open(): Promise<void>;
  write(records: ChangeRecord[]): Promise<void>;
  /** Flushes and releases everything; after a clean close all written data is final. */
  close(): Promise<void>;
}

/**
 * What a sink may tell people, while data goes elsewhere: the run's reporter fits it. A sink
 * depends on this narrow shape, not on the terminal code (see test/unit/layers.test.ts).
 */
export interface SinkNotices {
  readonly verboseEnabled: boolean;
  info(message: string): void;
  warn(message: string): void;
  verbose(message: string): void;
}
