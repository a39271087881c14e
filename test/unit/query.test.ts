import { describe, expect, it } from 'vitest';
import { advanceQuery, compareCursor, drainQuery, escapeValue, projection, rangeQuery, userQueryProblems } from '../../src/servicenow/query.js';

describe('keyset queries', () => {
  it('drains the cursor second by sys_id', () => {
    expect(drainQuery({ updatedOn: '2024-01-01 10:00:00', sysId: 'abc' })).toBe('sys_updated_on=2024-01-01 10:00:00^sys_id>abc^ORDERBYsys_id');
  });

  it('drains a whole second when no sys_id is known yet', () => {
    expect(drainQuery({ updatedOn: '2024-01-01 00:00:00', sysId: '' })).toBe('sys_updated_on=2024-01-01 00:00:00^ORDERBYsys_id');
  });

  it('advances strictly after the second, up to the high-water mark, ordered by both keys', () => {
    expect(advanceQuery('2024-01-01 10:00:00', '2024-02-01 00:00:00')).toBe(
      'sys_updated_on>2024-01-01 10:00:00^sys_updated_on<=2024-02-01 00:00:00^ORDERBYsys_updated_on^ORDERBYsys_id',
    );
  });

  it('ANDs the user query in front so ^OR keeps binding to its neighbours', () => {
    expect(advanceQuery('a', 'b', 'priority=1^ORpriority=2')).toBe(
      'priority=1^ORpriority=2^sys_updated_on>a^sys_updated_on<=b^ORDERBYsys_updated_on^ORDERBYsys_id',
    );
    expect(rangeQuery('s', 'h', 'active=true')).toBe('active=true^sys_updated_on>=s^sys_updated_on<=h');
  });

  it('escapes ^ inside values', () => {
    expect(escapeValue('a^b')).toBe('a^^b');
    expect(drainQuery({ updatedOn: 't', sysId: 'x^y' })).toContain('sys_id>x^^y');
  });

  it('uses another cursor field when asked (sys_audit_delete)', () => {
    expect(drainQuery({ updatedOn: 't', sysId: 's' }, 'tablename=incident', 'sys_created_on')).toBe('tablename=incident^sys_created_on=t^sys_id>s^ORDERBYsys_id');
  });
});

describe('user query validation', () => {
  it('accepts plain filters', () => {
    expect(userQueryProblems('active=true^priority<=2^ORstate=1')).toEqual([]);
    expect(userQueryProblems('short_descriptionLIKEa^^b')).toEqual([]);
  });
  it('refuses ^NQ, ORDERBY, javascript: and dangling ^', () => {
    expect(userQueryProblems('a=1^NQb=2')[0]).toMatch(/\^NQ/);
    expect(userQueryProblems('a=1^ORDERBYnumber')[0]).toMatch(/ORDERBY/);
    expect(userQueryProblems('sys_created_on>javascript:gs.daysAgo(1)')[0]).toMatch(/time zone/);
    expect(userQueryProblems('a=1^')[0]).toMatch(/start or end/);
  });
});

describe('projection', () => {
  it('always adds the cursor fields', () => {
    expect(projection(['number', 'sys_id'])).toBe('sys_id,sys_updated_on,sys_created_on,sys_mod_count,number');
    expect(projection(undefined)).toBeUndefined();
    expect(projection([])).toBeUndefined();
  });
});

describe('cursor order', () => {
  it('orders by timestamp then sys_id', () => {
    expect(compareCursor({ updatedOn: '2024-01-01 00:00:01', sysId: 'a' }, { updatedOn: '2024-01-01 00:00:00', sysId: 'z' })).toBe(1);
    expect(compareCursor({ updatedOn: 't', sysId: 'a' }, { updatedOn: 't', sysId: 'b' })).toBe(-1);
    expect(compareCursor({ updatedOn: 't', sysId: 'a' }, { updatedOn: 't', sysId: 'a' })).toBe(0);
  });
});
