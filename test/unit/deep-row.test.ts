import { describe, expect, it } from 'vitest';
import { parseRow } from '../../src/servicenow/response.js';
import { formatJson, formatLine } from '../../src/sinks/format.js';
import { MessageBuilder } from '../../src/sinks/kafka/messages.js';
import type { ChangeRecord } from '../../src/sinks/types.js';

// A row nested deeper than JSON.stringify can recurse, sent over several lines: every sink's
// encoding (NDJSON line, envelope, Kafka value) must use its text, never serialise it again.
const depth = 5000;
const text = `{"sys_id":"a1",\n"sys_updated_on":"2024-03-01 10:15:02",\r\n"deep":${'['.repeat(depth)}${']'.repeat(depth)}}`;
const flat = text.replace(/[\r\n]/g, ' ');
const record = (): ChangeRecord => ({ op: 'u', table: 'incident', instance: 'https://acme.service-now.com', sysId: 'a1', updatedOn: '2024-03-01 10:15:02', row: parseRow(text) });

describe('a row too deep to serialise again', () => {
  it('is written as its text in raw and envelope lines', () => {
    expect(formatLine(record(), 'raw')).toBe(`${flat}\n`);
    expect(formatJson(record(), 'envelope')).toBe(`{"op":"u","table":"incident","sys_id":"a1","ts":"2024-03-01T10:15:02Z","instance":"https://acme.service-now.com","record":${flat}}`);
  });

  it('is a Kafka message value as its text', () => {
    for (const format of ['raw', 'envelope'] as const) {
      const [m] = new MessageBuilder(format, () => 'servicenow.incident').build(record());
      expect(m!.value).toBe(formatJson(record(), format));
      expect(m!.bytes).toBeGreaterThan(2 * depth);
    }
  });
});
