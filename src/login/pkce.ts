import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** base64url without padding (RFC 7636 appendix A). */
export const base64url = (bytes: Buffer): string => bytes.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/** A PKCE code verifier: 32 random bytes, 43 characters (RFC 7636 §4.1 asks for 43 to 128). */
export function codeVerifier(): string {
  return base64url(randomBytes(32));
}

/** The S256 code challenge of a verifier: base64url(SHA-256(verifier)). */
export function codeChallenge(verifier: string): string {
  return base64url(createHash('sha256').update(verifier, 'ascii').digest());
}

/** A `state` that ties the redirect to this login (an answer from any other page is refused). */
export function newState(): string {
  return base64url(randomBytes(16));
}

/** Constant-time comparison, so a local page cannot guess the state by timing. */
export function sameState(expected: string, got: string | null | undefined): boolean {
  if (typeof got !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(got);
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface AuthorizeRequest {
  /** `{instance}/oauth_auth.do`, or --oauth-authorize-url. */
  endpoint: string;
  clientId: string;
  redirectUri: string;
  state: string;
  challenge: string;
  scope?: string;
}

/** The URL the person opens: the authorization-code request with its PKCE challenge. */
export function authorizeUrl(r: AuthorizeRequest): string {
  const u = new URL(r.endpoint);
  const params: Array<[string, string]> = [
    ['response_type', 'code'],
    ['client_id', r.clientId],
    ['redirect_uri', r.redirectUri],
    ['state', r.state],
    ['code_challenge', r.challenge],
    ['code_challenge_method', 'S256'],
  ];
  if (r.scope !== undefined) params.push(['scope', r.scope]);
  for (const [k, v] of params) u.searchParams.set(k, v);
  return u.toString();
}
