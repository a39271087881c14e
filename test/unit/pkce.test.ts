import { describe, expect, it } from 'vitest';
import { authorizeUrl, codeChallenge, codeVerifier, newState, sameState } from '../../src/login/pkce.js';
import { openerCommand, shouldOpenBrowser } from '../../src/login/browser.js';

describe('PKCE (RFC 7636)', () => {
  it('S256 of the RFC 7636 appendix B verifier is its published challenge', () => {
    expect(codeChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  });

  it('a verifier is 43 unreserved characters, fresh each time; so is a state', () => {
    const v = codeVerifier();
    expect(v).toMatch(/^[A-Za-z0-9\-._~]{43}$/);
    expect(codeVerifier()).not.toBe(v);
    expect(newState()).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(newState()).not.toBe(newState());
  });

  it('the state must match exactly', () => {
    const s = newState();
    expect(sameState(s, s)).toBe(true);
    expect(sameState(s, `${s}x`)).toBe(false);
    expect(sameState(s, s.slice(1))).toBe(false);
    expect(sameState(s, null)).toBe(false);
  });

  it('the authorize URL carries the documented parameters, in order, scope only when given', () => {
    const url = authorizeUrl({ endpoint: 'https://acme.service-now.com/oauth_auth.do', clientId: 'app 1', redirectUri: 'http://127.0.0.1:8765/callback', state: 'st', challenge: 'ch' });
    expect(url).toBe('https://acme.service-now.com/oauth_auth.do?response_type=code&client_id=app+1&redirect_uri=http%3A%2F%2F127.0.0.1%3A8765%2Fcallback&state=st&code_challenge=ch&code_challenge_method=S256');
    const scoped = new URL(authorizeUrl({ endpoint: 'https://idp.acme.com/authorize?tenant=x', clientId: 'a', redirectUri: 'r', state: 's', challenge: 'c', scope: 'useraccount' }));
    expect([...scoped.searchParams.keys()]).toEqual(['tenant', 'response_type', 'client_id', 'redirect_uri', 'state', 'code_challenge', 'code_challenge_method', 'scope']);
  });
});

describe('opening a browser', () => {
  const at = (platform: NodeJS.Platform, env: NodeJS.ProcessEnv = {}, browser = true, terminal = true) => shouldOpenBrowser({ browser, terminal, platform, env });
  it('only for a person at a desktop: never with --no-browser nor off a terminal', () => {
    expect(at('linux', { DISPLAY: ':0' })).toBe(true);
    expect(at('linux', { WAYLAND_DISPLAY: 'wayland-0' })).toBe(true);
    expect(at('linux', {})).toBe(false); // an SSH session
    expect(at('darwin')).toBe(true);
    expect(at('win32')).toBe(true);
    expect(at('darwin', {}, false)).toBe(false);
    expect(at('linux', { DISPLAY: ':0' }, true, false)).toBe(false);
  });

  it("with the platform's opener; cmd's start gets its & escaped", () => {
    const url = 'https://a/oauth_auth.do?x=1&y=2';
    expect(openerCommand(url, 'linux')).toEqual({ command: 'xdg-open', args: [url] });
    expect(openerCommand(url, 'darwin')).toEqual({ command: 'open', args: [url] });
    expect(openerCommand(url, 'win32')).toEqual({ command: 'cmd', args: ['/c', 'start', '""', 'https://a/oauth_auth.do?x=1^&y=2'], verbatim: true });
  });
});
