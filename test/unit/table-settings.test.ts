// Pure units: a table's own settings (`tables.<name>` in the rc file) and --cursor-field.
import { describe, expect, it } from 'vitest';
import { mapRcObject, resolveConfig } from '../../src/config/load.js';
import { configForTable } from '../../src/config/schema.js';
import { configProblems as problems } from '../helpers/config.js';

const flags = { url: 'https://acme.service-now.com', table: 'incident,problem,sys_audit' };


describe('per-table settings', () => {
  it('each table takes its own displayValue, batchSize, pollInterval, fields, query, cursorField, topic and since; the rest the run’s', () => {
    const rc = {
      batchSize: 1000,
      tables: {
        incident: { displayValue: 'all', batchSize: 200, pollInterval: 5, fields: 'number,state', query: 'active=true', topic: 'sn.inc', since: '2024-01-01' },
        sys_audit: { cursorField: 'sys_created_on', batchSize: '50' },
      },
    };
    const { config } = resolveConfig({ rc, flags: { ...flags, pollInterval: '30' } });
    expect(configForTable(config, 'incident')).toMatchObject({
      table: 'incident',
      displayValue: 'all',
      batchSize: 200,
      pollInterval: 5,
      fields: ['number', 'state'],
      query: 'active=true',
      cursorField: 'sys_updated_on',
      topic: 'sn.inc',
      since: '2024-01-01 00:00:00',
    });
    expect(configForTable(config, 'sys_audit')).toMatchObject({ displayValue: 'false', batchSize: 50, pollInterval: 30, cursorField: 'sys_created_on', since: '1970-01-01 00:00:00' });
    expect(configForTable(config, 'problem')).toMatchObject({ displayValue: 'false', batchSize: 1000, pollInterval: 30, cursorField: 'sys_updated_on', fields: undefined, query: undefined });
  });

  it('accepts the flag spelling (kebab-case) and a boolean display value, as top-level keys do', () => {
    const rc = mapRcObject({ tables: { incident: { 'batch-size': 10, 'poll-interval': 2, 'display-value': true, 'cursor-field': 'sys_created_on' } } }, 'rc').values;
    const { config } = resolveConfig({ rc, flags });
    expect(configForTable(config, 'incident')).toMatchObject({ batchSize: 10, pollInterval: 2, displayValue: 'true', cursorField: 'sys_created_on' });
  });

  it('each bad per-table value is named with its table, all at once, with the rest', () => {
    const rc = {
      tables: {
        incident: { batchSize: 0, pollInterval: 0.5, displayValue: 'maybe', query: 'active=true^ORDERBYnumber' },
        problem: { cursorField: 'opened_by.sys_updated_on', since: 'last week', batchsize: 5, colour: 'red' },
      },
    };
    expect(problems(() => resolveConfig({ rc, flags: { ...flags, retries: '-2' } }))).toEqual([
      '--retries: must be at least 0',
      'tables.incident.displayValue (from the rc file): must be false, true or all',
      'tables.incident.batchSize (from the rc file): must be at least 1',
      'tables.incident.pollInterval (from the rc file): must be at least 1',
      'tables.problem.cursorField (from the rc file): "opened_by.sys_updated_on" is not a field name such as sys_created_on (letters, digits and _, no dot-walking)',
      'tables.problem.since (from the rc file): "last week" is not a date: use yyyy-MM-dd, "yyyy-MM-dd HH:mm:ss" or ISO 8601 (UTC)',
      'tables.problem (from the rc file): unknown setting "batchsize" (did you mean batchSize?)',
      'tables.problem (from the rc file): unknown setting "colour"',
      'tables.incident.query (from the rc file): remove ORDERBY; nowpipe orders by sys_updated_on, sys_id itself',
    ]);
  });

  it('a bad table name or a table entry that is not an object is named', () => {
    expect(problems(() => resolveConfig({ rc: { tables: { 'in cident': {}, problem: 'fast' } }, flags }))).toEqual([
      'tables (from the rc file): "in cident" is not a table name such as incident (letters, digits, _)',
      'tables.problem (from the rc file): must be an object of settings such as {"batchSize": 500}',
    ]);
    expect(problems(() => resolveConfig({ rc: { tables: ['incident'] }, flags }))).toEqual([
      'tables (from the rc file): must be an object of table names, each with its own settings: {"incident": {"batchSize": 500}}',
    ]);
  });

  it('settings for a table that is not exported: a warning, with the likely table', () => {
    const { warnings } = resolveConfig({ rc: { tables: { incidnet: { batchSize: 5 } } }, flags });
    expect(warnings).toEqual(['settings for table incidnet given, but it is not exported (--table) (did you mean incident?)']);
  });
});

describe('--cursor-field', () => {
  it('defaults to sys_updated_on, is taken from the flag or the rc file, and is checked', () => {
    expect(resolveConfig({ flags }).config.cursorField).toBe('sys_updated_on');
    expect(resolveConfig({ flags: { ...flags, cursorField: 'sys_created_on' } }).config.cursorField).toBe('sys_created_on');
    expect(resolveConfig({ rc: { cursorField: 'u_logged_at' }, flags }).config.cursorField).toBe('u_logged_at');
    expect(problems(() => resolveConfig({ flags: { ...flags, cursorField: 'sys updated' } }))).toEqual([
      '--cursor-field: "sys updated" is not a field name such as sys_created_on (letters, digits and _, no dot-walking)',
    ]);
    expect(problems(() => resolveConfig({ flags: { ...flags, cursorField: '' } }))[0]).toMatch(/^--cursor-field: "" is not a field name/);
  });

  it('another field than sys_updated_on is taken as it is, per table too', () => {
    expect(resolveConfig({ flags }).warnings).toEqual([]);
    const { config, warnings } = resolveConfig({ flags: { ...flags, cursorField: 'sys_created_on' } });
    expect(warnings).toEqual([]);
    expect(config.cursorField).toBe('sys_created_on');
  });
});
