// The webhook sink end to end: the built CLI reads the simulator and POSTs to a real local
// receiver (node:http on port 0) that fails some requests on purpose. Every request is recorded
// with its headers and body, so the tests count them exactly, verify each signature, and check
// that after dropping repeated batch ids every row arrived exactly once.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Row, type Simulator } from '../../src/sim/index.js';
import { checkpointCursor, runCli, startCli, tableRequests, tempDir, waitFor } from '../helpers/cli.js';
import { makePki } from '../helpers/tls.js';

const SECRET = 'hmac-S3cret-4f9a2c';
const API_KEY = 'key-7d1e0b55aa93';
const TOKEN = 'tok-91c4e8d2b7f0';

/** What the receiver does with its n-th request (1-based). */
type Answer = { status: number; headers?: Record<string, string>; body?: string } | 'drop' | 'hold';

interface Received {
  n: number;
  at: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  answer: Answer;
}

/** A webhook receiver on 127.0.0.1, port 0 (https with `tls`); `plan` decides each answer (default 200). */
class Receiver {
  readonly requests: Received[] = [];
  /** TCP connections accepted (a health check connects without a request). */
  connections = 0;
  private readonly server: http.Server;
  plan: (n: number) => Answer = () => ({ status: 200 });

  private constructor(private readonly tls?: { cert: string; key: string }) {
    const handler: http.RequestListener = (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const n = this.requests.length + 1;
        const answer = this.plan(n);
        this.requests.push({ n, at: Date.now(), headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), answer });
        if (answer === 'drop') return req.socket.destroy();
        if (answer === 'hold') return; // never answered: the sender waits (until it is killed)
        res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
        res.end(answer.body ?? (answer.status < 300 ? 'ok' : ''));
      });
    };
    this.server = tls ? https.createServer(tls, handler) : http.createServer(handler);
    this.server.on('connection', () => (this.connections += 1));
  }

  static async start(tls?: { cert: string; key: string }): Promise<Receiver> {
    const r = new Receiver(tls);
    await new Promise<void>((done) => r.server.listen(0, '127.0.0.1', done));
    return r;
  }

  get url(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook?token=${TOKEN}`;
  }

  get shown(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook?…`;
  }

  /** Requests answered 2xx: what was delivered. */
  get delivered(): Received[] {
    return this.requests.filter((r) => typeof r.answer === 'object' && r.answer.status < 300);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((done) => this.server.close(done));
  }
}

const rowsOf = (body: string) => body.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Row);
const key = (r: Row) => `${String(r.sys_updated_on)}|${String(r.sys_id)}`;
const sorted = (s: Simulator) => s.visibleRows('incident').sort((a, b) => (key(a) < key(b) ? -1 : 1));

/** The rows of the requests, each batch id counted once (as a receiver that deduplicates keeps them). */
function dedupedRows(requests: Received[]): Row[] {
  const byId = new Map<string, string>();
  for (const r of requests) byId.set(String(r.headers['x-nowpipe-batch-id']), r.body);
  return [...byId.values()].flatMap(rowsOf);
}

/** Every row the checkpoint covers. */
function covered(s: Simulator, checkpoint: string): Row[] {
  const c = checkpointCursor(checkpoint);
  return c ? sorted(s).filter((r) => key(r) <= `${c.updatedOn}|${c.sysId}`) : [];
}

let sim: Simulator | undefined;
let receiver: Receiver | undefined;
afterEach(async () => {
  await receiver?.close();
  await sim?.close();
  sim = receiver = undefined;
});

const args = (s: Simulator, r: Receiver, checkpoint: string, ...extra: string[]) => [
  '--url', s.url, '--table', 'incident', '--user', 'admin', '--checkpoint', checkpoint,
  '--sink', 'http', '--http-url', r.url, '--http-header', `X-Api-Key: ${API_KEY}`, '--batch-size', '100', '--concurrency', '1', ...extra,
];
const env = { SERVICENOW_PASSWORD: 'admin', NOWPIPE_HTTP_SECRET: SECRET };
const noSecrets = (stderr: string) => {
  for (const s of [SECRET, API_KEY, TOKEN]) expect(stderr).not.toContain(s);
};

describe('nowpipe --sink http (built CLI, simulator, a real receiver)', () => {
  it('503 with Retry-After, a dropped connection, a 500 and a timeout are retried: exact requests, each row once by batch id, signed, with the header', async () => {
    sim = await startSimulator({ rows: 500, seed: 41, aclHiddenRatio: 0 });
    receiver = await Receiver.start();
    const faults: Record<number, Answer> = { 2: { status: 503, headers: { 'retry-after': '1' }, body: 'busy, come back' }, 4: 'drop', 6: { status: 500, body: 'oops' }, 8: 'hold' };
    receiver.plan = (n) => faults[n] ?? { status: 200 };
    const cp = join(await tempDir(), 'cp.json');
    const res = await runCli([...args(sim, receiver, cp), '--timeout', '2', '-v'], { env });
    expect(res.code, res.stderr).toBe(0);

    const reqs = receiver.requests;
    const ids = new Set(reqs.map((r) => String(r.headers['x-nowpipe-batch-id'])));
    // Every batch once, plus exactly one retry for each of the four failures.
    expect(reqs).toHaveLength(ids.size + 4);
    for (const failed of [2, 4, 6, 8]) {
      expect(reqs[failed]!.headers['x-nowpipe-batch-id']).toBe(reqs[failed - 1]!.headers['x-nowpipe-batch-id']);
      expect(reqs[failed]!.body).toBe(reqs[failed - 1]!.body);
    }
    // Retry-After: 1 is waited out; the 500 only gets the (test-shortened) backoff.
    expect(reqs[2]!.at - reqs[1]!.at).toBeGreaterThanOrEqual(950);
    expect(reqs[6]!.at - reqs[5]!.at).toBeLessThan(900);

    for (const r of reqs) {
      const body = Buffer.from(r.body, 'utf8');
      expect(r.headers['content-type']).toBe('application/x-ndjson');
      expect(r.headers['x-api-key']).toBe(API_KEY);
      expect(r.headers['x-nowpipe-signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`);
      expect(r.headers['x-nowpipe-batch-id']).toBe(createHash('sha256').update(body).digest('hex').slice(0, 32));
    }
    const rows = dedupedRows(reqs).map((r) => String(r.sys_id));
    expect(rows).toHaveLength(500);
    expect(new Set(rows)).toEqual(new Set(sorted(sim).map((r) => String(r.sys_id))));

    expect(res.stderr).toContain(`→ ${ids.size} batches to ${receiver.shown}; position`);
    expect(res.stderr).toMatch(/warning: the webhook receiver is failing: busy, come back \(POST http:\/\/127\.0\.0\.1:\d+\/hook\?… → 503\); retry 1 of 8 in 1\.0 s/);
    expect(res.stderr).toMatch(/cannot reach the webhook receiver 127\.0\.0\.1:\d+: (ECONNRESET|socket hang up)/);
    expect(res.stderr).toMatch(/warning: the webhook receiver 127\.0\.0\.1:\d+ did not answer within the timeout/);
    expect(reqs[8]!.at - reqs[7]!.at).toBeGreaterThanOrEqual(1900);
    noSecrets(res.stderr);
  });

  it('a batch over --http-max-bytes is split; a row over it alone stops the run naming it (fail) or goes to --dead-letter (skip)', async () => {
    sim = await startSimulator({ rows: 300, rowBytes: 700, seed: 42, aclHiddenRatio: 0 });
    const middle = sorted(sim)[150]!;
    const big = sim.insert('incident', { description: randomBytes(15_000).toString('base64') }, { stampedAt: String(middle.sys_updated_on) });
    const bigId = String(big.sys_id);
    receiver = await Receiver.start();
    const dir = await tempDir();

    const failCp = join(dir, 'fail.json');
    const failed = await runCli(args(sim, receiver, failCp, '--http-max-bytes', '20000'), { env });
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toMatch(new RegExp(`error: incident row ${bigId} \\(sys_updated_on ${String(big.sys_updated_on)}\\) cannot be written: its NDJSON line is \\d{5} bytes, over --http-max-bytes \\(20000\\)`));
    expect(failed.stderr).toContain('hint: raise --http-max-bytes if the receiver takes larger bodies, or leave large fields out with --fields, or set such rows aside with --on-bad-row skip --dead-letter <file>');
    const deliveredIds = new Set(receiver.delivered.flatMap((r) => rowsOf(r.body)).map((r) => String(r.sys_id)));
    expect(deliveredIds.has(bigId)).toBe(false);
    const before = covered(sim, failCp);
    expect(before.length).toBeGreaterThan(0);
    expect(before.filter((r) => !deliveredIds.has(String(r.sys_id)))).toEqual([]);
    expect(before.some((r) => r.sys_id === bigId)).toBe(false);

    receiver.requests.length = 0;
    const deadLetter = join(dir, 'bad', 'rows.ndjson');
    const skipped = await runCli(args(sim, receiver, join(dir, 'skip.json'), '--http-max-bytes', '20000', '--on-bad-row', 'skip', '--dead-letter', deadLetter), { env });
    expect(skipped.code, skipped.stderr).toBe(0);
    expect(skipped.stderr).toContain(`done: 300 rows of incident (1 bad row set aside in ${deadLetter})`);
    expect(skipped.stderr).toContain(`warning: set aside incident row ${bigId} in ${deadLetter}: its NDJSON line is`);
    for (const r of receiver.requests) expect(Buffer.byteLength(r.body)).toBeLessThanOrEqual(20_000);
    // 100-row pages of ~750-byte rows do not fit in 20,000 bytes: each was split.
    expect(receiver.requests.length).toBeGreaterThan(300 / 100 * 3);
    const got = dedupedRows(receiver.requests).map((r) => String(r.sys_id));
    expect(got.sort()).toEqual(sorted(sim).map((r) => String(r.sys_id)).filter((id) => id !== bigId).sort());
    const lines = readFileSync(deadLetter, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ table: 'incident', sys_id: bigId, sys_updated_on: big.sys_updated_on, record: { sys_id: bigId, description: big.description } });
    expect(String(line.reason)).toMatch(/^its NDJSON line is \d{5} bytes, over --http-max-bytes \(20000\)$/);
    expect(statSync(deadLetter).mode & 0o777).toBe(0o600);
  });

  it('a 400 stops the run at once (exit 1) with the receiver\'s words, redacted; the checkpoint stays before that batch', async () => {
    sim = await startSimulator({ rows: 500, seed: 43, aclHiddenRatio: 0 });
    receiver = await Receiver.start();
    receiver.plan = (n) => (n === 3 ? { status: 400, body: `invalid payload: field "number" missing\n(request had x-api-key ${API_KEY})` } : { status: 200 });
    const cp = join(await tempDir(), 'cp.json');
    const res = await runCli([...args(sim, receiver, cp), '--format', 'envelope'], { env });
    expect(res.code, res.stderr).toBe(1);
    expect(receiver.requests).toHaveLength(3); // not retried
    expect(res.stderr).toMatch(/error: the webhook receiver refused a batch of \d+ rows \(\d+ bytes\): invalid payload: field "number" missing \(request had x-api-key \*\*\*\) \(POST http:\/\/127\.0\.0\.1:\d+\/hook\?… → 400\)/);
    expect(res.stderr).toContain('hint: ');
    expect(res.stderr).not.toMatch(/\n\s+at \S+ \(/);
    noSecrets(res.stderr);
    const delivered = new Set(receiver.delivered.flatMap((r) => rowsOf(r.body)).map((e) => String((e as { sys_id: string }).sys_id)));
    expect(rowsOf(receiver.requests[0]!.body)[0]).toMatchObject({ op: expect.stringMatching(/^[cu]$/), table: 'incident', instance: sim.url });
    const cov = covered(sim, cp);
    expect(cov.length).toBe(delivered.size);
    expect(cov.filter((r) => !delivered.has(String(r.sys_id)))).toEqual([]);
  });

  it('kill -9 while a POST is unanswered: the checkpoint covers only delivered rows; the rerun resends that batch (same id) and nothing is lost', async () => {
    sim = await startSimulator({ rows: 600, seed: 44, aclHiddenRatio: 0 });
    receiver = await Receiver.start();
    receiver.plan = (n) => (n === 3 ? 'hold' : { status: 200 });
    const cp = join(await tempDir(), 'cp.json');
    const run = startCli([...args(sim, receiver, cp), '--overlap', '0'], { env });
    await waitFor(() => receiver!.requests.length >= 3, 20_000, 'the third POST');
    run.child.kill('SIGKILL');
    expect(await run.code).toBeNull();
    const held = receiver.requests[2]!;
    const delivered = new Set(receiver.delivered.flatMap((r) => rowsOf(r.body)).map((r) => String(r.sys_id)));
    const cov = covered(sim, cp);
    expect(cov.length).toBeGreaterThan(0);
    expect(cov.filter((r) => !delivered.has(String(r.sys_id)))).toEqual([]);
    expect(rowsOf(held.body).some((r) => cov.some((c) => c.sys_id === r.sys_id))).toBe(false);

    receiver.plan = () => ({ status: 200 });
    const rerun = await runCli([...args(sim, receiver, cp), '--overlap', '0', '--lock-stale-after', '2'], { env });
    expect(rerun.code, rerun.stderr).toBe(0);
    const after = receiver.requests.slice(3);
    expect(after[0]!.headers['x-nowpipe-batch-id']).toBe(held.headers['x-nowpipe-batch-id']);
    const all = new Set(receiver.delivered.flatMap((r) => rowsOf(r.body)).map((r) => String(r.sys_id)));
    expect(all).toEqual(new Set(sorted(sim).map((r) => String(r.sys_id))));
    noSecrets(run.out.stderr + rerun.stderr);
  });

  it('a redirect is not followed (exit 1, nothing sent elsewhere); an unreachable receiver fails at open, before anything is read', async () => {
    sim = await startSimulator({ rows: 50, seed: 45, aclHiddenRatio: 0 });
    receiver = await Receiver.start();
    receiver.plan = () => ({ status: 307, headers: { location: 'https://elsewhere.example/in?secret=abc' } });
    const dir = await tempDir();
    const redirected = await runCli(args(sim, receiver, join(dir, 'a.json')), { env });
    expect(redirected.code).toBe(1);
    expect(redirected.stderr).toContain('error: the webhook receiver redirected to https://elsewhere.example/in?…; nowpipe does not follow redirects (the body and its headers may carry secrets)');
    expect(receiver.requests).toHaveLength(1);
    expect(existsSync(join(dir, 'a.json'))).toBe(false);

    const url = receiver.url;
    await receiver.close();
    receiver = undefined;
    const before = tableRequests(sim).length;
    const down = await runCli(['--url', sim.url, '--table', 'incident', '--user', 'admin', '--checkpoint', join(dir, 'b.json'), '--sink', 'http', '--http-url', url, '--http-retries', '1'], { env });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/error: gave up after 2 attempts: cannot reach the webhook receiver 127\.0\.0\.1:\d+: ECONNREFUSED/);
    expect(tableRequests(sim).length).toBe(before);
    noSecrets(redirected.stderr + down.stderr);
  });

  it('https: a certificate Node does not trust fails at the connect check, not retried, nothing read; with its CA in NODE_EXTRA_CA_CERTS every row arrives', async () => {
    const dir = await tempDir();
    const pki = await makePki(dir);
    sim = await startSimulator({ rows: 120, seed: 46, aclHiddenRatio: 0 });
    receiver = await Receiver.start({ cert: readFileSync(pki.serverCert, 'utf8'), key: readFileSync(pki.serverKey, 'utf8') });
    const refused = await runCli(args(sim, receiver, join(dir, 'a.json')), { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/error: the TLS certificate of the webhook receiver 127\.0\.0\.1:\d+ was refused: .*\(connect to https:\/\/127\.0\.0\.1:\d+\/hook\?…\)/);
    expect(refused.stderr).toContain('hint: a receiver with a certificate from an internal CA: give the CA with NODE_EXTRA_CA_CERTS=<pem file>');
    expect(receiver.connections).toBe(1);
    expect(receiver.requests).toHaveLength(0);
    expect(tableRequests(sim)).toHaveLength(0);

    const trusted = await runCli(args(sim, receiver, join(dir, 'b.json')), { env: { ...env, NODE_EXTRA_CA_CERTS: pki.ca } });
    expect(trusted.code, trusted.stderr).toBe(0);
    expect(dedupedRows(receiver.requests).map((r) => String(r.sys_id)).sort()).toEqual(sorted(sim).map((r) => String(r.sys_id)).sort());
    expect(trusted.stderr).toContain(`batches to ${receiver.shown}`);
    noSecrets(refused.stderr + trusted.stderr);
  });

  it('config: --sink http needs --http-url (an http(s) URL), --on-bad-row skip needs --dead-letter: exit 2 before connecting', async () => {
    const dir = await tempDir();
    const base = ['--url', 'https://acme.service-now.com', '--table', 'incident', '--user', 'u', '--checkpoint', join(dir, 'cp.json')];
    const none = await runCli([...base, '--sink', 'http'], { env });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--http-url: required with --sink http');
    const bad = await runCli([...base, '--sink', 'http', '--http-url', 'ftp://hooks.acme.com', '--on-bad-row', 'skip', '--http-header', `${API_KEY}`], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--http-url: unsupported protocol ftp: (use https:// or http://)');
    expect(bad.stderr).toContain('--on-bad-row: needs --dead-letter <file>');
    expect(bad.stderr).toContain('--http-header: must be "Name: value"');
    noSecrets(none.stderr + bad.stderr);
  });
});
