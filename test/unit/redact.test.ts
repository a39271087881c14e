import { afterEach, describe, expect, it } from 'vitest';
import { forgetSecrets, redact, redactWith, registerSecret } from '../../src/errors/redact.js';

afterEach(() => forgetSecrets());

const PASSWORD = 'p@ss W0rd/+&"x';

describe('redact', () => {
  it('leaves text alone while nothing is registered', () => {
    expect(redact('user admin, password p@ss')).toBe('user admin, password p@ss');
  });

  it('masks a secret in every form it travels in', () => {
    registerSecret(PASSWORD);
    const forms = {
      raw: PASSWORD,
      uri: encodeURIComponent(PASSWORD), // p%40ss%20W0rd%2F%2B%26%22x
      form: new URLSearchParams({ p: PASSWORD }).toString().slice(2), // p%40ss+W0rd%2F%2B%26%22x
      lowercasePercent: encodeURIComponent(PASSWORD).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
      json: JSON.stringify(PASSWORD).slice(1, -1), // the quote escaped
      html: 'p@ss W0rd/+&amp;&quot;x',
      basic: Buffer.from(`svc.nowpipe:${PASSWORD}`).toString('base64'),
    };
    for (const [name, form] of Object.entries(forms)) {
      const out = redact(`before ${form} after`);
      expect(out, name).toMatch(/^before .*\*\*\*.* after$/);
      expect(out, name).not.toContain(form);
    }
    // Whatever base64 offset the secret lands on, too few characters stay to tell it.
    for (const user of ['a', 'ab', 'abc']) {
      const basic = Buffer.from(`${user}:${PASSWORD}`).toString('base64');
      expect(redact(basic).replace('***', '').length, user).toBeLessThan(10);
    }
  });

  it('masks the form body an endpoint echoes back', () => {
    registerSecret(PASSWORD);
    registerSecret('cl1ent/S3CRET+value');
    const body = new URLSearchParams({ grant_type: 'password', client_id: 'app', client_secret: 'cl1ent/S3CRET+value', username: 'svc', password: PASSWORD }).toString();
    const out = redact(`invalid_request: could not parse ${body}`);
    expect(out).toBe('invalid_request: could not parse grant_type=password&client_id=app&client_secret=***&username=svc&password=***');
  });

  it('a secret of a few characters is masked only where it stands alone', () => {
    registerSecret('ab1');
    expect(redact('password=ab1; table abc; tab1e; ab1')).toBe('password=***; table abc; tab1e; ***');
  });

  it('keeps only the latest runtime tokens, but every config secret', () => {
    registerSecret('config-secret-value');
    for (let i = 0; i < 40; i++) registerSecret(`token-number-${String(i).padStart(3, '0')}`, 'token');
    expect(redact('token-number-000')).toBe('token-number-000'); // long expired, forgotten
    expect(redact('token-number-039')).toBe('***');
    expect(redact('config-secret-value')).toBe('***');
  });

  it('a secret that contains another is masked whole', () => {
    registerSecret('secret');
    registerSecret('secret-and-more');
    expect(redact('x secret-and-more y secret')).toBe('x *** y ***');
  });

  it('redactWith masks the given secrets without registering them', () => {
    expect(redactWith('a=s3cr%2Ft b', ['s3cr/t'])).toBe('a=*** b');
    expect(redact('a=s3cr/t')).toBe('a=s3cr/t');
  });
});

describe('usage errors', () => {
  it('never show the value of a misspelt option (it may be a password)', async () => {
    const { withoutValues } = await import('../../src/cli/exit.js');
    expect(withoutValues("error: unknown option '--pasword=Hunter2-Secret'\n")).toBe("error: unknown option '--pasword=…'\n");
    expect(withoutValues("error: unknown option '--tabel'\n(Did you mean --table?)\n")).toBe("error: unknown option '--tabel'\n(Did you mean --table?)\n");
  });
});
