import { open, readFile, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Cursor } from '../../servicenow/query.js';
import { diskError, fsyncDir } from './disk.js';

/** One line of `_manifest.ndjson`: a closed file a loader may pick up, and how to verify it. */
export interface ManifestEntry {
  file: string;
  rows: number;
  /** Size on disk (compressed size for .gz). */
  bytes: number;
  /** Cursor (sys_updated_on, sys_id) of the first and last record; null when a recovered file's rows do not carry it. */
  firstCursor: Cursor | null;
  lastCursor: Cursor | null;
  /** Hex SHA-256 of the file's bytes as on disk. */
  sha256: string;
  closedAt: string;
  /** Completed by a later run from a `.part` left by a crash. */
  recovered?: true;
}

/** Append-only list of closed files; each line is fsynced before the next file is written. */
export class Manifest {
  constructor(readonly path: string) {}

  /** The entries so far. A line torn by a crash mid-append is cut off (its file is re-listed by recovery). */
  async load(): Promise<ManifestEntry[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw diskError(err, 'read the manifest', this.path);
    }
    const end = text.lastIndexOf('\n') + 1;
    if (end < text.length) {
      try {
        await truncate(this.path, Buffer.byteLength(text.slice(0, end)));
      } catch (err) {
        throw diskError(err, 'repair the manifest', this.path);
      }
    }
    const entries: ManifestEntry[] = [];
    for (const line of text.slice(0, end).split('\n')) {
      if (line.trim() === '') continue;
      try {
        entries.push(JSON.parse(line) as ManifestEntry);
      } catch {
        // Not ours to fix: a loader skips it too. Recovery re-lists any file it no longer names.
      }
    }
    return entries;
  }

  async append(entry: ManifestEntry): Promise<void> {
    try {
      const fh = await open(this.path, 'a');
      try {
        const created = (await fh.stat()).size === 0;
        await fh.write(`${JSON.stringify(entry)}\n`);
        await fh.datasync();
        if (created) await fsyncDir(dirname(this.path));
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw diskError(err, 'append to the manifest', this.path, `${entry.file} is closed but not yet listed; the next run lists it`);
    }
  }
}
