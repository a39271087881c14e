// The reference for the backfill benchmark: fetch the same keyset pages nowpipe fetches, parse
// them, and do nothing else. Usage: node bench/bare-fetch.mjs <url> <table> <batch>
const [url, table, batch] = process.argv.slice(2);
const auth = `Basic ${Buffer.from('admin:admin').toString('base64')}`;
const hi = '9999-12-31 23:59:59';
let cursor = { ts: '1970-01-01 00:00:00', id: '' };
let draining = true;
let rows = 0;
for (;;) {
  const q = draining
    ? `sys_updated_on=${cursor.ts}${cursor.id ? `^sys_id>${cursor.id}` : ''}^ORDERBYsys_id`
    : `sys_updated_on>${cursor.ts}^sys_updated_on<=${hi}^ORDERBYsys_updated_on^ORDERBYsys_id`;
  const u = new URL(`${url}/api/now/table/${table}`);
  u.searchParams.set('sysparm_query', q);
  u.searchParams.set('sysparm_limit', batch);
  const res = await fetch(u, { headers: { authorization: auth, accept: 'application/json' } });
  const body = JSON.parse(await res.text());
  const total = Number(res.headers.get('x-total-count'));
  const page = body.result;
  rows += page.length;
  const more = Number(batch) < total;
  if (page.length > 0) {
    const last = page[page.length - 1];
    cursor = { ts: last.sys_updated_on, id: last.sys_id };
    if (more) draining = true;
    else if (draining) draining = false;
    else break;
  } else if (draining) draining = false;
  else break;
}
process.stderr.write(`bare loop: ${rows} rows\n`);
