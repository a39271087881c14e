// The reference for the backfill benchmark: fetch the pages nowpipe fetches (keyset, one request
// per page: from the last row's second, skipping the rows of it already taken), parse them with
// JSON.parse, and do nothing else: no output, no checkpoint, no checks.
// Usage: node bench/bare-fetch.mjs <url> <table> <batch>
const [url, table, batch] = process.argv.slice(2);
const auth = `Basic ${Buffer.from('admin:admin').toString('base64')}`;
const hi = '9999-12-31 23:59:59';
let cursor = { ts: '1970-01-01 00:00:00', id: '' };
let rows = 0;
let requests = 0;
for (;;) {
  const u = new URL(`${url}/api/now/table/${table}`);
  u.searchParams.set('sysparm_query', `sys_updated_on>=${cursor.ts}^sys_updated_on<=${hi}^ORDERBYsys_updated_on^ORDERBYsys_id`);
  u.searchParams.set('sysparm_limit', batch);
  const res = await fetch(u, { headers: { authorization: auth, accept: 'application/json' } });
  requests += 1;
  const page = JSON.parse(await res.text()).result;
  let taken = 0;
  for (const r of page) {
    if (r.sys_updated_on === cursor.ts && r.sys_id <= cursor.id) continue;
    cursor = { ts: r.sys_updated_on, id: r.sys_id };
    taken += 1;
  }
  rows += taken;
  if (page.length < Number(batch) || taken === 0) break; // (no dense seconds in the benchmark's table)
}
process.stderr.write(`bare loop: ${rows} rows in ${requests} requests\n`);
