import http from 'node:http';
import https from 'node:https';
import got, { RequestError, type Got } from 'got';
import type { NowpipeError } from '../../errors/index.js';
import { Retrier, withRetry, type RetryPolicy } from '../../servicenow/retry.js';
import type { BadRowPolicy } from '../bad-rows.js';
import type { Format } from '../format.js';
import type { ChangeRecord, Sink, SinkNotices, WriteResult } from '../types.js';
import { batchId, planPosts, signature, type Post } from './batches.js';
import { responseError, transportError } from './errors.js';
import { connectOnly } from './reach.js';

export interface HttpSinkOptions {
  /** `--http-url`, as given (it may hold credentials or a token: never shown). */
  url: string;
  /** `url` as people may see it (no user:password, no query). */
  shownUrl: string;
  format: Format;
  /** `--http-secret`: each body is signed with it (x-nowpipe-signature). */
  secret?: string;
  /** `--http-header`s, sent with every POST. */
  headers: ReadonlyArray<{ name: string; value: string }>;
  /** `--http-max-bytes`: no body is larger; a row larger on its own is a bad row. */
  maxBytes: number;
  /** `--http-retries` and the backoff shared with the instance's requests. */
  retry: RetryPolicy;
  timeoutMs: number;
  connectTimeoutMs: number;
  userAgent: string;
  badRows: BadRowPolicy;
  notices: SinkNotices;
}

/**
 * POSTs the rows to a webhook: each write is cut into NDJSON bodies of at most --http-max-bytes
 * (batches.ts), sent one after the other, each resolved only by a 2xx, so the checkpoint moves
 * only past rows the receiver took. Each body carries `x-nowpipe-batch-id` (a hash of its bytes:
 * the same on every retry and on a rerun that resends it) and, with a secret, its HMAC.
 *
 * got rather than fetch: its errors carry the socket's code (ECONNRESET, a certificate's) for
 * messages that say what to fix, and it takes its own agents and separate connect and request
 * timeouts. The agents are the sink's own (keep-alive to the receiver, never the instance's
 * proxy or client certificate); got never retries nor follows a redirect here: retries are
 * nowpipe's policy (servicenow/retry.ts), and a redirect would hand the body and the headers,
 * secrets included, to another address.
 */
export class HttpSink implements Sink {
  readonly name = 'http';
  private readonly agents = { http: new http.Agent({ keepAlive: true, maxSockets: 2 }), https: new https.Agent({ keepAlive: true, maxSockets: 2 }) };
  private readonly client: Got;
  private delivered = 0;
  /** A retry streak in progress: said once when it starts and once when POSTs go through again. */
  private troubled = false;

  constructor(private readonly options: HttpSinkOptions) {
    this.client = got.extend({
      agent: this.agents,
      retry: { limit: 0 },
      followRedirect: false,
      throwHttpErrors: false,
      timeout: { connect: options.connectTimeoutMs, request: options.timeoutMs },
    });
  }

  /** `12 batches to https://hooks.acme.com/sn`. */
  describe(): string {
    return `${this.delivered} batch${this.delivered === 1 ? '' : 'es'} to ${this.options.shownUrl}`;
  }

  /**
   * The health check, before anything is read: the receiver accepts a connection (and, for
   * https, presents a certificate Node trusts). Connect only, nothing POSTed: a receiver may not
   * take an empty batch. Retried like a POST, so a receiver restarting at that moment is waited for.
   */
  async open(): Promise<void> {
    const url = new URL(this.options.url);
    await withRetry(
      () => connectOnly(url, this.options.connectTimeoutMs).catch((err: unknown) => Promise.reject(transportError(err, this.options.shownUrl, 'connect to'))),
      this.options.retry,
      { onRetry: (err, attempt, delay) => this.retrying(err, attempt, delay) },
    );
    this.recovered();
    this.options.notices.verbose(`webhook: ${this.options.shownUrl} accepts connections (checked without sending anything)`);
  }

  async write(records: ChangeRecord[]): Promise<WriteResult> {
    const { posts, oversized } = planPosts(records, this.options.format, this.options.maxBytes);
    // Bad rows first: with fail the run stops before any of the batch is sent; with skip they are
    // on disk before the write resolves (and with it the checkpoint).
    for (const { record, bytes } of oversized) {
      await this.options.badRows.reject(record, `its NDJSON line is ${bytes} bytes, over --http-max-bytes (${this.options.maxBytes})`, 'raise --http-max-bytes if the receiver takes larger bodies, or leave large fields out with --fields');
    }
    for (const post of posts) await this.send(post);
    return { skipped: oversized.length };
  }

  /** One body, POSTed until a 2xx, within the retry budget (a fresh one for each body). */
  private async send(post: Post): Promise<void> {
    const { secret, userAgent, shownUrl, maxBytes } = this.options;
    const headers: Record<string, string> = { 'user-agent': userAgent };
    for (const h of this.options.headers) headers[h.name.toLowerCase()] = h.value;
    headers['content-type'] = 'application/x-ndjson';
    headers['x-nowpipe-batch-id'] = batchId(post.body);
    if (secret !== undefined) headers['x-nowpipe-signature'] = signature(post.body, secret);
    const context = { url: shownUrl, rows: post.rows, bytes: post.body.length, maxBytes };
    const retrier = new Retrier(this.options.retry, { onRetry: (err, attempt, delay) => this.retrying(err, attempt, delay) });
    for (;;) {
      try {
        const res = await this.client.post(this.options.url, { body: post.body, headers }).catch((err: unknown) => {
          throw err instanceof RequestError ? transportError(err, shownUrl) : err;
        });
        if (res.statusCode >= 200 && res.statusCode < 300) break;
        throw responseError(res.statusCode, res.headers, res.body, context);
      } catch (err) {
        await retrier.after(err);
      }
    }
    this.delivered += 1;
    this.recovered();
    this.options.notices.verbose(`webhook: batch ${headers['x-nowpipe-batch-id']} of ${post.rows} rows (${post.body.length} bytes) delivered`);
  }

  private retrying(err: NowpipeError, attempt: number, delayMs: number): void {
    const { notices, retry } = this.options;
    const next = `retry ${attempt} of ${retry.retries} in ${(delayMs / 1000).toFixed(1)} s`;
    if (!this.troubled) notices.warn(`${err.message}; ${next}`);
    else notices.verbose(`${err.message}; ${next}`);
    this.troubled = true;
  }

  private recovered(): void {
    if (this.troubled) this.options.notices.info('the webhook receiver takes batches again');
    this.troubled = false;
  }

  async close(): Promise<void> {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}
