import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Reporter } from '../../src/ui/reporter.js';

function terminal(columns: number | undefined, isTTY = true): { stream: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return { stream: Object.assign(stream, { isTTY, columns }) as unknown as NodeJS.WriteStream, text: () => text };
}

describe('Reporter', () => {
  it('animates only on a terminal with a width (a zero-width one sent ora clearing lines forever)', () => {
    expect(new Reporter({ stream: terminal(100).stream, env: {} }).isTTY).toBe(true);
    expect(new Reporter({ stream: terminal(0).stream, env: {} }).isTTY).toBe(false);
    expect(new Reporter({ stream: terminal(undefined).stream, env: {} }).isTTY).toBe(false);
    expect(new Reporter({ stream: terminal(100, false).stream, env: {} }).isTTY).toBe(false);
    expect(new Reporter({ stream: terminal(100).stream, env: { TERM: 'dumb' } }).isTTY).toBe(false);
  });

  it('colours only a terminal, and never with NO_COLOR', () => {
    const t = terminal(100);
    new Reporter({ stream: t.stream, env: {} }).warn('x');
    expect(t.text()).toContain('\u001b[');
    const n = terminal(100);
    new Reporter({ stream: n.stream, env: { NO_COLOR: '1' } }).warn('x');
    expect(n.text()).toBe('warning: x\n');
  });

  it('shows no animation and no progress line off a terminal, but says the summary', () => {
    const t = terminal(undefined, false);
    const r = new Reporter({ stream: t.stream, env: {} });
    r.startProgress();
    r.status('5 rows · 1 page');
    r.summary('done: 5 rows');
    expect(t.text()).toBe('done: 5 rows\n');
  });
});
