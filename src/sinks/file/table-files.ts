import { join } from 'node:path';
import { FileLock, type LeaseOptions } from '../../checkpoint/lock.js';
import { LockError } from '../../errors/index.js';
import { ensureDir } from '../../fsutil/ensure-dir.js';
import type { Cursor } from '../../servicenow/query.js';
import { formatLine, type Format } from '../format.js';
import type { ChangeRecord } from '../types.js';
import { diskError } from './disk.js';
import { Manifest } from './manifest.js';
import { fileName, LOCK_NAME, MANIFEST_NAME, type Compression } from './naming.js';
import { PartFile } from './part-file.js';
import { recover, type RecoveryReport } from './recovery.js';

export interface Limits {
  format: Format;
  compress: Compression;
  maxRows: number;
  maxBytes: number;
  maxAgeSeconds: number;
}

/** With gzip, the compressed size is known only after a flush: flush (and check) every MiB of text. */
const GZIP_CHECK_BYTES = 1 << 20;

/**
 * One table's folder: its open `.part` file, sequence numbers and manifest. Not safe for
 * concurrent calls: FileSink runs every call through one chain.
 */
export class TableFiles {
  readonly folder: string;
  private readonly manifest: Manifest;
  part?: PartFile;
  private sequence = 1;
  private ageTimer?: NodeJS.Timeout;
  /**
   * The folder's lease (`.nowpipe.lock`): one run at a time writes a table's folder, since its
   * `.part` files, sequence numbers and manifest are shared. Per table folder, not per --output,
   * so runs that export different tables into one --output do not exclude each other.
   */
  readonly lock: FileLock;

  constructor(
    dir: string,
    readonly table: string,
    private readonly limits: Limits,
    /** Called when the open file reaches its age; the sink queues the rotation behind any write. */
    private readonly onAged: (files: TableFiles, part: PartFile) => void,
    lease: LeaseOptions = {},
  ) {
    this.folder = join(dir, table);
    this.manifest = new Manifest(join(this.folder, MANIFEST_NAME));
    this.lock = new FileLock(join(this.folder, LOCK_NAME), { ...lease, subject: `the output folder ${this.folder}` });
  }

  /**
   * Creates the folder, takes its lock, and completes what a previous run left behind. Nothing
   * is written before the lock is ours; creating it also proves the folder writable (a real
   * create, not access(2): root passes access checks on a read-only mount).
   */
  async open(): Promise<RecoveryReport> {
    try {
      await ensureDir(this.folder);
    } catch (err) {
      throw diskError(err, 'create the output folder', this.folder);
    }
    try {
      await this.lock.acquire();
    } catch (err) {
      const cause = err instanceof LockError ? (err.cause as NodeJS.ErrnoException | undefined) : undefined;
      throw cause?.code ? diskError(cause, 'write in the output folder', this.folder) : err;
    }
    try {
      const report = await recover(this.folder, this.table, this.manifest, new Date());
      this.sequence = report.nextSequence;
      return report;
    } catch (err) {
      await this.lock.release();
      throw err;
    }
  }

  /** Whether the open file, with `rows`/`bytes` still buffered, must close before the next line. */
  private full(rows: number, bytes: number, nextBytes: number): boolean {
    const p = this.part!;
    const { maxRows, maxBytes, maxAgeSeconds, compress } = this.limits;
    if (p.rows + rows === 0) return false;
    if (p.rows + rows >= maxRows) return true;
    if (Date.now() - p.openedAt >= maxAgeSeconds * 1000) return true;
    // gzip's size is known only after a flush; plain text is exact to the line.
    return compress === 'gzip' ? p.bytes >= maxBytes : p.bytes + bytes + nextBytes > maxBytes;
  }

  /** Appends the records (rotating as the limits say) and fsyncs: durable when it resolves. */
  async write(records: ChangeRecord[]): Promise<void> {
    const { format, compress, maxBytes } = this.limits;
    const gzipCheck = Math.min(GZIP_CHECK_BYTES, maxBytes);
    let text = '';
    let textBytes = 0;
    let rows = 0;
    let first: Cursor | undefined;
    let last: Cursor | undefined;
    const flush = async () => {
      if (rows === 0) return;
      await this.part!.append(text, rows, first!, last!);
      text = '';
      textBytes = 0;
      rows = 0;
      first = undefined;
    };
    for (const r of records) {
      const line = formatLine(r, format);
      const bytes = Buffer.byteLength(line);
      const cursor = { updatedOn: r.updatedOn, sysId: r.sysId };
      if (this.part && this.full(rows, textBytes, bytes)) {
        await flush();
        await this.rotate();
      }
      this.part ??= await this.openPart(cursor);
      text += line;
      textBytes += bytes;
      rows += 1;
      first ??= cursor;
      last = cursor;
      if (compress === 'gzip' && textBytes >= gzipCheck) await flush();
    }
    await flush();
    await this.part?.sync();
  }

  private async openPart(first: Cursor): Promise<PartFile> {
    const { compress, maxAgeSeconds } = this.limits;
    const part = await PartFile.create(this.folder, fileName(this.table, first, this.sequence, compress), compress);
    this.sequence += 1;
    this.clearTimer();
    // A quiet table still gets its file closed, so downstream sees fresh data.
    this.ageTimer = setTimeout(() => this.onAged(this, part), maxAgeSeconds * 1000);
    this.ageTimer.unref();
    return part;
  }

  clearTimer(): void {
    if (this.ageTimer) clearTimeout(this.ageTimer);
    this.ageTimer = undefined;
  }

  /** Files this run completed (for the summary). */
  completed = 0;

  /** Closes the open file, if any: final name, then its manifest line. */
  async rotate(): Promise<void> {
    const part = this.part;
    if (!part) return;
    this.clearTimer();
    const entry = await part.close(new Date());
    this.part = undefined;
    await this.manifest.append(entry);
    this.completed += 1;
  }

  /** After a disk error: keep the `.part` as fsynced, for the next run to complete. */
  async abandon(): Promise<void> {
    this.clearTimer();
    const part = this.part;
    this.part = undefined;
    await part?.abandon();
  }

  /**
   * After the lease was lost: the folder is another run's now, which may already have completed
   * our `.part`. Touch no file (not even to truncate it); only let go of the handle.
   */
  async forget(): Promise<void> {
    this.clearTimer();
    const part = this.part;
    this.part = undefined;
    await part?.closeHandle();
  }
}
