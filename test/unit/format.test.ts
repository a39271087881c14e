import { describe, expect, it } from 'vitest';
import { parseRow } from '../../src/servicenow/response.js';
import { formatJson, formatLine, recordValue } from '../../src/sinks/format.js';
import type { ChangeRecord } from '../../src/sinks/types.js';

const text = '{"sys_id":"a1","number":"INC1","short_description":"says \\"hi\\" \\u00e9","sys_created_on":"2024-01-01 00:00:00","sys_updated_on":"2024-03-01 10:15:02","sys_mod_count":"4"}';
const record = (row: ChangeRecord['row'], op: ChangeRecord['op'] = 'u'): ChangeRecord => ({ op, table: 'incident', instance: 'https://acme.service-now.com', sysId: 'a1', updatedOn: '2024-03-01 10:15:02', row });

describe('formatJson', () => {
  it('writes a row as the exact text the instance sent (raw), and the same JSON as serialising it', () => {
    const r = record(parseRow(text));
    expect(formatJson(r, 'raw')).toBe(text);
    expect(JSON.parse(formatJson(r, 'raw'))).toEqual(recordValue(r, 'raw'));
  });

  it('builds the envelope around the original text, field for field what serialising gives', () => {
    const fromText = formatJson(record(parseRow(text)), 'envelope');
    const fromObject = formatJson(record(JSON.parse(text) as Record<string, unknown>), 'envelope');
    expect(fromText).toBe(fromObject.replace(JSON.stringify(JSON.parse(text)), text));
    expect(JSON.parse(fromText)).toEqual({ op: 'u', table: 'incident', sys_id: 'a1', ts: '2024-03-01T10:15:02Z', instance: 'https://acme.service-now.com', record: JSON.parse(text) });
  });

  it('writes deletes in both formats, and one line per record', () => {
    const d = record(null, 'd');
    expect(JSON.parse(formatJson(d, 'raw'))).toEqual({ sys_id: 'a1', __deleted: true, sys_updated_on: '2024-03-01 10:15:02' });
    expect(JSON.parse(formatJson(d, 'envelope'))).toMatchObject({ op: 'd', record: null });
    const line = formatLine(record(parseRow(text)), 'envelope');
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
  });
});
