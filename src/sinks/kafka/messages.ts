import { snToMillis } from '../../servicenow/time.js';
import { formatJson, type Format } from '../format.js';
import type { ChangeRecord, Op } from '../types.js';

/** One Kafka message, with what the sink needs to size and name it. Shaped as kafkajs's Message. */
export interface OutMessage {
  topic: string;
  key: string;
  /** The JSON text (kafkajs writes it straight into its request buffer); null: a tombstone. */
  value: string | null;
  headers: Record<string, string>;
  /** Milliseconds since the epoch, as text (kafkajs's convention). */
  timestamp?: string;
  /** The row it carries (for error messages). */
  sysId: string;
  /** The record it came from (a delete with --format envelope makes two messages): a bad row is set aside whole. */
  record: ChangeRecord;
  /** Its size inside a record batch (upper bound). */
  bytes: number;
}

/** A v2 record batch's fixed header: the part of `max.message.bytes` no record can use. */
export const BATCH_OVERHEAD = 61;

function varintSize(n: number): number {
  // Zigzag-encoded, as Kafka's record fields are.
  let v = n >= 0 ? n * 2 : -n * 2 - 1;
  let size = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    size += 1;
  }
  return size;
}

/** The encoded size of a record's headers: their count, then each name and value with lengths. */
export function headersSize(headers: Record<string, string>): number {
  const names = Object.keys(headers);
  let size = varintSize(names.length);
  for (const name of names) {
    const k = Buffer.byteLength(name);
    const v = Buffer.byteLength(headers[name]!);
    size += varintSize(k) + k + varintSize(v) + v;
  }
  return size;
}

/** A record's size in a v2 batch, with the timestamp and offset deltas at their widest. */
export function recordSize(keyBytes: number, valueBytes: number | null, headerBytes: number): number {
  let body = 1 + 10 + 5; // attributes, timestampDelta (varlong), offsetDelta (varint)
  body += varintSize(keyBytes) + keyBytes;
  body += valueBytes === null ? 1 : varintSize(valueBytes) + valueBytes;
  body += headerBytes;
  return varintSize(body) + body;
}

/**
 * Turns change records into Kafka messages: key = sys_id, value = the row (or envelope) as JSON,
 * headers `nowpipe.table`, `nowpipe.instance`, `nowpipe.op`, timestamp = sys_updated_on.
 * A delete is a tombstone (null value) so a compacted topic drops the row; with the envelope
 * format the `{"op":"d",…}` event goes first, then the tombstone (Debezium's convention).
 */
export class MessageBuilder {
  private readonly headerCache = new Map<string, { headers: Record<string, string>; bytes: number }>();

  constructor(
    private readonly format: Format,
    private readonly topicOf: (table: string) => string,
  ) {}

  private headers(r: ChangeRecord, op: Op): { headers: Record<string, string>; bytes: number } {
    const id = `${r.table}\u0000${r.instance}\u0000${op}`;
    let h = this.headerCache.get(id);
    if (!h) {
      const headers = { 'nowpipe.table': r.table, 'nowpipe.instance': r.instance, 'nowpipe.op': op };
      h = { headers, bytes: headersSize(headers) };
      this.headerCache.set(id, h);
    }
    return h;
  }

  private message(r: ChangeRecord, topic: string, value: string | null): OutMessage {
    const h = this.headers(r, r.op);
    const ms = snToMillis(r.updatedOn);
    const keyBytes = Buffer.byteLength(r.sysId);
    return {
      topic,
      key: r.sysId,
      value,
      headers: h.headers,
      timestamp: ms === undefined ? undefined : String(ms),
      sysId: r.sysId,
      record: r,
      bytes: recordSize(keyBytes, value === null ? null : Buffer.byteLength(value, 'utf8'), h.bytes),
    };
  }

  build(r: ChangeRecord): OutMessage[] {
    const topic = this.topicOf(r.table);
    if (r.op !== 'd') return [this.message(r, topic, formatJson(r, this.format))];
    const tombstone = this.message(r, topic, null);
    if (this.format !== 'envelope') return [tombstone];
    return [this.message(r, topic, formatJson(r, this.format)), tombstone];
  }
}

/** The bytes of a chunk that compression may add in the worst case (deflate's stored blocks). */
export function compressionSlack(limit: number, compression: 'none' | 'gzip'): number {
  return compression === 'gzip' ? 64 + 5 * Math.ceil(limit / 16_384) : 0;
}

/**
 * Splits messages, in order, into produce requests no larger than the topic's
 * `max.message.bytes` (so each partition's record batch, a part of the request, fits too) and
 * no longer than `maxCount`. A message that is too large on its own gets a chunk to itself.
 */
export function chunkMessages(messages: OutMessage[], limitOf: (topic: string) => number, maxCount: number): OutMessage[][] {
  const chunks: OutMessage[][] = [];
  let chunk: OutMessage[] = [];
  let bytes = BATCH_OVERHEAD;
  let limit = Infinity;
  for (const m of messages) {
    const own = limitOf(m.topic);
    const next = Math.min(limit, own);
    if (chunk.length > 0 && (bytes + m.bytes > next || chunk.length >= maxCount)) {
      chunks.push(chunk);
      chunk = [];
      bytes = BATCH_OVERHEAD;
      limit = own;
    } else {
      limit = next;
    }
    chunk.push(m);
    bytes += m.bytes;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}
