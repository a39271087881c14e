import { describe, expect, it } from 'vitest';
import { SinkError } from '../../src/errors/index.js';
import { parseRow, rowJson } from '../../src/servicenow/response.js';
import { kindOf, type FieldType, type TableTypes } from '../../src/servicenow/typing.js';
import { failOnBadRow, type BadRowPolicy } from '../../src/sinks/bad-rows.js';
import { formatJson } from '../../src/sinks/format.js';
import { TypedSink, type TypedSinkOptions } from '../../src/sinks/typed/index.js';
import type { ChangeRecord, Sink } from '../../src/sinks/types.js';

const field = (element: string, internalType: string): FieldType => ({ element, internalType, kind: kindOf(internalType), definedOn: 'incident' });
const TYPES: TableTypes = {
  table: 'incident',
  lineage: ['incident', 'task'],
  fields: new Map([
    ['priority', field('priority', 'integer')],
    ['sys_updated_on', field('sys_updated_on', 'glide_date_time')],
  ]),
};

/** A row as the reader hands it on: parsed with only the cursor fields kept, its text whole. */
function record(id: string, priority: string, op: ChangeRecord['op'] = 'u'): ChangeRecord {
  const updatedOn = '2024-01-01 10:00:00';
  const row = op === 'd' ? null : parseRow(JSON.stringify({ sys_id: id, priority, sys_updated_on: updatedOn }), new Set(['sys_id', 'sys_updated_on']));
  return { op, table: 'incident', instance: 'https://x', sysId: id, updatedOn, row };
}

/** The inner sink: what it was given, and the order things happened in. */
function memory(log: string[]): Sink & { got: ChangeRecord[] } {
  const got: ChangeRecord[] = [];
  return {
    name: 'memory',
    got,
    open: async () => void log.push('inner open'),
    close: async () => void log.push('inner close'),
    write: async (records) => {
      log.push(`inner write ${records.length}`);
      got.push(...records);
    },
  };
}

function typed(inner: Sink, log: string[], over: Partial<TypedSinkOptions> = {}): TypedSink {
  return new TypedSink(inner, {
    tables: ['incident'],
    typesOf: async (t) => {
      log.push(`dictionary ${t}`);
      return TYPES;
    },
    mode: 'json',
    rawDeletes: true,
    badRows: failOnBadRow,
    ...over,
  });
}

describe('TypedSink (the --types decorator)', () => {
  it('reads the dictionary before opening the real sink, then hands it typed rows; the record keeps its raw cursor', async () => {
    const log: string[] = [];
    const inner = memory(log);
    const sink = typed(inner, log, { published: async (t) => void log.push(`published ${t.table}`) });
    await sink.open();
    await sink.write([record('a1', '2'), record('a2', '5')]);
    expect(log).toEqual(['dictionary incident', 'inner open', 'published incident', 'inner write 2']);
    expect(inner.got.map((r) => rowJson(r.row!))).toEqual(['{"sys_id":"a1","priority":2,"sys_updated_on":"2024-01-01T10:00:00Z"}', '{"sys_id":"a2","priority":5,"sys_updated_on":"2024-01-01T10:00:00Z"}']);
    expect(inner.got.map((r) => r.updatedOn)).toEqual(['2024-01-01 10:00:00', '2024-01-01 10:00:00']);
    // Every sink writes the typed text, in either format.
    expect(formatJson(inner.got[0]!, 'envelope')).toContain('"record":{"sys_id":"a1","priority":2,');
  });

  it('a delete: with raw rows its marker is typed too; otherwise it passes as it is (envelope record null, Kafka tombstone)', async () => {
    const inner = memory([]);
    const sink = typed(inner, []);
    await sink.open();
    await sink.write([record('d1', '', 'd')]);
    expect(formatJson(inner.got[0]!, 'raw')).toBe('{"sys_id":"d1","__deleted":true,"sys_updated_on":"2024-01-01T10:00:00Z"}');
    const env = memory([]);
    const enveloped = typed(env, [], { rawDeletes: false });
    await enveloped.open();
    await enveloped.write([record('d1', '', 'd')]);
    expect(env.got[0]!.row).toBeNull();
  });

  it('fail (the default): the write rejects naming the row, and nothing of the batch reaches the sink', async () => {
    const inner = memory([]);
    const sink = typed(inner, []);
    await sink.open();
    const err = await sink.write([record('a1', '2'), record('b2', 'abc')]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SinkError);
    expect((err as Error).message).toBe('incident row b2 (sys_updated_on 2024-01-01 10:00:00) cannot be written: field priority: "abc" is not a whole number (integer) (--types)');
    expect(inner.got).toEqual([]);
  });

  it('skip: the bad row is set aside (awaited first) and counted; the others are written', async () => {
    const log: string[] = [];
    const inner = memory(log);
    const skip: BadRowPolicy = {
      mode: 'skip',
      reject: async (r, reason) => void log.push(`set aside ${r.sysId}: ${reason}`),
    };
    const sink = typed(inner, log, { badRows: skip });
    await sink.open();
    const result = await sink.write([record('a1', '2'), record('b2', 'abc'), record('c3', '3')]);
    expect(result).toEqual({ skipped: 1 });
    expect(log.slice(2)).toEqual(['set aside b2: field priority: "abc" is not a whole number (integer) (--types)', 'inner write 2']);
    expect(inner.got.map((r) => r.sysId)).toEqual(['a1', 'c3']);
    // A batch of bad rows only: nothing to write, all counted.
    expect(await sink.write([record('d4', 'x')])).toEqual({ skipped: 1 });
  });

  it('connect: each row becomes a JsonConverter envelope whose schema lists exactly its fields', async () => {
    const inner = memory([]);
    const sink = typed(inner, [], { mode: 'connect' });
    await sink.open();
    await sink.write([record('a1', '2')]);
    expect(JSON.parse(rowJson(inner.got[0]!.row!)!)).toEqual({
      schema: {
        type: 'struct',
        fields: [
          { type: 'int64', optional: true, field: 'priority' },
          { type: 'string', optional: true, field: 'sys_id' },
          { type: 'int64', optional: true, name: 'org.apache.kafka.connect.data.Timestamp', version: 1, field: 'sys_updated_on' },
        ],
        optional: false,
        name: 'servicenow.incident',
      },
      payload: { sys_id: 'a1', priority: 2, sys_updated_on: Date.UTC(2024, 0, 1, 10) },
    });
  });

  it('a dictionary that cannot be read: the real sink is never opened; a failure after it opened closes it again', async () => {
    const log: string[] = [];
    const denied = typed(memory(log), log, { typesOf: () => Promise.reject(new Error('no rights')) });
    await expect(denied.open()).rejects.toThrow('no rights');
    expect(log).toEqual([]);
    const unwritable = typed(memory(log), log, { published: () => Promise.reject(new Error('disk full')) });
    await expect(unwritable.open()).rejects.toThrow('disk full');
    expect(log).toEqual(['dictionary incident', 'inner open', 'inner close']);
  });
});
