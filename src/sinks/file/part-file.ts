import { createHash, type Hash } from 'node:crypto';
import { open, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Cursor } from '../../servicenow/query.js';
import { diskError, fsyncDir } from './disk.js';
import { GzipEncoder, PlainEncoder, type Encoder } from './encoder.js';
import type { ManifestEntry } from './manifest.js';
import { PART_SUFFIX, type Compression } from './naming.js';

/**
 * One output file while it is being written: `<name>.part`, appended to, fsynced after every
 * batch, and renamed to `<name>` when closed. It tracks what the manifest needs on the way
 * (rows, bytes, cursors, sha256) so closing never reads the file back.
 */
export class PartFile {
  rows = 0;
  bytes = 0;
  /** Bytes known to be on disk (after the last fsync): what a failed write truncates back to. */
  private durableBytes = 0;
  first?: Cursor;
  last?: Cursor;
  readonly openedAt = Date.now();
  private readonly hash: Hash = createHash('sha256');
  private readonly encoder: Encoder;

  private constructor(
    readonly dir: string,
    readonly name: string,
    private readonly fh: FileHandle,
    compress: Compression,
  ) {
    this.encoder = compress === 'gzip' ? new GzipEncoder() : new PlainEncoder();
  }

  get partPath(): string {
    return join(this.dir, this.name + PART_SUFFIX);
  }

  static async create(dir: string, name: string, compress: Compression): Promise<PartFile> {
    const path = join(dir, name + PART_SUFFIX);
    let fh: FileHandle;
    try {
      // wx: a sequence number is never reused, so an existing file means something is wrong.
      fh = await open(path, 'wx');
      // The new directory entry must survive a crash as well as the data written into it.
      await fsyncDir(dir);
    } catch (err) {
      throw diskError(err, 'create', path);
    }
    return new PartFile(dir, name, fh, compress);
  }

  /** Appends NDJSON lines (not yet durable: call `sync`). */
  async append(text: string, rows: number, first: Cursor, last: Cursor): Promise<void> {
    const bytes = await this.encoder.push(text);
    await this.writeAll(bytes);
    this.rows += rows;
    this.first ??= first;
    this.last = last;
  }

  private async writeAll(bytes: Buffer): Promise<void> {
    try {
      let off = 0;
      while (off < bytes.length) {
        const { bytesWritten } = await this.fh.write(bytes, off, bytes.length - off, this.bytes + off);
        off += bytesWritten;
      }
    } catch (err) {
      throw diskError(err, 'write to', this.partPath);
    }
    this.hash.update(bytes);
    this.bytes += bytes.length;
  }

  async sync(): Promise<void> {
    if (this.durableBytes === this.bytes) return;
    try {
      await this.fh.datasync();
    } catch (err) {
      throw diskError(err, 'fsync', this.partPath);
    }
    this.durableBytes = this.bytes;
  }

  /** Finishes the file, makes it durable and renames it to its final name. */
  async close(closedAt: Date): Promise<ManifestEntry> {
    await this.writeAll(await this.encoder.end());
    await this.sync();
    const finalPath = join(this.dir, this.name);
    try {
      await this.fh.close();
      await rename(this.partPath, finalPath);
      await fsyncDir(this.dir);
    } catch (err) {
      throw diskError(err, 'close', finalPath);
    }
    return {
      file: this.name,
      rows: this.rows,
      bytes: this.bytes,
      firstCursor: this.first ?? null,
      lastCursor: this.last ?? null,
      sha256: this.hash.digest('hex'),
      closedAt: closedAt.toISOString(),
    };
  }

  /**
   * After a failed write: cut the file back to what was fsynced (which also frees the space a
   * full disk ran out of) and leave it as `.part`; the next run completes it.
   */
  async abandon(): Promise<void> {
    await this.fh.truncate(this.durableBytes).catch(() => undefined);
    await this.fh.datasync().catch(() => undefined);
    await this.closeHandle();
  }

  /** Lets go of the file without changing it. */
  async closeHandle(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}
