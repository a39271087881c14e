import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuthError } from '../../src/errors/index.js';
import { chooseGrant, OAuthProvider, type OAuthCredentials } from '../../src/servicenow/oauth.js';
import { DEFAULT_RETRY_POLICY } from '../../src/servicenow/retry.js';
import { createTransport } from '../../src/servicenow/transport.js';

const BASE = 'https://acme.service-now.com';
const grants: URLSearchParams[] = [];
const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => {
  server.resetHandlers();
  grants.length = 0;
});
afterAll(() => server.close());

/** Fast retries: the retry policy is the run's, only quicker. */
const RETRY = { ...DEFAULT_RETRY_POLICY, retries: 3, baseDelayMs: 1, maxDelayMs: 5 };
const transport = () => createTransport({ timeoutMs: 5000, connectTimeoutMs: 5000 });
const provider = (creds: OAuthCredentials, now?: () => number) => new OAuthProvider(creds, { transport: transport(), retry: RETRY, now });

function tokenEndpoint(opts: { refuse?: (f: URLSearchParams) => boolean; expiresIn?: number } = {}) {
  let n = 0;
  server.use(
    http.post(`${BASE}/oauth_token.do`, async ({ request }) => {
      expect(request.headers.get('content-type')).toMatch(/application\/x-www-form-urlencoded/);
      const form = new URLSearchParams(await request.text());
      grants.push(form);
      if (opts.refuse?.(form)) return HttpResponse.json({ error: 'server_error', error_description: 'access_denied' }, { status: 401 });
      n++;
      return HttpResponse.json({ access_token: `access-${n}`, refresh_token: `refresh-${n}`, expires_in: opts.expiresIn ?? 1800, token_type: 'Bearer' });
    }),
  );
}

describe('OAuth', () => {
  it('chooses the grant from the credentials given', () => {
    expect(chooseGrant({ refreshToken: 'r' })).toBe('refresh_token');
    expect(chooseGrant({ user: 'u', password: 'p' })).toBe('password');
    expect(chooseGrant({})).toBe('client_credentials');
  });

  it('password grant: form-encoded, then reuses the token until it nears expiry, then refreshes', async () => {
    tokenEndpoint({ expiresIn: 100 });
    let now = 0;
    const p = provider({ url: BASE, clientId: 'cid', clientSecret: 'cs', user: 'u', password: 'pw' }, () => now);
    expect(await p.header()).toBe('Bearer access-1');
    expect(Object.fromEntries(grants[0]!)).toEqual({ grant_type: 'password', client_id: 'cid', client_secret: 'cs', username: 'u', password: 'pw' });
    now = 30_000;
    expect(await p.header()).toBe('Bearer access-1');
    expect(grants).toHaveLength(1);
    now = 60_000; // past 90% of 100 s minus the margin
    expect(await p.header()).toBe('Bearer access-2');
    expect(Object.fromEntries(grants[1]!)).toMatchObject({ grant_type: 'refresh_token', refresh_token: 'refresh-1' });
  });

  it('a stopped caller stops waiting for a slow grant at once; the grant still serves the others', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    server.use(
      http.post(`${BASE}/oauth_token.do`, async () => {
        await held;
        return HttpResponse.json({ access_token: 'slow', refresh_token: 'r', expires_in: 1800 });
      }),
    );
    const p = provider({ url: BASE, clientId: 'cid', clientSecret: 'cs' });
    const stop = new AbortController();
    const stopped = p.header(stop.signal);
    const other = p.header();
    stop.abort(new Error('SIGINT'));
    await expect(stopped).rejects.toThrow('SIGINT');
    release();
    expect(await other).toBe('Bearer slow');
  });

  it('refreshes once for concurrent requests after a 401 (single flight)', async () => {
    tokenEndpoint();
    const p = provider({ url: BASE, clientId: 'cid', clientSecret: 'cs' });
    await p.header();
    await Promise.all([p.refresh(), p.refresh(), p.refresh()]);
    expect(grants.map((g) => g.get('grant_type'))).toEqual(['client_credentials', 'refresh_token']);
    expect(await p.header()).toBe('Bearer access-2');
  });

  it('a 401 that carried an older token reuses the newer one: no second grant', async () => {
    tokenEndpoint();
    const p = provider({ url: BASE, clientId: 'cid', clientSecret: 'cs' });
    const stale = await p.header();
    await p.refresh(undefined, stale); // the first 401 renews
    await p.refresh(undefined, stale); // a 401 that was in flight meanwhile does not
    expect(grants.map((g) => g.get('grant_type'))).toEqual(['client_credentials', 'refresh_token']);
    expect(await p.header()).toBe('Bearer access-2');
    await p.refresh(undefined, 'Bearer access-2'); // the current token refused: renew again
    expect(grants).toHaveLength(3);
  });

  it('falls back to the original grant when the refresh token is refused', async () => {
    tokenEndpoint({ refuse: (f) => f.get('grant_type') === 'refresh_token' });
    const p = provider({ url: BASE, clientId: 'cid', clientSecret: 'cs', user: 'u', password: 'pw' });
    await p.header();
    await p.refresh();
    expect(grants.map((g) => g.get('grant_type'))).toEqual(['password', 'refresh_token', 'password']);
  });

  it('names the refused credential and never echoes a secret', async () => {
    tokenEndpoint({ refuse: () => true });
    const p = provider({ url: BASE, clientId: 'cid', clientSecret: 'topsecret' });
    const err = await p.header().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as AuthError).message).toMatch(/refused the OAuth client_credentials grant/);
    expect((err as AuthError).hint).toMatch(/client id or client secret/);
    expect(JSON.stringify({ m: (err as Error).message, h: (err as AuthError).hint })).not.toContain('topsecret');

    const r = provider({ url: BASE, clientId: 'cid', clientSecret: 'cs', refreshToken: 'old' });
    const err2 = await r.header().catch((e: unknown) => e);
    expect((err2 as AuthError).hint).toMatch(/refresh token/);
    expect((err2 as Error).message).not.toContain('old');
  });

  it('authorization_code (nowpipe login): code, redirect_uri and code_verifier in the form; the refresh token is handed back', async () => {
    tokenEndpoint();
    const p = provider({ url: BASE, clientId: 'cid', authorizationCode: { code: 'c0de', redirectUri: 'http://127.0.0.1:8765/callback', verifier: 'v3rifier' } });
    expect(p.initialGrant).toBe('authorization_code');
    expect(p.refreshToken).toBeUndefined();
    await p.header();
    expect(Object.fromEntries(grants[0]!)).toEqual({ grant_type: 'authorization_code', client_id: 'cid', code: 'c0de', redirect_uri: 'http://127.0.0.1:8765/callback', code_verifier: 'v3rifier' });
    expect(p.refreshToken).toBe('refresh-1');
  });

  it('a refresh token the instance rotates is handed to onRefreshToken before it is used; one it keeps is not', async () => {
    let issued = 0;
    const rotate = { on: true };
    server.use(
      http.post(`${BASE}/oauth_token.do`, async ({ request }) => {
        const form = new URLSearchParams(await request.text());
        grants.push(form);
        issued++;
        const refresh = rotate.on ? `rotated-${issued}` : form.get('refresh_token');
        return HttpResponse.json({ access_token: `access-${issued}`, refresh_token: refresh, expires_in: 1800 });
      }),
    );
    const kept: string[] = [];
    const p = new OAuthProvider(
      { url: BASE, clientId: 'cid', refreshToken: 'stored-0' },
      { transport: transport(), retry: RETRY, onRefreshToken: async (t) => void kept.push(t) },
    );
    await p.header();
    expect(kept).toEqual(['rotated-1']);
    await p.refresh();
    expect(grants.map((g) => g.get('refresh_token'))).toEqual(['stored-0', 'rotated-1']);
    expect(kept).toEqual(['rotated-1', 'rotated-2']);
    rotate.on = false;
    await p.refresh();
    expect(kept).toEqual(['rotated-1', 'rotated-2']);
  });

  it('a stored login that is refused says what the caller asks it to (log in again)', async () => {
    tokenEndpoint({ refuse: () => true });
    const p = provider({ url: BASE, clientId: 'cid', refreshToken: 'stored-0', refusedHint: 'run nowpipe login again' });
    const err = (await p.header().catch((e: unknown) => e)) as AuthError;
    expect(err).toBeInstanceOf(AuthError);
    expect(err.message).toMatch(/refused the OAuth refresh_token grant/);
    expect(err.hint).toBe('run nowpipe login again');
  });
});
