import { nullable, type FieldType, type TableTypes, type TypeKind } from '../../servicenow/typing.js';

/**
 * A table's types in the two shapes others read: JSON Schema (draft 2020-12, for the typed rows
 * nowpipe writes) and Kafka Connect's schema (the `schema` half of a JsonConverter envelope).
 */

const JSON_TYPES: Record<TypeKind, string> = {
  string: 'string',
  integer: 'integer',
  number: 'number',
  boolean: 'boolean',
  datetime: 'string',
  date: 'string',
  reference: 'string',
};

function describe(f: FieldType, table: string): string {
  const what = f.kind === 'reference' && f.reference ? `reference to ${f.reference} (its sys_id)` : f.internalType;
  return `ServiceNow ${what}${f.definedOn !== table ? `, from ${f.definedOn}` : ''}`;
}

/** Fields by name: a stable order, whatever order the dictionary came in. */
const byName = (types: TableTypes): FieldType[] => [...types.fields.values()].sort((a, b) => (a.element < b.element ? -1 : a.element > b.element ? 1 : 0));

/**
 * The JSON Schema of the table's typed rows. Every property may be absent (--fields projects
 * columns) and others may appear (fields added after the dictionary was read, dot-walked ones):
 * no `required`, `additionalProperties` left open.
 */
export function jsonSchema(types: TableTypes): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const f of byName(types)) {
    const type = JSON_TYPES[f.kind];
    properties[f.element] = {
      type: nullable(f.kind) ? [type, 'null'] : type,
      ...(f.kind === 'datetime' ? { format: 'date-time' } : f.kind === 'date' ? { format: 'date' } : {}),
      ...(f.label ? { title: f.label } : {}),
      description: describe(f, types.table),
    };
  }
  const parents = types.lineage.slice(1);
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: types.table,
    description: `Rows of the ServiceNow table ${types.table}${types.label ? ` (${types.label})` : ''}${parents.length > 0 ? `, which extends ${parents.join(' → ')}` : ''}, as nowpipe --types writes them: typed from sys_dictionary; empty values of non-string fields are null`,
    type: 'object',
    properties,
  };
}

/** One field of a Connect struct schema: everything optional (a row may lack a value). */
export interface ConnectField {
  type: string;
  optional: true;
  field: string;
  name?: string;
  version?: number;
}

/**
 * Connect types as JsonConverter spells them in an envelope (`double` is Connect's FLOAT64; it
 * has no `float64`). A JDBC sink maps them onto columns: date-times as the Timestamp logical type
 * (int64 ms), dates as Date (int32 days), so they land in TIMESTAMP and DATE columns, not text.
 */
export function connectField(element: string, f: FieldType | undefined): ConnectField {
  switch (f?.kind) {
    case 'integer':
      return { type: 'int64', optional: true, field: element };
    case 'number':
      return { type: 'double', optional: true, field: element };
    case 'boolean':
      return { type: 'boolean', optional: true, field: element };
    case 'datetime':
      return { type: 'int64', optional: true, name: 'org.apache.kafka.connect.data.Timestamp', version: 1, field: element };
    case 'date':
      return { type: 'int32', optional: true, name: 'org.apache.kafka.connect.data.Date', version: 1, field: element };
    default:
      return { type: 'string', optional: true, field: element };
  }
}

/** The struct schema of rows with these fields, named `servicenow.<table>` (fields sorted by name). */
export function connectSchema(types: TableTypes, elements: Iterable<string> = types.fields.keys()): Record<string, unknown> {
  const fields = [...elements].sort().map((e) => connectField(e, types.fields.get(e)));
  return { type: 'struct', fields, optional: false, name: `servicenow.${types.table}` };
}
