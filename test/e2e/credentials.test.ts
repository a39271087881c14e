// Credentials never leave for another address and never reach stderr (built CLI, local servers).
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { rm } from 'node:fs/promises';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { runCli, sysIds, tableRequests, tempDir, visibleIds } from '../helpers/cli.js';

const CLIENT = { id: 'nowpipe-app', secret: 'cl1ent/S3CRET+value' };
const USER = { user: 'svc.nowpipe', password: 'p@ss W0rd!value' };

interface Local {
  url: string;
  seen: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }>;
  close(): Promise<void>;
}

const opened: Array<{ close(): Promise<void> }> = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A temporary folder, removed after the test. */
async function scratch(): Promise<string> {
  const dir = await tempDir();
  dirs.push(dir);
  return dir;
}

/** A local HTTP server that records everything it receives. */
async function serve(answer: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<Local> {
  const seen: Local['seen'] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      answer(req, res, body);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const local: Local = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  opened.push(local);
  return local;
}

async function simulator(rows: number): Promise<Simulator> {
  const sim = await startSimulator({ rows, seed: 71, users: [USER], oauth: { clients: [CLIENT] } });
  opened.push(sim);
  return sim;
}

/** Every form a secret could take on the way out: raw, URL- and form-encoded (either case), base64 basic auth. */
function forms(secret: string): string[] {
  const uri = encodeURIComponent(secret);
  const form = new URLSearchParams({ s: secret }).toString().slice(2);
  const lower = (s: string) => s.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
  return [secret, uri, form, lower(uri), lower(form), Buffer.from(`${USER.user}:${secret}`).toString('base64')];
}

function expectNoSecret(text: string, secrets: string[]): void {
  for (const s of secrets.flatMap(forms)) expect(text.includes(s), `output contains ${s}`).toBe(false);
}

const oauthArgs = ['--client-id', CLIENT.id, '--client-secret', CLIENT.secret, '--user', USER.user, '--password', USER.password];

describe('no credential follows a redirect (built CLI)', () => {
  it.each([301, 302, 307, 308])('the token endpoint answers %i to another host: exit 1 naming it, the other host gets nothing', async (status) => {
    const thief = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: 'st0len-token', refresh_token: 'st0len-refresh', expires_in: 1800 }));
    });
    const instance = await serve((_req, res) => {
      res.writeHead(status, { location: `${thief.url}/oauth_token.do?session=abc` });
      res.end();
    });
    const dir = await scratch();
    const res = await runCli(['--url', instance.url, '--table', 'incident', '--checkpoint', join(dir, 'cp.json'), '--retries', '2', '--verbose', ...oauthArgs]);
    expect(res.code).toBe(1);
    expect(thief.seen).toEqual([]);
    expect(instance.seen.map((s) => `${s.method} ${s.url}`)).toEqual(['POST /oauth_token.do']); // not retried
    expect(res.stderr).toContain(`error: the OAuth token endpoint redirected to ${thief.url}/oauth_token.do?…; nowpipe does not follow redirects`);
    expect(res.stderr).toContain(`(POST ${instance.url}/oauth_token.do → ${status})`);
    expect(res.stderr).toMatch(/hint: check --url: it must be the instance's own address/);
    expect(res.stdout).toBe('');
    expectNoSecret(res.stderr, [CLIENT.secret, USER.password]);
  });

  it('a Table API request with basic auth is not followed either', async () => {
    const thief = await serve((_req, res) => res.end('{"result":[]}'));
    const instance = await serve((_req, res) => {
      res.writeHead(302, { location: `${thief.url}/login.do` });
      res.end();
    });
    const dir = await scratch();
    const res = await runCli(['--url', instance.url, '--table', 'incident', '--checkpoint', join(dir, 'cp.json'), '--user', USER.user], { env: { SERVICENOW_PASSWORD: USER.password } });
    expect(res.code).toBe(1);
    expect(thief.seen).toEqual([]);
    expect(instance.seen).toHaveLength(1);
    expect(res.stderr).toContain(`the instance redirected to ${thief.url}/login.do`);
    expect(res.stderr).toMatch(/single sign-on/);
    expectNoSecret(res.stderr, [USER.password]);
  });

  it('http:// redirected to https:// on the same host: the hint gives the https:// URL', async () => {
    const instance = await serve((_req, res) => {
      res.writeHead(301, { location: 'https://127.0.0.1:8443/api/now/table/incident' });
      res.end();
    });
    const dir = await scratch();
    const res = await runCli(['--url', instance.url, '--table', 'incident', '--checkpoint', join(dir, 'cp.json'), '--user', USER.user], { env: { SERVICENOW_PASSWORD: USER.password } });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('hint: use the https:// address: --url https://127.0.0.1:8443');
  });
});

describe('no secret on stderr (built CLI)', () => {
  it('a token endpoint whose error echoes the request body: neither the password nor the client secret shows, in any form', async () => {
    const echo = await serve((_req, res, body) => {
      const decoded = Object.fromEntries(new URLSearchParams(body));
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: `invalid_request (received ${body})`, error_description: `bad form ${JSON.stringify(decoded)} auth ${Buffer.from(`${USER.user}:${USER.password}`).toString('base64')}` }));
    });
    const dir = await scratch();
    const res = await runCli(['--url', echo.url, '--table', 'incident', '--checkpoint', join(dir, 'cp.json'), '--verbose', ...oauthArgs]);
    expect(res.code).toBe(1);
    expect(echo.seen).toHaveLength(1);
    expect(new URLSearchParams(echo.seen[0]!.body).get('password')).toBe(USER.password); // the secrets were there to echo
    expect(res.stderr).toMatch(/error: the instance refused the OAuth password grant \(invalid_request \(received grant_type=password&client_id=nowpipe-app&client_secret=\*\*\*&username=svc\.nowpipe&password=\*\*\*/);
    expectNoSecret(res.stderr + res.stdout, [CLIENT.secret, USER.password]);
  });

  it('ENOTFOUND on the token endpoint is not retried: exit 1 at once, saying the host does not resolve', async () => {
    const dir = await scratch();
    const res = await runCli(['--url', 'http://nowpipe-no-such-host.invalid', '--table', 'incident', '--checkpoint', join(dir, 'cp.json'), '--retries', '3', '--verbose', ...oauthArgs]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/error: ENOTFOUND: .* \(POST http:\/\/nowpipe-no-such-host\.invalid\/oauth_token\.do\)/);
    expect(res.stderr).toMatch(/hint: check --url: the host name does not resolve/);
    expect(res.stderr).not.toMatch(/retry \d|gave up/);
  });
});

describe('--oauth-token-url and --oauth-scope (built CLI)', () => {
  it('the grant goes to the given endpoint with the scope; its token reads every row', async () => {
    const sim = await simulator(250);
    // An identity provider in front of the instance's token endpoint: it records the grant.
    const idp = await serve((req, res, body) => {
      const up = request(`${sim.url}/oauth_token.do`, { method: 'POST', headers: { 'content-type': req.headers['content-type']! } }, (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      });
      up.end(body);
    });
    const dir = await scratch();
    const res = await runCli(['--url', sim.url, '--table', 'incident', '--checkpoint', join(dir, 'cp.json'), '--oauth-token-url', `${idp.url}/oauth2/token`, '--oauth-scope', 'useraccount', ...oauthArgs]);
    expect(res.code, res.stderr).toBe(0);
    expect(sysIds(res.stdout).sort()).toEqual(visibleIds(sim).sort());
    expect(idp.seen.map((s) => `${s.method} ${s.url}`)).toEqual(['POST /oauth2/token']);
    expect(Object.fromEntries(new URLSearchParams(idp.seen[0]!.body))).toMatchObject({ grant_type: 'password', client_id: CLIENT.id, scope: 'useraccount' });
    // Only the forwarded grant reached the instance's own endpoint.
    expect(sim.requests.filter((r) => r.path === '/oauth_token.do')).toHaveLength(1);
    expect(tableRequests(sim).every((r) => r.auth === 'bearer' && r.status === 200)).toBe(true);
  });

  it('a bad --oauth-token-url, or one without --client-id, is exit 2 before connecting', async () => {
    const dir = await scratch();
    const bad = await runCli(['--url', 'http://127.0.0.1:9', '--table', 'incident', '--checkpoint', join(dir, 'cp.json'), '--oauth-token-url', 'ftp://idp/token', ...oauthArgs]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--oauth-token-url: must be a URL such as https:\/\/login\.acme\.com\/oauth_token\.do/);
    const alone = await runCli(['--url', 'http://127.0.0.1:9', '--table', 'incident', '--checkpoint', join(dir, 'cp.json'), '--oauth-scope', 'useraccount', '--user', 'u'], { env: { SERVICENOW_PASSWORD: 'pw' } });
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(/--oauth-token-url and --oauth-scope are for OAuth: give --client-id too/);
  });
});
