// The simulator's authorization-code grant over HTTP: what `nowpipe login` is tested against must
// itself refuse what a real instance refuses (a wrong PKCE verifier, a reused code, another
// redirect URI or client), or the end-to-end tests would prove nothing.
import { afterEach, describe, expect, it } from 'vitest';
import { codeChallenge, codeVerifier } from '../../src/login/pkce.js';
import { startSimulator, type SimOAuthOptions, type Simulator } from '../../src/sim/index.js';

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

const REDIRECT = 'http://127.0.0.1:9/callback';
const PUBLIC = { id: 'cli-app' };
const CONFIDENTIAL = { id: 'web-app', secret: 'w3b-S3CRET' };

async function start(oauth: Partial<SimOAuthOptions> = {}): Promise<Simulator> {
  sim = await startSimulator({ rows: 3, oauth: { clients: [PUBLIC, CONFIDENTIAL, { id: 'no-thanks', deny: true }, { id: 'fixed', redirectUri: 'http://127.0.0.1:8765/callback' }], ...oauth } });
  return sim;
}

/** The authorize step, as a browser would send it (without following the redirect). */
async function authorize(s: Simulator, params: Record<string, string>): Promise<{ status: number; location: URL | undefined }> {
  const res = await fetch(`${s.url}/oauth_auth.do?${new URLSearchParams(params)}`, { redirect: 'manual' });
  const location = res.headers.get('location');
  return { status: res.status, location: location ? new URL(location) : undefined };
}

async function codeFor(s: Simulator, verifier: string, client = PUBLIC.id, redirectUri = REDIRECT): Promise<string> {
  const { status, location } = await authorize(s, { response_type: 'code', client_id: client, redirect_uri: redirectUri, state: 'st8', code_challenge: codeChallenge(verifier), code_challenge_method: 'S256' });
  expect(status).toBe(302);
  expect(location?.searchParams.get('state')).toBe('st8');
  return location!.searchParams.get('code')!;
}

async function exchange(s: Simulator, form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${s.url}/oauth_token.do`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'authorization_code', ...form }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('the simulator: authorization code with PKCE', () => {
  it('the right verifier gets tokens, once: the same code again is refused', async () => {
    const s = await start();
    const verifier = codeVerifier();
    const code = await codeFor(s, verifier);
    const ok = await exchange(s, { code, client_id: PUBLIC.id, redirect_uri: REDIRECT, code_verifier: verifier });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ access_token: expect.any(String), refresh_token: expect.any(String), token_type: 'Bearer' });
    const again = await exchange(s, { code, client_id: PUBLIC.id, redirect_uri: REDIRECT, code_verifier: verifier });
    expect(again).toEqual({ status: 401, body: { error: 'invalid_grant', error_description: 'access_denied' } });
  });

  it('a wrong verifier, no verifier, another redirect URI or another client: refused', async () => {
    const s = await start();
    const verifier = codeVerifier();
    const attempts: Array<Record<string, string>> = [
      { client_id: PUBLIC.id, redirect_uri: REDIRECT, code_verifier: codeVerifier() },
      { client_id: PUBLIC.id, redirect_uri: REDIRECT },
      { client_id: PUBLIC.id, redirect_uri: 'http://127.0.0.1:10/callback', code_verifier: verifier },
      { client_id: CONFIDENTIAL.id, client_secret: CONFIDENTIAL.secret, redirect_uri: REDIRECT, code_verifier: verifier },
    ];
    for (const form of attempts) {
      const code = await codeFor(s, verifier);
      expect(await exchange(s, { code, ...form }), JSON.stringify(form)).toEqual({ status: 401, body: { error: 'invalid_grant', error_description: 'access_denied' } });
    }
  });

  it('a confidential client needs its secret at the exchange', async () => {
    const s = await start();
    const verifier = codeVerifier();
    const form = { client_id: CONFIDENTIAL.id, redirect_uri: REDIRECT, code_verifier: verifier };
    expect((await exchange(s, { code: await codeFor(s, verifier, CONFIDENTIAL.id), ...form })).status).toBe(401);
    expect((await exchange(s, { code: await codeFor(s, verifier, CONFIDENTIAL.id), ...form, client_secret: CONFIDENTIAL.secret })).status).toBe(200);
  });

  it('the authorize step: a denying user, an unknown client, an untrusted redirect URI', async () => {
    const s = await start();
    const ask = (client: string, redirect_uri = REDIRECT) => authorize(s, { response_type: 'code', client_id: client, redirect_uri, state: 'st8', code_challenge: 'c', code_challenge_method: 'S256' });
    const denied = await ask('no-thanks');
    expect(denied.status).toBe(302);
    expect(Object.fromEntries(denied.location!.searchParams)).toEqual({ error: 'access_denied', error_description: 'The user denied the request', state: 'st8' });
    expect(`${denied.location!.origin}${denied.location!.pathname}`).toBe(REDIRECT);
    // No redirect where the client cannot be trusted: a page instead.
    expect(await ask('nobody')).toEqual({ status: 400, location: undefined });
    expect(await ask(PUBLIC.id, 'https://evil.example/callback')).toEqual({ status: 400, location: undefined });
    expect(await ask('fixed', REDIRECT)).toEqual({ status: 400, location: undefined });
    expect((await ask('fixed', 'http://127.0.0.1:8765/callback')).status).toBe(302);
    const plain = await authorize(s, { response_type: 'code', client_id: PUBLIC.id, redirect_uri: REDIRECT, state: 's', code_challenge: 'c', code_challenge_method: 'plain' });
    expect(plain.location?.searchParams.get('error')).toBe('invalid_request');
  });

  it('rotation: a refresh grant hands out a new refresh token and the old one stops working', async () => {
    const s = await start({ rotateRefreshTokens: true });
    const verifier = codeVerifier();
    const first = await exchange(s, { code: await codeFor(s, verifier), client_id: PUBLIC.id, redirect_uri: REDIRECT, code_verifier: verifier });
    const refresh = (token: unknown) =>
      fetch(`${s.url}/oauth_token.do`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'refresh_token', client_id: PUBLIC.id, refresh_token: String(token) }) }).then(
        async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }),
      );
    const second = await refresh(first.body.refresh_token);
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).not.toBe(first.body.refresh_token);
    expect((await refresh(first.body.refresh_token)).status).toBe(401);
    expect((await refresh(second.body.refresh_token)).status).toBe(200);
  });
});
