import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type SimOptions, type Simulator } from '../../src/sim/index.js';
import { runCli, startCli, sysIds, tableRequests, tempDir, visibleIds, waitFor } from '../helpers/cli.js';

/**
 * A reverse proxy in front of the simulator that sees what the simulator does not record: the
 * grant each /oauth_token.do call asked for and the tokens it handed out (to prove they never
 * leak). It can also hold answers back, to make a token grant or every response slow.
 */
interface Proxy {
  url: string;
  grants: Array<{ at: number; form: Record<string, string> }>;
  /** Every access and refresh token the instance issued. */
  tokens: string[];
  close(): Promise<void>;
}

interface ProxyOptions {
  tokenMs?: number;
  responseMs?: number;
  /** Statuses to answer the first token calls with, instead of asking the instance. */
  tokenFailures?: number[];
}

async function proxyTo(target: string, delays: ProxyOptions = {}): Promise<Proxy> {
  const failures = [...(delays.tokenFailures ?? [])];
  const grants: Proxy['grants'] = [];
  const tokens: string[] = [];
  const sockets = new Set<Socket>();
  const collect = (m: IncomingMessage) =>
    new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      m.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks)));
    });
  const server: Server = createServer(async (req, res) => {
    const body = await collect(req);
    const isToken = req.url === '/oauth_token.do';
    if (isToken) grants.push({ at: Date.now(), form: Object.fromEntries(new URLSearchParams(body.toString('utf8'))) });
    const failure = isToken ? failures.shift() : undefined;
    if (failure !== undefined) {
      res.writeHead(failure, { 'content-type': 'text/html' });
      res.end('<html><body>Service Unavailable</body></html>');
      return;
    }
    const upstream = request(`${target}${req.url}`, { method: req.method, headers: req.headers }, async (up) => {
      const answer = await collect(up);
      if (isToken) {
        try {
          const t = JSON.parse(answer.toString('utf8')) as { access_token?: string; refresh_token?: string };
          for (const v of [t.access_token, t.refresh_token]) if (v) tokens.push(v);
        } catch {
          /* a refusal */
        }
      }
      const wait = isToken ? (delays.tokenMs ?? 0) : (delays.responseMs ?? 0);
      setTimeout(() => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        res.end(answer);
      }, wait);
    });
    upstream.on('error', () => res.destroy());
    upstream.end(body);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    grants,
    tokens,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

const CLIENT = { id: 'nowpipe-app', secret: 'cl1ent-S3CRET-value' };
const USER = { user: 'svc.nowpipe', password: 'us3r-PASSW0RD-value' };

let sim: Simulator | undefined;
let proxy: Proxy | undefined;
afterEach(async () => {
  await proxy?.close();
  await sim?.close();
  sim = undefined;
  proxy = undefined;
});

async function instance(options: SimOptions, delays?: ProxyOptions) {
  sim = await startSimulator({ users: [USER], ...options, oauth: { clients: [CLIENT], ...options.oauth } });
  proxy = await proxyTo(sim.url, delays);
  return { sim, proxy };
}


/** A refresh token obtained once out of band (as an authorization-code flow would give it). */
async function obtainRefreshToken(s: Simulator): Promise<string> {
  const res = await fetch(`${s.url}/oauth_token.do`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'password', client_id: CLIENT.id, client_secret: CLIENT.secret, username: USER.user, password: USER.password }),
  });
  const body = (await res.json()) as { refresh_token: string };
  return body.refresh_token;
}

function expectNoSecret(text: string, secrets: string[]): void {
  for (const s of secrets) expect(text.includes(s), `output contains the secret ${s.slice(0, 4)}…`).toBe(false);
}

describe('OAuth (built CLI against the simulator)', () => {
  type Case = { grant: string; setup: (s: Simulator, dir: string) => Promise<{ args: string[]; env: Record<string, string>; secrets: string[] }> };
  const cases: Case[] = [
    {
      // Flags; client_credentials is off on the instance, so only the password grant can succeed.
      grant: 'password',
      setup: async () => ({
        args: ['--client-id', CLIENT.id, '--client-secret', CLIENT.secret, '--user', USER.user, '--password', USER.password],
        env: {},
        secrets: [CLIENT.secret, USER.password],
      }),
    },
    {
      // Environment variables.
      grant: 'client_credentials',
      setup: async () => ({ args: [], env: { SERVICENOW_CLIENT_ID: CLIENT.id, SERVICENOW_CLIENT_SECRET: CLIENT.secret }, secrets: [CLIENT.secret] }),
    },
    {
      // rc keys of the Confluent connector for the client, the refresh token from the environment.
      grant: 'refresh_token',
      setup: async (s, dir) => {
        const rc = join(dir, 'connector.json');
        await writeFile(rc, JSON.stringify({ 'oauth.api.key': CLIENT.id, 'oauth.api.secret': CLIENT.secret }));
        const refresh = await obtainRefreshToken(s);
        return { args: ['--config', rc], env: { SERVICENOW_REFRESH_TOKEN: refresh }, secrets: [CLIENT.secret, refresh] };
      },
    },
  ];

  it.each(cases)('the $grant grant exports every row with one token, and no secret or token is printed or saved', async ({ grant, setup }) => {
    const { sim, proxy } = await instance({ rows: 700, seed: 31, aclHiddenRatio: 0.05, oauth: { clients: [CLIENT], clientCredentials: grant === 'client_credentials' } });
    const dir = await tempDir();
    const cp = join(dir, 'cp.json');
    const { args, env, secrets } = await setup(sim, dir);
    const res = await runCli(['--url', proxy.url, '--table', 'incident', '--checkpoint', cp, '--batch-size', '100', '--concurrency', '4', '--verbose', ...args], { env });
    expect(res.code, res.stderr).toBe(0);
    const out = sysIds(res.stdout);
    expect(out).toHaveLength(new Set(out).size);
    expect(out.sort()).toEqual(visibleIds(sim).sort());
    // One grant, of the expected kind, form-encoded with the client; the token served the whole run.
    expect(proxy.grants.map((g) => g.form.grant_type)).toEqual([grant]);
    expect(proxy.grants[0]!.form.client_id).toBe(CLIENT.id);
    const table = tableRequests(sim);
    expect(table.length).toBeGreaterThan(7);
    expect(table.every((r) => r.auth === 'bearer' && r.status === 200)).toBe(true);
    // Tokens live in memory only: not on stdout, stderr (even --verbose) or in the checkpoint.
    expect(proxy.tokens.length).toBeGreaterThanOrEqual(2);
    const saved = await readFile(cp, 'utf8');
    expectNoSecret(res.stdout + res.stderr + saved, [...secrets, ...proxy.tokens]);
  });

  it('renews the token before it expires: a run outliving several 2 s tokens gets no 401', async () => {
    const { sim, proxy } = await instance({ rows: 4000, seed: 32, latencyMs: 250, oauth: { clients: [CLIENT], tokenLifetimeSec: 2 } });
    const dir = await tempDir();
    const started = Date.now();
    const res = await runCli(['--url', proxy.url, '--table', 'incident', '--checkpoint', join(dir, 'cp.json'), '--batch-size', '100', '--concurrency', '2', '--client-id', CLIENT.id, '--client-secret', CLIENT.secret, '--user', USER.user, '--password', USER.password]);
    const seconds = (Date.now() - started) / 1000;
    expect(res.code, res.stderr).toBe(0);
    expect(sysIds(res.stdout).sort()).toEqual(visibleIds(sim).sort());
    const table = tableRequests(sim);
    expect(table.filter((r) => r.status === 401)).toEqual([]);
    expect(seconds).toBeGreaterThan(4); // the run outlived at least two tokens
    // The password grant once, then the refresh token, about once a second (renewal at half of
    // a 2 s lifetime): never a burst, and never a gap as long as a token lives.
    const kinds = proxy.grants.map((g) => g.form.grant_type);
    expect(kinds[0]).toBe('password');
    expect(kinds.slice(1).every((k) => k === 'refresh_token')).toBe(true);
    expect(kinds.length).toBeGreaterThanOrEqual(3);
    expect(kinds.length).toBeLessThanOrEqual(Math.ceil(seconds) + 1);
    const times = proxy.grants.map((g) => g.at);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(900);
    // Every table request went out with a token younger than its 2 s lifetime.
    for (const r of table) {
      const issued = times.filter((t) => t <= r.at).pop()!;
      expect(r.at - issued).toBeLessThan(2000);
    }
  });

  // With a slow grant the 401s arrive while the refresh is in flight (single flight); with a fast
  // one most arrive after it finished and must reuse the new token, not start another grant.
  it.each([
    { tokenMs: 600, when: 'the refresh is slow' },
    { tokenMs: 0, when: 'the refresh is fast' },
  ])('tokens expired mid-run: exactly one refresh for the 401s of 4 concurrent requests ($when)', async ({ tokenMs }) => {
    const { sim, proxy } = await instance({ rows: 3000, seed: 33 }, { tokenMs, responseMs: 250 });
    const dir = await tempDir();
    const { out, code } = startCli(['--url', proxy.url, '--table', 'incident', '--checkpoint', join(dir, 'cp.json'), '--batch-size', '100', '--concurrency', '4', '--client-id', CLIENT.id, '--client-secret', CLIENT.secret, '--user', USER.user, '--password', USER.password]);
    await waitFor(() => out.stdout.split('\n').length > 600, 30_000, 'rows before the expiry');
    const expiredAt = Date.now();
    sim.expireTokens();
    expect(await code, out.stderr).toBe(0);
    expect(sysIds(out.stdout).sort()).toEqual(visibleIds(sim).sort());
    const unauthorized = tableRequests(sim).filter((r) => r.status === 401);
    expect(unauthorized.length).toBeGreaterThanOrEqual(2);
    expect(unauthorized.every((r) => r.at >= expiredAt)).toBe(true);
    expect(proxy.grants.map((g) => g.form.grant_type)).toEqual(['password', 'refresh_token']);
    expect(proxy.grants[1]!.at).toBeGreaterThanOrEqual(expiredAt);
    expect(out.stderr).not.toMatch(/error/i);
  });

  it('a token endpoint that is down (503) is retried, not reported as refused credentials', async () => {
    const { sim, proxy } = await instance({ rows: 300, seed: 35 }, { tokenFailures: [503, 502] });
    const dir = await tempDir();
    const res = await runCli(['--url', proxy.url, '--table', 'incident', '--checkpoint', join(dir, 'cp.json'), '--client-id', CLIENT.id, '--client-secret', CLIENT.secret, '--user', USER.user, '--password', USER.password]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/OAuth endpoint is unavailable/);
    expect(res.stderr).not.toMatch(/refused/);
    expect(proxy.grants.map((g) => g.form.grant_type)).toEqual(['password', 'password', 'password']);
    expect(sysIds(res.stdout).sort()).toEqual(visibleIds(sim).sort());
  });

  describe('a refused grant: exit 1 naming the credential, no secret shown, no table read', () => {
    const refusals = [
      {
        name: 'a wrong client secret (password grant)',
        args: ['--client-id', CLIENT.id, '--client-secret', 'wr0ng-CLIENT-secret', '--user', USER.user, '--password', USER.password],
        says: [/refused the OAuth password grant \(server_error: access_denied\)/, /check the client id\/secret or the user\/password/],
        secrets: ['wr0ng-CLIENT-secret', USER.password],
      },
      {
        name: 'a wrong user password (password grant)',
        args: ['--client-id', CLIENT.id, '--client-secret', CLIENT.secret, '--user', USER.user, '--password', 'wr0ng-USER-password'],
        says: [/refused the OAuth password grant/, /check the client id\/secret or the user\/password/],
        secrets: [CLIENT.secret, 'wr0ng-USER-password'],
      },
      {
        name: 'a revoked refresh token',
        args: ['--client-id', CLIENT.id, '--client-secret', CLIENT.secret, '--refresh-token', 'r3voked-REFRESH-token'],
        says: [/refused the OAuth refresh_token grant/, /check the refresh token \(expired or revoked\? obtain a new one\)/],
        secrets: [CLIENT.secret, 'r3voked-REFRESH-token'],
      },
      {
        name: 'client_credentials disabled on the instance',
        args: ['--client-id', CLIENT.id, '--client-secret', CLIENT.secret],
        says: [/refused the OAuth client_credentials grant/, /client_credentials must be enabled on the instance/],
        secrets: [CLIENT.secret],
      },
    ];
    it.each(refusals)('$name', async ({ args, says, secrets }) => {
      const { sim, proxy } = await instance({ rows: 20, seed: 34, oauth: { clients: [CLIENT], clientCredentials: false } });
      const dir = await tempDir();
      const res = await runCli(['--url', proxy.url, '--table', 'incident', '--checkpoint', join(dir, 'cp.json'), '--verbose', ...args]);
      expect(res.code).toBe(1);
      for (const re of says) expect(res.stderr).toMatch(re);
      expect(res.stdout).toBe('');
      expect(res.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
      expect(res.stderr).not.toMatch(/bug in nowpipe/);
      expectNoSecret(res.stdout + res.stderr, secrets);
      expect(proxy.grants).toHaveLength(1); // a refusal is not retried
      expect(tableRequests(sim)).toEqual([]);
    });
  });
});
