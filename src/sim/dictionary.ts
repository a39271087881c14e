import { rng, sysId, type Row } from './data.js';

/**
 * The simulated instance's metadata: sys_db_object (tables and their parents) and
 * sys_dictionary (each table's own fields), as the platform keeps them: incident extends task,
 * and the fields incident inherits (number, state, priority, …) are task's entries.
 */

export interface SimTableDef {
  name: string;
  label: string;
  /** The table it extends. */
  parent?: string;
}

export interface SimField {
  /** The table whose dictionary entry it is (the parent's, for an inherited field). */
  table: string;
  element: string;
  /** sys_dictionary.internal_type. */
  type: string;
  label?: string;
  maxLength?: number;
  /** For references: the table referred to. */
  reference?: string;
}

export const SIM_TABLES: SimTableDef[] = [
  { name: 'task', label: 'Task' },
  { name: 'incident', label: 'Incident', parent: 'task' },
  { name: 'sys_user', label: 'User' },
  { name: 'sys_user_group', label: 'Group' },
  { name: 'sys_audit_delete', label: 'Deleted Records' },
];

const f = (table: string, element: string, type: string, label: string, extra: Partial<SimField> = {}): SimField => ({ table, element, type, label, ...extra });

/** Every table's sys_* fields, as each base table has its own. */
const systemFields = (table: string): SimField[] => [
  f(table, 'sys_id', 'GUID', 'Sys ID', { maxLength: 32 }),
  f(table, 'sys_created_on', 'glide_date_time', 'Created'),
  f(table, 'sys_created_by', 'string', 'Created by', { maxLength: 40 }),
  f(table, 'sys_updated_on', 'glide_date_time', 'Updated'),
  f(table, 'sys_updated_by', 'string', 'Updated by', { maxLength: 40 }),
  f(table, 'sys_mod_count', 'integer', 'Updates'),
];

export const SIM_FIELDS: SimField[] = [
  ...systemFields('task'),
  f('task', 'sys_class_name', 'sys_class_name', 'Task type', { maxLength: 80 }),
  f('task', 'number', 'string', 'Number', { maxLength: 40 }),
  f('task', 'short_description', 'string', 'Short description', { maxLength: 160 }),
  f('task', 'description', 'string', 'Description', { maxLength: 4000 }),
  f('task', 'state', 'integer', 'State'),
  f('task', 'priority', 'integer', 'Priority'),
  f('task', 'impact', 'integer', 'Impact'),
  f('task', 'urgency', 'integer', 'Urgency'),
  f('task', 'active', 'boolean', 'Active'),
  f('task', 'opened_at', 'glide_date_time', 'Opened'),
  f('task', 'due_date', 'due_date', 'Due date'),
  f('task', 'opened_by', 'reference', 'Opened by', { reference: 'sys_user', maxLength: 32 }),
  f('task', 'assignment_group', 'reference', 'Assignment group', { reference: 'sys_user_group', maxLength: 32 }),
  f('incident', 'caller_id', 'reference', 'Caller', { reference: 'sys_user', maxLength: 32 }),
  f('incident', 'category', 'string', 'Category', { maxLength: 40 }),
  f('incident', 'u_effort_hours', 'decimal', 'Effort (hours)', { maxLength: 15 }),
  f('incident', 'u_target_date', 'glide_date', 'Target date'),
  ...systemFields('sys_user'),
  f('sys_user', 'name', 'string', 'Name', { maxLength: 151 }),
  ...systemFields('sys_user_group'),
  f('sys_user_group', 'name', 'string', 'Name', { maxLength: 80 }),
  ...systemFields('sys_audit_delete'),
  f('sys_audit_delete', 'tablename', 'string', 'Table name', { maxLength: 80 }),
  f('sys_audit_delete', 'documentkey', 'GUID', 'Document key', { maxLength: 32 }),
];

/** The reference fields of the metadata tables and the tables they refer to. */
export const METADATA_REFERENCES: Record<string, string> = { super_class: 'sys_db_object', internal_type: 'sys_glide_object', reference: 'sys_db_object' };

/**
 * The rows of sys_db_object and sys_dictionary. Their sys_ids come from a PRNG of their own, so
 * the tables' data stays what each seed has always given. Each table also has its collection
 * entry (no element), as on the platform.
 */
export function metadataRows(tables: SimTableDef[], fields: SimField[]): { dbObjects: Row[]; dictionary: Row[] } {
  const random = rng(0xd1c7);
  const stamp = { sys_created_on: '2020-01-01 00:00:00', sys_updated_on: '2020-01-01 00:00:00', sys_mod_count: '0' };
  const ids = new Map(tables.map((t) => [t.name, sysId(random)]));
  const dbObjects = tables.map((t) => ({ sys_id: ids.get(t.name)!, name: t.name, label: t.label, super_class: t.parent ? (ids.get(t.parent) ?? '') : '', ...stamp }));
  const entry = (table: string, element: string, type: string, label: string, maxLength = '', reference = ''): Row => ({
    sys_id: sysId(random),
    name: table,
    element,
    internal_type: type,
    column_label: label,
    max_length: maxLength,
    reference,
    active: 'true',
    ...stamp,
  });
  const dictionary = [
    ...tables.map((t) => entry(t.name, '', 'collection', t.label)),
    ...fields.map((x) => entry(x.table, x.element, x.type, x.label ?? x.element, x.maxLength === undefined ? '' : String(x.maxLength), x.reference ?? '')),
  ];
  return { dbObjects, dictionary };
}
