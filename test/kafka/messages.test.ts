// Pure units: records → messages, their sizes (checked against kafkajs's own encoder), chunking.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { snToMillis } from '../../src/servicenow/time.js';
import { BATCH_OVERHEAD, chunkMessages, compressionSlack, headersSize, MessageBuilder, recordSize, type OutMessage } from '../../src/sinks/kafka/messages.js';
import { installKafkajsSpeedups } from '../../src/kafka/kafkajs-speedups.js';
import { murmur2, partitionOf } from '../../src/kafka/partitioner.js';
import type { ChangeRecord } from '../../src/sinks/types.js';

const require = createRequire(import.meta.url);
// kafkajs's encoders for a record and a whole v2 record batch: the sizes the broker checks.
const encodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (r: { offsetDelta?: number; timestampDelta?: number; key: Buffer | string | null; value: Buffer | string | null; headers?: Record<string, string> }) => { size(): number };
const { RecordBatch: encodeBatch } = require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch: (b: { records: unknown[] }) => Promise<{ size(): number }> };

const INSTANCE = 'https://acme.service-now.com';
const row = (id: string, extra: Record<string, unknown> = {}) => ({ sys_id: id, sys_created_on: '2024-01-01 00:00:00', sys_updated_on: '2024-03-01 10:00:05', number: 'INC0000001', ...extra });
const rec = (op: ChangeRecord['op'], id: string, r: Record<string, unknown> | null = row(id)): ChangeRecord => ({ op, table: 'incident', instance: INSTANCE, sysId: id, updatedOn: '2024-03-01 10:00:05', row: r });
const topicOf = (t: string) => `servicenow.${t}`;

describe('MessageBuilder', () => {
  it('key = sys_id, value = the row as JSON, headers, timestamp = sys_updated_on in ms', () => {
    const [m, ...rest] = new MessageBuilder('raw', topicOf).build(rec('u', 'a1'));
    expect(rest).toEqual([]);
    expect(m).toMatchObject({ topic: 'servicenow.incident', key: 'a1', sysId: 'a1', timestamp: String(Date.parse('2024-03-01T10:00:05Z')) });
    expect(JSON.parse(m!.value!)).toEqual(row('a1'));
    expect(m!.headers).toEqual({ 'nowpipe.table': 'incident', 'nowpipe.instance': INSTANCE, 'nowpipe.op': 'u' });
  });

  it('envelope: the change event as value', () => {
    const [m] = new MessageBuilder('envelope', topicOf).build(rec('c', 'a1'));
    expect(JSON.parse(m!.value!)).toEqual({ op: 'c', table: 'incident', sys_id: 'a1', ts: '2024-03-01T10:00:05Z', instance: INSTANCE, record: row('a1') });
    expect(m!.headers['nowpipe.op']).toBe('c');
  });

  it('a delete is a tombstone (raw); with envelope the d event first, then the tombstone', () => {
    const raw = new MessageBuilder('raw', topicOf).build(rec('d', 'gone', null));
    expect(raw).toHaveLength(1);
    expect(raw[0]).toMatchObject({ key: 'gone', value: null, headers: { 'nowpipe.op': 'd' } });
    const env = new MessageBuilder('envelope', topicOf).build(rec('d', 'gone', null));
    expect(env.map((m) => m.value === null)).toEqual([false, true]);
    expect(JSON.parse(env[0]!.value!)).toMatchObject({ op: 'd', sys_id: 'gone', record: null });
    expect(env.every((m) => m.key === 'gone' && m.headers['nowpipe.op'] === 'd')).toBe(true);
    // Both carry their record, so a bad row is set aside whole (event and tombstone alike).
    expect(env[0]!.record).toBe(env[1]!.record);
  });

  it('multi-byte text is sized in bytes, not characters', () => {
    const [m] = new MessageBuilder('raw', topicOf).build(rec('u', 'a1', row('a1', { short_description: 'Störung – 障害 🚨'.repeat(50) })));
    const text = JSON.stringify(row('a1', { short_description: 'Störung – 障害 🚨'.repeat(50) }));
    expect(text.length).toBeLessThan(Buffer.byteLength(text));
    expect(m!.bytes).toBe(recordSize(2, Buffer.byteLength(text), headersSize(m!.headers)));
  });

  it('snToMillis reads raw ServiceNow time as UTC', () => {
    expect(snToMillis('1970-01-01 00:00:01')).toBe(1000);
    expect(snToMillis('2024-02-29 23:59:59')).toBe(Date.parse('2024-02-29T23:59:59Z'));
    expect(snToMillis('29/02/2024')).toBeUndefined();
    // Years 0-99 stay there (Date.UTC would move them to 1900-1999).
    expect(snToMillis('0050-06-01 00:00:00')).toBe(Date.parse('0050-06-01T00:00:00Z'));
  });
});

describe('sizes match what kafkajs encodes', () => {
  const headers = { 'nowpipe.table': 'incident', 'nowpipe.instance': INSTANCE, 'nowpipe.op': 'u' };

  it('a record: an upper bound, at most 14 bytes over (the widest timestamp and offset deltas)', () => {
    for (const valueBytes of [null, 0, 1, 63, 64, 127, 128, 8191, 8192, 100_000, 2_000_000]) {
      const value = valueBytes === null ? null : Buffer.alloc(valueBytes, 'x');
      const ours = recordSize(32, valueBytes, headersSize(headers));
      for (const [offsetDelta, timestampDelta] of [
        [0, 0],
        [9_999, 10 * 365 * 86_400_000],
      ]) {
        const real = encodeRecord({ key: 'k'.repeat(32), value, headers, offsetDelta, timestampDelta }).size();
        expect(ours, `value ${valueBytes}`).toBeGreaterThanOrEqual(real);
        expect(ours - real, `value ${valueBytes}`).toBeLessThanOrEqual(14);
      }
    }
  });

  it('a batch: 61 bytes of header plus its records', async () => {
    const builder = new MessageBuilder('raw', topicOf);
    const messages = Array.from({ length: 50 }, (_, i) => builder.build(rec('u', `id${i}`, row(`id${i}`, { text: 'y'.repeat(i * 37) })))[0]!);
    const records = messages.map((m, i) => encodeRecord({ key: m.key, value: m.value, headers: m.headers, offsetDelta: i, timestampDelta: 0 }));
    const batch = await encodeBatch({ records });
    const ours = BATCH_OVERHEAD + messages.reduce((n, m) => n + m.bytes, 0);
    expect(ours).toBeGreaterThanOrEqual(batch.size());
    expect(ours - batch.size()).toBeLessThanOrEqual(14 * 50);
  });
});

describe('the partitioner', () => {
  // kafkajs's own murmur2 (64-bit Long arithmetic), the Java client's algorithm.
  const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2') as (key: Buffer | string) => number;

  it('hashes exactly as kafkajs (and so the Java client) does, for any key', () => {
    const keys = ['', 'a', 'ab', 'abc', 'abcd', 'abcde', 'Störung 障害', ...Array.from({ length: 3000 }, (_, i) => randomBytes(16 + (i % 7)).toString('hex')), ...Array.from({ length: 200 }, (_, i) => randomBytes(i % 40).toString('latin1'))];
    for (const key of keys) expect(murmur2(Buffer.from(key, 'utf8')), key).toBe(kafkajsMurmur2(Buffer.from(key, 'utf8')));
  });

  it("partitionOf: the partition kafkajs's DefaultPartitioner picks", () => {
    const createDefault = require('kafkajs/src/producer/partitioners/default') as () => (a: { topic: string; partitionMetadata: Array<{ partitionId: number; leader: number }>; message: { key: string } }) => number;
    const theirs = createDefault();
    for (const partitions of [1, 2, 3, 12]) {
      const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: 1 }));
      for (let i = 0; i < 500; i++) {
        const key = i % 50 === 0 ? `clé-${i}-é` : randomBytes(16).toString('hex');
        expect(partitionOf(key, partitions)).toBe(theirs({ topic: 't', partitionMetadata, message: { key } }));
      }
    }
  });
});

describe('chunkMessages', () => {
  const msg = (id: string, bytes: number, topic = 't'): OutMessage => ({ topic, key: id, value: null, headers: {}, sysId: id, record: rec('d', id, null), bytes });
  const ids = (chunks: OutMessage[][]) => chunks.map((c) => c.map((m) => m.key).join(''));

  it('keeps order and cuts where the next message would pass the limit (batch header included)', () => {
    const limit = BATCH_OVERHEAD + 300;
    const chunks = chunkMessages([msg('a', 100), msg('b', 100), msg('c', 100), msg('d', 1), msg('e', 250), msg('f', 50)], () => limit, 1000);
    expect(ids(chunks)).toEqual(['abc', 'de', 'f']);
    for (const c of chunks) expect(BATCH_OVERHEAD + c.reduce((n, m) => n + m.bytes, 0)).toBeLessThanOrEqual(limit);
  });

  it('cuts by count too', () => {
    expect(ids(chunkMessages(['a', 'b', 'c', 'd', 'e'].map((k) => msg(k, 1)), () => 1e9, 2))).toEqual(['ab', 'cd', 'e']);
  });

  it('a message too large on its own gets a chunk to itself (the sink decides what to do with it)', () => {
    expect(ids(chunkMessages([msg('a', 10), msg('B', 5000), msg('c', 10)], () => 1000, 100))).toEqual(['a', 'B', 'c']);
  });

  it("uses the smallest limit of the topics in a chunk", () => {
    const limits: Record<string, number> = { big: 10_000, small: BATCH_OVERHEAD + 150 };
    const chunks = chunkMessages([msg('a', 100, 'big'), msg('b', 100, 'small'), msg('c', 40, 'small'), msg('d', 40, 'big')], (t) => limits[t]!, 100);
    expect(ids(chunks)).toEqual(['a', 'bc', 'd']);
  });

  it('leaves room for gzip to grow incompressible data', () => {
    expect(compressionSlack(1_048_588, 'none')).toBe(0);
    expect(compressionSlack(1_048_588, 'gzip')).toBeGreaterThan(1_048_588 / 16_384 * 5);
  });
});

describe('kafkajs speed-ups (producer thread)', () => {
  type Enc = { buffer: Buffer; writeUVarInt(v: number): Enc; writeVarInt(v: number): Enc; writeVarLong(v: unknown): Enc; writeVarIntBytes(v: unknown): Enc; writeInt32(v: number): Enc };
  const Encoder = require('kafkajs/src/protocol/encoder') as { new (size?: number): Enc; sizeOfVarLong(v: unknown): number };
  const ints = [0, 1, -1, 63, 64, 127, 128, 300, 16_383, 16_384, 2 ** 21, 2 ** 28, 2 ** 31 - 1, -(2 ** 31), 123_456_789];
  const longs = [...ints, 2 ** 31, -(2 ** 31) - 1, 2 ** 40 + 7, -(2 ** 40), 2 ** 52 - 1, -(2 ** 52) + 1, 2 ** 52, 2 ** 53, 1_709_287_205_000, -1_709_287_205_000];

  /** Everything the producer encodes, through kafkajs's own record and batch encoders. */
  async function sample(): Promise<{ bytes: Buffer; sizes: number[] }> {
    const e = new Encoder(4);
    for (const v of ints) e.writeVarInt(v).writeUVarInt(v >>> 0);
    for (const v of longs) e.writeVarLong(v);
    e.writeVarIntBytes(Buffer.alloc(70_000, 1)).writeVarIntBytes('Störung 障害 🚨'.repeat(999)).writeVarIntBytes(null).writeInt32(-5);
    const records = Array.from({ length: 300 }, (_, i) =>
      encodeRecord({
        key: `key-${i}`,
        value: i % 17 === 0 ? null : i % 5 === 0 ? 'é'.repeat(i * 31) : 'x'.repeat(i * 97),
        headers: { 'nowpipe.table': 'incident', 'nowpipe.instance': INSTANCE, 'nowpipe.op': 'u' },
        offsetDelta: i * 3001,
        timestampDelta: (i % 2 ? -1 : 1) * i * 86_400_000 * 7,
      }),
    );
    // Fixed batch timestamps (the encoder's default is Date.now()).
    const batch = (await encodeBatch({ records, firstTimestamp: 1_709_287_205_000, maxTimestamp: 1_709_287_999_000 } as never)) as unknown as { buffer: Buffer };
    return { bytes: Buffer.concat([e.buffer, batch.buffer]), sizes: longs.map((v) => Encoder.sizeOfVarLong(v)) };
  }

  it('write exactly the bytes kafkajs writes: varints, varlongs, byte strings, records, a batch', async () => {
    const original = await sample();
    const restore = installKafkajsSpeedups();
    try {
      const fast = await sample();
      expect(fast.sizes).toEqual(original.sizes);
      expect(fast.bytes.length).toBe(original.bytes.length);
      expect(fast.bytes.equals(original.bytes)).toBe(true);
      expect(original.bytes.length).toBeGreaterThan(1_000_000);
    } finally {
      restore();
    }
  });

  it('install swaps the encoder functions; restore() puts the originals back', () => {
    const before: unknown = Reflect.get(Encoder, 'sizeOfVarLong');
    const restore = installKafkajsSpeedups();
    try {
      expect(Reflect.get(Encoder, 'sizeOfVarLong')).not.toBe(before);
    } finally {
      restore();
    }
    expect(Reflect.get(Encoder, 'sizeOfVarLong')).toBe(before);
  });
});
