import { afterEach, describe, expect, it } from 'vitest';
import { AuthError, ConfigError, ResponseError } from '../../src/errors/index.js';
import { basicAuth, ServiceNowClient } from '../../src/servicenow/client.js';
import { readTableTypes } from '../../src/servicenow/dictionary.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';

// The dictionary reader (--types, nowpipe schema) against the simulator over real HTTP.
let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

const client = (s: Simulator, user = 'admin', password = 'admin') =>
  new ServiceNowClient({ url: s.url, auth: basicAuth(user, password), user, timeoutMs: 10_000, connectTimeoutMs: 5000, retry: { retries: 1, baseDelayMs: 5, maxDelayMs: 20, jitter: 0, maxRetryAfterMs: 5000 } });

const summary = (types: Awaited<ReturnType<typeof readTableTypes>>, element: string) => {
  const f = types.fields.get(element);
  return f && { kind: f.kind, internalType: f.internalType, definedOn: f.definedOn, reference: f.reference };
};

describe('the dictionary of a table, with its parents (simulator over HTTP)', () => {
  it('incident extends task: its own fields and the ones it inherits, typed; no collection entry', async () => {
    sim = await startSimulator({ rows: 5 });
    const types = await readTableTypes(client(sim), 'incident');
    expect(types.lineage).toEqual(['incident', 'task']);
    expect(types.label).toBe('Incident');
    expect(summary(types, 'priority')).toEqual({ kind: 'integer', internalType: 'integer', definedOn: 'task', reference: undefined });
    expect(summary(types, 'active')).toMatchObject({ kind: 'boolean', definedOn: 'task' });
    expect(summary(types, 'opened_at')).toMatchObject({ kind: 'datetime', definedOn: 'task' });
    expect(summary(types, 'sys_updated_on')).toMatchObject({ kind: 'datetime', definedOn: 'task' });
    expect(summary(types, 'caller_id')).toEqual({ kind: 'reference', internalType: 'reference', definedOn: 'incident', reference: 'sys_user' });
    expect(summary(types, 'u_effort_hours')).toMatchObject({ kind: 'number', internalType: 'decimal', definedOn: 'incident' });
    expect(summary(types, 'u_target_date')).toMatchObject({ kind: 'date', internalType: 'glide_date', definedOn: 'incident' });
    expect(summary(types, 'number')).toMatchObject({ kind: 'string', definedOn: 'task' });
    expect(types.fields.get('number')).toMatchObject({ label: 'Number', maxLength: 40 });
    expect(types.fields.has('')).toBe(false);
    // Every field of the rows is in it.
    for (const key of Object.keys(sim.rows('incident')[0]!)) expect(types.fields.has(key), key).toBe(true);
  });

  it("a child's definition of an element wins over its parent's, at every level", async () => {
    sim = await startSimulator({
      rows: 1,
      dictionary: {
        tables: [{ name: 'u_major_incident', label: 'Major incident', parent: 'incident' }],
        fields: [
          { table: 'incident', element: 'priority', type: 'string' },
          { table: 'u_major_incident', element: 'impact', type: 'decimal' },
          { table: 'u_major_incident', element: 'u_bridge_opened', type: 'glide_date' },
        ],
      },
    });
    const incident = await readTableTypes(client(sim), 'incident');
    expect(summary(incident, 'priority')).toMatchObject({ kind: 'string', definedOn: 'incident' });
    expect(summary(incident, 'impact')).toMatchObject({ kind: 'integer', definedOn: 'task' });
    const major = await readTableTypes(client(sim), 'u_major_incident');
    expect(major.lineage).toEqual(['u_major_incident', 'incident', 'task']);
    expect(summary(major, 'priority')).toMatchObject({ kind: 'string', definedOn: 'incident' });
    expect(summary(major, 'impact')).toMatchObject({ kind: 'number', definedOn: 'u_major_incident' });
    expect(summary(major, 'u_bridge_opened')).toMatchObject({ kind: 'date', definedOn: 'u_major_incident' });
    expect(summary(major, 'state')).toMatchObject({ kind: 'integer', definedOn: 'task' });
    // The parent's view is not touched by the child's entries.
    expect(incident.fields.has('u_bridge_opened')).toBe(false);
  });

  it('pages by sys_id (a keyset, no offsets) through more entries than one page holds', async () => {
    const fields = Array.from({ length: 1234 }, (_, i) => ({ table: 'u_wide', element: `u_f${i}`, type: i % 2 ? 'integer' : 'string' }));
    sim = await startSimulator({ rows: 1, dictionary: { tables: [{ name: 'u_wide', label: 'Wide' }], fields } });
    const types = await readTableTypes(client(sim), 'u_wide');
    expect(types.fields.size).toBe(1234);
    expect(types.fields.get('u_f7')!.kind).toBe('integer');
    const pages = sim.requests.filter((r) => r.path === '/api/now/table/sys_dictionary');
    // 1,234 entries in pages of 500, then the empty page that ends it.
    expect(pages.map((r) => r.rows)).toEqual([500, 500, 234, 0]);
    expect(pages.every((r) => r.query.sysparm_offset === undefined && r.query.sysparm_query!.endsWith('^ORDERBYsys_id'))).toBe(true);
    expect(pages.slice(1).every((r) => /\^sys_id>[0-9a-f]{32}\^ORDERBYsys_id$/.test(r.query.sysparm_query!))).toBe(true);
  });

  it('a table the instance does not have: a config error naming it', async () => {
    sim = await startSimulator({ rows: 1 });
    const err = await readTableTypes(client(sim), 'incidnet').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe('--table: "incidnet" has no entry in sys_db_object visible to this user (no such table, or ACLs hide it)');
  });

  it('a user who may not read sys_dictionary: says that --types reads it and what to grant', async () => {
    sim = await startSimulator({ rows: 1, users: [{ user: 'etl', password: 'pw', deniedTables: ['sys_dictionary'] }] });
    const err = await readTableTypes(client(sim, 'etl', 'pw'), 'incident').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as Error).message).toMatch(/^user etl may not read table sys_dictionary .*: --types reads the table's dictionary \(sys_dictionary\)$/);
    expect((err as AuthError).hint).toBe('grant the user read access to sys_db_object and sys_dictionary, or run without --types');
  });

  it('parents that loop: an error, not an endless walk', async () => {
    sim = await startSimulator({
      rows: 1,
      dictionary: {
        tables: [
          { name: 'u_a', label: 'A', parent: 'u_b' },
          { name: 'u_b', label: 'B', parent: 'u_a' },
        ],
      },
    });
    const err = await readTableTypes(client(sim), 'u_a').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResponseError);
    expect((err as Error).message).toMatch(/^the parents of u_a in sys_db_object form a loop or a chain deeper than 20 \(u_a → u_b\)/);
  });
});
