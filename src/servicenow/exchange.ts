import type { IncomingHttpHeaders } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import type { Got } from 'got';
import { ResponseError } from '../errors/index.js';
import { parseRow, type RawResponse, type Row } from './response.js';
import { ResultScanner, ScanError } from './result-scanner.js';

/** Bodies that are not rows (error pages, the hibernation page) are kept only up to this size. */
const MAX_OTHER_BODY = 1 << 20;

/**
 * One GET, its body read as it streams in. A JSON success has its rows split out and parsed as
 * they arrive (ResultScanner), so a page is never buffered whole; anything else (errors, HTML)
 * is kept as text for `interpretTableResponse` to judge. Rejects with got's RequestError for
 * network failures, or a ResponseError when a row's text is not valid JSON.
 */
export function streamGet(
  http: Got,
  url: string,
  headers: Record<string, string>,
  signal?: AbortSignal,
  /** Fields to keep in each row object (see parseRow); all when undefined. */
  keep?: ReadonlySet<string>,
): Promise<Omit<RawResponse, 'method' | 'url'>> {
  return new Promise((resolve, reject) => {
    // The signal is not given to got: got drops its abort listener only when a stream is
    // destroyed, which a fully read GET never is, so every request (and the page its handlers
    // hold) would stay reachable from the run's signal until the run ends.
    const request = http.stream(url, { headers });
    const abort = () => request.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    if (signal?.aborted) abort();
    signal?.addEventListener('abort', abort, { once: true });
    const settle = () => signal?.removeEventListener('abort', abort);
    // StringDecoder: about five times faster than TextDecoder here; both keep split characters.
    const decoder = new StringDecoder('utf8');
    let status = 0;
    let responseHeaders: IncomingHttpHeaders = {};
    let scanner: ResultScanner | undefined;
    const rows: Row[] = [];
    let text = '';
    let bytes = 0;
    let failed = false;

    const take = (piece: string) => {
      if (scanner) for (const row of scanner.push(piece)) rows.push(parseRow(row, keep));
      else if (text.length < MAX_OTHER_BODY) text += piece;
    };
    request.on('response', (res: { statusCode: number; headers: IncomingHttpHeaders }) => {
      status = res.statusCode;
      responseHeaders = res.headers;
      if (status >= 200 && status < 300 && (res.headers['content-type'] ?? '').includes('json')) scanner = new ResultScanner();
    });
    request.on('data', (chunk: Buffer) => {
      if (failed) return;
      bytes += chunk.length;
      try {
        take(decoder.write(chunk));
      } catch (err) {
        failed = true;
        request.destroy();
        const why = err instanceof ScanError || err instanceof SyntaxError ? err.message : String(err);
        reject(new ResponseError(`the response body is not valid JSON (${why})`, { problem: 'truncated', method: 'GET', url }, { cause: err }));
      }
    });
    request.once('error', (err) => {
      settle();
      if (!failed) reject(err);
      failed = true;
    });
    request.on('end', () => {
      settle();
      if (failed) return;
      try {
        take(decoder.end());
      } catch (err) {
        reject(new ResponseError(`the response body is not valid JSON (${(err as Error).message})`, { problem: 'truncated', method: 'GET', url }, { cause: err }));
        return;
      }
      resolve(
        scanner
          ? { status, headers: responseHeaders, body: scanner.shellText, rows, complete: scanner.complete, bytes }
          : { status, headers: responseHeaders, body: text, bytes },
      );
    });
  });
}
