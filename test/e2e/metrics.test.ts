import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { runCli, startCli, tableRequests, tempDir, waitFor, type StartedCli } from '../helpers/cli.js';
import { samples } from '../helpers/prometheus.js';

let sim: Simulator | undefined;
let run: StartedCli | undefined;
let blocker: Server | undefined;
afterEach(async () => {
  if (run && run.child.exitCode === null) run.child.kill('SIGKILL');
  run = undefined;
  await sim?.close();
  sim = undefined;
  await new Promise((r) => (blocker ? blocker.close(r) : r(undefined)));
  blocker = undefined;
});

const sum = (s: Map<string, number>, prefix: string) => [...s].filter(([k]) => k.startsWith(prefix)).reduce((a, [, v]) => a + v, 0);
const lines = (text: string) => text.split('\n').filter((l) => l !== '').length;

/** A follow run with metrics on a free port: the CLI says where, on stderr. */
async function follow(s: Simulator, ...more: string[]): Promise<{ run: StartedCli; url: string }> {
  const cp = join(await tempDir(), 'cp.json');
  run = startCli(['--url', s.url, '--table', 'incident', '--user', 'admin', '--password', 'admin', '--checkpoint', cp, '--follow', '--poll-interval', '1', '--metrics-port', '0', ...more]);
  const started = run;
  await waitFor(() => /metrics on (http:\/\/\S+)\/metrics/.test(started.out.stderr) || started.child.exitCode !== null, 20_000, 'the metrics server');
  const url = /metrics on (http:\/\/\S+)\/metrics/.exec(started.out.stderr)?.[1];
  if (!url) throw new Error(`no metrics server:\n${started.out.stderr}`);
  return { run: started, url };
}

async function scrape(url: string): Promise<Map<string, number>> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  return samples(await res.text());
}

async function health(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${url}/healthz`);
  return { status: res.status, body: await res.text() };
}

describe('--metrics-port (built CLI, simulator in follow mode)', () => {
  it('counts what was written and asked: rows as on stdout, requests as the instance saw them; lag is small when caught up', async () => {
    sim = await startSimulator({ rows: 250, seed: 71 });
    const { run: r, url } = await follow(sim);
    await waitFor(() => r.out.stderr.includes('caught up'), 20_000, 'the backfill');
    for (let i = 0; i < 15; i++) sim.insert('incident');
    await waitFor(() => lines(r.out.stdout) === 265, 20_000, 'the new rows');
    // The counter follows the commit, which follows stdout: it gets there, and no further.
    let s = await scrape(url);
    const end = Date.now() + 10_000;
    while (s.get('nowpipe_rows_total{table="incident"}') !== 265 && Date.now() < end) s = await scrape(url);
    expect(s.get('nowpipe_rows_total{table="incident"}')).toBe(lines(r.out.stdout));
    expect(s.get('nowpipe_deletes_total{table="incident"}')).toBe(0);
    expect(s.get('nowpipe_retries_total')).toBe(0);
    expect(s.get('nowpipe_pages_total')).toBeGreaterThan(0);
    // Requests: what the instance logged, give or take the one in flight while we scraped.
    const before = tableRequests(sim).length;
    s = await scrape(url);
    const after = tableRequests(sim).length;
    const requests = sum(s, 'nowpipe_requests_total{');
    expect(requests).toBe(s.get('nowpipe_requests_total{status="200"}'));
    expect(requests).toBeGreaterThanOrEqual(before - 1);
    expect(requests).toBeLessThanOrEqual(after);
    // A fresh change, caught up: the checkpoint is seconds behind the instance's clock.
    sim.insert('incident');
    await waitFor(() => lines(r.out.stdout) === 266, 10_000, 'one more row');
    s = await scrape(url);
    expect(s.get('nowpipe_lag_seconds{table="incident"}')).toBeLessThan(5);
    expect(s.get('nowpipe_up_to_date{table="incident"}')).toBe(1);
    expect(s.get('nowpipe_polls_total{table="incident",outcome="ok"}')).toBeGreaterThan(0);
    expect(Date.now() / 1000 - s.get('nowpipe_last_success_timestamp_seconds{table="incident"}')!).toBeLessThan(3);
    expect(s.get('nowpipe_healthy')).toBe(1);
    expect(s.has('process_resident_memory_bytes')).toBe(true);
    expect(await health(url)).toMatchObject({ status: 200, body: expect.stringMatching(/^ok\nincident: last success \d+ s ago/) });
    r.child.kill('SIGTERM');
    expect(await r.code).toBe(0);
    // The run's end closes the server.
    await expect(fetch(`${url}/metrics`)).rejects.toThrow();
  });

  it('/healthz turns 503 when the instance stops answering for 3 poll intervals, and 200 again when it is back', async () => {
    sim = await startSimulator({ rows: 50, seed: 72 });
    // Window: 3 × --poll-interval 1 = 3 s (--timeout 2 is shorter).
    const { run: r, url } = await follow(sim, '--timeout', '2');
    await waitFor(() => r.out.stderr.includes('caught up'), 20_000, 'the backfill');
    expect((await health(url)).status).toBe(200);
    sim.setDown(true);
    const downAt = Date.now();
    let h = await health(url);
    while (h.status === 200 && Date.now() - downAt < 20_000) {
      await new Promise((res) => setTimeout(res, 100));
      h = await health(url);
    }
    // Not before the window (less the last poll's second before the outage began).
    expect(Date.now() - downAt).toBeGreaterThanOrEqual(1900);
    expect(h.status).toBe(503);
    expect(h.body).toMatch(/^unhealthy\nincident: no successful poll or commit for \d+ s \(limit 3 s\)/);
    expect(h.body).toMatch(/last error \d+ s ago: /);
    const s = await scrape(url);
    expect(s.get('nowpipe_healthy')).toBe(0);
    expect(s.get('nowpipe_requests_total{status="none"}')).toBeGreaterThan(0);
    expect(s.get('nowpipe_retries_total')).toBeGreaterThan(0);
    sim.setDown(false);
    await waitFor(() => r.out.stderr.includes('recovered'), 20_000, 'the recovery');
    const back = Date.now() + 10_000;
    while ((h = await health(url)).status !== 200 && Date.now() < back) await new Promise((res) => setTimeout(res, 100));
    expect(h.status).toBe(200);
    r.child.kill('SIGTERM');
    expect(await r.code).toBe(0);
  });

  it('a port already in use stops the run before it reads anything (exit 2, says which port and what to do)', async () => {
    sim = await startSimulator({ rows: 10, seed: 73 });
    blocker = createServer();
    await new Promise<void>((res) => blocker!.listen(0, '127.0.0.1', res));
    const port = (blocker.address() as { port: number }).port;
    const cp = join(await tempDir(), 'cp.json');
    const res = await runCli(['--url', sim.url, '--table', 'incident', '--user', 'admin', '--password', 'admin', '--checkpoint', cp, '--metrics-port', String(port)]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`error: --metrics-port ${port}: 127.0.0.1:${port} is already in use by another program`);
    expect(res.stderr).toMatch(/hint: choose a free port/);
    expect(res.stderr).not.toMatch(/\n\s+at /);
    expect(res.stdout).toBe('');
    expect(tableRequests(sim)).toHaveLength(0);
  });

  it('refuses a bad port, and --metrics-host without --metrics-port (exit 2)', async () => {
    const res = await runCli(['--url', 'https://acme.service-now.com', '--table', 'incident', '--user', 'a', '--password', 'b', '--metrics-port', '70000', '--metrics-host', '0.0.0.0']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--metrics-port: must be at most 65535');
    const alone = await runCli(['--url', 'https://acme.service-now.com', '--table', 'incident', '--user', 'a', '--password', 'b', '--metrics-host', '0.0.0.0']);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toContain('--metrics-host: needs --metrics-port');
  });
});
