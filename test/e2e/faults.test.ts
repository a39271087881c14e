import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Fault, type Simulator } from '../../src/sim/index.js';
import { parseNdjson, runCli, tempDir } from '../helpers/cli.js';

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function exportWith(faults: Fault[], extra: string[] = [], rows = 500) {
  sim = await startSimulator({ rows, seed: 21 });
  sim.faults.push(...faults);
  const dir = await tempDir();
  const res = await runCli(['--url', sim.url, '--table', 'incident', '--user', 'admin', '--password', 'admin', '--checkpoint', join(dir, 'cp.json'), '--batch-size', '100', ...extra]);
  const out = parseNdjson(res.stdout).map((r) => r.sys_id as string);
  return { res, out, expected: sim.visibleRows('incident').map((r) => r.sys_id as string) };
}

describe('every fault is survived and no row is lost', () => {
  const cases: Array<[string, Fault[], RegExp]> = [
    ['429 with Retry-After', [{ kind: 'status', status: 429, retryAfter: 1, count: 2 }], /rate limited/],
    ['500 and 503', [{ kind: 'status', status: 500, count: 1 }, { kind: 'status', status: 503, count: 1 }], /server error/],
    ['connection resets', [{ kind: 'reset', count: 3 }], /ECONNRESET|socket hang up|network/i],
    ['truncated bodies', [{ kind: 'truncate', count: 2 }, { kind: 'truncate', count: 1, noContentLength: true }], /cut off|closed before|not valid JSON/],
    ['the hibernation page', [{ kind: 'hibernate', count: 2 }], /hibernating/],
    ['a cancelled transaction (page halved)', [{ kind: 'cancel', whenLimitAbove: 50 }], /page size 100 → 50/],
  ];
  for (const [name, faults, says] of cases) {
    it(name, async () => {
      const { res, out, expected } = await exportWith(faults);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stderr).toMatch(says);
      expect(new Set(out).size).toBe(out.length);
      expect(out.sort()).toEqual(expected.sort());
    });
  }

  it('a client timeout is retried', async () => {
    const { res, out, expected } = await exportWith([{ kind: 'delay', ms: 3000, count: 1 }], ['--timeout', '1']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/timeout/);
    expect(out.sort()).toEqual(expected.sort());
  });

  it('exits 1 without advancing past written rows when retries run out', async () => {
    const { res } = await exportWith([{ kind: 'status', status: 503, count: 1000 }], ['--retries', '2']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/gave up after 3 attempts/);
    expect(res.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
  });
});
