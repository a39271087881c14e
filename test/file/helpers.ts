import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { ChangeRecord } from '../../src/sinks/types.js';
import type { ManifestEntry } from '../../src/sinks/file/manifest.js';

const BASE = Date.UTC(2024, 0, 1, 0, 0, 0);

function sn(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/** Record i: one second after record i-1, sys_id that sorts with i, about `pad` bytes of payload. */
export function record(i: number, pad = 100, op: ChangeRecord['op'] = 'u'): ChangeRecord {
  const sysId = i.toString(16).padStart(32, '0');
  const updatedOn = sn(BASE + i * 1000);
  const row = op === 'd' ? null : { sys_id: sysId, sys_updated_on: updatedOn, number: `INC${String(i).padStart(7, '0')}`, pad: 'x'.repeat(pad) };
  return { op, table: 'incident', instance: 'https://sim.example', sysId, updatedOn, row };
}

export function records(from: number, count: number, pad?: number): ChangeRecord[] {
  return Array.from({ length: count }, (_, k) => record(from + k, pad));
}

export function readManifest(folder: string): ManifestEntry[] {
  let text: string;
  try {
    text = readFileSync(join(folder, '_manifest.ndjson'), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ManifestEntry);
}

export function dataFiles(folder: string): string[] {
  return readdirSync(folder)
    .filter((n) => n.includes('.ndjson') && n !== '_manifest.ndjson')
    .sort();
}

/** The NDJSON lines of a closed file (decompressed when .gz). */
export function linesOf(path: string): Array<Record<string, unknown>> {
  const raw = readFileSync(path);
  const text = path.endsWith('.gz') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Checks every closed file against its manifest line (and that no `.part` is left); returns all rows in file order. */
export function verifyFolder(
  folder: string,
  options: { partsAllowed?: boolean } = {},
): { rows: Array<Record<string, unknown>>; entries: ManifestEntry[]; files: string[] } {
  let files = dataFiles(folder);
  const parts = files.filter((f) => f.endsWith('.part'));
  if (parts.length > 0 && !options.partsAllowed) throw new Error(`.part files left: ${parts.join(', ')}`);
  files = files.filter((f) => !f.endsWith('.part'));
  const entries = readManifest(folder);
  const listed = entries.map((e) => e.file).sort();
  if (JSON.stringify(listed) !== JSON.stringify(files)) throw new Error(`manifest lists ${listed.join(',')} but the folder holds ${files.join(',')}`);
  const rows: Array<Record<string, unknown>> = [];
  for (const e of [...entries].sort((a, b) => a.file.localeCompare(b.file))) {
    const path = join(folder, e.file);
    const lines = linesOf(path);
    if (lines.length !== e.rows) throw new Error(`${e.file}: manifest says ${e.rows} rows, file holds ${lines.length}`);
    if (sha256(path) !== e.sha256) throw new Error(`${e.file}: sha256 does not match the manifest`);
    if (readFileSync(path).length !== e.bytes) throw new Error(`${e.file}: size does not match the manifest`);
    rows.push(...lines);
  }
  return { rows, entries, files };
}

/**
 * What kill -9 leaves of a run's lease on a table folder: its lock, naming a process that is
 * gone. For tests that "crash" a sink in this process (a live sink's lock refuses a second one).
 */
export function leaveLockOfKilledRun(folder: string): void {
  const { pid } = spawnSync(process.execPath, ['-e', '0']);
  writeFileSync(join(folder, '.nowpipe.lock'), JSON.stringify({ pid, host: hostname(), startedAt: new Date().toISOString() }));
}
