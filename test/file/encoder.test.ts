import { constants, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { GzipEncoder } from '../../src/sinks/file/encoder.js';

describe('GzipEncoder', () => {
  it('makes every pushed row decodable from the bytes returned so far, and one valid member at the end', async () => {
    const e = new GzipEncoder();
    const parts: Buffer[] = [];
    let expected = '';
    for (let i = 0; i < 25; i++) {
      // Pushes of very different sizes, some far larger than zlib's 16 KiB chunks.
      const text = Array.from({ length: 1 + ((i * 397) % 4000) }, (_, j) => `${JSON.stringify({ i, j, pad: 'x'.repeat((i * j) % 900), r: Math.random() })}\n`).join('');
      expected += text;
      parts.push(await e.push(text));
      const prefix = gunzipSync(Buffer.concat(parts), { finishFlush: constants.Z_SYNC_FLUSH }).toString();
      expect(prefix.length).toBe(expected.length);
    }
    parts.push(await e.end());
    expect(gunzipSync(Buffer.concat(parts)).toString()).toBe(expected);
  });
});
