// Pure units of the webhook sink: how a batch is cut into POST bodies, its id, its signature.
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseRow } from '../../src/servicenow/response.js';
import { batchId, planPosts, signature } from '../../src/sinks/http/batches.js';
import type { ChangeRecord } from '../../src/sinks/types.js';

function record(i: number, extra = ''): ChangeRecord {
  const sysId = `id${String(i).padStart(4, '0')}`;
  const text = JSON.stringify({ sys_id: sysId, sys_updated_on: '2024-01-01 00:00:00', note: extra });
  return { op: 'u', table: 'incident', instance: 'https://acme.service-now.com', sysId, updatedOn: '2024-01-01 00:00:00', row: parseRow(text) };
}

const lines = (body: Buffer) => body.toString('utf8').split('\n').filter(Boolean);

describe('planPosts: NDJSON bodies of at most --http-max-bytes', () => {
  it('keeps a batch that fits in one body, one line per row, in order', () => {
    const records = [1, 2, 3].map((i) => record(i));
    const { posts, oversized } = planPosts(records, 'raw', 4096);
    expect(oversized).toEqual([]);
    expect(posts).toHaveLength(1);
    expect(posts[0]!.rows).toBe(3);
    expect(lines(posts[0]!.body).map((l) => JSON.parse(l).sys_id)).toEqual(['id0001', 'id0002', 'id0003']);
    expect(posts[0]!.body.toString().endsWith('\n')).toBe(true);
  });

  it('splits a larger batch into bodies that each fit, never inside a line, losing nothing', () => {
    const records = Array.from({ length: 50 }, (_, i) => record(i, 'x'.repeat(100 + (i % 7) * 30)));
    const max = 1000;
    const { posts, oversized } = planPosts(records, 'raw', max);
    expect(oversized).toEqual([]);
    expect(posts.length).toBeGreaterThan(5);
    for (const p of posts) {
      expect(p.body.length).toBeLessThanOrEqual(max);
      expect(lines(p.body)).toHaveLength(p.rows);
    }
    // Each body is as full as it can be: the next body's first line would not have fitted.
    for (let i = 0; i + 1 < posts.length; i++) expect(posts[i]!.body.length + Buffer.byteLength(`${lines(posts[i + 1]!.body)[0]}\n`)).toBeGreaterThan(max);
    expect(posts.flatMap((p) => lines(p.body).map((l) => JSON.parse(l).sys_id))).toEqual(records.map((r) => r.sysId));
  });

  it('counts bytes, not characters (a multi-byte row)', () => {
    const records = [record(1, 'é'.repeat(300)), record(2, 'é'.repeat(300))];
    const one = Buffer.byteLength(`${JSON.stringify({ sys_id: 'id0001', sys_updated_on: '2024-01-01 00:00:00', note: 'é'.repeat(300) })}\n`);
    const { posts } = planPosts(records, 'raw', one + 10);
    expect(posts).toHaveLength(2);
    expect(posts[0]!.body.length).toBe(one);
  });

  it('sets a row whose line alone is over the limit aside as oversized, with its size; the rest still go', () => {
    const records = [record(1), record(2, 'y'.repeat(2000)), record(3)];
    const { posts, oversized } = planPosts(records, 'raw', 1000);
    expect(oversized.map((o) => o.record.sysId)).toEqual(['id0002']);
    expect(oversized[0]!.bytes).toBe(Buffer.byteLength(`${JSON.stringify({ sys_id: 'id0002', sys_updated_on: '2024-01-01 00:00:00', note: 'y'.repeat(2000) })}\n`));
    expect(posts.flatMap((p) => lines(p.body).map((l) => JSON.parse(l).sys_id))).toEqual(['id0001', 'id0003']);
  });

  it('--format envelope: each line is the envelope, the limit counts its bytes', () => {
    const { posts } = planPosts([record(1)], 'envelope', 4096);
    const line = JSON.parse(lines(posts[0]!.body)[0]!);
    expect(line).toMatchObject({ op: 'u', table: 'incident', sys_id: 'id0001', record: { sys_id: 'id0001' } });
  });

  it('is a pure function of the records: the same batch gives the same bodies', () => {
    const records = Array.from({ length: 20 }, (_, i) => record(i, 'z'.repeat(50)));
    const a = planPosts(records, 'raw', 600).posts.map((p) => p.body.toString('hex'));
    const b = planPosts(records.map((r) => ({ ...r })), 'raw', 600).posts.map((p) => p.body.toString('hex'));
    expect(a).toEqual(b);
  });
});

describe('batch id and signature', () => {
  it('the batch id is the body\'s SHA-256 (first 32 hex digits): equal bodies, equal ids; one byte apart, different', () => {
    const body = Buffer.from('{"sys_id":"a"}\n');
    // The contract a receiver may check: sha256 of the exact bytes it got.
    expect(batchId(body)).toBe(createHash('sha256').update('{"sys_id":"a"}\n').digest('hex').slice(0, 32));
    expect(batchId(Buffer.from('{"sys_id":"a"}\n'))).toBe(batchId(body));
    expect(batchId(Buffer.from('{"sys_id":"b"}\n'))).not.toBe(batchId(body));
  });

  it('signature: sha256= and the hex HMAC-SHA256 of the body (RFC 4231 test case 2)', () => {
    expect(signature(Buffer.from('what do ya want for nothing?'), 'Jefe')).toBe('sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('a receiver verifies it with its copy of the secret over the raw body', () => {
    const body = Buffer.from('{"sys_id":"é"}\n');
    const expected = `sha256=${createHmac('sha256', 'k3y').update(body).digest('hex')}`;
    expect(signature(body, 'k3y')).toBe(expected);
    expect(signature(body, 'other')).not.toBe(expected);
  });
});
