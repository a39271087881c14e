import { RequestError } from 'got';
import { AuthError, HttpError, ResponseError } from '../errors/index.js';
import { redactWith, registerSecret } from '../errors/redact.js';
import type { AuthProvider } from './client.js';
import { retryAfterMs } from './response.js';
import { withRetry, type RetryHooks, type RetryPolicy } from './retry.js';
import type { Transport } from './transport.js';
import { networkError, redirectError, type RequestContext } from './transport-errors.js';

export interface OAuthCredentials {
  url: string;
  /** The token endpoint (--oauth-token-url); `{url}/oauth_token.do` when not given. */
  tokenUrl?: string;
  /** Sent as `scope` with every grant (--oauth-scope). */
  scope?: string;
  clientId: string;
  clientSecret?: string;
  user?: string;
  password?: string;
  refreshToken?: string;
  /** `nowpipe login`'s exchange: the code the browser brought back, with its redirect URI and PKCE verifier. */
  authorizationCode?: { code: string; redirectUri: string; verifier: string };
  /** What to tell the user when the instance refuses the first grant (a stored login: log in again). */
  refusedHint?: string;
}

/** How grants are sent: the run's transport and retry policy, as for the Table API. */
export interface OAuthOptions {
  transport: Transport;
  retry: RetryPolicy;
  /** Told of each retried grant (the run's retry count, the outage log). */
  onRetry?: RetryHooks['onRetry'];
  now?: () => number;
  /**
   * The instance answered a refresh grant with a new refresh token (rotation): called, and
   * awaited, before the token is used, so a stored login can keep the one that still works.
   */
  onRefreshToken?: (token: string) => Promise<void>;
}

export type Grant = 'password' | 'client_credentials' | 'refresh_token' | 'authorization_code';

interface Token {
  access: string;
  refresh?: string;
  /** Local clock ms at which to renew (a margin before the instance expires it). */
  renewAt: number;
}

/** Which grant the given credentials call for. */
export function chooseGrant(c: Pick<OAuthCredentials, 'user' | 'password' | 'refreshToken' | 'authorizationCode'>): Grant {
  if (c.authorizationCode) return 'authorization_code';
  if (c.refreshToken) return 'refresh_token';
  if (c.user && c.password !== undefined) return 'password';
  return 'client_credentials';
}

const REFUSED: Record<Grant, string> = {
  password: 'the client id/secret or the user/password',
  client_credentials:
    'the client id or client secret; and client_credentials must be enabled on the instance (system property glide.oauth.inbound.client.credential.grant_type.enabled = true, Washington DC or later) with an OAuth Application User on the client',
  refresh_token: 'the refresh token (expired or revoked? obtain a new one) or the client id/secret',
  authorization_code: "the client id/secret and the application's Redirect URL (a code works once, for a short time: log in again)",
};

/**
 * OAuth 2.0 against `{instance}/oauth_token.do` or --oauth-token-url (form-encoded), over the
 * run's transport: the same proxy, TLS, timeouts, retry policy and network-error rules as the
 * Table API, and never a redirect (the grant carries the secrets). Tokens live only in memory and
 * are registered for redaction. Renewal is single-flight: concurrent requests that need a token
 * wait for the one grant in progress.
 */
export class OAuthProvider implements AuthProvider {
  private token?: Token;
  private inflight?: Promise<Token>;
  readonly initialGrant: Grant;
  readonly tokenUrl: string;
  private readonly now: () => number;

  constructor(
    private readonly creds: OAuthCredentials,
    private readonly options: OAuthOptions,
  ) {
    this.initialGrant = chooseGrant(creds);
    this.tokenUrl = creds.tokenUrl ?? `${creds.url}/oauth_token.do`;
    this.now = options.now ?? Date.now;
  }

  async header(signal?: AbortSignal): Promise<string> {
    const t = this.token && this.now() < this.token.renewAt ? this.token : await this.renew(signal);
    return `Bearer ${t.access}`;
  }

  /**
   * After a 401: one fresh token, shared by every request that saw it. `rejected` is the header
   * the refused request carried: when we already hold a newer token (another request refreshed
   * while this one was in flight), that token is the answer and no second grant is made.
   */
  async refresh(signal?: AbortSignal, rejected?: string): Promise<boolean> {
    if (rejected !== undefined && this.token && rejected !== `Bearer ${this.token.access}`) return true;
    this.token = undefined;
    await this.renew(signal);
    return true;
  }

  /**
   * The grant in progress, shared by every caller. A stopped caller (SIGINT) stops waiting at
   * once; the grant itself is left to finish for the others.
   */
  private renew(signal?: AbortSignal): Promise<Token> {
    this.inflight ??= this.grant().finally(() => {
      this.inflight = undefined;
    });
    if (!signal) return this.inflight;
    if (signal.aborted) return Promise.reject(signal.reason);
    const grant = this.inflight;
    return new Promise<Token>((resolve, reject) => {
      const stop = () => reject(signal.reason);
      signal.addEventListener('abort', stop, { once: true });
      grant.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop));
    });
  }

  private async grant(): Promise<Token> {
    // Prefer the refresh token we hold; if the instance refuses it, fall back to the original grant.
    const held = this.token?.refresh ?? this.lastRefresh;
    if (held && this.initialGrant !== 'refresh_token') {
      try {
        return await this.request('refresh_token', held);
      } catch (err) {
        if (!(err instanceof AuthError)) throw err;
      }
    }
    return this.request(this.initialGrant, this.lastRefresh ?? this.creds.refreshToken);
  }

  private lastRefresh?: string;

  /** The latest refresh token the instance handed out (what `nowpipe login` stores). */
  get refreshToken(): string | undefined {
    return this.lastRefresh;
  }

  /** One grant, retried per the run's policy (a refusal is not retried). */
  private request(grant: Grant, refreshToken?: string): Promise<Token> {
    const c = this.creds;
    const form: Record<string, string> = { grant_type: grant, client_id: c.clientId };
    if (c.clientSecret !== undefined) form.client_secret = c.clientSecret;
    if (grant === 'password') Object.assign(form, { username: c.user ?? '', password: c.password ?? '' });
    if (grant === 'refresh_token') form.refresh_token = refreshToken ?? '';
    if (grant === 'authorization_code' && c.authorizationCode) {
      const { code, redirectUri, verifier } = c.authorizationCode;
      Object.assign(form, { code, redirect_uri: redirectUri, code_verifier: verifier });
    }
    if (c.scope !== undefined) form.scope = c.scope;
    const { transport } = this.options;
    const ctx: RequestContext = {
      method: 'POST',
      url: this.tokenUrl,
      proxy: transport.proxy,
      clientCert: transport.clientCert,
      flag: c.tokenUrl === undefined ? '--url' : '--oauth-token-url',
    };
    return withRetry(() => this.post(grant, form, ctx), this.options.retry, { onRetry: this.options.onRetry });
  }

  private async post(grant: Grant, form: Record<string, string>, ctx: RequestContext): Promise<Token> {
    const url = ctx.url;
    let res;
    try {
      res = await this.options.transport.http.post(url, { form, responseType: 'text' });
    } catch (err) {
      throw err instanceof RequestError ? networkError(err, ctx) : err;
    }
    if (res.statusCode >= 300 && res.statusCode < 400) {
      throw redirectError(res.statusCode, res.headers.location, { ...ctx, what: 'the OAuth token endpoint' });
    }
    let body: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = JSON.parse(res.body);
      if (parsed !== null && typeof parsed === 'object') body = parsed as Record<string, unknown>;
    } catch {
      /* reported below */
    }
    // Busy, broken or asleep is not a refusal: retry it like any table request, never blame the credentials.
    if (res.statusCode === 429 || res.statusCode >= 500) {
      throw new HttpError(`the OAuth endpoint is unavailable`, { status: res.statusCode, method: 'POST', url, retriable: true, retryAfterMs: retryAfterMs(res.headers) });
    }
    if (res.statusCode === 200 && body === undefined) {
      const hibernating = /hibernat/i.test(res.body);
      throw new ResponseError(hibernating ? 'the instance is hibernating (wake it in the developer portal)' : 'the OAuth endpoint answered 200 with a body that is not JSON', {
        problem: 'not-json',
        method: 'POST',
        url,
      });
    }
    body ??= {};
    if (res.statusCode !== 200 || typeof body.access_token !== 'string') {
      // An endpoint may echo the whole request back: mask the secrets it carried before cutting it short.
      const sent = [form.client_secret, form.password, form.refresh_token, form.code, form.code_verifier].filter((x): x is string => x !== undefined && x !== '');
      const said = redactWith([body.error, body.error_description].filter((x) => typeof x === 'string' && x).join(': '), sent);
      const reason = said.length > 200 ? `${said.slice(0, 200)}…` : said || `HTTP ${res.statusCode}`;
      const scope = form.scope === undefined ? '' : `; the application must allow the scope ${form.scope} (--oauth-scope)`;
      throw new AuthError(`the instance refused the OAuth ${grant} grant (${reason}) (POST ${url} → ${res.statusCode})`, {
        hint:
          grant === this.initialGrant && this.creds.refusedHint !== undefined
            ? this.creds.refusedHint
            : `check ${REFUSED[grant]}; the OAuth application must exist in System OAuth > Application Registry${scope}`,
      });
    }
    const lifetime = Number(body.expires_in ?? 1800) * 1000;
    // Renew at 90% of the lifetime, and at least a minute early, so no request carries a dying token.
    const margin = Math.max(Math.min(60_000, lifetime / 2), lifetime * 0.1);
    const refresh = typeof body.refresh_token === 'string' ? body.refresh_token : undefined;
    registerSecret(body.access_token, 'token');
    registerSecret(refresh, 'token');
    if (refresh && grant === 'refresh_token' && refresh !== form.refresh_token) await this.options.onRefreshToken?.(refresh);
    if (refresh) this.lastRefresh = refresh;
    this.token = { access: body.access_token, refresh, renewAt: this.now() + lifetime - margin };
    return this.token;
  }
}
