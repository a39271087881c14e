import { describe, expect, it } from 'vitest';
import { AuthError, ConfigError, HttpError, ResponseError } from '../../src/errors/index.js';
import { interpretTableResponse, retryAfterMs, type RawResponse } from '../../src/servicenow/response.js';

const json = { 'content-type': 'application/json;charset=UTF-8' };
const res = (r: Partial<RawResponse>): RawResponse => ({ status: 200, headers: json, body: '{"result":[]}', method: 'GET', url: 'https://x/api/now/table/incident', ...r });
const ctx = { table: 'incident', user: 'bob' };
const attempt = (r: Partial<RawResponse>, context: Parameters<typeof interpretTableResponse>[1] = ctx) => {
  try {
    interpretTableResponse(res(r), context);
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
};

describe('interpretTableResponse', () => {
  it('returns rows, the pre-ACL count, the server clock and the next link', () => {
    const out = interpretTableResponse(
      res({
        body: '{"result":[{"sys_id":"a"}]}',
        headers: { ...json, 'x-total-count': '42', date: 'Sun, 22 Nov 2026 10:00:00 GMT', link: '<https://x?sysparm_offset=1>;rel="next"' },
      }),
      ctx,
    );
    expect(out.rows).toEqual([{ sys_id: 'a' }]);
    expect(out.totalCount).toBe(42);
    expect(out.serverDate).toBe(Date.parse('2026-11-22T10:00:00Z'));
    expect(out.hasNext).toBe(true);
  });

  it('treats the hibernation page (200, HTML) as a retriable error, never an empty result', () => {
    const e = attempt({ headers: { 'content-type': 'text/html' }, body: '<html><title>Instance Hibernating page</title></html>' });
    expect(e).toBeInstanceOf(ResponseError);
    expect((e as ResponseError).retriable).toBe(true);
    expect(e.message).toMatch(/hibernating/);
  });

  it('treats a cut-off body as a retriable truncation', () => {
    const e = attempt({ body: '{"result":[{"sys_id":"a"},{"sys_' });
    expect((e as ResponseError).problem).toBe('truncated');
    expect((e as ResponseError).retriable).toBe(true);
  });

  it('recognises a cancelled transaction so the reader can halve the page', () => {
    const e = attempt({ body: '{"error":{"message":"Transaction cancelled: maximum execution time exceeded","detail":""},"status":"failure"}' });
    expect((e as ResponseError).problem).toBe('cancelled');
    const e400 = attempt({ status: 400, body: '{"error":{"message":"Transaction cancelled: maximum execution time exceeded"},"status":"failure"}' });
    expect((e400 as ResponseError).problem).toBe('cancelled');
  });

  it('fails on any body with an error key even with status 200', () => {
    const e = attempt({ body: '{"error":{"message":"boom","detail":"x"},"status":"failure"}' });
    expect(e).toBeInstanceOf(ResponseError);
    expect(e.message).toMatch(/boom: x/);
  });

  it('says what to fix for 401, 403, unknown table and 404 — without retrying', () => {
    const e401 = attempt({ status: 401, body: '{"error":{"message":"User Not Authenticated"},"status":"failure"}' });
    expect(e401).toBeInstanceOf(AuthError);
    expect(e401.message).toMatch(/refused the credentials/);
    expect((e401 as AuthError).hint).toMatch(/check --user and --password/);
    // With OAuth the 401 came after a fresh token: the password is not the thing to check.
    const oauth401 = attempt({ status: 401, body: '{"error":{"message":"User Not Authenticated"},"status":"failure"}' }, { ...ctx, oauth: true });
    expect((oauth401 as AuthError).hint).toMatch(/OAuth application is active/);
    const e403 = attempt({ status: 403, body: '{"error":{"message":"Insufficient rights to query records"},"status":"failure"}' });
    expect(e403).toBeInstanceOf(AuthError);
    expect(e403.message).toMatch(/bob may not read table incident/);
    const e400 = attempt({ status: 400, body: '{"error":{"message":"Invalid table incidnet"},"status":"failure"}' });
    expect(e400).toBeInstanceOf(ConfigError);
    const e404 = attempt({ status: 404, body: 'nope', headers: { 'content-type': 'text/html' } });
    expect(e404).toBeInstanceOf(HttpError);
    expect((e404 as HttpError).retriable).toBe(false);
  });

  it('makes 429 and 5xx retriable and carries Retry-After', () => {
    const e = attempt({ status: 429, headers: { ...json, 'retry-after': '3' }, body: '{"error":{"message":"Rate limit exceeded"}}' }) as HttpError;
    expect(e.retriable).toBe(true);
    expect(e.retryAfterMs).toBe(3000);
    const e503 = attempt({ status: 503, headers: { 'content-type': 'text/html' }, body: '<html>' }) as HttpError;
    expect(e503.retriable).toBe(true);
  });
});

describe('retryAfterMs', () => {
  it('reads seconds, an HTTP date, or X-RateLimit-Reset', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs({ 'retry-after': '2' }, now)).toBe(2000);
    expect(retryAfterMs({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }, now)).toBe(5000);
    expect(retryAfterMs({ 'x-ratelimit-reset': String(now / 1000 + 9) }, now)).toBe(9000);
    expect(retryAfterMs({}, now)).toBeUndefined();
  });
});
