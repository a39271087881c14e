import { createHash, createHmac } from 'node:crypto';
import { formatJson, type Format } from '../format.js';
import type { ChangeRecord } from '../types.js';

/** One POST: an NDJSON body and the rows in it. */
export interface Post {
  body: Buffer;
  rows: number;
}

/** A record whose line alone is over the limit: a bad row. */
export interface Oversized {
  record: ChangeRecord;
  bytes: number;
}

/**
 * Cuts a batch into POST bodies of at most `maxBytes` each, in order: one NDJSON line per
 * record (as every sink formats it), a body never split inside a line. A record whose line
 * alone is larger goes to `oversized` instead (the sink's bad-row policy decides). The cut is
 * a pure function of the records, so a rerun that resends the same records sends the same bodies.
 */
export function planPosts(records: readonly ChangeRecord[], format: Format, maxBytes: number): { posts: Post[]; oversized: Oversized[] } {
  const posts: Post[] = [];
  const oversized: Oversized[] = [];
  let lines: string[] = [];
  let bytes = 0;
  const flush = () => {
    if (lines.length === 0) return;
    posts.push({ body: Buffer.from(lines.join(''), 'utf8'), rows: lines.length });
    lines = [];
    bytes = 0;
  };
  for (const record of records) {
    const line = `${formatJson(record, format)}\n`;
    const size = Buffer.byteLength(line, 'utf8');
    if (size > maxBytes) {
      oversized.push({ record, bytes: size });
      continue;
    }
    if (bytes + size > maxBytes) flush();
    lines.push(line);
    bytes += size;
  }
  flush();
  return { posts, oversized };
}

/**
 * `x-nowpipe-batch-id`: the first 32 hex digits (128 bits) of the body's SHA-256. Derived from
 * the bytes, not counted or drawn at random, so the same body always carries the same id: a
 * retry of a POST, and a rerun after a crash that resends a batch the receiver already got
 * (the checkpoint had not moved yet), both repeat the id, and the receiver can drop the
 * duplicate. A hash rather than table + first/last row + count: two bodies share an id only
 * when they are the same bytes, so a receiver that drops a repeated id never drops different
 * data (another --format or --fields, a row's new version in the same second).
 */
export function batchId(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex').slice(0, 32);
}

/** `x-nowpipe-signature`: `sha256=` and the hex HMAC-SHA256 of the body with `--http-secret`. */
export function signature(body: Buffer, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}
