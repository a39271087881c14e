import { RequestError } from 'got';
import { HttpError, NowpipeError } from '../errors/index.js';
import { monotonicNow, ServerClock } from './clock.js';
import { RequestLimiter } from './limiter.js';
import { Exchange, type BatchSize, type ExchangeEnd, type ExchangeHead, type RowBatch } from './exchange.js';
import { interpretTableResponse, readableUrl, type Row, type TableResponse } from './response.js';
import { Retrier, withRetry, type RetryHooks, type RetryPolicy } from './retry.js';
import { createTransport, type Transport } from './transport.js';
import { networkError } from './transport-errors.js';
import type { TlsMaterial } from './tls.js';

/** Collect every row of a response before handing them on (probes, `check`). */
const WHOLE: BatchSize = { rows: Infinity, bytes: Infinity };

/** Supplies the Authorization header; OAuth plugs in here. */
export interface AuthProvider {
  header(signal?: AbortSignal): Promise<string | undefined>;
  /**
   * Called once after a 401 with the header that was refused; true when fresh credentials are
   * worth one more try.
   */
  refresh?(signal?: AbortSignal, rejected?: string): Promise<boolean>;
}

export function basicAuth(user: string | undefined, password: string | undefined): AuthProvider {
  const value = user === undefined ? undefined : `Basic ${Buffer.from(`${user}:${password ?? ''}`).toString('base64')}`;
  return { header: async () => value };
}

export interface ClientEvents {
  /** One line per finished request (for --verbose). Never includes credentials. */
  request?: (info: { method: string; url: string; status?: number; rows?: number; ms: number; error?: string }) => void;
  retry?: (err: NowpipeError, attempt: number, delayMs: number) => void;
}

export interface ClientOptions {
  url: string;
  auth: AuthProvider;
  user?: string;
  timeoutMs: number;
  connectTimeoutMs: number;
  proxy?: string;
  tls?: TlsMaterial;
  userAgent?: string;
  /** The run's transport, shared with OAuth; built from the options above when not given. */
  transport?: Transport;
  retry: RetryPolicy;
  /** Shared by every request of the run: concurrency, pacing and the 429 pause. */
  limiter?: RequestLimiter;
  events?: ClientEvents;
}

export type Params = Record<string, string | number | boolean | undefined>;

/** The Table API over HTTP: one request → checked rows, retried per policy. */
export class ServiceNowClient {
  readonly baseUrl: string;
  private readonly transport: Transport;
  private readonly options: ClientOptions;
  readonly limiter: RequestLimiter;
  /** The instance's clock, from the `Date` headers of successful responses (never ahead of it). */
  readonly clock = new ServerClock();

  constructor(options: ClientOptions) {
    this.options = options;
    this.baseUrl = options.url;
    this.limiter = options.limiter ?? new RequestLimiter({ concurrency: 64 });
    this.transport = options.transport ?? createTransport(options);
  }

  /** The instance's clock now, never ahead of it (the local clock before any response). */
  serverNow(): number {
    return this.clock.now(monotonicNow()) ?? Date.now();
  }

  tableUrl(table: string, params: Params): string {
    const u = new URL(`${this.baseUrl}/api/now/table/${encodeURIComponent(table)}`);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  /**
   * One attempt, no retries: yields the rows of a successful response in batches as they
   * arrive, then returns the rest of the response (count, clock, next link) with no rows. Holds
   * its limiter slot until the body is read. After a 401 the credentials are refreshed once.
   */
  private async *attempt(table: string, params: Params, signal: AbortSignal | undefined, keep: ReadonlySet<string> | undefined, batch: BatchSize): AsyncGenerator<RowBatch, TableResponse> {
    const url = this.tableUrl(table, params);
    const shown = readableUrl(url); // for messages: the query decoded
    const started = Date.now();
    const sentAt = monotonicNow(); // no later than the request left: the clock's upper bound holds
    const report = this.options.events?.request;
    const { proxy, clientCert } = this.transport;
    const failed = (err: unknown, status?: number): unknown => {
      if (signal?.aborted) return signal.reason ?? err;
      const e = err instanceof RequestError ? networkError(err, { method: 'GET', url: shown, proxy, clientCert }) : err;
      report?.({ method: 'GET', url, status, ms: Date.now() - started, error: (e as Error).message });
      return e;
    };
    for (let refreshed = false; ; refreshed = true) {
      // The token is taken once the slot is ours: a request queued behind a 429 pause must not
      // carry a token that expired while it waited.
      const release = await this.limiter.acquire(signal);
      let status: number | undefined;
      try {
        const authorization = await this.options.auth.header(signal);
        const exchange = new Exchange(this.transport.http, url, authorization ? { authorization } : {}, signal);
        let head: ExchangeHead;
        let end: ExchangeEnd;
        let count = 0;
        try {
          head = await exchange.head;
          status = head.status;
          const rowsFollow = status >= 200 && status < 300 && (head.headers['content-type'] ?? '').includes('json');
          if (!rowsFollow) {
            end = await exchange.text();
            if (status === 401 && !refreshed && this.options.auth.refresh) {
              release();
              if (await this.options.auth.refresh(signal, authorization)) continue;
            }
          } else {
            const rows = exchange.rows(keep, batch);
            try {
              for (let r = await rows.next(); ; r = await rows.next()) {
                if (r.done) {
                  end = r.value;
                  break;
                }
                count += r.value.rows.length;
                yield r.value;
              }
            } finally {
              // Closed early (the caller stopped reading): close the body too, or its socket stays open.
              await rows.return(undefined as never).catch(() => undefined);
            }
          }
        } catch (err) {
          throw failed(err, status);
        }
        let out: TableResponse;
        try {
          out = interpretTableResponse({ status, headers: head.headers, body: end.body, complete: end.complete, bytes: end.bytes, method: 'GET', url: shown }, { table, user: this.options.user, oauth: this.options.auth.refresh !== undefined });
        } catch (err) {
          throw failed(err, status);
        }
        if (out.serverDate !== undefined) this.clock.observe({ date: out.serverDate, sentAt, receivedAt: head.receivedAt });
        report?.({ method: 'GET', url, status, rows: count, ms: Date.now() - started });
        return out;
      } finally {
        release(); // idempotent
      }
    }
  }

  private retryHooks(signal?: AbortSignal): RetryHooks {
    return {
      signal,
      onRetry: (err, attempt, delay) => {
        // Rate limits are per user: when one request is told to wait, every request waits.
        if (err instanceof HttpError && err.status === 429) this.limiter.pause(Date.now() + delay);
        this.options.events?.retry?.(err, attempt, delay);
      },
    };
  }

  /** A retry budget with this client's policy and hooks, for a loop of requests that is one operation. */
  retrier(signal?: AbortSignal): Retrier {
    return new Retrier(this.options.retry, this.retryHooks(signal));
  }

  /**
   * One logical request, its rows collected, retried on 429/5xx/network/bad bodies per the
   * retry policy. `keep`: the only fields the caller reads from each row (see parseRow).
   */
  getTable(table: string, params: Params, signal?: AbortSignal, keep?: ReadonlySet<string>): Promise<TableResponse> {
    return withRetry(
      async () => {
        const rows: Row[] = [];
        const attempt = this.attempt(table, params, signal, keep, WHOLE);
        for (let r = await attempt.next(); ; r = await attempt.next()) {
          if (r.done) return { ...r.value, rows };
          for (const row of r.value.rows) rows.push(row);
        }
      },
      this.options.retry,
      this.retryHooks(signal),
    );
  }

  /**
   * One page, its rows handed on in batches while the body streams in. Retried per the policy
   * until the first rows are out; a failure after that is thrown to the caller, which goes on
   * from the last row it took (see TableReader.sweep) rather than reading those rows again.
   */
  async *streamTable(table: string, params: Params, signal: AbortSignal | undefined, keep: ReadonlySet<string> | undefined, batch: BatchSize): AsyncGenerator<RowBatch, TableResponse> {
    const retrier = this.retrier(signal);
    for (;;) {
      let yielded = false;
      const attempt = this.attempt(table, params, signal, keep, batch);
      try {
        try {
          for (let r = await attempt.next(); ; r = await attempt.next()) {
            if (r.done) return r.value;
            yielded ||= r.value.rows.length > 0;
            yield r.value;
          }
        } finally {
          // Closed early (the caller stopped reading): close the attempt too, or it keeps its
          // limiter slot for good, and a run whose slots are all held waits on nothing and ends.
          await attempt.return(undefined as never).catch(() => undefined);
        }
      } catch (err) {
        if (yielded) throw err;
        await retrier.after(err);
      }
    }
  }
}
