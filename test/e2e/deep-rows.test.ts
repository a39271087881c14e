// Any row the instance sends as valid JSON is written, also one that spans lines (a
// pretty-printing proxy) and nests deeper than JSON.stringify can recurse. A tiny Table API
// serves such a row: the simulator serialises its rows itself and could not.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';

const DEPTH = 5000;
/** Pretty-printed over several lines (LF and CRLF), a string holding an escaped newline, 5,000 levels deep. */
const DEEP = [
  '{',
  '  "sys_id": "0000000000000000000000000000000a",',
  '  "sys_created_on": "2024-01-01 00:00:10",\r',
  '  "sys_updated_on": "2024-01-01 00:00:10",',
  '  "sys_mod_count": "0",',
  '  "note": "line one\\nline two",',
  `  "deep": ${'['.repeat(DEPTH)}"bottom"${']'.repeat(DEPTH)}`,
  '}',
].join('\n');
const PLAIN = '{"sys_id":"0000000000000000000000000000000b","sys_created_on":"2024-01-01 00:00:20","sys_updated_on":"2024-01-01 00:00:20","sys_mod_count":"1","note":"plain"}';
const ROWS = [
  { text: DEEP, updatedOn: '2024-01-01 00:00:10', sysId: '0000000000000000000000000000000a' },
  { text: PLAIN, updatedOn: '2024-01-01 00:00:20', sysId: '0000000000000000000000000000000b' },
];
/** What each line must be: the text as sent, its line breaks made spaces. */
const LINES = ROWS.map((r) => r.text.replace(/[\r\n]/g, ' '));

/** The encoded-query conditions nowpipe sends on (sys_updated_on, sys_id); ORDERBY is the rows' order already. */
function matches(row: (typeof ROWS)[number], query: string): boolean {
  return query.split('^').every((cond) => {
    const m = /^(sys_updated_on|sys_id)(>=|<=|>|<|=)(.*)$/.exec(cond);
    if (!m) return true;
    const value = m[1] === 'sys_id' ? row.sysId : row.updatedOn;
    const v = m[3]!;
    return { '>=': value >= v, '<=': value <= v, '>': value > v, '<': value < v, '=': value === v }[m[2] as '>=' | '<=' | '>' | '<' | '='];
  });
}

let server: Server;
let url: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (!u.pathname.startsWith('/api/now/table/incident')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"no"},"status":"failure"}');
      return;
    }
    const found = ROWS.filter((r) => matches(r, u.searchParams.get('sysparm_query') ?? ''));
    const offset = Number(u.searchParams.get('sysparm_offset') ?? 0);
    const page = found.slice(offset, offset + Number(u.searchParams.get('sysparm_limit') ?? 10_000));
    res.writeHead(200, { 'content-type': 'application/json;charset=UTF-8', 'x-total-count': String(found.length) });
    res.end(`{"result":[\n${page.map((r) => r.text).join(',\n')}\n]}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const args = async (...extra: string[]) => ['--url', url, '--table', 'incident', '--user', 'admin', '--checkpoint', join(await tempDir(), 'cp.json'), '--quiet', ...extra];
const env = { SERVICENOW_PASSWORD: 'admin' };

describe('a row that spans lines and nests 5,000 levels deep', () => {
  it('stdout (raw): written as sent, one line, its line breaks made spaces', async () => {
    const r = await runCli(await args(), { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${LINES.join('\n')}\n`);
    // The same JSON as sent (JSON.parse does not recurse; compare what serialising cannot).
    expect(JSON.parse(r.stdout.split('\n')[0]!).note).toBe('line one\nline two');
  });

  it('stdout (envelope): the row inside the envelope, unchanged', async () => {
    const r = await runCli(await args('--format', 'envelope'), { env });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe(`{"op":"c","table":"incident","sys_id":"${ROWS[0]!.sysId}","ts":"2024-01-01T00:00:10Z","instance":"${url}","record":${LINES[0]}}`);
  });

  it('file sink: the file holds it on one line, and the folder checks out', async () => {
    const dir = await tempDir();
    const out = join(dir, 'out');
    const r = await runCli(['--url', url, '--table', 'incident', '--user', 'admin', '--checkpoint', join(dir, 'cp.json'), '--sink', 'file', '--output', out], { env });
    expect(r.code, r.stderr).toBe(0);
    const folder = join(out, 'incident');
    const files = readdirSync(folder).filter((f) => f.endsWith('.ndjson') && !f.startsWith('_'));
    expect(files).toHaveLength(1);
    expect(readFileSync(join(folder, files[0]!), 'utf8')).toBe(`${LINES.join('\n')}\n`);
    const manifest = readFileSync(join(folder, '_manifest.ndjson'), 'utf8').trim().split('\n');
    expect(manifest.map((l) => JSON.parse(l).rows)).toEqual([2]);
  });
});
