import { createHash } from 'node:crypto';
import { sysId } from './data.js';

export interface SimOAuthClient {
  id: string;
  /** None (or '') for a public client: grants then carry no client_secret. */
  secret?: string;
  /** The user says no at the authorize page: the redirect carries error=access_denied. */
  deny?: boolean;
  /** The Redirect URL registered for the client; without it any http://127.0.0.1 or localhost URL is accepted. */
  redirectUri?: string;
}

export interface SimOAuthOptions {
  clients: SimOAuthClient[];
  tokenLifetimeSec?: number;
  clientCredentials?: boolean;
  /** Who "logs in" at /oauth_auth.do, without a page (default: the first user). */
  loginAs?: string;
  /** A refresh grant hands out a new refresh token and revokes the one it was given. */
  rotateRefreshTokens?: boolean;
}

/** What the server sends back: a status, a body, and headers (a Location for redirects). */
export interface SimAnswer {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

interface Code {
  client: string;
  redirectUri: string;
  challenge?: string;
  user?: string;
  expiresAt: number;
}

const CODE_LIFETIME_MS = 60_000;
const base64url = (b: Buffer) => b.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const page = (status: number, text: string): SimAnswer => ({ status, body: `<html><body><p>${text}</p></body></html>`, headers: { 'Content-Type': 'text/html;charset=UTF-8' } });
const loopback = (uri: string) => /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\//.test(uri);

/**
 * The instance's OAuth server: `/oauth_token.do` (password, refresh_token, client_credentials
 * and authorization_code grants) and `/oauth_auth.do` (the authorize step, which "logs in" a
 * configured user at once and redirects back with a single-use code, PKCE S256 checked at the
 * exchange). Tokens live in memory; `bearer` tells the Table API whose token it was given.
 */
export function simOAuth(options: SimOAuthOptions | undefined, users: ReadonlyArray<{ user: string; password: string }>, random: () => number, clock: () => number) {
  const clients = options?.clients ?? [];
  const tokens = new Map<string, { expiresAt: number; user?: string }>();
  const refreshTokens = new Map<string, { user?: string; client: string }>();
  const codes = new Map<string, Code>();
  const lifetime = options?.tokenLifetimeSec ?? 1800;

  /** GET /oauth_auth.do: a code for the redirect_uri, or an error there, or a page when the redirect cannot be trusted. */
  function authorize(q: URLSearchParams): SimAnswer {
    const client = clients.find((c) => c.id === q.get('client_id'));
    const redirectUri = q.get('redirect_uri') ?? '';
    if (!client) return page(400, 'OAuth client not found');
    if (client.redirectUri !== undefined ? redirectUri !== client.redirectUri : !loopback(redirectUri)) return page(400, 'Invalid redirect_uri');
    const back = (params: Record<string, string>) => {
      const u = new URL(redirectUri);
      for (const [k, v] of Object.entries({ ...params, ...(q.has('state') ? { state: q.get('state')! } : {}) })) u.searchParams.set(k, v);
      return { status: 302, body: '', headers: { Location: u.toString() } };
    };
    if (q.get('response_type') !== 'code') return back({ error: 'unsupported_response_type' });
    const method = q.get('code_challenge_method');
    if (q.has('code_challenge') && method !== null && method !== 'S256') return back({ error: 'invalid_request', error_description: 'code_challenge_method must be S256' });
    if (client.deny) return back({ error: 'access_denied', error_description: 'The user denied the request' });
    const code = sysId(random);
    const user = options?.loginAs ?? users[0]?.user;
    codes.set(code, { client: client.id, redirectUri, challenge: q.get('code_challenge') ?? undefined, user, expiresAt: clock() + CODE_LIFETIME_MS });
    return back({ code });
  }

  /** POST /oauth_token.do, form-encoded. A refusal is 401 access_denied, as the platform answers. */
  function token(contentType: string, body: string): SimAnswer {
    const form = new URLSearchParams(body);
    const deny = (error = 'server_error'): SimAnswer => ({ status: 401, body: JSON.stringify({ error_description: 'access_denied', error }) });
    const client = clients.find((c) => c.id === form.get('client_id') && (c.secret ?? '') === (form.get('client_secret') ?? ''));
    if (!client || !contentType.includes('application/x-www-form-urlencoded')) return deny();
    let user: string | undefined;
    let refresh: string | undefined;
    const grant = form.get('grant_type');
    if (grant === 'password') {
      const u = users.find((x) => x.user === form.get('username') && x.password === form.get('password'));
      if (!u) return deny();
      user = u.user;
    } else if (grant === 'refresh_token') {
      const given = form.get('refresh_token') ?? '';
      const r = refreshTokens.get(given);
      if (!r || r.client !== client.id) return deny();
      user = r.user;
      if (options?.rotateRefreshTokens) refreshTokens.delete(given);
      else refresh = given;
    } else if (grant === 'client_credentials') {
      if (options?.clientCredentials === false) return deny();
      user = users[0]?.user;
    } else if (grant === 'authorization_code') {
      const key = form.get('code') ?? '';
      const code = codes.get(key);
      codes.delete(key); // single use, whatever the outcome
      if (!code || code.client !== client.id || code.expiresAt < clock() || code.redirectUri !== form.get('redirect_uri')) return deny('invalid_grant');
      const verifier = form.get('code_verifier');
      if (code.challenge !== undefined && (verifier === null || base64url(createHash('sha256').update(verifier).digest()) !== code.challenge)) return deny('invalid_grant');
      user = code.user;
    } else return deny();
    const access = sysId(random) + sysId(random);
    tokens.set(access, { expiresAt: clock() + lifetime * 1000, user });
    refresh ??= sysId(random);
    refreshTokens.set(refresh, { user, client: client.id });
    return { status: 200, body: JSON.stringify({ access_token: access, refresh_token: refresh, scope: 'useraccount', token_type: 'Bearer', expires_in: lifetime }) };
  }

  return {
    authorize,
    token,
    /** The user of a live access token, or undefined. */
    bearer(access: string): { ok: boolean; user?: string } {
      const t = tokens.get(access);
      return { ok: t !== undefined && t.expiresAt > clock(), user: t?.user };
    },
    expireTokens(): void {
      for (const t of tokens.values()) t.expiresAt = 0;
    },
    revokeRefreshTokens(): void {
      refreshTokens.clear();
    },
  };
}
