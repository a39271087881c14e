import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { constants, createGunzip } from 'node:zlib';
import { DateTime } from 'luxon';
import type { Cursor } from '../../servicenow/query.js';
import { rawValue } from '../../servicenow/entry.js';
import { isSnTimestamp, toSnTimestamp } from '../../servicenow/time.js';
import { diskError, fsyncDir } from './disk.js';
import { GzipEncoder } from './encoder.js';
import type { Manifest, ManifestEntry } from './manifest.js';
import { parseName, PART_SUFFIX, type ParsedName } from './naming.js';

const RECOVER_SUFFIX = '.recover';
const BATCH_BYTES = 1 << 20;

export interface RecoveryReport {
  /** `.part` files completed into closed files (name, rows kept). */
  completed: Array<{ file: string; rows: number }>;
  /** `.part` files that held no complete row, removed. */
  removed: string[];
  /** Closed files the manifest did not list yet (a crash between rename and append), now listed. */
  relisted: string[];
  /** The sequence number for the next file: one past any ever used in the folder or manifest. */
  nextSequence: number;
}

/** The (sys_updated_on, sys_id) of a line in either format, typed or not, when the line carries it. */
export function cursorOfLine(obj: Record<string, unknown>): Cursor | null {
  if (typeof obj.op === 'string' && typeof obj.ts === 'string' && typeof obj.sys_id === 'string') {
    const dt = DateTime.fromISO(obj.ts, { zone: 'utc' });
    return dt.isValid ? { updatedOn: toSnTimestamp(dt), sysId: obj.sys_id } : null;
  }
  const ts = rawValue(obj.sys_updated_on);
  const id = rawValue(obj.sys_id);
  if (typeof id !== 'string') return null;
  if (isSnTimestamp(ts)) return { updatedOn: ts, sysId: id };
  // --types writes it in ISO 8601 UTC, to the second.
  if (typeof ts === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(ts)) return { updatedOn: `${ts.slice(0, 10)} ${ts.slice(11, 19)}`, sysId: id };
  return null;
}

interface Scan {
  rows: number;
  first: Cursor | null;
  last: Cursor | null;
  /** Length of the valid prefix of the decoded text. */
  validBytes: number;
}

/**
 * Reads a data file (decompressing .gz leniently: a `.part` cut off by kill -9 ends without the
 * gzip trailer) and keeps the longest prefix of complete, parseable NDJSON lines. `onValid`
 * receives that prefix in order, in batches.
 */
async function scan(path: string, gzip: boolean, onValid?: (text: Buffer) => Promise<void>): Promise<Scan> {
  const source = createReadStream(path);
  const decoded: Readable = gzip ? source.pipe(createGunzip({ finishFlush: constants.Z_SYNC_FLUSH })) : source;
  const result: Scan = { rows: 0, first: null, last: null, validBytes: 0 };
  let carry = Buffer.alloc(0);
  let batch: Buffer[] = [];
  let batchBytes = 0;
  let stop = false;
  const flush = async () => {
    if (batchBytes > 0 && onValid) await onValid(Buffer.concat(batch));
    batch = [];
    batchBytes = 0;
  };
  try {
    for await (const chunk of decoded as AsyncIterable<Buffer>) {
      let buf = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      let start = 0;
      for (let nl = buf.indexOf(10, start); nl !== -1; nl = buf.indexOf(10, start)) {
        const line = buf.subarray(start, nl + 1);
        let obj: unknown;
        try {
          obj = JSON.parse(line.toString('utf8'));
        } catch {
          stop = true;
          break;
        }
        if (obj === null || typeof obj !== 'object') {
          stop = true;
          break;
        }
        const c = cursorOfLine(obj as Record<string, unknown>);
        if (result.rows === 0) result.first = c;
        result.last = c;
        result.rows += 1;
        result.validBytes += line.length;
        batch.push(line);
        batchBytes += line.length;
        start = nl + 1;
      }
      if (batchBytes >= BATCH_BYTES) await flush();
      if (stop) break;
      buf = buf.subarray(start);
      carry = Buffer.from(buf);
    }
  } catch (err) {
    // A corrupt tail (the gzip stream cut mid-block and garbage after it): keep the valid prefix.
    if ((err as NodeJS.ErrnoException).code !== 'Z_DATA_ERROR' && (err as NodeJS.ErrnoException).code !== 'Z_BUF_ERROR') {
      throw err;
    }
  } finally {
    source.destroy();
  }
  await flush();
  return result;
}

async function sha256File(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function entryFor(dir: string, file: string, s: Scan, closedAt: Date): Promise<ManifestEntry> {
  const { sha256, bytes } = await sha256File(join(dir, file));
  return { file, rows: s.rows, bytes, firstCursor: s.first, lastCursor: s.last, sha256, closedAt: closedAt.toISOString(), recovered: true };
}

/**
 * Turns a `.part` left by a crash into a closed file holding its complete rows. Those rows were
 * fsynced before the checkpoint moved past them, so they are part of the output; a partial last
 * page (fsynced or not, but never checkpointed) is read again by this run: the one page that
 * may appear twice. Every step is idempotent, so a crash during recovery is recovered next time.
 */
async function completePart(dir: string, p: ParsedName, closedAt: Date): Promise<ManifestEntry | undefined> {
  const partPath = join(dir, p.name + PART_SUFFIX);
  const finalPath = join(dir, p.name);
  if (p.compress === 'none') {
    const s = await scan(partPath, false);
    if (s.rows === 0) {
      await unlink(partPath);
      return undefined;
    }
    const fh = await open(partPath, 'r+');
    try {
      await fh.truncate(s.validBytes);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(partPath, finalPath);
    await fsyncDir(dir);
    return entryFor(dir, p.name, s, closedAt);
  }
  // A gzip member cannot be ended after the fact without its deflate state: re-compress the
  // valid prefix into a fresh member beside it, then swap.
  const tmpPath = finalPath + RECOVER_SUFFIX;
  const fh = await open(tmpPath, 'w');
  const encoder = new GzipEncoder();
  let s: Scan;
  try {
    s = await scan(partPath, true, async (text) => {
      await fh.write(await encoder.push(text.toString('utf8')));
    });
    await fh.write(await encoder.end());
    await fh.datasync();
  } finally {
    await fh.close();
  }
  if (s.rows === 0) {
    await unlink(tmpPath);
    await unlink(partPath);
    return undefined;
  }
  await rename(tmpPath, finalPath);
  await fsyncDir(dir);
  await unlink(partPath);
  return entryFor(dir, p.name, s, closedAt);
}

/**
 * Runs before the first write of a run: completes or removes leftover `.part` files, lists
 * closed files the manifest misses, and finds the next sequence number.
 */
export async function recover(dir: string, table: string, manifest: Manifest, closedAt: Date): Promise<RecoveryReport> {
  const report: RecoveryReport = { completed: [], removed: [], relisted: [], nextSequence: 1 };
  const entries = await manifest.load();
  const listed = new Set(entries.map((e) => e.file));
  let maxSeq = 0;
  for (const e of entries) maxSeq = Math.max(maxSeq, parseName(table, e.file)?.sequence ?? 0);

  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw diskError(err, 'list', dir);
  }
  const closed = new Set<string>();
  const parts: ParsedName[] = [];
  const ours = names.map((n) => parseName(table, n)).filter((p): p is ParsedName => p !== undefined);
  for (const p of ours) {
    maxSeq = Math.max(maxSeq, p.sequence);
    if (p.part) parts.push(p);
    else closed.add(p.name);
  }
  ours.sort((a, b) => a.sequence - b.sequence);
  parts.sort((a, b) => a.sequence - b.sequence);

  const step = async <T>(what: string, path: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw diskError(err, what, path);
    }
  };

  for (const n of names) {
    if (n.endsWith(RECOVER_SUFFIX) && parseName(table, n.slice(0, -RECOVER_SUFFIX.length))) {
      await step('remove', join(dir, n), () => unlink(join(dir, n)));
    }
  }
  for (const p of parts) {
    const partPath = join(dir, p.name + PART_SUFFIX);
    if (closed.has(p.name)) {
      // A gzip recovery died after the swap: the closed file is complete, the .part is stale.
      await step('remove', partPath, () => unlink(partPath));
      continue;
    }
    const entry = await step('complete', partPath, () => completePart(dir, p, closedAt));
    if (!entry) {
      report.removed.push(p.name + PART_SUFFIX);
      continue;
    }
    await manifest.append(entry);
    listed.add(entry.file);
    closed.add(entry.file);
    report.completed.push({ file: entry.file, rows: entry.rows });
  }
  for (const p of ours) {
    if (p.part || listed.has(p.name) || !(await exists(join(dir, p.name)))) continue;
    const s = await step('read', join(dir, p.name), () => scan(join(dir, p.name), p.compress === 'gzip'));
    const entry = await step('read', join(dir, p.name), () => entryFor(dir, p.name, s, closedAt));
    await manifest.append(entry);
    listed.add(p.name);
    report.relisted.push(p.name);
  }
  report.nextSequence = maxSeq + 1;
  return report;
}
