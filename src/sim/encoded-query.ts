/**
 * ServiceNow encoded queries, as the platform reads them (SERVICENOW.md, "Encoded queries"):
 * `^` is AND, `^OR` binds only the two conditions beside it and tighter than `^`, `^NQ` starts a
 * new OR'ed query, `^^` is a literal `^`, ORDERBY/ORDERBYDESC chain. A condition on a field the
 * table does not have is silently dropped, as the platform does.
 */

export type Operator = '=' | '!=' | '>' | '>=' | '<' | '<=' | 'LIKE' | 'NOTLIKE' | 'STARTSWITH' | 'ENDSWITH' | 'IN' | 'NOT IN' | 'ISEMPTY' | 'ISNOTEMPTY' | 'BETWEEN';

export interface Condition {
  field: string;
  op: Operator;
  value: string;
}

/** AND of OR-groups: [[a, b], [c]] = (a OR b) AND c. */
export type Clause = Condition[][];

export interface ParsedQuery {
  /** OR of clauses (one per ^NQ part). */
  clauses: Clause[];
  order: Array<{ field: string; desc: boolean }>;
}

// Longest first so `>=` wins over `>` and `NOT IN` over `IN`.
const WORD_OPS: Operator[] = ['ISNOTEMPTY', 'ISEMPTY', 'STARTSWITH', 'ENDSWITH', 'NOTLIKE', 'BETWEEN', 'NOT IN', 'LIKE', 'IN'];
const SYMBOL_OPS: Operator[] = ['>=', '<=', '!=', '=', '>', '<'];
const ESC = '\u0000';

function splitTerms(part: string): string[] {
  return part.split('^').map((t) => t.replaceAll(ESC, '^'));
}

function parseCondition(term: string, fields: ReadonlySet<string>): Condition | undefined {
  // The field is the longest known field name the term starts with, followed by an operator.
  let best: Condition | undefined;
  for (let i = term.length; i > 0; i--) {
    const field = term.slice(0, i);
    if (!fields.has(field)) continue;
    const rest = term.slice(i);
    for (const op of [...SYMBOL_OPS, ...WORD_OPS]) {
      if (rest.startsWith(op)) {
        best = { field, op, value: rest.slice(op.length) };
        break;
      }
    }
    if (best) return best;
  }
  return undefined;
}

export function parseEncodedQuery(query: string, fields: ReadonlySet<string>): ParsedQuery {
  const order: ParsedQuery['order'] = [];
  const clauses: Clause[] = [];
  const text = query.replaceAll('^^', ESC);
  for (const part of text.split('^NQ')) {
    const clause: Clause = [];
    for (const rawTerm of splitTerms(part)) {
      if (rawTerm === '') continue;
      if (rawTerm.startsWith('ORDERBYDESC')) {
        order.push({ field: rawTerm.slice('ORDERBYDESC'.length), desc: true });
        continue;
      }
      if (rawTerm.startsWith('ORDERBY')) {
        order.push({ field: rawTerm.slice('ORDERBY'.length), desc: false });
        continue;
      }
      const isOr = rawTerm.startsWith('OR') && clause.length > 0 && parseCondition(rawTerm, fields) === undefined;
      const term = isOr ? rawTerm.slice(2) : rawTerm;
      const cond = parseCondition(term, fields);
      if (!cond) continue; // unknown field: silently dropped
      if (isOr) clause[clause.length - 1]!.push(cond);
      else clause.push([cond]);
    }
    clauses.push(clause);
  }
  return { clauses, order: order.filter((o) => fields.has(o.field)) };
}

/** A field's comparable string: reference objects compare by their sys_id. */
export function scalar(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object' && 'value' in v) return scalar(v.value);
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function test(cond: Condition, row: Record<string, unknown>): boolean {
  const v = scalar(row[cond.field]);
  const x = cond.value;
  switch (cond.op) {
    case '=':
      return v === x;
    case '!=':
      return v !== x;
    case '>':
      return v > x;
    case '>=':
      return v >= x;
    case '<':
      return v < x;
    case '<=':
      return v <= x;
    case 'LIKE':
      return v.toLowerCase().includes(x.toLowerCase());
    case 'NOTLIKE':
      return !v.toLowerCase().includes(x.toLowerCase());
    case 'STARTSWITH':
      return v.toLowerCase().startsWith(x.toLowerCase());
    case 'ENDSWITH':
      return v.toLowerCase().endsWith(x.toLowerCase());
    case 'IN':
      return x.split(',').includes(v);
    case 'NOT IN':
      return !x.split(',').includes(v);
    case 'ISEMPTY':
      return v === '';
    case 'ISNOTEMPTY':
      return v !== '';
    case 'BETWEEN': {
      const [a = '', b = ''] = x.split('@');
      return v >= a && v <= b;
    }
  }
}

export function compileFilter(parsed: ParsedQuery): (row: Record<string, unknown>) => boolean {
  const { clauses } = parsed;
  if (clauses.length === 0 || clauses.every((c) => c.length === 0)) return () => true;
  return (row) => clauses.some((clause) => clause.every((group) => group.some((cond) => test(cond, row))));
}

export function compileOrder(parsed: ParsedQuery): ((a: Record<string, unknown>, b: Record<string, unknown>) => number) | undefined {
  if (parsed.order.length === 0) return undefined;
  return (a, b) => {
    for (const { field, desc } of parsed.order) {
      const x = scalar(a[field]);
      const y = scalar(b[field]);
      if (x !== y) return (x < y ? -1 : 1) * (desc ? -1 : 1);
    }
    return 0;
  };
}

/**
 * The bounds a query puts on `field` when it is a plain AND (one clause, single-condition
 * groups), so the server can binary-search its sorted rows instead of scanning them all.
 */
export function rangeOn(parsed: ParsedQuery, field: string): { low?: string; lowInclusive: boolean; high?: string; highInclusive: boolean } | undefined {
  if (parsed.clauses.length !== 1) return undefined;
  let low: string | undefined;
  let lowInclusive = true;
  let high: string | undefined;
  let highInclusive = true;
  for (const group of parsed.clauses[0]!) {
    if (group.length !== 1 || group[0]!.field !== field) continue;
    const { op, value } = group[0]!;
    if (op === '=' || op === '>=' || op === '>') {
      if (low === undefined || value > low || (value === low && op === '>')) {
        low = value;
        lowInclusive = op !== '>';
      }
    }
    if (op === '=' || op === '<=' || op === '<') {
      if (high === undefined || value < high || (value === high && op === '<')) {
        high = value;
        highInclusive = op !== '<';
      }
    }
  }
  return low === undefined && high === undefined ? undefined : { low, lowInclusive, high, highInclusive };
}
