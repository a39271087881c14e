import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, mapRcObject, resolveConfig } from '../../src/config/load.js';
import { secretsOf } from '../../src/config/resolve.js';
import { passwordForms } from '../../src/config/url.js';
import { tempDir } from '../helpers/cli.js';
import { configProblems as problems } from '../helpers/config.js';

const base = { url: 'https://acme.service-now.com', table: 'incident' };

describe('resolveConfig', () => {
  it('fills documented defaults', () => {
    const { config } = resolveConfig({ flags: base });
    expect(config).toMatchObject({
      url: 'https://acme.service-now.com',
      since: '1970-01-01 00:00:00',
      batchSize: 10000,
      pollInterval: 20,
      sink: 'stdout',
      checkpoint: './.nowpipe/checkpoint.json',
      displayValue: 'false',
      format: 'raw',
    });
  });

  it('applies defaults < rc < env < flags', () => {
    const { config } = resolveConfig({
      rc: { ...base, batchSize: '500', user: 'rc-user', retries: 3 },
      env: { user: 'env-user' },
      flags: { batchSize: '200' },
    });
    expect(config.batchSize).toBe(200);
    expect(config.user).toBe('env-user');
    expect(config.retries).toBe(3);
  });

  it('parses the three --since forms as UTC', () => {
    expect(resolveConfig({ flags: { ...base, since: '2024-01-02' } }).config.since).toBe('2024-01-02 00:00:00');
    expect(resolveConfig({ flags: { ...base, since: '2024-01-02 03:04:05' } }).config.since).toBe('2024-01-02 03:04:05');
    expect(resolveConfig({ flags: { ...base, since: '2024-01-02T03:04:05+02:00' } }).config.since).toBe('2024-01-02 01:04:05');
  });

  it('reports every problem at once, named by flag, cross-field rules included', () => {
    const list = problems(() =>
      resolveConfig({ flags: { url: 'ftp://x', table: 'in cident', since: 'yesterday', batchSize: '0', pollInterval: '0.5', displayValue: 'maybe', sink: 'file' } }),
    );
    expect(list.some((p) => p.startsWith('--url:'))).toBe(true);
    expect(list.some((p) => p.startsWith('--table:') && p.includes('"in cident"'))).toBe(true);
    expect(list.some((p) => p.startsWith('--since:') && p.includes('yesterday'))).toBe(true);
    expect(list).toContain('--batch-size: must be at least 1');
    expect(list).toContain('--poll-interval: must be at least 1');
    expect(list).toContain('--display-value: must be false, true or all');
    // A rule between settings runs even when other settings are bad.
    expect(list).toContain('--output: required with --sink file: the folder to write the files to (--output <dir>)');
  });

  it('requires url and table', () => {
    expect(problems(() => resolveConfig({ flags: {} }))).toEqual([
      '--url: required: the instance, e.g. https://acme.service-now.com (or SERVICENOW_URL, or servicenow.url in the rc file)',
      '--table: required: the table to export, e.g. incident (or table / servicenow.table in the rc file)',
    ]);
  });

  it('refuses credentials in the URL and never echoes a password', () => {
    const list = problems(() => resolveConfig({ flags: { ...base, url: 'https://bob:hunter2@acme.service-now.com' } }));
    expect(list.join('\n')).toMatch(/do not put credentials in the URL/);
    expect(list.join('\n')).not.toContain('hunter2');
    const list2 = problems(() => resolveConfig({ flags: { ...base, password: 's3cr3t', since: 's3cr3t' } }));
    expect(list2.join('\n')).not.toContain('s3cr3t');
  });

  it('refuses a password without a user, and --until before --since', () => {
    expect(() => resolveConfig({ flags: { ...base, password: 'x' } })).toThrow('--user: required with a password: the user it belongs to (--user or SERVICENOW_USER)');
    expect(problems(() => resolveConfig({ flags: { ...base, since: '2024-02-01', until: '2024-01-01' } }))[0]).toMatch(/^--until: must be after/);
  });

  it('drops an environment proxy for hosts in NO_PROXY but keeps an explicit one', () => {
    expect(resolveConfig({ flags: base, env: { proxy: 'http://p:3128' }, noProxy: '.service-now.com' }).config.proxy).toBeUndefined();
    expect(resolveConfig({ flags: { ...base, proxy: 'http://p:3128' }, noProxy: '*' }).config.proxy).toBe('http://p:3128');
  });

  it('masks a proxy password as written and as decoded, and does not trip on a bare %', () => {
    expect(secretsOf({ proxy: 'http://u:50%off@p:3128' })).toEqual(['50%off']);
    expect(secretsOf({ proxy: 'http://u:p%40ss@p:3128' })).toEqual(['p%40ss', 'p@ss']);
    expect(passwordForms('')).toEqual([]);
  });
});

describe('rc files and the Confluent connector', () => {
  it('maps Confluent keys and reports Connect-only keys once', () => {
    const { values, warnings } = mapRcObject(
      {
        name: 'ServiceNowSourceConnector',
        config: {
          'connector.class': 'io.confluent.connect.servicenow.ServiceNowSourceConnector',
          'kafka.topic': 'topic-servicenow',
          'servicenow.url': 'https://acme.service-now.com',
          'tasks.max': '1',
          'servicenow.table': 'incident',
          'servicenow.user': 'u',
          'servicenow.password': 'p',
          'servicenow.since': '2019-01-01',
          'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
          'confluent.topic.bootstrap.servers': 'localhost:9092',
          'poll.interval.s': '10',
          'batch.max.rows': '500',
          'read.timeout.ms': '30000',
          'mystery.key': 'x',
        },
      },
      'servicenow-source.json',
    );
    expect(values).toMatchObject({ url: 'https://acme.service-now.com', table: 'incident', since: '2019-01-01', pollInterval: '10', batchSize: '500', topic: 'topic-servicenow', brokers: 'localhost:9092', timeout: 30, concurrency: '1' });
    expect(warnings).toEqual([
      'servicenow-source.json: unknown setting "mystery.key" ignored',
      'servicenow-source.json: Kafka Connect settings not used by nowpipe: key.converter',
    ]);
  });

  it('accepts kebab-case flag names in the rc file', () => {
    expect(mapRcObject({ 'batch-size': 5, 'poll-interval': 3 }, 'rc').values).toEqual({ batchSize: 5, pollInterval: 3 });
  });

  it('loads .nowpiperc (JSON with comments) from the working folder and a connector file via --config', async () => {
    const dir = await tempDir('nowpipe-cfg-');
    await writeFile(join(dir, 'package.json'), '{"name":"x"}');
    await writeFile(join(dir, '.nowpiperc'), '{\n // our instance\n "servicenow.url": "https://acme.service-now.com", "table": "problem"}');
    const a = await loadConfig({ flags: {}, cwd: dir, env: { SERVICENOW_USER: 'u', SERVICENOW_PASSWORD: 'p' } });
    expect(a.config.table).toBe('problem');
    expect(a.source).toBe(join(dir, '.nowpiperc'));

    const file = join(dir, 'servicenow-source.json');
    await writeFile(file, '{"name":"c","config":{"servicenow.url":"https://b.service-now.com","servicenow.table":"incident","confluent.license":"", // leave it empty\n "poll.interval.s":"10"}}');
    const b = await loadConfig({ flags: { config: file, table: 'change_request' }, cwd: dir, env: { SERVICENOW_USER: 'envuser' } });
    expect(b.config).toMatchObject({ url: 'https://b.service-now.com', table: 'change_request', pollInterval: 10, user: 'envuser' });
    expect(b.warnings.join('\n')).toMatch(/confluent.license/);
  });

  it('reads --password-file and fails clearly when it is missing', async () => {
    const dir = await tempDir('nowpipe-pw-');
    await writeFile(join(dir, 'pw'), 'hunter2\n');
    const ok = await loadConfig({ flags: { ...base, user: 'u', passwordFile: join(dir, 'pw') }, cwd: dir, env: {} });
    expect(ok.config.password).toBe('hunter2');
    await expect(loadConfig({ flags: { ...base, user: 'u', passwordFile: join(dir, 'nope') }, cwd: dir, env: {} })).rejects.toThrow(/^--password-file: \S*nope does not exist: create it with the password on its first line \(chmod 600\), or set SERVICENOW_PASSWORD instead$/);
  });

  it('names the line of a broken rc file', async () => {
    const dir = await tempDir('nowpipe-bad-');
    await writeFile(join(dir, 'bad.json'), '{\n"table": "incident",\n"url" "x"\n}');
    await expect(loadConfig({ flags: { config: join(dir, 'bad.json') }, cwd: dir, env: {} })).rejects.toThrow(/invalid JSON at line 3/);
  });
});

describe('typed rows in the settings (--types, --format connect-json)', () => {
  it('types from the rc file; connect-json implies it; display values are refused with it, per table too', () => {
    expect(resolveConfig({ rc: { ...base, types: true } }).config.types).toBe(true);
    expect(resolveConfig({ flags: { ...base, sink: 'kafka', brokers: 'b:9092', format: 'connect-json' } }).config.format).toBe('connect-json');
    expect(
      problems(() => resolveConfig({ rc: { ...base, table: 'incident,problem', types: 'true', tables: { problem: { displayValue: 'all' } } }, flags: { displayValue: 'true' } })),
    ).toEqual([
      "--display-value: must be false with --types, not true: types convert raw values; display values are text for people (dates in the user's time zone and format)",
      "tables.problem.displayValue (from the rc file): must be false with --types, not all: types convert raw values; display values are text for people (dates in the user's time zone and format)",
    ]);
    expect(problems(() => resolveConfig({ flags: { ...base, format: 'connect-json', sink: 'file', output: 'out' } }))).toEqual([
      "--format: connect-json is a Kafka message format (Kafka Connect's JsonConverter envelope): use it with --sink kafka, or --types for typed rows elsewhere",
    ]);
    expect(problems(() => resolveConfig({ flags: { ...base, format: 'avro' } }))).toEqual(['--format: must be raw, envelope or connect-json']);
  });
});
