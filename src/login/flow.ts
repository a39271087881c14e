import { AuthError, LoginError } from '../errors/index.js';
import { registerSecret } from '../errors/redact.js';
import { OAuthProvider, type OAuthOptions } from '../servicenow/oauth.js';
import { listenForCallback } from './callback.js';
import { authorizeUrl, codeChallenge, codeVerifier, newState, sameState } from './pkce.js';

export interface LoginRequest {
  /** The instance, as resolved from --url. */
  url: string;
  clientId: string;
  clientSecret?: string;
  scope?: string;
  tokenUrl?: string;
  /** --oauth-authorize-url; `{url}/oauth_auth.do` when not given. */
  authorizeUrl?: string;
  /** --redirect-port; 0 (a free port) when not given. */
  redirectPort?: number;
  /** How long to wait for the browser's answer. */
  timeoutMs: number;
  /** Ctrl-C: stop waiting, close the listener, store nothing. */
  signal?: AbortSignal;
  /** The URL to open (print it, open a browser). */
  show(url: string): void;
  /** Keeps the refresh token (the credentials store); the browser is told only once it is kept. */
  keep(refreshToken: string): Promise<void>;
}

const seconds = (ms: number) => (ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 1000)} s`);

/** Waits for `p`, or fails at the deadline, or stops with the signal. */
function within<T>(p: Promise<T>, ms: number, signal: AbortSignal | undefined, late: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const settle = (f: () => void) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
      f();
    };
    const stop = () => settle(() => reject(signal?.reason));
    const timer = setTimeout(() => settle(() => reject(late())), ms);
    signal?.addEventListener('abort', stop, { once: true });
    if (signal?.aborted) stop();
    p.then(
      (v) => settle(() => resolve(v)),
      (e: unknown) => settle(() => reject(e)),
    );
  });
}

/**
 * The OAuth 2.0 authorization-code flow with PKCE (RFC 7636, S256), for a person at a terminal:
 * listen on 127.0.0.1, show the authorize URL, wait for the browser to come back with a code and
 * this login's `state`, exchange the code at the token endpoint over the run's transport, and
 * hand the refresh token to `keep`. The access token is used for nothing and kept nowhere.
 */
export async function logIn(req: LoginRequest, http: OAuthOptions): Promise<void> {
  const verifier = codeVerifier();
  const state = newState();
  registerSecret(verifier, 'token');
  const callback = await listenForCallback(req.redirectPort ?? 0);
  try {
    req.show(
      authorizeUrl({
        endpoint: req.authorizeUrl ?? `${req.url}/oauth_auth.do`,
        clientId: req.clientId,
        redirectUri: callback.redirectUri,
        state,
        challenge: codeChallenge(verifier),
        scope: req.scope,
      }),
    );
    const q = await within(callback.answer, req.timeoutMs, req.signal, () => new LoginError(`no answer from the browser within ${seconds(req.timeoutMs)}: nothing was stored`, { hint: 'run nowpipe login again and finish the login in the browser (or give more time with --login-timeout)' }));
    const fail = async (err: Error, page: string): Promise<never> => {
      await callback.reply(false, page);
      throw err;
    };
    if (!sameState(state, q.get('state'))) {
      await fail(
        new LoginError(`the redirect to ${callback.redirectUri} did not carry this login's state: refused, nothing was stored`, {
          hint: 'run nowpipe login again and use the URL it prints; an answer from an older login or from another page is never accepted',
        }),
        'This answer does not belong to the login nowpipe started. Nothing was stored.',
      );
    }
    const error = q.get('error');
    if (error !== null) {
      const description = q.get('error_description');
      const reason = `${error}${description ? `: ${description}` : ''}`.slice(0, 300);
      await fail(
        new AuthError(`the instance did not grant the login (${reason})`, {
          hint: error === 'access_denied' ? 'access was denied at the instance: run nowpipe login again and allow it, or ask an admin about the OAuth application' : `check the OAuth application ${req.clientId} in System OAuth > Application Registry`,
        }),
        `The instance did not grant the login (${reason}).`,
      );
    }
    const code = q.get('code');
    if (!code) return await fail(new LoginError('the redirect carried neither a code nor an error', { hint: 'run nowpipe login again' }), 'No code came back. Nothing was stored.');
    registerSecret(code, 'token');
    const provider = new OAuthProvider(
      { url: req.url, tokenUrl: req.tokenUrl, scope: req.scope, clientId: req.clientId, clientSecret: req.clientSecret, authorizationCode: { code, redirectUri: callback.redirectUri, verifier } },
      http,
    );
    try {
      await provider.header(req.signal);
    } catch (err) {
      return await fail(err as Error, 'nowpipe could not exchange the code for a token: the terminal says why. Nothing was stored.');
    }
    const refresh = provider.refreshToken;
    if (refresh === undefined) {
      return await fail(
        new LoginError('the instance gave an access token but no refresh token, so there is nothing nowpipe can keep', {
          hint: `give the OAuth application ${req.clientId} a Refresh Token Lifespan (System OAuth > Application Registry), then log in again`,
        }),
        'The instance gave no refresh token. Nothing was stored.',
      );
    }
    try {
      await req.keep(refresh);
    } catch (err) {
      return await fail(err as Error, 'nowpipe could not store the login: the terminal says why.');
    }
    await callback.reply(true, `nowpipe can now read ${req.url} as you, with the OAuth client ${req.clientId}.`);
  } finally {
    await callback.close();
  }
}
