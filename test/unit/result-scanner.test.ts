import { describe, expect, it } from 'vitest';
import { fullRow, parseRow, rowJson } from '../../src/servicenow/response.js';
import { ResultScanner, ScanError } from '../../src/servicenow/result-scanner.js';
import { rng } from '../../src/sim/data.js';

// Strings chosen to break a naive splitter: quotes, backslash runs, brackets, commas, a key
// named "result" inside a row, non-ASCII, and escapes that end exactly at a chunk boundary.
const NASTY = ['plain', 'a "quoted" word', 'back\\slash', 'trailing\\', '\\\\"', '{[}]', ',,', 'result', 'ünïcødé ✓ 𝄞', '\n\t\r', '', '\\u0022'];

function randomRow(random: () => number, i: number): Record<string, unknown> {
  const pick = () => NASTY[Math.floor(random() * NASTY.length)]!;
  const row: Record<string, unknown> = { sys_id: `id${i}`, sys_updated_on: '2024-01-01 00:00:00', result: pick(), [pick()]: pick() };
  if (random() < 0.5) row.caller_id = { link: `https://x/${pick()}`, value: pick() };
  if (random() < 0.3) row.list = [pick(), { deep: [pick(), {}] }, []];
  return row;
}

function chunked(text: string, random: () => number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; ) {
    const n = 1 + Math.floor(random() * (random() < 0.5 ? 3 : 200));
    out.push(text.slice(i, i + n));
    i += n;
  }
  return out;
}

function scan(chunks: string[]): { rows: string[]; scanner: ResultScanner } {
  const scanner = new ResultScanner();
  const rows = chunks.flatMap((c) => scanner.push(c));
  return { rows, scanner };
}

describe('ResultScanner', () => {
  it('splits any body into exactly the rows JSON.parse sees, whatever the chunking', () => {
    const random = rng(42);
    for (let round = 0; round < 300; round++) {
      const rows = Array.from({ length: Math.floor(random() * 6) }, (_, i) => randomRow(random, i));
      const body = { status: random() < 0.5 ? 'ok' : undefined, result: rows, more: { result: [1, 2] } };
      const text = random() < 0.5 ? JSON.stringify(body) : JSON.stringify(body, null, random() < 0.5 ? 2 : '\t');
      const { rows: texts, scanner } = scan(chunked(text, random));
      expect(texts.map((t) => JSON.parse(t))).toEqual(rows);
      expect(scanner.complete).toBe(true);
      const shell = JSON.parse(scanner.shellText) as Record<string, unknown>;
      expect(shell.result).toEqual([]);
      expect(shell.more).toEqual({ result: [1, 2] });
    }
  });

  it('keeps an error body whole in the shell and finds no rows', () => {
    const body = '{"error":{"message":"Transaction cancelled: maximum execution time exceeded","detail":"x"},"status":"failure"}';
    const { rows, scanner } = scan(chunked(body, rng(1)));
    expect(rows).toEqual([]);
    expect(scanner.complete).toBe(true);
    expect(JSON.parse(scanner.shellText)).toEqual(JSON.parse(body));
  });

  it('says a cut-off body is not complete, and refuses what is not a result of objects', () => {
    const body = JSON.stringify({ result: [{ a: '1' }, { b: '2' }] });
    for (let cut = 1; cut < body.length; cut++) expect(scan([body.slice(0, cut)]).scanner.complete).toBe(false);
    expect(() => scan(['{"result":[1,2]}'])).toThrow(ScanError);
    expect(() => scan(['[{"a":1}]'])).toThrow(ScanError);
    expect(() => scan(['{"result":[]} {}'])).toThrow(ScanError);
  });
});

describe('parseRow', () => {
  it('remembers the text it parsed, invisibly to JSON and spreads', () => {
    const text = '{"sys_id":"x","n":"\\u00e9"}';
    const row = parseRow(text);
    expect(rowJson(row)).toBe(text);
    expect(JSON.stringify(row)).toBe('{"sys_id":"x","n":"é"}');
    expect(rowJson({ ...row })).toBeUndefined();
  });

  it('with keep, holds only those fields while the text holds the whole row (fullRow gives it back)', () => {
    const text = '{"sys_id":"x","sys_updated_on":"2024-01-01 00:00:00","number":"INC1","caller_id":{"link":"l","value":"v"}}';
    const row = parseRow(text, new Set(['sys_id', 'sys_updated_on', 'sys_mod_count']));
    expect(row).toEqual({ sys_id: 'x', sys_updated_on: '2024-01-01 00:00:00' });
    expect(rowJson(row)).toBe(text);
    expect(fullRow(row)).toEqual(JSON.parse(text));
    // Text that spans lines is kept too (line breaks as spaces), so keep applies to it as well.
    const spread = parseRow('{"sys_id":"x",\r\n"number":"INC1"}', new Set(['sys_id']));
    expect(spread).toEqual({ sys_id: 'x' });
    expect(fullRow(spread)).toEqual({ sys_id: 'x', number: 'INC1' });
  });

  it('keeps text that spans lines with its line breaks made spaces: one NDJSON line, the same JSON', () => {
    const text = '{\n  "sys_id": "x",\r\n  "note": "two\\nlines"\r}';
    const row = parseRow(text);
    expect(row).toEqual({ sys_id: 'x', note: 'two\nlines' });
    expect(rowJson(row)).toBe('{   "sys_id": "x",    "note": "two\\nlines" }');
    expect(JSON.parse(rowJson(row)!)).toEqual(JSON.parse(text));
  });

  it('keeps the text of a row nested too deep to serialise again (JSON.stringify would overflow the stack)', () => {
    const depth = 5000;
    const text = `{"sys_id":"x",\n"deep":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    const row = parseRow(text);
    expect(() => JSON.stringify(row)).toThrow(RangeError);
    expect(rowJson(row)).toBe(text.replace('\n', ' '));
  });
});
