// Pure units (and real rc files in a temporary folder): how config problems read — named by the
// flag, with where the value came from, all at once, with "did you mean" and what to do.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { connectionOptions, exportOptions, loginOptions, otherOptions, runOptions } from '../../src/cli/options.js';
import { loadConfig, resolveConfig } from '../../src/config/load.js';
import { RC_ONLY_NAMES } from '../../src/config/names.js';
import { configFields } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors/index.js';
import { configProblems as problems } from '../helpers/config.js';

const base = { url: 'https://acme.service-now.com', table: 'incident' };
const login = { SERVICENOW_USER: 'u', SERVICENOW_PASSWORD: 'pw-S3cret' };

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nowpipe-test-cfgmsg-'));
  dirs.push(dir);
  return dir;
}

async function problemsOf(p: Promise<unknown>): Promise<string[]> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return (err as ConfigError).problems;
}

describe('config messages name the flag and where the value came from', () => {
  it('a flag by its name, an environment variable by its name, an rc value by its key and file', async () => {
    const dir = await tempDir();
    const file = join(dir, 'servicenow-source.json');
    await writeFile(file, JSON.stringify({ name: 'c', config: { 'servicenow.table': 'incident', 'poll.interval.s': '0', 'security.protocol': 'TLS', batchSize: 0 } }));
    const list = await problemsOf(loadConfig({ flags: { config: file, retries: '-1' }, cwd: dir, env: { ...login, SERVICENOW_URL: 'ftp://acme' } }));
    expect(list).toEqual([
      '--url (from SERVICENOW_URL): unsupported protocol ftp: (use https://)',
      '--batch-size (from batchSize in servicenow-source.json): must be at least 1',
      '--retries: must be at least 0',
      '--poll-interval (from poll.interval.s in servicenow-source.json): must be at least 1',
      'security.protocol (from servicenow-source.json): must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL',
    ]);
  });

  it('every key of the schema has a flag of that name, or is one of the rc-only keys', () => {
    const cmd = otherOptions(runOptions(exportOptions(connectionOptions(new Command()))));
    // `nowpipe login`'s own settings have their flags there.
    const flags = new Set([...cmd.options, ...loginOptions(new Command()).options].map((o) => o.attributeName()));
    const missing = Object.keys(configFields).filter((k) => !flags.has(k) && !(k in RC_ONLY_NAMES));
    expect(missing).toEqual([]);
    // …and an rc-only key really has no flag (else messages would name the wrong thing).
    expect(Object.keys(RC_ONLY_NAMES).filter((k) => flags.has(k))).toEqual([]);
  });
});

describe('every problem at once', () => {
  it('--sink file without --output is listed with the other problems (the cross-field rules always run)', () => {
    const list = problems(() => resolveConfig({ flags: { ...base, sink: 'file', batchSize: 'many', follow: true, until: '2024-01-01', query: 'active=true^ORDERBYnumber' } }));
    expect(list).toEqual([
      '--batch-size: must be a number',
      '--until: cannot be combined with --follow (a feed has no end)',
      '--output: required with --sink file: the folder to write the files to (--output <dir>)',
      '--query: remove ORDERBY; nowpipe orders by sys_updated_on, sys_id itself',
    ]);
  });

  it('a rule about a setting that did not parse is left out (it has its problem already)', () => {
    const list = problems(() => resolveConfig({ flags: { ...base, sink: 'file', output: '', until: 'soon' } }));
    expect(list).toEqual(['--until: "soon" is not a date: use yyyy-MM-dd, "yyyy-MM-dd HH:mm:ss" or ISO 8601 (UTC)', '--output: must not be empty']);
  });

  it('no credentials at all: exit 2 before connecting, saying which options and variables give them', async () => {
    const dir = await tempDir();
    const list = await problemsOf(loadConfig({ flags: { ...base }, cwd: dir, env: {} }));
    expect(list).toEqual([
      'no credentials: give --user with --password or --password-file (env SERVICENOW_USER, SERVICENOW_PASSWORD), or OAuth: --client-id with --client-secret or --refresh-token (env SERVICENOW_CLIENT_ID, SERVICENOW_CLIENT_SECRET), or log in once from a terminal: nowpipe login --url <instance> --client-id <id>',
    ]);
    // Any one way in is enough here (a user alone may still be refused by the instance).
    await expect(loadConfig({ flags: { ...base }, cwd: dir, env: { SERVICENOW_CLIENT_ID: 'app', SERVICENOW_CLIENT_SECRET: 's', XDG_CONFIG_HOME: dir } })).resolves.toBeDefined();
    await expect(loadConfig({ flags: { ...base, user: 'u', password: 'p' }, cwd: dir, env: {} })).resolves.toBeDefined();
    // demo brings its own and resolves without the requirement.
    expect(() => resolveConfig({ flags: base })).not.toThrow();
  });
});

describe('rc-file keys nowpipe does not know', () => {
  it('a misspelt key gets "did you mean", also when other settings are bad (and the run stops)', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'package.json'), '{"name":"x"}');
    await writeFile(join(dir, '.nowpiperc'), JSON.stringify({ url: 'https://acme.service-now.com', tabel: 'incident', 'batch-size': 0 }));
    const list = await problemsOf(loadConfig({ flags: {}, cwd: dir, env: login }));
    expect(list).toEqual([
      '--batch-size (from batch-size in .nowpiperc): must be at least 1',
      '--table: required: the table to export, e.g. incident (or table / servicenow.table in the rc file)',
      '(warning) .nowpiperc: unknown setting "tabel" ignored (did you mean table?)',
    ]);
  });

  it('stays a warning, with the suggestion, when everything else is fine', async () => {
    const dir = await tempDir();
    const file = join(dir, 'rc.json');
    await writeFile(file, JSON.stringify({ url: 'https://acme.service-now.com', table: 'incident', pollIntervall: 5, 'batch.max.row': 5, zzz: 1 }));
    const { warnings } = await loadConfig({ flags: { config: file }, cwd: dir, env: login });
    expect(warnings).toEqual([
      'rc.json: unknown setting "pollIntervall" ignored (did you mean pollInterval?)',
      'rc.json: unknown setting "batch.max.row" ignored (did you mean batch.max.rows?)',
      'rc.json: unknown setting "zzz" ignored',
    ]);
  });
});

describe('--password-file says what to do', () => {
  it('a missing file: create it, or use SERVICENOW_PASSWORD — with the other problems', async () => {
    const dir = await tempDir();
    const list = await problemsOf(loadConfig({ flags: { ...base, user: 'u', passwordFile: join(dir, 'nope'), batchSize: '0' }, cwd: dir, env: {} }));
    expect(list).toEqual([
      '--batch-size: must be at least 1',
      `--password-file: ${join(dir, 'nope')} does not exist: create it with the password on its first line (chmod 600), or set SERVICENOW_PASSWORD instead`,
    ]);
  });

  it('an empty file, a folder', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'empty'), '\n');
    await mkdir(join(dir, 'folder'));
    const flags = (f: string) => ({ ...base, user: 'u', passwordFile: join(dir, f) });
    expect(await problemsOf(loadConfig({ flags: flags('empty'), cwd: dir, env: {} }))).toEqual([
      `--password-file: ${join(dir, 'empty')} is empty: put the password on its first line, or set SERVICENOW_PASSWORD instead`,
    ]);
    expect(await problemsOf(loadConfig({ flags: flags('folder'), cwd: dir, env: {} }))).toEqual([`--password-file: ${join(dir, 'folder')} is a folder: name the file that holds the password`]);
  });

  it('a password without a user, and --password with --password-file, are named', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'pw'), 'hunter2\n');
    const list = await problemsOf(loadConfig({ flags: { ...base, password: 'x', passwordFile: join(dir, 'pw') }, cwd: dir, env: {} }));
    expect(list).toEqual(['--password: give --password or --password-file, not both', '--user: required with a password: the user it belongs to (--user or SERVICENOW_USER)']);
  });
});
