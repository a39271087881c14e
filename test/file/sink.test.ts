import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { constants, gunzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { SinkError } from '../../src/errors/index.js';
import { FileSink, type FileSinkOptions } from '../../src/sinks/file/index.js';
import { tempDir } from '../helpers/cli.js';
import { dataFiles, leaveLockOfKilledRun, linesOf, readManifest, record, records, verifyFolder } from './helpers.js';

async function sinkIn(dir: string, options: Partial<FileSinkOptions> = {}): Promise<FileSink> {
  const sink = new FileSink({ dir, tables: ['incident'], format: 'raw', compress: 'none', maxRows: 1_000_000, maxBytes: 1 << 30, maxAgeSeconds: 3600, ...options });
  await sink.open();
  return sink;
}

const ids = (rows: Array<Record<string, unknown>>) => rows.map((r) => r.sys_id);
const expectedIds = (from: number, count: number) => records(from, count).map((r) => r.sysId);

afterEach(() => {
  vi.useRealTimers();
});

const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts) execFileSync('umount', [m]);
});

describe('file sink: rotation', () => {
  it('closes a file every --file-max-rows rows, across and inside batches, with a manifest line per file', async () => {
    const dir = await tempDir();
    const sink = await sinkIn(dir, { maxRows: 10 });
    for (let i = 0; i < 25; i += 7) await sink.write(records(i, Math.min(7, 25 - i)));
    await sink.close();
    const folder = join(dir, 'incident');
    const { rows, entries, files } = verifyFolder(folder);
    expect(files).toEqual([
      'incident-20240101T000000Z-000001.ndjson',
      'incident-20240101T000010Z-000002.ndjson',
      'incident-20240101T000020Z-000003.ndjson',
    ]);
    expect(entries.map((e) => e.rows)).toEqual([10, 10, 5]);
    expect(entries[1]!.firstCursor).toEqual({ updatedOn: '2024-01-01 00:00:10', sysId: record(10).sysId });
    expect(entries[1]!.lastCursor).toEqual({ updatedOn: '2024-01-01 00:00:19', sysId: record(19).sysId });
    expect(entries.every((e) => /^[0-9a-f]{64}$/.test(e.sha256) && !Number.isNaN(Date.parse(e.closedAt)))).toBe(true);
    expect(ids(rows)).toEqual(expectedIds(0, 25));
  });

  it('keeps plain files within --file-max-bytes, to the line', async () => {
    const dir = await tempDir();
    const maxBytes = 4096;
    const sink = await sinkIn(dir, { maxBytes });
    await sink.write(records(0, 100, 300));
    await sink.close();
    const { rows, entries } = verifyFolder(join(dir, 'incident'));
    expect(entries.length).toBeGreaterThan(5);
    for (const e of entries) expect(e.bytes).toBeLessThanOrEqual(maxBytes);
    // Each file but the last was closed because the next line would not fit.
    const lineBytes = Buffer.byteLength(`${JSON.stringify(records(0, 1, 300)[0]!.row)}\n`);
    for (const e of entries.slice(0, -1)) expect(e.bytes + lineBytes).toBeGreaterThan(maxBytes);
    expect(ids(rows)).toEqual(expectedIds(0, 100));
  });

  it('with gzip, closes a file once its compressed size reaches --file-max-bytes; every file is one valid gzip member', async () => {
    const dir = await tempDir();
    const maxBytes = 256 * 1024;
    const sink = await sinkIn(dir, { compress: 'gzip', maxBytes });
    // Random payload so gzip cannot shrink it to nothing: ~2.7 MB of text in two batches.
    const recs = records(0, 6000).map((r) => ({ ...r, row: { ...r.row!, pad: randomBytes(150).toString('hex') } }));
    await sink.write(recs.slice(0, 2500));
    await sink.write(recs.slice(2500));
    await sink.close();
    const folder = join(dir, 'incident');
    const { rows, entries, files } = verifyFolder(folder);
    expect(files.every((f) => f.endsWith('.ndjson.gz'))).toBe(true);
    expect(entries.length).toBeGreaterThan(1);
    for (const e of entries.slice(0, -1)) expect(e.bytes).toBeGreaterThanOrEqual(maxBytes);
    // Checked after every min(1 MiB, max-bytes) of text: a file overshoots by less than that, compressed.
    for (const e of entries) expect(e.bytes).toBeLessThan(2 * maxBytes);
    for (const f of files) expect(() => gunzipSync(readFileSync(join(folder, f)))).not.toThrow();
    expect(ids(rows)).toEqual(recs.map((r) => r.sysId));
  });

  it('closes a quiet file after --file-max-age, and the timer waits for a write in flight', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const dir = await tempDir();
    const folder = join(dir, 'incident');
    const sink = await sinkIn(dir, { maxAgeSeconds: 60 });
    await sink.write(records(0, 3));
    vi.advanceTimersByTime(59_000);
    await sink.settled();
    expect(readManifest(folder)).toHaveLength(0);
    vi.advanceTimersByTime(1_000);
    await sink.settled();
    expect(readManifest(folder).map((e) => e.rows)).toEqual([3]);

    // The timer fires while a big write is queued: the write sees the file is due and closes it
    // first; the timer's rotation then runs after the write and finds a younger file: no-op.
    await sink.write(records(3, 1));
    const inFlight = sink.write(records(4, 5000, 200));
    vi.advanceTimersByTime(60_000);
    await inFlight;
    await sink.settled();
    expect(readManifest(folder).map((e) => e.rows)).toEqual([3, 1]);
    await sink.write(records(5004, 2));
    await sink.close();
    expect(readManifest(folder).map((e) => e.rows)).toEqual([3, 1, 5002]);
    const { rows } = verifyFolder(folder);
    expect(ids(rows)).toEqual(expectedIds(0, 5006));
  });
});

describe('file sink: durability and format', () => {
  it('has every row of a resolved write in the .part file (plain and gzip), before the file is closed', async () => {
    for (const compress of ['none', 'gzip'] as const) {
      const dir = await tempDir();
      const sink = await sinkIn(dir, { compress });
      await sink.write(records(0, 50));
      await sink.write(records(50, 50));
      const folder = join(dir, 'incident');
      const [part] = dataFiles(folder);
      expect(part).toMatch(/\.part$/);
      const raw = readFileSync(join(folder, part!));
      const text = compress === 'gzip' ? gunzipSync(raw, { finishFlush: constants.Z_SYNC_FLUSH }).toString() : raw.toString();
      expect(text.split('\n').filter(Boolean)).toHaveLength(100);
      await sink.close();
      expect(dataFiles(folder)).toEqual([part!.replace(/\.part$/, '')]);
    }
  });

  it('writes deletes as NDJSON lines like any record', async () => {
    const dir = await tempDir();
    const sink = await sinkIn(dir);
    await sink.write([record(1), record(2, 0, 'd')]);
    await sink.close();
    const { rows } = verifyFolder(join(dir, 'incident'));
    expect(rows[1]).toEqual({ sys_id: record(2).sysId, __deleted: true, sys_updated_on: '2024-01-01 00:00:02' });
    expect(readManifest(join(dir, 'incident'))[0]!.lastCursor).toEqual({ updatedOn: '2024-01-01 00:00:02', sysId: record(2).sysId });
  });

  it('creates no file for an empty run and continues the sequence across runs', async () => {
    const dir = await tempDir();
    const folder = join(dir, 'incident');
    let sink = await sinkIn(dir);
    await sink.close();
    expect(dataFiles(folder)).toEqual([]);
    sink = await sinkIn(dir);
    await sink.write(records(0, 2));
    await sink.close();
    sink = await sinkIn(dir, { compress: 'gzip' });
    await sink.write(records(2, 2));
    await sink.close();
    expect(dataFiles(folder)).toEqual(['incident-20240101T000000Z-000001.ndjson', 'incident-20240101T000002Z-000002.ndjson.gz']);
  });

  it('gives each table of a run its own folder, sequence and manifest', async () => {
    const dir = await tempDir();
    const sink = await sinkIn(dir, { tables: ['incident', 'problem'] });
    const problem = (i: number) => ({ ...record(i), table: 'problem' });
    await sink.write([record(0), record(1)]);
    await sink.write([problem(5), problem(6), problem(7)]);
    await sink.close();
    expect(verifyFolder(join(dir, 'incident')).files).toEqual(['incident-20240101T000000Z-000001.ndjson']);
    expect(verifyFolder(join(dir, 'problem')).files).toEqual(['problem-20240101T000005Z-000001.ndjson']);
    expect(readManifest(join(dir, 'problem'))[0]!.rows).toBe(3);
  });

  it('reports a path that is not a folder as a SinkError naming it', async () => {
    const dir = await tempDir();
    writeFileSync(join(dir, 'blocker'), 'x');
    const sink = new FileSink({ dir: join(dir, 'blocker'), tables: ['incident'], format: 'raw', compress: 'none', maxRows: 10, maxBytes: 1 << 20, maxAgeSeconds: 60 });
    const err = await sink.open().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SinkError);
    expect((err as Error).message).toContain(join(dir, 'blocker', 'incident'));
  });
});

describe('file sink: recovery of what a crash left', () => {
  it('completes a plain .part: keeps the complete lines, drops a torn one, lists it, continues the sequence', async () => {
    const dir = await tempDir();
    const folder = join(dir, 'incident');
    const crashed = await sinkIn(dir);
    await crashed.write(records(0, 10));
    await crashed.write(records(10, 5));
    const [part] = dataFiles(folder);
    appendFileSync(join(folder, part!), '{"sys_id":"torn","sys_upd'); // kill -9 in the middle of a write
    // No close: the process "died". A new run opens the folder.
    leaveLockOfKilledRun(folder);
    const sink = await sinkIn(dir);
    expect(sink.recovery.get('incident')?.completed).toEqual([{ file: 'incident-20240101T000000Z-000001.ndjson', rows: 15 }]);
    await sink.write(records(15, 5));
    await sink.close();
    const { rows, entries, files } = verifyFolder(folder);
    expect(files).toEqual(['incident-20240101T000000Z-000001.ndjson', 'incident-20240101T000015Z-000002.ndjson']);
    expect(entries[0]).toMatchObject({ rows: 15, recovered: true, firstCursor: { updatedOn: '2024-01-01 00:00:00' }, lastCursor: { updatedOn: '2024-01-01 00:00:14' } });
    expect(ids(rows)).toEqual(expectedIds(0, 20));
  });

  it('completes a gzip .part cut mid-stream into one valid member holding every fsynced row', async () => {
    const dir = await tempDir();
    const folder = join(dir, 'incident');
    const crashed = await sinkIn(dir, { compress: 'gzip' });
    await crashed.write(records(0, 200));
    const [part] = dataFiles(folder);
    const durable = statSync(join(folder, part!)).size;
    await crashed.write(records(200, 200));
    // The second page reached the disk only halfway before the crash.
    const full = statSync(join(folder, part!)).size;
    truncateSync(join(folder, part!), durable + Math.floor((full - durable) / 2));
    leaveLockOfKilledRun(folder);
    const sink = await sinkIn(dir, { compress: 'gzip' });
    await sink.close();
    const { rows, files } = verifyFolder(folder);
    expect(files).toEqual(['incident-20240101T000000Z-000001.ndjson.gz']);
    expect(rows.length).toBeGreaterThanOrEqual(200);
    expect(rows.length).toBeLessThan(400);
    expect(ids(rows)).toEqual(expectedIds(0, rows.length));
  });

  it('removes a .part with no complete row, a stale .part beside its closed file, and lists a closed file the manifest missed', async () => {
    const dir = await tempDir();
    const folder = join(dir, 'incident');
    const first = await sinkIn(dir);
    await first.write(records(0, 3));
    await first.close();
    const [closed] = dataFiles(folder);
    // Crash between the rename and the manifest append: the manifest line is missing (torn).
    writeFileSync(join(folder, '_manifest.ndjson'), readFileSync(join(folder, '_manifest.ndjson'), 'utf8').slice(0, 30));
    writeFileSync(join(folder, `${closed}.part`), 'stale');
    writeFileSync(join(folder, 'incident-20240101T000009Z-000007.ndjson.gz.part'), Buffer.alloc(0));
    const sink = await sinkIn(dir);
    expect(sink.recovery.get('incident')).toMatchObject({ relisted: [closed], removed: ['incident-20240101T000009Z-000007.ndjson.gz.part'], nextSequence: 8 });
    await sink.close();
    const { rows, entries } = verifyFolder(folder);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ file: closed, rows: 3, recovered: true });
    expect(ids(rows)).toEqual(expectedIds(0, 3));
  });

  it('leaves other files in the folder alone', async () => {
    const dir = await tempDir();
    const folder = join(dir, 'incident');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'notes.part'), 'mine');
    writeFileSync(join(folder, 'problem-20240101T000000Z-000001.ndjson.part'), '{}\n');
    const sink = await sinkIn(dir);
    await sink.close();
    expect(existsSync(join(folder, 'notes.part'))).toBe(true);
    expect(existsSync(join(folder, 'problem-20240101T000000Z-000001.ndjson.part'))).toBe(true);
    expect(linesOf(join(folder, 'problem-20240101T000000Z-000001.ndjson.part'))).toEqual([{}]);
  });
});

describe('file sink: disk full', () => {
  it('rejects the write with a SinkError naming the .part, repeats it to later callers, keeps what was fsynced', async () => {
    if (process.getuid?.() !== 0) throw new Error('the disk-full sink test needs root (it mounts a 64 KiB tmpfs); this test never skips');
    const dir = await tempDir();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
    mounts.push(dir);
    const folder = join(dir, 'incident');
    const sink = await sinkIn(dir);
    await sink.write(records(0, 50, 300));
    const err = await sink.write(records(50, 500, 300)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SinkError);
    expect((err as Error).message).toMatch(/^file sink: cannot write to .*\/incident\/incident-20240101T000000Z-000001\.ndjson\.part: no space left on the device \(ENOSPC\)$/);
    await expect(sink.write(records(550, 1))).rejects.toBe(err);
    await expect(sink.close()).rejects.toBe(err);
    // Cut back to the 50 fsynced rows; the failed page's bytes are gone (and their space with them).
    expect(dataFiles(folder)).toEqual(['incident-20240101T000000Z-000001.ndjson.part']);
    expect(linesOf(join(folder, 'incident-20240101T000000Z-000001.ndjson.part'))).toHaveLength(50);

    execFileSync('mount', ['-o', 'remount,size=4m', dir]);
    const next = await sinkIn(dir);
    expect(next.recovery.get('incident')?.completed).toEqual([{ file: 'incident-20240101T000000Z-000001.ndjson', rows: 50 }]);
    await next.write(records(50, 500, 300));
    await next.close();
    expect(ids(verifyFolder(folder).rows)).toEqual(expectedIds(0, 550));
  });
});
