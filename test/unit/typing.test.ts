import { describe, expect, it } from 'vitest';
import { kindOf, typedRowText, UnconvertibleValue, valueText, type FieldType } from '../../src/servicenow/typing.js';
import { connectSchema, jsonSchema } from '../../src/sinks/typed/schema.js';
import { cursorOfLine } from '../../src/sinks/file/recovery.js';

const field = (element: string, internalType: string, extra: Partial<FieldType> = {}): FieldType => ({ element, internalType, kind: kindOf(internalType), definedOn: 'incident', ...extra });
const json = (v: unknown, type: string) => valueText(v, field('f', type), 'json');
const connect = (v: unknown, type: string) => valueText(v, field('f', type), 'connect');
const reason = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected a failure');
};

describe('--types: one value by its dictionary type', () => {
  it('integers: JSON numbers with their exact digits, beyond 2^53 too; past 64 bits, "abc" or 1.5 refused', () => {
    expect(json('3', 'integer')).toBe('3');
    expect(json(' -0042 ', 'integer')).toBe('-42');
    expect(json('-0', 'integer')).toBe('0');
    expect(json('+7', 'longint')).toBe('7');
    // 2^53 + 1 cannot be a double: the text keeps it exact for readers that parse int64.
    expect(json('9007199254740993', 'longint')).toBe('9007199254740993');
    expect(json('9223372036854775807', 'longint')).toBe('9223372036854775807');
    expect(json('-9223372036854775808', 'longint')).toBe('-9223372036854775808');
    expect(reason(() => json('9223372036854775808', 'longint'))).toBe('"9223372036854775808" does not fit a 64-bit integer (longint)');
    expect(reason(() => json('abc', 'integer'))).toBe('"abc" is not a whole number (integer)');
    expect(reason(() => json('1.5', 'integer'))).toBe('"1.5" is not a whole number (integer)');
    expect(json(3, 'integer')).toBe('3');
  });

  it('decimal, float, currency: JSON numbers, digits kept; a currency code dropped; not-a-number refused', () => {
    expect(json('18.50', 'decimal')).toBe('18.50');
    expect(json('.5', 'float')).toBe('0.5');
    expect(json('-007.25', 'decimal')).toBe('-7.25');
    expect(json('1.', 'decimal')).toBe('1');
    expect(json('1.5E3', 'float')).toBe('1.5e3');
    expect(json('USD;1234.56', 'currency')).toBe('1234.56');
    expect(json('0.1234567890123456789', 'decimal')).toBe('0.1234567890123456789');
    for (const bad of ['1,5', 'NaN', 'Infinity', '.', 'e5', '1e999', '12 34']) expect(reason(() => json(bad, 'decimal'))).toMatch(/is not a number \(decimal\)/);
    // Every output is a JSON number.
    for (const ok of ['18.50', '.5', '-007.25', '1.', '1.5E3']) expect(typeof JSON.parse(json(ok, 'decimal'))).toBe('number');
  });

  it('booleans: true/false (and 1/0), anything else refused', () => {
    expect(json('true', 'boolean')).toBe('true');
    expect(json('FALSE', 'boolean')).toBe('false');
    expect(json('1', 'boolean')).toBe('true');
    expect(json('0', 'boolean')).toBe('false');
    expect(reason(() => json('yes', 'boolean'))).toBe('"yes" is not true or false (boolean)');
  });

  it('date-times: ISO 8601 UTC (Connect: epoch ms); dates yyyy-MM-dd (Connect: epoch days); impossible ones refused', () => {
    expect(json('2024-01-01 10:00:00', 'glide_date_time')).toBe('"2024-01-01T10:00:00Z"');
    expect(json('2024-02-29 23:59:59', 'due_date')).toBe('"2024-02-29T23:59:59Z"');
    expect(connect('2024-01-01 10:00:00', 'glide_date_time')).toBe(String(Date.UTC(2024, 0, 1, 10)));
    expect(connect('1969-12-31 23:59:59', 'glide_date_time')).toBe('-1000');
    expect(json('2024-01-01', 'glide_date')).toBe('"2024-01-01"');
    expect(connect('1970-01-02', 'glide_date')).toBe('1');
    expect(connect('2024-01-01', 'glide_date')).toBe(String(19_723));
    // Date.UTC reads years 0–99 as 1900–1999; a year-1 date must not land in 1901.
    expect(connect('0001-01-01 00:00:00', 'glide_date_time')).toBe('-62135596800000');
    expect(connect('0099-12-31', 'glide_date')).toBe('-683004');
    for (const bad of ['2023-02-29 00:00:00', '2024-13-01 00:00:00', '2024-01-01 24:00:00', '2024-01-01T10:00:00Z', '01-02-2024 10:00:00 AM']) {
      expect(reason(() => json(bad, 'glide_date_time'))).toMatch(/is not a date-time yyyy-MM-dd HH:mm:ss \(glide_date_time\)$/);
    }
    expect(reason(() => json('1900-02-29', 'glide_date'))).toBe('"1900-02-29" is not a date yyyy-MM-dd (glide_date)');
    expect(json('2000-02-29', 'glide_date')).toBe('"2000-02-29"');
  });

  it('references: the sys_id, from {link, value} or a plain string (sysparm_exclude_reference_link)', () => {
    expect(json({ link: 'https://acme.service-now.com/api/now/table/sys_user/abc', value: 'abc' }, 'reference')).toBe('"abc"');
    expect(json('abc', 'reference')).toBe('"abc"');
    expect(json({ link: 'x', value: '' }, 'reference')).toBe('null');
  });

  it('empty is null where the type is not a string; strings and unknown types stay as they came', () => {
    for (const type of ['integer', 'decimal', 'boolean', 'glide_date_time', 'glide_date', 'reference']) expect(json('', type)).toBe('null');
    expect(json('', 'string')).toBe('""');
    expect(json('', 'glide_duration')).toBe('""');
    expect(json('1970-01-01 02:00:00', 'glide_duration')).toBe('"1970-01-01 02:00:00"');
    expect(json('say "hi"\n', 'html')).toBe('"say \\"hi\\"\\n"');
    expect(json(null, 'integer')).toBe('null');
    // A value that is not a string where a string is expected: as JSON, or for Connect its JSON text as a string.
    expect(json({ a: 1 }, 'string')).toBe('{"a":1}');
    expect(connect({ a: 1 }, 'string')).toBe('"{\\"a\\":1}"');
  });
});

describe('--types: a whole row', () => {
  const fields = new Map([
    ['priority', field('priority', 'integer')],
    ['active', field('active', 'boolean')],
    ['sys_updated_on', field('sys_updated_on', 'glide_date_time')],
    ['caller_id', field('caller_id', 'reference', { reference: 'sys_user' })],
  ]);

  it('keeps the instance\'s field order; fields the dictionary does not know stay as they came', () => {
    const row = { sys_id: 'a1', priority: '2', caller_id: { link: 'l', value: 'u1' }, 'caller_id.name': 'Abel Tuter', active: 'true', sys_updated_on: '2024-01-01 10:00:00' };
    const text = typedRowText(row, fields, 'json');
    expect(text).toBe('{"sys_id":"a1","priority":2,"caller_id":"u1","caller_id.name":"Abel Tuter","active":true,"sys_updated_on":"2024-01-01T10:00:00Z"}');
  });

  it('names the field a value cannot be converted for', () => {
    let err: unknown;
    try {
      typedRowText({ sys_id: 'a1', priority: 'abc' }, fields, 'json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnconvertibleValue);
    expect((err as UnconvertibleValue).field).toBe('priority');
    expect((err as Error).message).toBe('field priority: "abc" is not a whole number (integer)');
  });

  it('a value nested deeper than JSON.stringify can go is unconvertible, not a crash', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(() => typedRowText({ sys_id: 'a1', u_blob: deep }, fields, 'json')).toThrow(new UnconvertibleValue('u_blob', 'nested too deeply to convert'));
  });
});

describe('schemas of the typed rows', () => {
  const types = {
    table: 'incident',
    lineage: ['incident', 'task'],
    label: 'Incident',
    fields: new Map([
      ['number', field('number', 'string', { label: 'Number', definedOn: 'task' })],
      ['priority', field('priority', 'integer', { definedOn: 'task' })],
      ['opened_at', field('opened_at', 'glide_date_time')],
      ['u_day', field('u_day', 'glide_date')],
      ['u_cost', field('u_cost', 'decimal')],
      ['caller_id', field('caller_id', 'reference', { reference: 'sys_user' })],
    ]),
  };

  it('JSON Schema: nullable non-strings, date-time and date formats, labels, where inherited', () => {
    const s = jsonSchema(types) as { properties: Record<string, Record<string, unknown>> };
    expect(s.properties.number).toEqual({ type: 'string', title: 'Number', description: 'ServiceNow string, from task' });
    expect(s.properties.priority).toEqual({ type: ['integer', 'null'], description: 'ServiceNow integer, from task' });
    expect(s.properties.opened_at).toMatchObject({ type: ['string', 'null'], format: 'date-time' });
    expect(s.properties.u_day).toMatchObject({ type: ['string', 'null'], format: 'date' });
    expect(s.properties.u_cost).toMatchObject({ type: ['number', 'null'] });
    expect(s.properties.caller_id).toMatchObject({ type: ['string', 'null'], description: 'ServiceNow reference to sys_user (its sys_id)' });
    expect(Object.keys(s.properties)).toEqual(['caller_id', 'number', 'opened_at', 'priority', 'u_cost', 'u_day']);
  });

  it('Connect (JsonConverter names): int64, double (FLOAT64), Timestamp and Date logical types, strings; fields sorted, all optional; unknown fields strings', () => {
    expect(connectSchema(types, ['priority', 'opened_at', 'u_day', 'u_cost', 'caller_id', 'x.name'])).toEqual({
      type: 'struct',
      fields: [
        { type: 'string', optional: true, field: 'caller_id' },
        { type: 'int64', optional: true, name: 'org.apache.kafka.connect.data.Timestamp', version: 1, field: 'opened_at' },
        { type: 'int64', optional: true, field: 'priority' },
        { type: 'double', optional: true, field: 'u_cost' },
        { type: 'int32', optional: true, name: 'org.apache.kafka.connect.data.Date', version: 1, field: 'u_day' },
        { type: 'string', optional: true, field: 'x.name' },
      ],
      optional: false,
      name: 'servicenow.incident',
    });
  });
});

describe('file recovery reads typed lines', () => {
  it('the cursor of a line whose sys_updated_on --types wrote in ISO 8601', () => {
    expect(cursorOfLine({ sys_id: 'a1', sys_updated_on: '2024-01-01T10:00:00Z' })).toEqual({ updatedOn: '2024-01-01 10:00:00', sysId: 'a1' });
    expect(cursorOfLine({ sys_id: 'a1', sys_updated_on: '2024-01-01 10:00:00' })).toEqual({ updatedOn: '2024-01-01 10:00:00', sysId: 'a1' });
    expect(cursorOfLine({ sys_id: 'a1', sys_updated_on: 'soon' })).toBeNull();
  });
});
