import { partitionOf } from '../../kafka/partitioner.js';
import type { WireMessage } from '../../kafka/producer-link.js';
import { CHECKPOINT_VERSION, type TableProgress } from '../progress.js';
import type { LeaseRecord } from './lease.js';

/**
 * The records of the state topic. Each table of each instance has two keys, kept in one
 * partition (chosen from the table's key, so its records are in one order):
 * - `<instance URL>|<table>`: its progress, as a checkpoint document holding that one table
 *   (the JSON the checkpoint file holds, validated the same way); a tombstone after --reset;
 * - `<instance URL>|<table>|lease`: who runs it (lease.ts).
 * A header `nowpipe.state` says which (`progress`, `lease`, `group`); records without it are
 * not nowpipe's and are ignored.
 */

export const KIND_HEADER = 'nowpipe.state';
export type RecordKind = 'progress' | 'lease' | 'group';

export const progressKey = (instance: string, table: string) => `${instance}|${table}`;
export const leaseKey = (key: string) => `${key}|lease`;
export const groupKey = (group: string) => `group|${group}`;

/** The partition of everything about a key (a table's, or a group's). */
export const partitionFor = (key: string, partitions: number) => partitionOf(key, partitions);

export function progressMessage(key: string, partition: number, progress: TableProgress | null): WireMessage & { partition: number } {
  const value = progress === null ? null : JSON.stringify({ version: CHECKPOINT_VERSION, updatedAt: new Date().toISOString(), tables: { [progress.scope.table]: progress } });
  return { key, value, partition, headers: { [KIND_HEADER]: 'progress' } };
}

export function leaseMessage(key: string, partition: number, record: LeaseRecord): WireMessage & { partition: number } {
  return { key: leaseKey(key), value: JSON.stringify(record), partition, headers: { [KIND_HEADER]: 'lease' } };
}

export function groupMessage(group: string, partition: number, tables: string[]): WireMessage & { partition: number } {
  return { key: groupKey(group), value: JSON.stringify({ group, tables }), partition, headers: { [KIND_HEADER]: 'group' } };
}

/** The kind of a record of the state topic, or undefined when it is not nowpipe's. */
export function kindOf(headers: Record<string, string>): RecordKind | undefined {
  const k = headers[KIND_HEADER];
  return k === 'progress' || k === 'lease' || k === 'group' ? k : undefined;
}
