import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { logFormatFromArgs } from '../../src/cli/log-format.js';
import { forgetSecrets, registerSecret } from '../../src/errors/redact.js';
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

describe('Reporter with --log-format json', () => {
  afterEach(() => {
    forgetSecrets();
    vi.useRealTimers();
  });
  const lines = (text: string) => text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

  it('writes one JSON object per line: time, level, msg, and table or hint where given; no colour even on a terminal', () => {
    const t = terminal(100);
    const r = new Reporter({ stream: t.stream, env: {}, format: 'json', verbose: true });
    expect(r.isTTY).toBe(false);
    r.info('resuming incident', { table: 'incident' });
    r.warn('the instance is slow');
    r.verbose('GET /api/now/table/incident → 200');
    r.error('credentials refused', 'check --user');
    const out = lines(t.text());
    expect(out.map((l) => l.level)).toEqual(['info', 'warn', 'debug', 'error']);
    expect(out[0]).toMatchObject({ msg: 'resuming incident', table: 'incident' });
    expect(out[1]).not.toHaveProperty('table');
    expect(out[3]).toMatchObject({ msg: 'credentials refused', hint: 'check --user' });
    for (const l of out) expect(new Date(l.time as string).toISOString()).toBe(l.time);
    expect(t.text()).not.toContain('\u001b[');
  });

  it('redacts every field on its own, so a secret with quotes and backslashes leaves valid JSON', () => {
    const secret = 'pa"ss\\wo rd';
    registerSecret(secret);
    const t = terminal(undefined, false);
    const r = new Reporter({ stream: t.stream, env: {}, format: 'json' });
    r.warn(`refused ${secret}`, { table: 'incident', hint: `not ${secret}` });
    r.error(`echoed ${secret}`, undefined, { problems: [`a ${secret}`] });
    expect(t.text()).not.toContain('wo rd');
    const [warn, error] = lines(t.text());
    expect(warn).toMatchObject({ msg: 'refused ***', hint: 'not ***', table: 'incident' });
    expect(error).toMatchObject({ msg: 'echoed ***', problems: ['a ***'] });
  });

  it('says progress every 30 s as a line with the counters, and the summary with them', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const t = terminal(100);
    const r = new Reporter({ stream: t.stream, env: {}, format: 'json' });
    r.counters = () => ({ rows: 5, pages: 1 });
    r.startProgress();
    r.status('5 rows · 1 page');
    expect(t.text()).toBe(''); // nothing animated, nothing before 30 s
    vi.setSystemTime(1_000_000 + 31_000);
    r.status('5 rows · 1 page');
    r.status('5 rows · 1 page'); // not again within 30 s
    r.summary('done: 5 rows');
    const out = lines(t.text());
    expect(out).toHaveLength(2);
    expect(out[0]).toMatchObject({ level: 'info', msg: '5 rows · 1 page', event: 'progress', rows: 5, pages: 1 });
    expect(out[1]).toMatchObject({ level: 'info', msg: 'done: 5 rows', event: 'summary', rows: 5, seconds: 31 });
  });

  it('human text shows a hint under its warning', () => {
    const t = terminal(undefined, false);
    new Reporter({ stream: t.stream, env: {}, format: 'human' }).warn('HTTP 503; retrying', { table: 'incident', hint: 'the instance may be restarting' });
    expect(t.text()).toBe('warning: HTTP 503; retrying\n  the instance may be restarting\n');
  });
});

describe('the log format before the config is read', () => {
  it('is the flag (both spellings, the last one wins), then NOWPIPE_LOG_FORMAT; nothing past --', () => {
    expect(logFormatFromArgs(['node', 'nowpipe', '--log-format', 'json'], {})).toBe('json');
    expect(logFormatFromArgs(['node', 'nowpipe', '--log-format=JSON'], {})).toBe('json');
    expect(logFormatFromArgs(['node', 'nowpipe', '--log-format', 'json', '--log-format', 'human'], { NOWPIPE_LOG_FORMAT: 'json' })).toBe('human');
    expect(logFormatFromArgs(['node', 'nowpipe', '--table', 'x'], { NOWPIPE_LOG_FORMAT: 'json' })).toBe('json');
    expect(logFormatFromArgs(['node', 'nowpipe', '--log-format', 'xml'], {})).toBeUndefined();
    expect(logFormatFromArgs(['node', 'nowpipe', '--', '--log-format', 'json'], {})).toBeUndefined();
  });
});
