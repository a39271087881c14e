import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { parseNdjson, runCli, tableRequests, tempDir } from '../helpers/cli.js';

// A forward proxy as companies run them: absolute-form requests and CONNECT tunnels. It records
// what passed through it, and it alone knows the host `servicenow.invalid` (127.0.0.1): a request
// that reaches the simulator under that name went through the proxy.
const ONLY_VIA_PROXY = 'servicenow.invalid';
const resolve = (host: string) => (host === ONLY_VIA_PROXY ? '127.0.0.1' : host);
interface Proxy {
  url: string;
  seen: string[];
  close(): Promise<void>;
}

async function startProxy(options: { password?: string } = {}): Promise<Proxy> {
  const seen: string[] = [];
  const allowed = (auth: string | undefined) =>
    options.password === undefined || auth === `Basic ${Buffer.from(`bob:${options.password}`).toString('base64')}`;
  const server: Server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url!);
    const upstream = httpRequest(
      { host: resolve(target.hostname), port: target.port, path: target.pathname + target.search, method: req.method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode!, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connect', (req, socket, head) => {
    seen.push(`CONNECT ${req.url}`);
    if (!allowed(req.headers['proxy-authorization'])) {
      socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="corp"\r\n\r\n');
      return;
    }
    const [host, port] = req.url!.split(':');
    const up = connect(Number(port), resolve(host!), () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on('error', () => socket.destroy());
  });
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

let sim: Simulator | undefined;
let proxy: Proxy | undefined;
afterEach(async () => {
  await proxy?.close();
  await sim?.close();
  proxy = undefined;
  sim = undefined;
});

const base = (s: Simulator, cp: string) => ['--url', s.url, '--table', 'incident', '--user', 'admin', '--checkpoint', cp, '--batch-size', '100', '--concurrency', '1'];

describe('through an HTTP proxy (built CLI)', () => {
  it('--proxy: every request goes through the proxy and every row comes out', async () => {
    sim = await startSimulator({ rows: 250, seed: 17 });
    proxy = await startProxy();
    const dir = await tempDir();
    const url = `http://${ONLY_VIA_PROXY}:${sim.port}`;
    const args = ['--url', url, ...base(sim, join(dir, 'cp.json')).slice(2), '--proxy', proxy.url];
    const res = await runCli(args, { env: { SERVICENOW_PASSWORD: 'admin' } });
    expect(res.code, res.stderr).toBe(0);
    expect(parseNdjson(res.stdout)).toHaveLength(250);
    expect(sim.requests.filter((r) => r.path === '/api/now/table/incident').length).toBeGreaterThan(2);
    // hpagent tunnels with CONNECT (one keep-alive tunnel carries every request).
    expect(proxy.seen.length).toBeGreaterThan(0);
    expect(proxy.seen.every((l) => l === `CONNECT ${ONLY_VIA_PROXY}:${sim!.port}` || l.startsWith(`GET ${url}/`))).toBe(true);
    // Without the proxy the instance's name does not resolve: the rows above came through it.
    const direct = await runCli(['--url', url, ...base(sim, join(dir, 'cp2.json')).slice(2), '--retries', '0'], { env: { SERVICENOW_PASSWORD: 'admin' } });
    expect(direct.code).toBe(1);
    expect(direct.stderr).toMatch(/ENOTFOUND|does not resolve/);
  });

  it('OAuth goes through the proxy too: the token endpoint is reached the way the Table API is', async () => {
    const client = { id: 'nowpipe-app', secret: 'cl1ent-S3CRET-value' };
    sim = await startSimulator({ rows: 150, seed: 21, users: [{ user: 'svc', password: 'pw-value' }], oauth: { clients: [client] } });
    proxy = await startProxy();
    const dir = await tempDir();
    const url = `http://${ONLY_VIA_PROXY}:${sim.port}`;
    const args = ['--url', url, '--table', 'incident', '--checkpoint', join(dir, 'cp.json'), '--proxy', proxy.url, '--client-id', client.id, '--client-secret', client.secret, '--user', 'svc', '--retries', '1'];
    const res = await runCli(args, { env: { SERVICENOW_PASSWORD: 'pw-value' } });
    await rm(dir, { recursive: true, force: true });
    expect(res.code, res.stderr).toBe(0);
    expect(parseNdjson(res.stdout)).toHaveLength(150);
    const grants = sim.requests.filter((r) => r.path === '/oauth_token.do');
    expect(grants.map((r) => r.status)).toEqual([200]);
    expect(tableRequests(sim).every((r) => r.auth === 'bearer')).toBe(true);
    // The instance's name resolves only through the proxy: the grant above went through it.
    expect(proxy.seen.every((l) => l === `CONNECT ${ONLY_VIA_PROXY}:${sim!.port}` || l.startsWith(`GET ${url}/`) || l === `POST ${url}/oauth_token.do`)).toBe(true);
  });

  it('HTTPS_PROXY from the environment is used, and NO_PROXY turns it off for the instance', async () => {
    sim = await startSimulator({ rows: 120, seed: 18 });
    proxy = await startProxy();
    const dir = await tempDir();
    const via = await runCli(base(sim, join(dir, 'a.json')), { env: { SERVICENOW_PASSWORD: 'admin', HTTPS_PROXY: proxy.url } });
    expect(via.code, via.stderr).toBe(0);
    expect(parseNdjson(via.stdout)).toHaveLength(120);
    const through = proxy.seen.length;
    expect(through).toBeGreaterThan(0);
    const direct = await runCli(base(sim, join(dir, 'b.json')), { env: { SERVICENOW_PASSWORD: 'admin', HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1' } });
    expect(direct.code, direct.stderr).toBe(0);
    expect(parseNdjson(direct.stdout)).toHaveLength(120);
    expect(proxy.seen.length).toBe(through);
  });

  it('a proxy that wants credentials: 407 is exit 1 saying so; with them in --proxy it works; the password is never shown', async () => {
    sim = await startSimulator({ rows: 30, seed: 20 });
    proxy = await startProxy({ password: 'pr0xy-s3cret' });
    const dir = await tempDir();
    const port = proxy.url.split(':').at(-1);
    const refused = await runCli([...base(sim, join(dir, 'a.json')), '--proxy', `http://bob:wrong-pass@127.0.0.1:${port}`, '--retries', '0'], { env: { SERVICENOW_PASSWORD: 'admin' } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/the proxy http:\/\/127\.0\.0\.1:\d+ refused the connection to the instance \(HTTP 407\)/);
    expect(refused.stderr).toMatch(/hint: the proxy wants credentials/);
    expect(refused.stderr).not.toContain('wrong-pass');
    expect(sim.requests).toHaveLength(0);
    const ok = await runCli([...base(sim, join(dir, 'b.json')), '--proxy', `http://bob:pr0xy-s3cret@127.0.0.1:${port}`, '--verbose'], { env: { SERVICENOW_PASSWORD: 'admin' } });
    expect(ok.code, ok.stderr).toBe(0);
    expect(parseNdjson(ok.stdout)).toHaveLength(30);
    expect(ok.stderr).not.toContain('pr0xy-s3cret');
  });

  it('a proxy that is down: exit 1 after the retries, naming the proxy, nothing on stdout', async () => {
    sim = await startSimulator({ rows: 10, seed: 19 });
    proxy = await startProxy();
    const gone = proxy.url;
    await proxy.close();
    proxy = undefined;
    const dir = await tempDir();
    const res = await runCli([...base(sim, join(dir, 'cp.json')), '--proxy', gone, '--retries', '1'], { env: { SERVICENOW_PASSWORD: 'admin' } });
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain(`cannot reach the proxy ${gone}`);
    expect(res.stderr).toMatch(/hint: check --proxy/);
    expect(res.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(sim.requests).toHaveLength(0);
  });
});
