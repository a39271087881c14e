// The built CLI against the simulator: the common first-hour mistakes with settings end before
// any request with every problem named, or are corrected with a warning.
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/sim/index.js';
import { parseNdjson, runCli, tempDir, visibleIds } from '../helpers/cli.js';

let sim: Simulator;
let dir: string;
beforeAll(async () => {
  sim = await startSimulator({ rows: 30, seed: 3 });
  dir = await tempDir('nowpipe-test-cfg-');
});
afterAll(async () => {
  await sim.close();
  await rm(dir, { recursive: true, force: true });
});

describe('settings mistakes, end to end', () => {
  it('no credentials at all: exit 2 before any request, naming the options and variables that give them (export and check)', async () => {
    const before = sim.requests.length;
    for (const command of [['--checkpoint', join(dir, 'none.json')], ['check']]) {
      const res = await runCli([...command, '--url', sim.url, '--table', 'incident'], { cwd: dir });
      expect(res.code, res.stderr).toBe(2);
      expect(res.stderr).toContain('error: no credentials: give --user with --password or --password-file (env SERVICENOW_USER, SERVICENOW_PASSWORD), or OAuth: --client-id');
      expect(res.stdout).toBe('');
    }
    expect(sim.requests.length).toBe(before);
  });

  it('every problem at once: a misspelt rc key with its suggestion, a bad flag, --sink file without --output, a missing password file', async () => {
    const rc = join(dir, 'typo.json');
    await writeFile(rc, JSON.stringify({ url: sim.url, tabel: 'incident' }));
    const before = sim.requests.length;
    const res = await runCli(['--config', rc, '--table', 'incident', '--user', 'admin', '--password-file', join(dir, 'nope'), '--batch-size', '0', '--sink', 'file'], { cwd: dir });
    expect(res.code, res.stderr).toBe(2);
    expect(res.stderr).toContain(
      [
        'error: invalid configuration:',
        '  - --batch-size: must be at least 1',
        '  - --output: required with --sink file: the folder to write the files to (--output <dir>)',
        `  - --password-file: ${join(dir, 'nope')} does not exist: create it with the password on its first line (chmod 600), or set SERVICENOW_PASSWORD instead`,
        '  - (warning) typo.json: unknown setting "tabel" ignored (did you mean table?)',
      ].join('\n'),
    );
    expect(res.stderr).not.toMatch(/\n\s+at /);
    expect(sim.requests.length).toBe(before);
  });

  it('a URL pasted from the browser runs against the instance, with a warning naming what was dropped', async () => {
    const pasted = `${sim.url}/now/nav/ui/classic/params/target/incident_list.do`;
    const res = await runCli(['--url', pasted, '--table', 'incident', '--user', 'admin', '--password', 'admin', '--checkpoint', join(dir, 'pasted.json')], { cwd: dir });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain(`warning: --url: using ${sim.url}: /now/nav/ui/classic/params/target/incident_list.do is a page of the instance's web UI, not part of its address`);
    expect(parseNdjson(res.stdout).map((r) => r.sys_id).sort()).toEqual(visibleIds(sim).sort());
  });
});
