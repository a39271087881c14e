import { DateTime } from 'luxon';

export type Row = Record<string, unknown>;

/** A small deterministic PRNG (mulberry32), so every run of a test sees the same data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function sysId(random: () => number): string {
  let s = '';
  for (let i = 0; i < 32; i++) s += Math.floor(random() * 16).toString(16);
  return s;
}

export const SN = 'yyyy-MM-dd HH:mm:ss';
export const fmt = (ms: number): string => DateTime.fromMillis(ms, { zone: 'utc' }).toFormat(SN);
export const parse = (s: string): number => DateTime.fromFormat(s, SN, { zone: 'utc' }).toMillis();

const WORDS = 'email outage printer vpn laptop password reset network slow cannot access server disk error login portal payroll badge phone sap report'.split(' ');
const PEOPLE = ['Abel Tuter', 'Beth Anglin', 'Charlie Whitherspoon', 'David Loo', 'Fred Luddy', 'Bow Ruggeri', 'Don Goodliffe', 'ITIL User'];
const GROUPS = ['Service Desk', 'Network', 'Hardware', 'Software', 'Database', 'Help Desk'];

/** Reference targets: sys_user and sys_user_group ids with display names. */
export interface Refs {
  users: Array<{ id: string; name: string }>;
  groups: Array<{ id: string; name: string }>;
}

export function makeRefs(random: () => number): Refs {
  return {
    users: PEOPLE.map((name) => ({ id: sysId(random), name })),
    groups: GROUPS.map((name) => ({ id: sysId(random), name })),
  };
}

/** Which fields are references, and to which table. */
export const REFERENCE_FIELDS: Record<string, 'sys_user' | 'sys_user_group'> = { caller_id: 'sys_user', assignment_group: 'sys_user_group', opened_by: 'sys_user' };

/** An incident-like row; every value a string (references hold the target sys_id here). */
export function incident(n: number, created: number, updated: number, random: () => number, refs: Refs, rowBytes: number): Row {
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)]!;
  const short = `${pick(WORDS)} ${pick(WORDS)} ${pick(WORDS)}`;
  const row: Row = {
    sys_id: sysId(random),
    number: `INC${String(n).padStart(7, '0')}`,
    short_description: short,
    description: '',
    state: String(1 + Math.floor(random() * 7)),
    priority: String(1 + Math.floor(random() * 5)),
    impact: String(1 + Math.floor(random() * 3)),
    urgency: String(1 + Math.floor(random() * 3)),
    active: random() < 0.7 ? 'true' : 'false',
    category: pick(['inquiry', 'software', 'hardware', 'network', 'database']),
    caller_id: pick(refs.users).id,
    opened_by: pick(refs.users).id,
    assignment_group: pick(refs.groups).id,
    opened_at: fmt(created),
    // Custom fields, as customers add them: a decimal (none on one row in ten) and a date. Derived
    // from the number and the time, not drawn, so every seed's rows stay what they were.
    u_effort_hours: n % 10 === 0 ? '' : ((n * 37) % 400 / 4).toFixed(2),
    u_target_date: n % 7 === 0 ? '' : fmt(created + 7 * 86_400_000).slice(0, 10),
    sys_class_name: 'incident',
    sys_created_by: 'admin',
    sys_updated_by: 'admin',
    sys_created_on: fmt(created),
    sys_updated_on: fmt(updated),
    sys_mod_count: updated === created ? '0' : String(1 + Math.floor(random() * 5)),
  };
  // Pad the description so the serialised row is about rowBytes long (raw, with reference links).
  const base = JSON.stringify(row).length + 3 * 120;
  const need = Math.max(0, rowBytes - base);
  let d = `${short}. `;
  while (d.length < need) d += `${pick(WORDS)} `;
  row.description = d.slice(0, need);
  return row;
}
