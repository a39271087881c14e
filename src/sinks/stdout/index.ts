import { readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { OutputClosedError, SinkError } from '../../errors/index.js';
import { formatJson, type Format } from '../format.js';
import type { ChangeRecord, OutputPipe, Sink } from '../types.js';

const BUFFER_BYTES = 1 << 20;

/**
 * How much a pipe can hold that its reader never read: its capacity. Linux starts a pipe at 64
 * KiB, and its reader may grow it up to /proc/sys/fs/pipe-max-size (1 MiB by default); Node
 * cannot ask which, so the largest is assumed.
 */
function pipeCapacity(): number {
  try {
    const max = Number(readFileSync('/proc/sys/fs/pipe-max-size', 'utf8').trim());
    if (Number.isInteger(max) && max > 0) return Math.max(max, 65_536);
  } catch {
    // Not Linux: macOS pipes hold at most 64 KiB; 1 MiB covers both.
  }
  return 1 << 20;
}

/**
 * NDJSON on stdout. A write resolves once the stream has handed the bytes on (its callback
 * fired and, if it was full, it drained), so a checkpoint never runs ahead of the pipe.
 */
export class StdoutSink implements Sink {
  readonly name = 'stdout';
  private closed?: Error;
  private readonly buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  private handedOn = 0;
  private readonly onError = (err: NodeJS.ErrnoException) => {
    this.closed = err;
  };

  /** When the reader goes away (`| head`), the pipeline moves the checkpoint back by what the pipe could hold. */
  readonly pipe: OutputPipe = {
    handedOn: () => this.handedOn,
    unreadAtMost: pipeCapacity(),
    closed: () => this.closed !== undefined && isClosedPipe(this.closed),
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
   * Encodes the page straight into a reused buffer of a MiB and hands each full buffer on before
   * filling it again: the rows' text is never copied into page-sized strings on the JS heap.
   */
  async write(records: ChangeRecord[]): Promise<void> {
    let used = 0;
    for (const r of records) {
      const json = formatJson(r, this.format);
      // UTF-8 takes at most 3 bytes per UTF-16 unit: check the worst case, write the real one.
      if (used > 0 && used + json.length * 3 + 1 > this.buffer.length) {
        await this.put(this.buffer.subarray(0, used));
        used = 0;
      }
      if (json.length * 3 + 1 > this.buffer.length) {
        await this.put(`${json}\n`); // a row bigger than the buffer goes on its own
        continue;
      }
      used += this.buffer.write(json, used, 'utf8');
      this.buffer[used++] = 0x0a;
    }
    if (used > 0) await this.put(this.buffer.subarray(0, used));
  }

  /** Resolves once the stream has handed the bytes on (the buffer may be reused) and, if it was full, drained. */
  private put(chunk: string | Buffer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const fail = (err: NodeJS.ErrnoException) => {
        this.closed ??= err;
        reject(isClosedPipe(err) ? new OutputClosedError('the output was closed by its reader') : new SinkError(`cannot write to stdout: ${err.message}`, { cause: err }));
      };
      if (this.closed) return fail(this.closed);
      let flushed = false;
      let drained = true;
      const done = () => flushed && drained && resolve();
      const bytes = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
      const ok = this.stream.write(chunk, (err) => {
        if (err) return fail(err);
        this.handedOn += bytes;
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

const isClosedPipe = (err: NodeJS.ErrnoException) => err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED';
