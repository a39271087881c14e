import { constants, createGzip, type Gzip } from 'node:zlib';

/** Turns NDJSON text into the bytes of the file. */
export interface Encoder {
  /** Encodes `text` so that all text pushed so far can be decoded from the bytes returned so far. */
  push(text: string): Promise<Buffer>;
  /** The closing bytes (for gzip: the final block and the trailer). */
  end(): Promise<Buffer>;
}

export class PlainEncoder implements Encoder {
  async push(text: string): Promise<Buffer> {
    return Buffer.from(text, 'utf8');
  }

  async end(): Promise<Buffer> {
    return Buffer.alloc(0);
  }
}

/**
 * One streaming gzip member per file. Every push ends with Z_SYNC_FLUSH, which byte-aligns the
 * deflate stream: once those bytes are fsynced, every row pushed so far can be decompressed
 * from the `.part` file even if the process dies before the member is finished. Recovery then
 * re-compresses that prefix into a complete member (see recovery.ts).
 */
export class GzipEncoder implements Encoder {
  private readonly gz: Gzip = createGzip();
  private out: Buffer[] = [];
  private failed?: Error;

  constructor() {
    // Flowing mode: zlib pushes its output from the thread pool callback, before it calls the
    // flush callback, so by then everything for this push has been collected.
    this.gz.on('data', (b: Buffer) => this.out.push(b));
    this.gz.on('error', (err) => (this.failed = err));
  }

  private take(): Buffer {
    const b = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
    this.out = [];
    return b;
  }

  push(text: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.failed) return reject(this.failed);
      this.gz.write(text, 'utf8');
      this.gz.flush(constants.Z_SYNC_FLUSH, () => (this.failed ? reject(this.failed) : resolve(this.take())));
    });
  }

  end(): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.failed) return reject(this.failed);
      this.gz.once('end', () => resolve(this.take()));
      this.gz.once('error', reject);
      this.gz.end();
    });
  }
}
