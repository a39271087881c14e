import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth, ServiceNowClient } from '../../src/servicenow/client.js';
import { TableReader } from '../../src/servicenow/reader.js';
import { ResponseError } from '../../src/errors/index.js';
import { tableShape } from '../../src/servicenow/entry.js';

// Precise HTTP exchanges, stated request by request (the simulator covers realistic data).
const BASE = 'https://acme.service-now.com';
const seen: URLSearchParams[] = [];
const server = setupServer();

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => {
  server.resetHandlers();
  seen.length = 0;
});
afterAll(() => server.close());

const row = (ts: string, id: string) => ({ sys_id: id, sys_updated_on: ts, sys_created_on: ts, sys_mod_count: '0' });

function client(retries = 2) {
  return new ServiceNowClient({
    url: BASE,
    auth: basicAuth('u', 'p'),
    timeoutMs: 5000,
    connectTimeoutMs: 5000,
    retry: { retries, baseDelayMs: 1, maxDelayMs: 2, jitter: 0, maxRetryAfterMs: 5000 },
  });
}

async function collect(reader: TableReader, hi = '2024-01-01 00:00:10') {
  const pages = [];
  for await (const p of reader.sweep({ updatedOn: '2024-01-01 00:00:00', sysId: '' }, hi)) pages.push(p);
  return pages;
}

describe('TableReader exchanges', () => {
  it('halves the page size when the platform cancels a transaction, and keeps going', async () => {
    server.use(
      http.get(`${BASE}/api/now/table/incident`, ({ request }) => {
        const q = new URL(request.url).searchParams;
        seen.push(q);
        if (Number(q.get('sysparm_limit')) > 2) {
          return HttpResponse.json({ error: { message: 'Transaction cancelled: maximum execution time exceeded', detail: '' }, status: 'failure' });
        }
        const drain = q.get('sysparm_query')!.startsWith('sys_updated_on=');
        const rows = drain ? [] : [row('2024-01-01 00:00:05', 'a')];
        return HttpResponse.json({ result: rows }, { headers: { 'X-Total-Count': String(rows.length) } });
      }),
    );
    const reader = new TableReader(client(), { table: 'incident', displayValue: 'false', batchSize: 8, shape: tableShape() });
    const pages = await collect(reader);
    expect(pages.flatMap((p) => p.entries.map((e) => e.subject))).toEqual(['a']);
    expect(reader.pageSize).toBe(2);
    expect(seen.map((q) => q.get('sysparm_limit'))).toEqual(['8', '4', '2']);
  });

  it('steps over an ACL-hidden block with an offset inside the same keyset query', async () => {
    server.use(
      http.get(`${BASE}/api/now/table/incident`, ({ request }) => {
        const q = new URL(request.url).searchParams;
        seen.push(q);
        const query = q.get('sysparm_query')!;
        const offset = Number(q.get('sysparm_offset') ?? 0);
        if (query.startsWith('sys_updated_on=')) return HttpResponse.json({ result: [] }, { headers: { 'X-Total-Count': '0' } });
        if (query.startsWith('sys_updated_on>=2024-01-01 00:00:00^')) {
          // 25 matching rows; the first 18 are hidden from this user.
          const rows = offset >= 18 ? [row('2024-01-01 00:00:07', 'z')] : [];
          return HttpResponse.json({ result: rows }, { headers: { 'X-Total-Count': '25' } });
        }
        return HttpResponse.json({ result: [] }, { headers: { 'X-Total-Count': '0' } });
      }),
    );
    const reader = new TableReader(client(), { table: 'incident', displayValue: 'false', batchSize: 10, shape: tableShape() });
    const pages = await collect(reader);
    expect(pages.flatMap((p) => p.entries.map((e) => e.subject))).toEqual(['z']);
    const offsets = seen.filter((q) => q.get('sysparm_query')!.startsWith('sys_updated_on>=2024-01-01 00:00:00^')).map((q) => q.get('sysparm_offset'));
    expect(offsets).toEqual([null, '9', '18']);
    expect(seen.every((q) => q.get('sysparm_query')!.includes('ORDERBY'))).toBe(true);
  });

  it('a count capped at the page (min(total, limit)) past a step is asked alone, and the real count keeps it stepping', async () => {
    server.use(
      http.get(`${BASE}/api/now/table/incident`, ({ request }) => {
        const q = new URL(request.url).searchParams;
        seen.push(q);
        const query = q.get('sysparm_query')!;
        const limit = Number(q.get('sysparm_limit'));
        const offset = Number(q.get('sysparm_offset') ?? 0);
        if (query.startsWith('sys_updated_on=')) return HttpResponse.json({ result: [] }, { headers: { 'X-Total-Count': '0' } });
        if (query.startsWith('sys_updated_on>=2024-01-01 00:00:00^')) {
          // 30 matching rows, the first 25 hidden; page requests get the count capped at the page.
          const rows = limit === 1 ? [] : offset >= 25 ? [row('2024-01-01 00:00:07', 'z')] : [];
          return HttpResponse.json({ result: rows }, { headers: { 'X-Total-Count': String(limit === 1 ? 30 : Math.min(30, limit)) } });
        }
        return HttpResponse.json({ result: [] }, { headers: { 'X-Total-Count': '0' } });
      }),
    );
    const reader = new TableReader(client(), { table: 'incident', displayValue: 'false', batchSize: 10, shape: tableShape() });
    const pages = await collect(reader);
    expect(pages.flatMap((p) => p.entries.map((e) => e.subject))).toEqual(['z']);
    const asked = seen.filter((q) => q.get('sysparm_query')!.startsWith('sys_updated_on>=2024-01-01 00:00:00^')).map((q) => `${q.get('sysparm_offset') ?? 0}/${q.get('sysparm_limit')}`);
    // Past each step the capped count (10) says nothing: the count alone (one row, no offset) says 30.
    expect(asked).toEqual(['0/10', '9/10', '0/1', '18/10', '0/1', '27/10', '0/1']);
  });

  it('a count that falls to the rows already stepped over (counted after ACLs?): stops, says why, rather than guess', async () => {
    server.use(
      http.get(`${BASE}/api/now/table/incident`, ({ request }) => {
        const q = new URL(request.url).searchParams;
        seen.push(q);
        const offset = Number(q.get('sysparm_offset') ?? 0);
        // 12 counted at the start justify a step over an empty window; past it, the count says 0.
        return HttpResponse.json({ result: [] }, { headers: { 'X-Total-Count': offset === 0 ? '12' : '0' } });
      }),
    );
    const reader = new TableReader(client(), { table: 'incident', displayValue: 'false', batchSize: 10, shape: tableShape() });
    const err = await collect(reader).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResponseError);
    expect((err as ResponseError).problem).toBe('bad-count');
    expect((err as Error).message).toMatch(/^incident: X-Total-Count says 0 rows after 9 rows hidden by ACLs were stepped over/);
  });

  it('waits exactly Retry-After on 429 and then succeeds', async () => {
    let calls = 0;
    const times: number[] = [];
    server.use(
      http.get(`${BASE}/api/now/table/incident`, () => {
        times.push(Date.now());
        calls++;
        if (calls === 1) return HttpResponse.json({ error: { message: 'Rate limit exceeded' } }, { status: 429, headers: { 'Retry-After': '1' } });
        return HttpResponse.json({ result: [] }, { headers: { 'X-Total-Count': '0' } });
      }),
    );
    const c = client();
    await c.getTable('incident', { sysparm_limit: 1 });
    expect(calls).toBe(2);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(990);
  });

  it('never retries a 401', async () => {
    let calls = 0;
    server.use(
      http.get(`${BASE}/api/now/table/incident`, () => {
        calls++;
        return HttpResponse.json({ error: { message: 'User Not Authenticated' }, status: 'failure' }, { status: 401 });
      }),
    );
    await expect(client().getTable('incident', {})).rejects.toThrow(/refused the credentials/);
    expect(calls).toBe(1);
  });

  it('asks for display_value=all under --display-value true and still reads the raw cursor', async () => {
    server.use(
      http.get(`${BASE}/api/now/table/incident`, ({ request }) => {
        const q = new URL(request.url).searchParams;
        seen.push(q);
        const drain = q.get('sysparm_query')!.startsWith('sys_updated_on=');
        const rows = drain
          ? []
          : [{ sys_id: { value: 'a', display_value: 'a' }, sys_updated_on: { value: '2024-01-01 00:00:03', display_value: '12-31-2023 04:00:03 PM' }, number: { value: 'INC1', display_value: 'INC1' } }];
        return HttpResponse.json({ result: rows }, { headers: { 'X-Total-Count': String(rows.length) } });
      }),
    );
    const reader = new TableReader(client(), { table: 'incident', displayValue: 'true', batchSize: 10, shape: tableShape() });
    const pages = await collect(reader);
    expect(seen.every((q) => q.get('sysparm_display_value') === 'all')).toBe(true);
    expect(pages[0]!.entries[0]!.row).toEqual({ sys_id: 'a', sys_updated_on: '12-31-2023 04:00:03 PM', number: 'INC1' });
    expect(pages[0]!.cursor).toEqual({ updatedOn: '2024-01-01 00:00:03', sysId: 'a' });
  });
});
