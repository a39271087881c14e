import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { forgetSecrets, registerSecret } from '../../src/errors/redact.js';
import { Health } from '../../src/metrics/health.js';
import { startMetrics } from '../../src/metrics/index.js';
import { RunMetrics } from '../../src/metrics/run-metrics.js';
import { startMetricsServer } from '../../src/metrics/server.js';
import { newStats, RunEvents } from '../../src/pipeline/events.js';
import { samples } from '../helpers/prometheus.js';

const T0 = Date.UTC(2024, 0, 1, 10, 0, 0);

describe('RunMetrics', () => {
  it('counts rows and deletes per table from commits, requests by status, retries, and reads the rest from the stats', async () => {
    const stats = newStats();
    let now = T0;
    const health = new Health({ tables: [{ table: 'incident', windowMs: 3000 }, { table: 'problem', windowMs: 3000 }], perTable: true, startedAt: T0 });
    const m = new RunMetrics({ tables: ['incident', 'problem'], stats, health, instanceNow: () => T0 + 90_000, now: () => now, version: '9.9.9' });
    m.handle({ type: 'committed', table: 'incident', stream: 'rows', written: 7, cursor: { updatedOn: '2024-01-01 10:01:00', sysId: 'a' } });
    m.handle({ type: 'committed', table: 'incident', stream: 'rows', written: 3, cursor: { updatedOn: '2024-01-01 10:01:20', sysId: 'b' } });
    m.handle({ type: 'committed', table: 'incident', stream: 'deletes', written: 2, cursor: { updatedOn: '2024-01-01 10:01:25', sysId: 'c' } });
    now = T0 + 1500;
    m.handle({ type: 'poll-ok', table: 'incident' });
    m.handle({ type: 'waiting', table: 'incident', status: { instanceNow: T0, lastPollChanges: 0, upToDate: true, nextPollAt: T0 } });
    m.request({ status: 200, ms: 120 });
    m.request({ status: 200, ms: 80 });
    m.request({ status: 503, ms: 10 });
    m.request({ ms: 5, error: 'ECONNRESET' });
    m.retry('HTTP 503');
    Object.assign(stats, { pages: 4, duplicatesDropped: 5, badRows: 1 });
    const s = samples(await m.registry.metrics());
    expect(s.get('nowpipe_rows_total{table="incident"}')).toBe(10);
    expect(s.get('nowpipe_rows_total{table="problem"}')).toBe(0); // every table from the start
    expect(s.get('nowpipe_deletes_total{table="incident"}')).toBe(2);
    expect(s.get('nowpipe_requests_total{status="200"}')).toBe(2);
    expect(s.get('nowpipe_requests_total{status="503"}')).toBe(1);
    expect(s.get('nowpipe_requests_total{status="none"}')).toBe(1);
    expect(s.get('nowpipe_request_duration_seconds_count')).toBe(4);
    expect(s.get('nowpipe_retries_total')).toBe(1);
    expect(s.get('nowpipe_pages_total')).toBe(4);
    expect(s.get('nowpipe_duplicates_dropped_total')).toBe(5);
    expect(s.get('nowpipe_bad_rows_total')).toBe(1);
    expect(s.get('nowpipe_polls_total{table="incident",outcome="ok"}')).toBe(1);
    expect(s.get('nowpipe_up_to_date{table="incident"}')).toBe(1);
    expect(s.get('nowpipe_up_to_date{table="problem"}')).toBe(0);
    // 10:01:30 on the instance, the rows cursor at 10:01:20 (the deletes' cursor does not count).
    expect(s.get('nowpipe_lag_seconds{table="incident"}')).toBe(10);
    expect(s.has('nowpipe_lag_seconds{table="problem"}')).toBe(false); // no cursor yet
    expect(s.get('nowpipe_last_success_timestamp_seconds{table="incident"}')).toBe((T0 + 1500) / 1000);
    expect(s.get('nowpipe_healthy')).toBe(1);
    expect(s.get('nowpipe_build_info{version="9.9.9"}')).toBe(1);
    expect([...s.keys()].some((k) => k.startsWith('process_cpu_seconds_total'))).toBe(true);
    // The stats are read at each scrape, never added twice.
    stats.pages = 6;
    expect(samples(await m.registry.metrics()).get('nowpipe_pages_total')).toBe(6);
    now = T0 + 5000; // problem never succeeded: past its window
    expect(samples(await m.registry.metrics()).get('nowpipe_healthy')).toBe(0);
  });

  it('follows the cursor back when the position is rewound', async () => {
    const health = new Health({ tables: [{ table: 't', windowMs: 1000 }], perTable: true, startedAt: T0 });
    const m = new RunMetrics({ tables: ['t'], stats: newStats(), health, instanceNow: () => T0 + 60_000, version: '1' });
    m.handle({ type: 'committed', table: 't', stream: 'rows', written: 1, cursor: { updatedOn: '2024-01-01 10:00:50', sysId: 'a' } });
    m.handle({ type: 'rewound', table: 't', to: { updatedOn: '2024-01-01 10:00:00', sysId: 'z' }, reason: 'x' });
    expect(samples(await m.registry.metrics()).get('nowpipe_lag_seconds{table="t"}')).toBe(60);
  });
});

describe('the metrics server', () => {
  it('serves /metrics and /healthz (200, then 503 with the reason, redacted), 404 elsewhere, and stops listening when closed', async () => {
    registerSecret('s3cret-Value');
    let healthy = true;
    const server = await startMetricsServer({
      host: '127.0.0.1',
      port: 0,
      metrics: async () => ({ body: 'nowpipe_x 1\n', contentType: 'text/plain; version=0.0.4' }),
      health: () => ({ healthy, reason: healthy ? 'ok' : 'unhealthy\nt: HTTP 401 for s3cret-Value' }),
    });
    try {
      const metrics = await fetch(`${server.url}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toContain('version=0.0.4');
      expect(await metrics.text()).toBe('nowpipe_x 1\n');
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      healthy = false;
      const down = await fetch(`${server.url}/healthz`);
      expect(down.status).toBe(503);
      expect(await down.text()).toBe('unhealthy\nt: HTTP 401 for ***\n');
      expect((await fetch(`${server.url}/other`)).status).toBe(404);
      expect((await fetch(`${server.url}/metrics`, { method: 'POST' })).status).toBe(405);
    } finally {
      await server.close();
      forgetSecrets();
    }
    await expect(fetch(`${server.url}/metrics`)).rejects.toThrow();
  });

  it('startMetrics subscribes to the events until closed, and fails with the listen error when the port is taken', async () => {
    const events = new RunEvents();
    const options = { host: '127.0.0.1', port: 0, tables: [{ table: 't', windowMs: 60_000 }], follow: true, events, stats: newStats(), instanceNow: () => Date.now(), version: '1' };
    const metrics = await startMetrics(options);
    const rows = async () => samples(await (await fetch(`${metrics.url}/metrics`)).text()).get('nowpipe_rows_total{table="t"}');
    events.emit({ type: 'committed', table: 't', stream: 'rows', written: 4, cursor: { updatedOn: '2024-01-01 10:00:00', sysId: 'a' } });
    expect(await rows()).toBe(4);
    const port = Number(new URL(metrics.url).port);
    await expect(startMetrics({ ...options, port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await metrics.close();
    events.emit({ type: 'committed', table: 't', stream: 'rows', written: 4, cursor: { updatedOn: '2024-01-01 10:00:00', sysId: 'a' } }); // heard by no one
    await expect(fetch(`${metrics.url}/metrics`)).rejects.toThrow();
  });
});

describe('start-up time', () => {
  it('prom-client is imported only under src/metrics/, and src/metrics/ only with a dynamic import (runs without --metrics-port never load it)', () => {
    const src = resolve(import.meta.dirname, '../../src');
    const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    const offenders: string[] = [];
    for (const file of files) {
      if (file.startsWith(`metrics${'/'}`)) continue;
      const code = readFileSync(join(src, file), 'utf8');
      if (/from\s+['"]prom-client['"]|import\(\s*['"]prom-client['"]/.test(code)) offenders.push(`${file}: prom-client`);
      if (/^\s*(?:import|export)\s[^;]*?from\s+['"][./]+metrics\//m.test(code.replace(/^\s*import type .*$/gm, ''))) offenders.push(`${file}: static import of metrics/`);
    }
    expect(offenders).toEqual([]);
    expect(readFileSync(join(src, 'cli/observers.ts'), 'utf8')).toContain("await import('../metrics/index.js')");
  });
});
