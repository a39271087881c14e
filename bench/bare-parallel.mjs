// The ceiling for the parallel benchmark: what this machine and the simulator give to a loop
// with no checks at all. `workers` loops share the table's pages by sysparm_offset (page p goes
// to worker p mod workers), each page fetched, JSON.parse'd and written out as NDJSON, nothing
// else: no keyset, no checkpoint, no dedup, no slicing requests. Offset paging is wrong for a
// live table (SERVICENOW.md: rows move between pages while they are read); it is fine for the
// benchmark's still table, and it is the cheapest split there is.
// Usage: node bench/bare-parallel.mjs <url> <table> <batch> <rows> <workers> > out.ndjson
const [url, table, batchText, rowsText, workersText] = process.argv.slice(2);
const batch = Number(batchText);
const pages = Math.ceil(Number(rowsText) / batch);
const workers = Number(workersText);
const auth = `Basic ${Buffer.from('admin:admin').toString('base64')}`;
let requests = 0;
let rows = 0;

async function page(p) {
  const u = new URL(`${url}/api/now/table/${table}`);
  u.searchParams.set('sysparm_query', 'ORDERBYsys_updated_on^ORDERBYsys_id');
  u.searchParams.set('sysparm_limit', String(batch));
  u.searchParams.set('sysparm_offset', String(p * batch));
  const res = await fetch(u, { headers: { authorization: auth, accept: 'application/json' } });
  requests += 1;
  const result = JSON.parse(await res.text()).result;
  rows += result.length;
  const text = result.map((r) => JSON.stringify(r)).join('\n') + '\n';
  if (!process.stdout.write(text)) await new Promise((r) => process.stdout.once('drain', r));
}

await Promise.all(
  Array.from({ length: workers }, async (_, w) => {
    for (let p = w; p < pages; p += workers) await page(p);
  }),
);
process.stderr.write(`bare parallel loop: ${rows} rows in ${requests} requests with ${workers} workers\n`);
