import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { checkpointCursor, parseNdjson, runCli, tempDir } from '../helpers/cli.js';
import { dataFiles, linesOf } from '../file/helpers.js';

// ajv-formats is CommonJS: its function is the default export's default under Node's ESM interop.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv2020) => Ajv2020;

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

const login = (s: Simulator) => ['--url', s.url, '--table', 'incident', '--user', 'admin', '--password', 'admin'];
const iso = (sn: string) => `${sn.replace(' ', 'T')}Z`;

/** A strict draft 2020-12 validator: compiling checks the schema itself against the meta-schema. */
function validator(schema: unknown) {
  const ajv = addFormats(new Ajv2020({ strict: true, allErrors: true }));
  return ajv.compile(schema as object);
}

describe('--types (built CLI against the simulator)', () => {
  it('rows come typed: numbers, booleans, ISO 8601 UTC dates, reference sys_ids, empty as null; the checkpoint stays raw', async () => {
    sim = await startSimulator({ rows: 120, seed: 21 });
    const cp = join(await tempDir(), 'cp.json');
    const res = await runCli([...login(sim), '--checkpoint', cp, '--types', '--batch-size', '50']);
    expect(res.stderr).not.toMatch(/error/i);
    expect(res.code).toBe(0);
    const rows = parseNdjson(res.stdout);
    expect(rows).toHaveLength(120);
    const raw = new Map(sim.rows('incident').map((r) => [r.sys_id as string, r]));
    let nulls = 0;
    for (const row of rows) {
      const r = raw.get(row.sys_id as string)!;
      expect(row.priority).toBe(Number(r.priority));
      expect(row.state).toBe(Number(r.state));
      expect(row.sys_mod_count).toBe(Number(r.sys_mod_count));
      expect(row.active).toBe(r.active === 'true');
      expect(row.sys_updated_on).toBe(iso(r.sys_updated_on as string));
      expect(row.opened_at).toBe(iso(r.opened_at as string));
      expect(row.caller_id).toBe(r.caller_id); // the sys_id, not {link, value}
      expect(row.assignment_group).toBe(r.assignment_group);
      expect(row.number).toBe(r.number);
      expect(row.description).toBe(r.description);
      if (r.u_effort_hours === '') nulls += 1;
      expect(row.u_effort_hours).toBe(r.u_effort_hours === '' ? null : Number(r.u_effort_hours));
      expect(row.u_target_date).toBe(r.u_target_date === '' ? null : r.u_target_date);
    }
    expect(nulls).toBeGreaterThan(5);
    // The checkpoint reads the entries' cursors, never the typed rows.
    expect(checkpointCursor(cp)!.updatedOn).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    // The dictionary was read once, at open, before any row.
    const paths = sim.requests.map((r) => r.path);
    expect(paths.filter((p) => p.endsWith('/sys_dictionary'))).toHaveLength(2); // one page, then the empty one
    expect(paths.findIndex((p) => p.endsWith('/incident'))).toBeGreaterThan(paths.lastIndexOf('/api/now/table/sys_dictionary'));
  });

  it('nowpipe schema prints a valid JSON Schema (draft 2020-12) that the typed rows, the projected ones too, satisfy', async () => {
    sim = await startSimulator({ rows: 60, seed: 22 });
    const res = await runCli(['schema', ...login(sim)]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const schema = JSON.parse(res.stdout) as { $schema: string; properties: Record<string, { type: unknown; format?: string }> };
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.properties.priority!.type).toEqual(['integer', 'null']);
    expect(schema.properties.sys_updated_on).toMatchObject({ type: ['string', 'null'], format: 'date-time' });
    expect(schema.properties.number!.type).toBe('string');
    const valid = validator(schema);
    const dir = await tempDir();
    for (const extra of [[], ['--fields', 'number,priority,caller_id']]) {
      const run = await runCli([...login(sim), '--checkpoint', join(dir, `cp${extra.length}.json`), '--types', ...extra]);
      expect(run.code).toBe(0);
      const rows = parseNdjson(run.stdout);
      expect(rows).toHaveLength(60);
      for (const row of rows) expect(valid(row), JSON.stringify(valid.errors)).toBe(true);
      if (extra.length > 0) expect(Object.keys(rows[0]!).sort()).toEqual(['caller_id', 'number', 'priority', 'sys_created_on', 'sys_id', 'sys_mod_count', 'sys_updated_on']);
    }
    // A raw row does not: the schema says what --types writes.
    const plain = await runCli([...login(sim), '--checkpoint', join(dir, 'plain.json')]);
    expect(valid(parseNdjson(plain.stdout)[0])).toBe(false);
  });

  it('nowpipe schema --format connect: the Connect struct; one table only; a bad --format is exit 2', async () => {
    sim = await startSimulator({ rows: 1 });
    const res = await runCli(['schema', ...login(sim), '--format', 'connect']);
    expect(res.code).toBe(0);
    const schema = JSON.parse(res.stdout) as { type: string; name: string; fields: Array<Record<string, unknown>> };
    expect(schema).toMatchObject({ type: 'struct', optional: false, name: 'servicenow.incident' });
    expect(schema.fields.find((f) => f.field === 'sys_updated_on')).toEqual({ type: 'int64', optional: true, name: 'org.apache.kafka.connect.data.Timestamp', version: 1, field: 'sys_updated_on' });
    expect(schema.fields.find((f) => f.field === 'priority')).toEqual({ type: 'int64', optional: true, field: 'priority' });
    const two = await runCli(['schema', ...login(sim), '--table', 'task']);
    expect(two.code).toBe(2);
    expect(two.stderr).toMatch(/^error: --table: schema prints one table's schema; got incident, task\nhint: run nowpipe schema once per table/);
    const bad = await runCli(['schema', ...login(sim), '--format', 'avro']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("argument 'avro' is invalid. Allowed choices are json-schema, connect.");
  });

  it('the file sink writes schema.json beside the files, the same schema nowpipe schema prints, and typed files', async () => {
    sim = await startSimulator({ rows: 80, seed: 23 });
    const dir = await tempDir();
    const out = join(dir, 'out');
    const res = await runCli([...login(sim), '--checkpoint', join(dir, 'cp.json'), '--types', '--sink', 'file', '--output', out]);
    expect(res.stderr).not.toMatch(/error/i);
    expect(res.code).toBe(0);
    const written = JSON.parse(await readFile(join(out, 'incident', 'schema.json'), 'utf8'));
    const printed = JSON.parse((await runCli(['schema', ...login(sim)])).stdout);
    expect(written).toEqual(printed);
    const files = dataFiles(join(out, 'incident'));
    expect(files.length).toBeGreaterThan(0);
    const lines = files.flatMap((f) => linesOf(join(out, 'incident', f)));
    expect(lines).toHaveLength(80);
    const valid = validator(written);
    for (const line of lines) expect(valid(line)).toBe(true);
    expect(typeof lines[0]!.priority).toBe('number');
  });

  it('a value its type cannot hold stops the run naming the row (exit 1); the checkpoint stays before it', async () => {
    sim = await startSimulator({ rows: 40, seed: 24, unconvertible: { row: 17, field: 'priority', value: 'abc' } });
    const bad = sim.rows('incident')[17]!;
    const cp = join(await tempDir(), 'cp.json');
    const res = await runCli([...login(sim), '--checkpoint', cp, '--types', '--batch-size', '5', '--concurrency', '1']);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`error: incident row ${String(bad.sys_id)} (sys_updated_on ${String(bad.sys_updated_on)}) cannot be written: field priority: "abc" is not a whole number (integer) (--types)`);
    expect(res.stderr).toContain('--on-bad-row skip');
    expect(res.stderr).not.toMatch(/\n\s+at /); // no stack trace
    const written = parseNdjson(res.stdout).map((r) => r.sys_id);
    expect(written.length).toBeGreaterThanOrEqual(5);
    expect(written).not.toContain(bad.sys_id);
    expect(written).toEqual(sim.rows('incident').slice(0, written.length).map((r) => r.sys_id));
    expect(checkpointCursor(cp)!.updatedOn < String(bad.sys_updated_on)).toBe(true);
    // Without --types the same row goes out as it is.
    const plain = await runCli([...login(sim), '--checkpoint', join(await tempDir(), 'cp.json')]);
    expect(plain.code).toBe(0);
    expect(parseNdjson(plain.stdout).find((r) => r.sys_id === bad.sys_id)!.priority).toBe('abc');
  });

  it('a delete keeps its marker, its sys_updated_on in ISO 8601 like the rows; in an envelope its record stays null', async () => {
    sim = await startSimulator({ rows: 10, seed: 25 });
    const victim = sim.rows('incident')[3]!;
    sim.deleteRow('incident', victim.sys_id as string, { stampedAt: '2024-05-01 12:00:00' });
    const dir = await tempDir();
    const raw = await runCli([...login(sim), '--checkpoint', join(dir, 'a.json'), '--types', '--deletes']);
    expect(raw.code).toBe(0);
    expect(parseNdjson(raw.stdout).find((r) => r.__deleted === true)).toEqual({ sys_id: victim.sys_id, __deleted: true, sys_updated_on: '2024-05-01T12:00:00Z' });
    const env = await runCli([...login(sim), '--checkpoint', join(dir, 'b.json'), '--types', '--deletes', '--format', 'envelope']);
    expect(env.code).toBe(0);
    const d = parseNdjson(env.stdout).find((e) => e.op === 'd')!;
    expect(d).toMatchObject({ sys_id: victim.sys_id, ts: '2024-05-01T12:00:00Z', record: null });
  });

  it('refused before anything connects (exit 2): display values, and connect-json anywhere but Kafka', async () => {
    sim = await startSimulator({ rows: 1 });
    const dv = await runCli([...login(sim), '--types', '--display-value', 'true']);
    expect(dv.code).toBe(2);
    expect(dv.stderr).toMatch(/--display-value: must be false with --types, not true: types convert raw values/);
    const cj = await runCli([...login(sim), '--format', 'connect-json', '--display-value', 'all']);
    expect(cj.code).toBe(2);
    expect(cj.stderr).toContain("--format: connect-json is a Kafka message format (Kafka Connect's JsonConverter envelope): use it with --sink kafka");
    expect(cj.stderr).toContain('--display-value: must be false with --types (implied by --format connect-json), not all');
    expect(sim.requests).toHaveLength(0);
  });

  it('nowpipe check --types reports the dictionary it would read, and fails (exit 1) when it cannot', async () => {
    sim = await startSimulator({ rows: 5, users: [{ user: 'admin', password: 'admin' }, { user: 'etl', password: 'pw', deniedTables: ['sys_dictionary'] }] });
    const ok = await runCli(['check', ...login(sim), '--types']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^✓ --types: 23 fields of incident → task in sys_dictionary \(19 inherited\), 15 converted from strings$/m);
    const denied = await runCli(['check', '--url', sim.url, '--table', 'incident', '--user', 'etl', '--password', 'pw', '--types', '--json']);
    expect(denied.code).toBe(1);
    const report = JSON.parse(denied.stdout) as { ok: boolean; checks: Array<{ check: string; status: string; message: string }> };
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.check === 'types')).toMatchObject({ status: 'fail', message: expect.stringMatching(/^--types cannot read the table's dictionary \(user etl may not read table sys_dictionary/) });
    // Without --types there is no such check.
    const plain = await runCli(['check', ...login(sim), '--json']);
    expect((JSON.parse(plain.stdout) as { checks: Array<{ check: string }> }).checks.map((c) => c.check)).not.toContain('types');
  });

  it('a user who may not read the dictionary: exit 1 before any row, saying what to grant', async () => {
    sim = await startSimulator({ rows: 5, users: [{ user: 'etl', password: 'pw', deniedTables: ['sys_dictionary'] }] });
    const res = await runCli(['--url', sim.url, '--table', 'incident', '--user', 'etl', '--password', 'pw', '--checkpoint', join(await tempDir(), 'cp.json'), '--types']);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/error: user etl may not read table sys_dictionary .*--types reads the table's dictionary \(sys_dictionary\)/);
    expect(res.stderr).toContain('hint: grant the user read access to sys_db_object and sys_dictionary, or run without --types');
    expect(sim.requests.some((r) => r.path === '/api/now/table/incident')).toBe(false);
  });
});
