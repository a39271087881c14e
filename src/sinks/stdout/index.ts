import type { Writable } from 'node:stream';
import { OutputClosedError, SinkError } from '../../errors/index.js';
import { formatLine, type Format } from '../format.js';
import type { ChangeRecord, Sink } from '../types.js';

const PIECE_CHARS = 1 << 20;

/**
 * NDJSON on stdout. A write resolves once the stream has handed the bytes on (its callback
 * fired and, if it was full, it drained), so a checkpoint never runs ahead of the pipe.
 */
export class StdoutSink implements Sink {
  readonly name = 'stdout';
  private closed?: Error;
  private readonly onError = (err: NodeJS.ErrnoException) => {
    this.closed = err;
  };

  constructor(
    private readonly format: Format,
    private readonly stream: Writable = process.stdout,
  ) {}

  async open(): Promise<void> {
    // Without a listener an EPIPE from `| head` would crash the process.
    this.stream.on('error', this.onError);
  }

  /**
   * Writes the page in pieces of about a MiB, each handed on before the next is built: a page
   * of 10,000 rows is never held as one 10 MB string plus its 10 MB buffer.
   */
  async write(records: ChangeRecord[]): Promise<void> {
    let piece = '';
    for (const r of records) {
      piece += formatLine(r, this.format);
      if (piece.length >= PIECE_CHARS) {
        await this.put(piece);
        piece = '';
      }
    }
    if (piece !== '') await this.put(piece);
  }

  /** Resolves once the stream has handed the text on and, if it was full, drained. */
  private put(chunk: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const fail = (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED'
            ? new OutputClosedError('the output was closed by its reader')
            : new SinkError(`cannot write to stdout: ${err.message}`, { cause: err }),
        );
      if (this.closed) return fail(this.closed);
      let flushed = false;
      let drained = true;
      const done = () => flushed && drained && resolve();
      const ok = this.stream.write(chunk, 'utf8', (err) => {
        if (err) return fail(err);
        flushed = true;
        done();
      });
      if (!ok) {
        drained = false;
        this.stream.once('drain', () => {
          drained = true;
          done();
        });
      }
    });
  }

  async close(): Promise<void> {
    this.stream.off('error', this.onError);
    this.stream.on('error', () => undefined);
  }
}
