import { afterEach, describe, expect, it } from 'vitest';
import { basicAuth, ServiceNowClient } from '../../src/servicenow/client.js';
import { TableReader } from '../../src/servicenow/reader.js';
import { RequestLimiter } from '../../src/servicenow/limiter.js';
import { tableShape } from '../../src/servicenow/entry.js';
import { startSimulator, type Simulator } from '../../src/sim/index.js';

// The reader against the simulator over real HTTP, one trap of SERVICENOW.md at a time.
let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

function reader(s: Simulator, batchSize: number, extra: Partial<ConstructorParameters<typeof TableReader>[1]> = {}) {
  const client = new ServiceNowClient({
    url: s.url,
    auth: basicAuth('admin', 'admin'),
    timeoutMs: 10_000,
    connectTimeoutMs: 5000,
    retry: { retries: 3, baseDelayMs: 5, maxDelayMs: 20, jitter: 0, maxRetryAfterMs: 5000 },
  });
  return new TableReader(client, { table: 'incident', displayValue: 'false', batchSize, shape: tableShape(), ...extra });
}

const HI = '2999-01-01 00:00:00';
async function readAll(r: TableReader, onPage?: (n: number) => void) {
  const out: string[] = [];
  let n = 0;
  for await (const p of r.sweep({ updatedOn: '1970-01-01 00:00:00', sysId: '' }, HI)) {
    out.push(...p.entries.map((e) => e.subject));
    onPage?.(++n);
  }
  return out;
}

describe('reader traps (simulator over HTTP)', () => {
  it('offset drift: rows updated mid-scan do not make unread rows skip', async () => {
    sim = await startSimulator({ rows: 1000, seed: 4 });
    const before = sim.visibleRows('incident');
    const updated = new Set<string>();
    // After every page, update a row that was already read: with offset paging every later row would shift back one.
    let read: string[] = [];
    const r = reader(sim, 100);
    for await (const p of r.sweep({ updatedOn: '1970-01-01 00:00:00', sysId: '' }, sim.now().toISOString().slice(0, 19).replace('T', ' '))) {
      read.push(...p.entries.map((e) => e.subject));
      const victim = read[Math.floor(read.length / 2)]!;
      sim.update('incident', victim);
      updated.add(victim);
    }
    read = [...new Set(read)];
    const untouched = before.map((x) => x.sys_id as string).filter((id) => !updated.has(id));
    for (const id of untouched) expect(read).toContain(id);
  });

  it('a block of ACL-hidden rows longer than a page (empty pages) does not end the sweep', async () => {
    sim = await startSimulator({ rows: 50, seed: 8, end: '2024-01-01 00:00:00', start: '2023-12-01 00:00:00' });
    for (let i = 0; i < 350; i++) sim.insert('incident', {}, { stampedAt: '2024-02-01 00:00:00', hidden: true });
    const after = [];
    for (let i = 0; i < 20; i++) after.push(sim.insert('incident', {}, { stampedAt: '2024-02-01 00:00:00' }).sys_id);
    for (let i = 0; i < 5; i++) after.push(sim.insert('incident', {}, { stampedAt: '2024-03-01 00:00:00' }).sys_id);
    const got = await readAll(reader(sim, 100));
    expect(got).toHaveLength(75);
    for (const id of after) expect(got).toContain(id);
  });

  it('a page halved by a cancelled transaction keeps draining a second that holds more rows than the new page', async () => {
    // 800 rows in one second, pages of 1000 cancelled down to 500: "more rows?" must be judged
    // with the page size the rows were fetched with (500 < 800), or the rest of the second is skipped.
    const dense = '2024-01-15 00:00:00';
    sim = await startSimulator({ rows: 20, seed: 21, start: '2024-01-01 00:00:00', end: '2024-02-01 00:00:00', burst: { count: 800, at: dense }, faults: [{ kind: 'cancel', whenLimitAbove: 600 }] });
    const expected = sim.visibleRows('incident').filter((x) => (x.sys_updated_on as string) >= dense).length;
    // The sweep starts in the dense second, so the very request that drains it is the one cancelled.
    const got: string[] = [];
    for await (const p of reader(sim, 1000).sweep({ updatedOn: dense, sysId: '' }, HI)) got.push(...p.entries.map((e) => e.subject));
    expect(expected).toBeGreaterThan(800);
    expect(got).toHaveLength(expected);
    expect(new Set(got).size).toBe(expected);
    expect(sim.requests.some((q) => q.query.sysparm_limit === '500' && q.status === 200)).toBe(true);
  });

  it('hands a big response on in batches while it streams, marks its last batch, and asks for nothing more once stopped', async () => {
    sim = await startSimulator({ rows: 12_000, seed: 5, rowBytes: 1000 });
    const sweep = reader(sim, 10_000).sweep({ updatedOn: '1970-01-01 00:00:00', sysId: '' }, HI);
    const pages: Array<{ rows: number; end: boolean }> = [];
    for await (const p of sweep) {
      pages.push({ rows: p.entries.length, end: p.response !== undefined });
      if (pages.filter((x) => x.end).length === 1) break; // the first 10,000-row response
    }
    expect(pages.length).toBeGreaterThan(3);
    // About 1,000 rows (1 MiB) a batch: checked as network chunks arrive, so a chunk's rows may go over.
    expect(Math.max(...pages.map((p) => p.rows))).toBeLessThanOrEqual(1_100);
    expect(pages.reduce((n, p) => n + p.rows, 0)).toBe(10_000);
    expect(pages.slice(0, -1).every((p) => !p.end)).toBe(true);
    const asked = sim.requests.filter((q) => q.path.endsWith('/incident')).length;
    await new Promise((done) => setTimeout(done, 100));
    expect(sim.requests.filter((q) => q.path.endsWith('/incident')).length).toBe(asked);
  });

  it('a response cut off mid-body goes on from the last row taken: every row once, none read twice', async () => {
    sim = await startSimulator({ rows: 6_000, seed: 6, rowBytes: 1000, faults: [{ kind: 'truncate' }] });
    const got: string[] = [];
    const r = reader(sim, 10_000);
    // afterSecond: the first request is the big one, so it is the one cut off.
    for await (const p of r.sweep({ updatedOn: '1970-01-01 00:00:00', sysId: '' }, HI, undefined, { afterSecond: true })) got.push(...p.entries.map((e) => e.subject));
    expect(got).toHaveLength(6_000);
    expect(new Set(got).size).toBe(6_000);
    const pages = sim.requests.filter((q) => q.path.endsWith('/incident'));
    // The cut response handed on its first rows; the next request starts at the last of them
    // (its second again, the rows already taken skipped), with no drain request in between.
    expect(pages[0]!.query.sysparm_query).toMatch(/^sys_updated_on>\d/);
    const after = pages[1]!;
    expect(after.query.sysparm_query).toMatch(/^sys_updated_on>=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\^sys_updated_on<=/);
    expect(pages).toHaveLength(2);
    // Half the body arrived before the cut: only the other half is asked for again.
    expect(pages.at(-1)!.rows).toBeLessThan(4_000);
  });

  it('a consumer that stops early gives back its request slot (a run whose slots were all held waited on nothing, and ended)', async () => {
    sim = await startSimulator({ rows: 300, seed: 15 });
    const client = new ServiceNowClient({
      url: sim.url,
      auth: basicAuth('admin', 'admin'),
      timeoutMs: 10_000,
      connectTimeoutMs: 5000,
      retry: { retries: 1, baseDelayMs: 5, maxDelayMs: 20, jitter: 0, maxRetryAfterMs: 5000 },
      limiter: new RequestLimiter({ concurrency: 1 }),
    });
    const r = new TableReader(client, { table: 'incident', displayValue: 'false', batchSize: 100, shape: tableShape() });
    for await (const page of r.sweep({ updatedOn: '1970-01-01 00:00:00', sysId: '' }, HI)) {
      expect(page.entries.length).toBeGreaterThan(0);
      break;
    }
    expect(client.limiter.active).toBe(0);
    const next = await client.getTable('incident', { sysparm_limit: 1 });
    expect(next.rows).toHaveLength(1);
  });

  it('asks for an order on every page (the default order is unspecified)', async () => {
    sim = await startSimulator({ rows: 400, seed: 12 });
    const got = await readAll(reader(sim, 50));
    expect(new Set(got).size).toBe(400);
    const pages = sim.requests.filter((q) => q.path.endsWith('/incident'));
    expect(pages.length).toBeGreaterThan(8);
    for (const q of pages) expect(q.query.sysparm_query).toMatch(/ORDERBY/);
  });

  it('always projects the cursor fields and reads raw timestamps under display values', async () => {
    sim = await startSimulator({ rows: 30, seed: 13 });
    const r = reader(sim, 10, { fields: ['number'], displayValue: 'true' });
    const rows = [];
    for await (const p of r.sweep({ updatedOn: '1970-01-01 00:00:00', sysId: '' }, HI)) rows.push(...p.entries.map((e) => e.row!));
    expect(rows).toHaveLength(30);
    expect(Object.keys(rows[0]!).sort()).toEqual(['number', 'sys_created_on', 'sys_id', 'sys_mod_count', 'sys_updated_on']);
    expect(String(rows[0]!.sys_updated_on)).toMatch(/^\d\d-\d\d-\d{4} \d\d:\d\d:\d\d (AM|PM)$/);
  });

  it('a row committed late is invisible until it commits, and the high-water mark keeps the sweep consistent', async () => {
    sim = await startSimulator({ rows: 10, seed: 14 });
    const stamped = new Date(sim.now().getTime() - 3000);
    const late = sim.insert('incident', {}, { stampedAt: stamped, visibleAfterMs: 400 });
    const first = await readAll(reader(sim, 100));
    expect(first).not.toContain(late.sys_id);
    await new Promise((r) => setTimeout(r, 500));
    const second = await readAll(reader(sim, 100));
    expect(second).toContain(late.sys_id);
  });
});
