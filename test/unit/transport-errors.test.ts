import { describe, expect, it } from 'vitest';
import { opensslReason, redirectError, shownLocation } from '../../src/servicenow/transport-errors.js';

describe('transport errors', () => {
  it('a redirect target is shown without credentials or query (they can carry secrets)', () => {
    const base = 'https://acme.service-now.com/oauth_token.do';
    expect(shownLocation('https://bob:s3cret@sso.acme.com/login?SAMLRequest=abc#x', base)).toBe('https://sso.acme.com/login?…');
    expect(shownLocation('/login.do', base)).toBe('https://acme.service-now.com/login.do');
    expect(shownLocation(undefined, base)).toBe('(no Location header)');
    expect(shownLocation('http://[bad', base)).toBe('(an invalid Location header)');
  });

  it('a redirect error is final and names the flag to fix', () => {
    const custom = redirectError(302, 'https://evil.example/t', { method: 'POST', url: 'https://idp.acme.com/token', what: 'the OAuth token endpoint', flag: '--oauth-token-url' });
    expect(custom.retriable).toBe(false);
    expect(custom.message).toBe('the OAuth token endpoint redirected to https://evil.example/t; nowpipe does not follow redirects, so no credentials were sent there (POST https://idp.acme.com/token → 302)');
    expect(custom.hint).toMatch(/^check --oauth-token-url: it must be the instance's own address/);
    const upgrade = redirectError(301, 'https://acme.service-now.com/oauth_token.do', { method: 'POST', url: 'http://acme.service-now.com/oauth_token.do', what: 'the OAuth token endpoint', flag: '--oauth-token-url' });
    expect(upgrade.hint).toBe('use the https:// address: --oauth-token-url https://acme.service-now.com/oauth_token.do');
  });

  it("OpenSSL's reason without its dump", () => {
    expect(opensslReason('write EPROTO 806C62E4467F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:350:')).toBe('wrong version number');
    expect(opensslReason('socket hang up')).toBe('socket hang up');
  });
});
