import { AuthError, ConfigError, ResponseError } from '../errors/index.js';
import type { ServiceNowClient } from './client.js';
import { rawText } from './entry.js';
import { escapeValue } from './query.js';
import type { Row } from './response.js';
import { kindOf, type FieldType, type TableTypes } from './typing.js';

/** Dictionary entries per request: a table and its parents hold a few hundred. */
const PAGE = 500;
/** Deeper than any real hierarchy (incident → task is two): a longer chain is a loop in the data. */
const MAX_DEPTH = 20;

const text = rawText;

/** A 403 on the metadata tables: say why nowpipe reads them and what to grant. */
function explained<T>(what: string, request: Promise<T>): Promise<T> {
  return request.catch((err: unknown) => {
    if (err instanceof AuthError && /may not read table/.test(err.message)) {
      throw new AuthError(`${err.message}: --types reads the table's dictionary (${what})`, {
        cause: err,
        hint: 'grant the user read access to sys_db_object and sys_dictionary, or run without --types',
      });
    }
    throw err;
  });
}

interface DbObject {
  sysId: string;
  name: string;
  label: string;
  superClass: string;
}

async function dbObject(client: ServiceNowClient, query: string, signal?: AbortSignal): Promise<DbObject | undefined> {
  const res = await explained(
    'sys_db_object',
    client.getTable('sys_db_object', { sysparm_query: query, sysparm_fields: 'sys_id,name,label,super_class', sysparm_exclude_reference_link: true, sysparm_limit: 1, sysparm_no_count: true }, signal),
  );
  const row = res.rows[0];
  return row && { sysId: text(row.sys_id), name: text(row.name), label: text(row.label), superClass: text(row.super_class) };
}

/**
 * The table and its parents, child first: sys_db_object.super_class refers to the parent's own
 * sys_db_object row, up to a root with none.
 */
export async function lineageOf(client: ServiceNowClient, table: string, signal?: AbortSignal): Promise<DbObject[]> {
  const first = await dbObject(client, `name=${escapeValue(table)}`, signal);
  if (!first) {
    throw new ConfigError(`--table: "${table}" has no entry in sys_db_object visible to this user (no such table, or ACLs hide it)`, {
      hint: 'check --table: use the table name (incident), not its label (Incident)',
    });
  }
  const chain = [first];
  for (let at = first; at.superClass !== ''; ) {
    if (chain.length >= MAX_DEPTH || chain.some((t) => t.sysId === at.superClass)) {
      throw new ResponseError(`the parents of ${table} in sys_db_object form a loop or a chain deeper than ${MAX_DEPTH} (${chain.map((t) => t.name).join(' → ')})`, {
        problem: 'error-body',
        method: 'GET',
        url: `${client.baseUrl}/api/now/table/sys_db_object`,
        retriable: false,
      });
    }
    const parent = await dbObject(client, `sys_id=${escapeValue(at.superClass)}`, signal);
    if (!parent) break; // a parent the user may not see: what is known so far still types the fields
    chain.push(parent);
    at = parent;
  }
  return chain;
}

/**
 * Every dictionary entry of the tables, paged by sys_id (a keyset: the entries cannot shift
 * between pages as offsets can). A short page is not the end (ACLs remove rows after the limit);
 * an empty one is, unless the count says hidden rows lie ahead: those are stepped over.
 */
async function dictionaryRows(client: ServiceNowClient, tables: string[], signal?: AbortSignal): Promise<Row[]> {
  const rows: Row[] = [];
  const base = `nameIN${tables.map(escapeValue).join(',')}^elementISNOTEMPTY`;
  let after = '';
  let offset = 0;
  for (;;) {
    const res = await explained(
      'sys_dictionary',
      client.getTable(
        'sys_dictionary',
        {
          sysparm_query: `${base}${after ? `^sys_id>${escapeValue(after)}` : ''}^ORDERBYsys_id`,
          sysparm_fields: 'sys_id,name,element,internal_type,max_length,reference,column_label',
          sysparm_exclude_reference_link: true,
          sysparm_limit: PAGE,
          sysparm_offset: offset > 0 ? offset : undefined,
        },
        signal,
      ),
    );
    if (res.rows.length === 0) {
      if (res.totalCount !== undefined && res.totalCount > offset + PAGE) {
        offset += PAGE;
        continue;
      }
      return rows;
    }
    for (const row of res.rows) {
      const id = text(row.sys_id);
      if (id <= after) {
        throw new ResponseError('sys_dictionary rows came back out of sys_id order: the dictionary cannot be paged safely', {
          problem: 'unsorted',
          method: 'GET',
          url: `${client.baseUrl}/api/now/table/sys_dictionary`,
          retriable: false,
        });
      }
      after = id;
      rows.push(row);
    }
    offset = 0;
  }
}

/**
 * A table's field types from its dictionary, with inheritance: a field defined on a parent
 * (task's `priority` for incident) is the table's too, and the table's own definition of an
 * element wins over a parent's.
 */
export async function readTableTypes(client: ServiceNowClient, table: string, signal?: AbortSignal): Promise<TableTypes> {
  const chain = await lineageOf(client, table, signal);
  const lineage = chain.map((t) => t.name);
  const rows = await dictionaryRows(client, lineage, signal);
  const fields = new Map<string, FieldType>();
  const depthOf = new Map<string, number>();
  for (const row of rows) {
    const element = text(row.element);
    const definedOn = text(row.name);
    const depth = lineage.indexOf(definedOn);
    if (element === '' || depth === -1) continue;
    const known = depthOf.get(element);
    if (known !== undefined && known <= depth) continue;
    const internalType = text(row.internal_type) || 'string';
    const maxLength = Number(text(row.max_length));
    const label = text(row.column_label);
    const reference = text(row.reference);
    fields.set(element, {
      element,
      kind: kindOf(internalType),
      internalType,
      definedOn,
      ...(label ? { label } : {}),
      ...(Number.isInteger(maxLength) && maxLength > 0 ? { maxLength } : {}),
      ...(reference ? { reference } : {}),
    });
    depthOf.set(element, depth);
  }
  return { table, lineage, ...(chain[0]!.label ? { label: chain[0]!.label } : {}), fields };
}
