import type { Cursor } from '../../servicenow/query.js';

export type Compression = 'none' | 'gzip';

export const PART_SUFFIX = '.part';
export const MANIFEST_NAME = '_manifest.ndjson';
/** The lease of the run writing a table's folder (see TableFiles.lock). */
export const LOCK_NAME = '.nowpipe.lock';

/** `2024-01-01 10:00:00` → `20240101T100000Z`: sortable and safe in every file system. */
export function stamp(updatedOn: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(updatedOn);
  return m ? `${m[1]}${m[2]}${m[3]}T${m[4]}${m[5]}${m[6]}Z` : '00000000T000000Z';
}

export function extension(compress: Compression): string {
  return compress === 'gzip' ? '.ndjson.gz' : '.ndjson';
}

/**
 * `<table>-<first row's cursor time>-<sequence>.ndjson[.gz]`: names sort by the time of the
 * data they start with, and the sequence (never reused, continued across runs) breaks ties and
 * gives the exact order of writing.
 */
export function fileName(table: string, first: Cursor, sequence: number, compress: Compression): string {
  return `${table}-${stamp(first.updatedOn)}-${String(sequence).padStart(6, '0')}${extension(compress)}`;
}

export interface ParsedName {
  /** The closed file's name (without `.part`). */
  name: string;
  sequence: number;
  compress: Compression;
  part: boolean;
}

/** Recognises this table's data files (closed or `.part`); anything else in the folder is not ours. */
export function parseName(table: string, name: string): ParsedName | undefined {
  const escaped = table.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`^(${escaped}-\\d{8}T\\d{6}Z-(\\d{6,})\\.ndjson(\\.gz)?)(\\.part)?$`).exec(name);
  if (!m) return undefined;
  return { name: m[1]!, sequence: Number(m[2]), compress: m[3] ? 'gzip' : 'none', part: m[4] !== undefined };
}
