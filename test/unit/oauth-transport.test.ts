// The OAuth provider over the run's transport, against real local servers: the retry policy and
// network-error rules of the Table API, no redirects, a custom token URL and scope.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AuthError, HttpError, NetworkError, RetriesExhaustedError } from '../../src/errors/index.js';
import { OAuthProvider, type OAuthCredentials } from '../../src/servicenow/oauth.js';
import { DEFAULT_RETRY_POLICY } from '../../src/servicenow/retry.js';
import { createTransport, type Transport } from '../../src/servicenow/transport.js';

const RETRY = { ...DEFAULT_RETRY_POLICY, retries: 3, baseDelayMs: 1, maxDelayMs: 5 };
const SECRET = 'cl1ent/S3CRET+value';
const PASSWORD = 'p@ss-W0rd!value';

interface Seen {
  method: string;
  url: string;
  body: string;
}
interface Local {
  url: string;
  seen: Seen[];
  close(): Promise<void>;
}

const servers: Local[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(answer: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<Local> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, body });
      answer(req, res, body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const local = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  server.on('connection', (s) => s.unref());
  servers.push(local);
  return local;
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

/** A transport that counts the requests it sends (each attempt is one). */
function counted(): { transport: Transport; attempts: () => number } {
  let n = 0;
  const t = createTransport({ timeoutMs: 5000, connectTimeoutMs: 5000 });
  return { transport: { ...t, http: t.http.extend({ hooks: { beforeRequest: [() => void n++] } }) }, attempts: () => n };
}

function provider(creds: Partial<OAuthCredentials> & { url: string }, transport: Transport, onRetry?: () => void): OAuthProvider {
  return new OAuthProvider({ clientId: 'app', clientSecret: SECRET, user: 'svc', password: PASSWORD, ...creds }, { transport, retry: RETRY, onRetry });
}

describe('OAuth over the shared transport', () => {
  it('ENOTFOUND on the token endpoint is not retried: one attempt, a hint to check the URL', async () => {
    const { transport, attempts } = counted();
    let retries = 0;
    const err = await provider({ url: 'http://nowpipe-no-such-host.invalid' }, transport, () => retries++)
      .header()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as NetworkError).retriable).toBe(false);
    expect((err as NetworkError).message).toContain('ENOTFOUND');
    expect((err as NetworkError).hint).toBe('check --url: the host name does not resolve');
    expect(attempts()).toBe(1);
    expect(retries).toBe(0);
  });

  it('an unavailable token endpoint is retried by the run policy (Retry-After honoured), then given up', async () => {
    const down = await serve((_req, res) => {
      res.writeHead(503, { 'retry-after': '0' });
      res.end('busy');
    });
    const { transport, attempts } = counted();
    let retries = 0;
    const err = await provider({ url: down.url }, transport, () => retries++)
      .header()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetriesExhaustedError);
    expect((err as Error).message).toMatch(/gave up after 4 attempts: the OAuth endpoint is unavailable/);
    expect((err as RetriesExhaustedError).retriable).toBe(false); // the Table API's retry does not multiply it
    expect(attempts()).toBe(RETRY.retries + 1);
    expect(down.seen).toHaveLength(RETRY.retries + 1);
    expect(retries).toBe(RETRY.retries);
  });

  it.each([301, 302, 307, 308])('a %i from the token endpoint is not followed: the target gets nothing', async (status) => {
    const thief = await serve((_req, res) => json(res, 200, { access_token: 'stolen', expires_in: 1800 }));
    const instance = await serve((_req, res) => {
      res.writeHead(status, { location: `${thief.url}/oauth_token.do?state=abc` });
      res.end();
    });
    const err = await provider({ url: instance.url }, counted().transport)
      .header()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).retriable).toBe(false);
    expect((err as Error).message).toContain(`the OAuth token endpoint redirected to ${thief.url}/oauth_token.do?…`);
    expect((err as Error).message).toContain(`(POST ${instance.url}/oauth_token.do → ${status})`);
    expect(instance.seen).toHaveLength(1);
    expect(thief.seen).toEqual([]);
  });

  it('--oauth-token-url and --oauth-scope: the grant goes there, with the scope', async () => {
    const idp = await serve((_req, res) => json(res, 200, { access_token: 'tok-1', refresh_token: 'ref-1', expires_in: 1800 }));
    const p = provider({ url: 'http://instance.invalid', tokenUrl: `${idp.url}/oauth2/token`, scope: 'useraccount table_read' }, counted().transport);
    expect(await p.header()).toBe('Bearer tok-1');
    expect(idp.seen).toHaveLength(1);
    expect(idp.seen[0]!.method).toBe('POST');
    expect(idp.seen[0]!.url).toBe('/oauth2/token');
    expect(Object.fromEntries(new URLSearchParams(idp.seen[0]!.body))).toEqual({
      grant_type: 'password',
      client_id: 'app',
      client_secret: SECRET,
      username: 'svc',
      password: PASSWORD,
      scope: 'useraccount table_read',
    });
  });

  it('a refusal that echoes the form body names the grant and carries no secret, even cut short', async () => {
    const echo = await serve((_req, res, body) => json(res, 400, { error: 'invalid_request', error_description: `cannot parse ${'x'.repeat(116)} ${body}` }));
    const err = await provider({ url: echo.url, scope: 'useraccount' }, counted().transport)
      .header()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    const text = `${(err as Error).message}\n${(err as AuthError).hint}`;
    expect(text).toMatch(/refused the OAuth password grant \(invalid_request: cannot parse/);
    expect(text).toMatch(/the scope useraccount \(--oauth-scope\)/);
    for (const s of [SECRET, PASSWORD, encodeURIComponent(SECRET), encodeURIComponent(PASSWORD), 'p%40ss', 'S3CRET%2B', 'cl1en']) expect(text).not.toContain(s);
  });
});
