import { SinkError } from '../../errors/index.js';
import { fullRow, rowWithJson } from '../../servicenow/response.js';
import { snToIso } from '../../servicenow/time.js';
import { typedRowText, UnconvertibleValue, type TableTypes, type TypedMode } from '../../servicenow/typing.js';
import type { BadRowPolicy } from '../bad-rows.js';
import type { ChangeRecord, Sink, WriteResult } from '../types.js';
import { connectSchema } from './schema.js';

export interface TypedSinkOptions {
  /** The tables of the run: each one's dictionary is read at `open`. */
  tables: string[];
  /** Reads a table's types from the instance's dictionary. */
  typesOf(table: string): Promise<TableTypes>;
  /** `json`: typed rows; `connect`: each row in a Kafka Connect JsonConverter envelope. */
  mode: TypedMode;
  /**
   * The inner sink writes `--format raw`: a delete's marker (`{sys_id, __deleted, sys_updated_on}`)
   * then gives its sys_updated_on in ISO 8601 too, as the typed rows do.
   */
  rawDeletes: boolean;
  badRows: BadRowPolicy;
  /** Once the inner sink is open and holds its destination (the file sink writes schema.json). */
  published?(types: TableTypes): Promise<void>;
}

/**
 * `--types`: a sink that converts each row by the table's dictionary, then hands it to the real
 * sink. The conversion happens before the inner sink makes the row durable, and changes nothing
 * the checkpoint reads (that is the entry's cursor, kept in the record's `updatedOn`): a row
 * rewritten here is committed exactly when an untyped one would be. A value its type cannot
 * hold makes the row bad: the policy stops the run naming it, or sets it aside (counted).
 */
export class TypedSink implements Sink {
  readonly name: string;
  readonly pipe: Sink['pipe'];
  private readonly types = new Map<string, TableTypes>();
  /** Connect schemas as text, by table and field list (rows of a table share one field list). */
  private readonly schemas = new Map<string, string>();

  constructor(
    private readonly inner: Sink,
    private readonly options: TypedSinkOptions,
  ) {
    this.name = inner.name;
    this.pipe = inner.pipe;
  }

  /** Reads every table's dictionary (a failure stops the run before any row is read), then opens the real sink. */
  async open(): Promise<void> {
    for (const table of this.options.tables) if (!this.types.has(table)) this.types.set(table, await this.options.typesOf(table));
    await this.inner.open();
    try {
      for (const types of this.types.values()) await this.options.published?.(types);
    } catch (err) {
      await this.inner.close().catch(() => undefined); // releases what open took (the file sink's folder locks)
      throw err;
    }
  }

  async write(records: ChangeRecord[]): Promise<WriteResult> {
    const out: ChangeRecord[] = [];
    let skipped = 0;
    for (const r of records) {
      let typed: ChangeRecord;
      try {
        typed = this.convert(r);
      } catch (err) {
        if (!(err instanceof UnconvertibleValue)) throw err;
        // Awaited before the write resolves: the checkpoint never passes a row neither written nor set aside.
        await this.options.badRows.reject(r, `${err.message} (--types)`);
        skipped += 1;
        continue;
      }
      out.push(typed);
    }
    const result = out.length > 0 ? await this.inner.write(out) : undefined;
    return { skipped: skipped + (result?.skipped ?? 0) };
  }

  private convert(r: ChangeRecord): ChangeRecord {
    if (r.row === null) {
      if (!this.options.rawDeletes || r.op !== 'd') return r;
      return { ...r, row: rowWithJson(JSON.stringify({ sys_id: r.sysId, __deleted: true, sys_updated_on: snToIso(r.updatedOn) })) };
    }
    const types = this.types.get(r.table);
    if (!types) throw new SinkError(`--types: no dictionary read for table ${r.table} (not one of the run's tables)`);
    const row = fullRow(r.row);
    const payload = typedRowText(row, types.fields, this.options.mode);
    if (this.options.mode === 'json') return { ...r, row: rowWithJson(payload) };
    return { ...r, row: rowWithJson(`{"schema":${this.schemaText(types, Object.keys(row))},"payload":${payload}}`) };
  }

  private schemaText(types: TableTypes, elements: string[]): string {
    const id = `${types.table}\u0000${elements.join(',')}`;
    let text = this.schemas.get(id);
    if (text === undefined) {
      if (this.schemas.size >= 64) this.schemas.clear(); // rows whose fields keep changing: bounded, not cached forever
      text = JSON.stringify(connectSchema(types, elements));
      this.schemas.set(id, text);
    }
    return text;
  }

  describe(): string | undefined {
    return this.inner.describe?.();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
