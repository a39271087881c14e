// Pure units: the webhook's settings and the bad-row settings as the schema and rules take them;
// what a message says, and that it never quotes a secret (a header's value, the URL's token).
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, mapRcObject, resolveConfig } from '../../src/config/load.js';
import { forgetSecrets, redact } from '../../src/errors/redact.js';
import { shownUrl } from '../../src/config/http-rules.js';
import { configProblems } from '../helpers/config.js';

const base = { url: 'https://acme.service-now.com', table: 'incident' };
const http = { ...base, sink: 'http', httpUrl: 'https://hooks.acme.com/sn' };

const problems = (input: Parameters<typeof resolveConfig>[0]): string[] => configProblems(() => resolveConfig(input));

afterEach(() => forgetSecrets());

describe('--sink http settings', () => {
  it('defaults: 4 MiB bodies, 8 retries, no secret, no headers', () => {
    const { config } = resolveConfig({ flags: http });
    expect(config).toMatchObject({ sink: 'http', httpUrl: 'https://hooks.acme.com/sn', httpMaxBytes: 4 * 1024 * 1024, httpRetries: 8 });
    expect(config.httpSecret).toBeUndefined();
    expect(config.httpHeader).toBeUndefined();
  });

  it('--http-url is required with --sink http, and must be an http(s) URL (every problem at once)', () => {
    expect(problems({ flags: { ...base, sink: 'http' } })).toEqual(['--http-url: required with --sink http: the receiver, e.g. --http-url https://hooks.acme.com/servicenow']);
    expect(problems({ flags: { ...http, httpUrl: 'ftp://hooks.acme.com/x', httpMaxBytes: '10', httpRetries: '-1' } })).toEqual([
      '--http-url: unsupported protocol ftp: (use https:// or http://)',
      '--http-max-bytes: must be at least 1024',
      '--http-retries: must be at least 0',
    ]);
    expect(problems({ flags: { ...http, httpUrl: 'hooks.acme.com' } })).toEqual(['--http-url: must be a URL such as https://hooks.acme.com/servicenow']);
  });

  it('--http-header: repeatable "Name: value"; the rc file takes a list or an object (httpHeaders)', () => {
    const flags = resolveConfig({ flags: { ...http, httpHeader: ['X-Api-Key: k1', 'Authorization:  Bearer abc '] } }).config;
    expect(flags.httpHeader).toEqual([
      { name: 'X-Api-Key', value: 'k1' },
      { name: 'Authorization', value: 'Bearer abc' },
    ]);
    const list = mapRcObject({ httpHeaders: ['X-Api-Key: k2'] }, 'rc').values;
    expect(resolveConfig({ flags: http, rc: list }).config.httpHeader).toEqual([{ name: 'X-Api-Key', value: 'k2' }]);
    const object = mapRcObject({ 'http-headers': { 'X-Api-Key': 'k3' } }, 'rc').values;
    expect(resolveConfig({ flags: http, rc: object }).config.httpHeader).toEqual([{ name: 'X-Api-Key', value: 'k3' }]);
  });

  it('a bad header is refused without quoting its value (it may be the key itself)', () => {
    const list = problems({ flags: { ...http, httpHeader: ['just-the-secret-token', 'Bad Name: v', 'Content-Type: text/plain', 'X-Empty:  '] } });
    expect(list).toEqual([
      '--http-header: must be "Name: value", e.g. "X-Api-Key: <key>" (the value is not shown here: it may be a secret)',
      '--http-header: "Bad Name" is not a header name (letters, digits and !#$%&\'*+.^_`|~-, no spaces)',
      '--http-header: Content-Type is set by nowpipe itself and cannot be replaced',
      '--http-header: header X-Empty: the value is empty',
    ]);
    expect(list.join('\n')).not.toContain('just-the-secret-token');
  });

  it('NOWPIPE_HTTP_SECRET gives --http-secret; loading registers it, the header values and the URL\'s token as secrets', async () => {
    const { config } = await loadConfig({
      flags: { ...http, httpUrl: 'https://u:url-pass-123@hooks.acme.com/sn?token=tok-abcdef123&v=2', httpHeader: ['X-Api-Key: key-0123456789'] },
      env: { NOWPIPE_HTTP_SECRET: 'hmac-secret-xyz', SERVICENOW_USER: 'u', SERVICENOW_PASSWORD: 'pw-123456' },
      cwd: '/',
    });
    expect(config.httpSecret).toBe('hmac-secret-xyz');
    expect(redact('hmac-secret-xyz key-0123456789 tok-abcdef123 url-pass-123 v=2')).toBe('*** *** *** *** v=2');
  });

  it('the URL people see has no credentials and no query', () => {
    expect(shownUrl('https://u:p@hooks.acme.com:8443/sn/in?token=abc')).toBe('https://hooks.acme.com:8443/sn/in?…');
    expect(shownUrl('http://127.0.0.1:9000/')).toBe('http://127.0.0.1:9000/');
  });

  it('webhook settings without --sink http are a warning', () => {
    expect(resolveConfig({ flags: { ...base, httpUrl: 'https://hooks.acme.com/sn' } }).warnings).toContain('webhook settings (--http-url, --http-header) have no effect with --sink stdout');
  });
});

describe('bad rows: --on-bad-row, --dead-letter, --skip-oversized', () => {
  it('fail is the default; skip needs --dead-letter (refused, never a silent drop)', () => {
    expect(resolveConfig({ flags: base }).config.onBadRow).toBeUndefined();
    expect(resolveConfig({ flags: { ...base, onBadRow: 'skip', deadLetter: 'bad.ndjson' } }).config).toMatchObject({ onBadRow: 'skip', deadLetter: 'bad.ndjson' });
    expect(problems({ flags: { ...base, onBadRow: 'skip' } })).toEqual([
      '--on-bad-row: needs --dead-letter <file>: the file where rows that cannot be written are kept, with the reason (nowpipe never drops a row without a record of it)',
    ]);
    expect(problems({ flags: { ...base, onBadRow: 'drop' } })).toEqual(['--on-bad-row: must be fail or skip']);
  });

  it('--dead-letter without skip is refused: it would never be written', () => {
    expect(problems({ flags: { ...base, deadLetter: 'bad.ndjson' } })).toEqual([
      '--dead-letter: only used with --on-bad-row skip (the default, fail, stops the run at the first bad row): add --on-bad-row skip or drop --dead-letter',
    ]);
  });

  it('--skip-oversized is another name for --on-bad-row skip: it needs --dead-letter too, and contradicts fail', () => {
    expect(resolveConfig({ flags: { ...base, skipOversized: true, deadLetter: 'bad.ndjson' } }).config).toMatchObject({ skipOversized: true, deadLetter: 'bad.ndjson' });
    expect(problems({ flags: { ...base, skipOversized: true } })).toEqual([
      '--skip-oversized: needs --dead-letter <file>: the file where rows that cannot be written are kept, with the reason (nowpipe never drops a row without a record of it)',
    ]);
    expect(problems({ flags: { ...base, skipOversized: true, onBadRow: 'fail', deadLetter: 'x' } })).toContain('--skip-oversized: is another name for --on-bad-row skip: it contradicts --on-bad-row fail');
  });
});
