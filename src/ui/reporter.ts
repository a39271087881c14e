import { Chalk, type ChalkInstance } from 'chalk';
import type { Ora } from 'ora';
import { redact } from '../errors/redact.js';

export type LogFormat = 'human' | 'json';

export interface ReporterOptions {
  stream?: NodeJS.WriteStream;
  quiet?: boolean;
  verbose?: boolean;
  env?: NodeJS.ProcessEnv;
  /** `json`: one JSON object per line (--log-format json). Default: the process's (setDefaultLogFormat). */
  format?: LogFormat;
}

/**
 * What a line may say besides its message, as fields of a JSON line (--log-format json):
 * `table` where one applies, `hint` for errors and warnings, anything else a log shipper can use.
 * In human text only `hint` shows, as a line of its own.
 */
export type LogFields = { table?: string; hint?: string } & Record<string, string | number | boolean | string[] | undefined>;

let processFormat: LogFormat = 'human';

/**
 * The format of reporters that are not told one. main.ts sets it from the command line (and the
 * environment) before anything is said, so that even an error about the flags themselves, said
 * before the configuration is read, comes out in the format asked for.
 */
export function setDefaultLogFormat(format: LogFormat): void {
  processFormat = format;
}

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  if (seconds < 2 * 86_400) return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.round(seconds / 86_400)}d`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** `1 page`, `2 pages`, `1,000 rows`. */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

/**
 * Everything people read: stderr only. An animated progress line on a terminal; on a pipe or
 * file nothing animated, just a plain status line now and then. Colour only on a terminal and
 * never with NO_COLOR. With --log-format json, every line is one JSON object (level, msg, time,
 * and the fields that apply) for log shippers: no colour, no animation.
 */
export class Reporter {
  readonly color: ChalkInstance;
  readonly isTTY: boolean;
  readonly format: LogFormat;
  private readonly stream: NodeJS.WriteStream;
  private readonly quiet: boolean;
  readonly verboseEnabled: boolean;
  private spinner?: Ora;
  /** Set while the terminal's progress line is wanted (ora is loaded on demand). */
  private progressWanted = false;
  private lastStatus?: string;
  private started = Date.now();
  private lastPlain = 0;
  private readonly warned = new Set<string>();
  /** The run's counters, added to the JSON progress and summary lines (set by whoever has them). */
  counters?: () => Record<string, number>;

  constructor(options: ReporterOptions = {}) {
    const env = options.env ?? process.env;
    this.stream = options.stream ?? process.stderr;
    this.format = options.format ?? processFormat;
    // A terminal that reports no width (some CI pseudo-terminals, `docker -t`) would send ora's
    // line clearing into a loop: treat it like a pipe. JSON lines are never animated.
    this.isTTY = this.format === 'human' && Boolean(this.stream.isTTY) && env.TERM !== 'dumb' && (this.stream.columns ?? 0) > 0;
    const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
    this.color = new Chalk({ level: this.isTTY && !noColor ? 1 : 0 });
    this.quiet = Boolean(options.quiet);
    this.verboseEnabled = Boolean(options.verbose);
  }

  get json(): boolean {
    return this.format === 'json';
  }

  private print(line: string): void {
    line = redact(line); // every message leaves here: no secret with it (errors/redact.ts)
    if (this.spinner?.isSpinning) {
      this.spinner.clear();
      this.stream.write(`${line}\n`);
      this.spinner.render();
    } else {
      this.stream.write(`${line}\n`);
    }
  }

  /** One JSON line; every string in it redacted on its own, so a mask never breaks the JSON. */
  private printJson(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields: LogFields = {}): void {
    const line: Record<string, unknown> = { time: new Date().toISOString(), level, msg: redact(msg) };
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      line[k] = typeof v === 'string' ? redact(v) : Array.isArray(v) ? v.map(redact) : v;
    }
    this.stream.write(`${JSON.stringify(line)}\n`);
  }

  info(message: string, fields?: LogFields): void {
    if (this.quiet) return;
    if (this.json) this.printJson('info', message, fields);
    else this.withHint(message, fields);
  }

  verbose(message: string, fields?: LogFields): void {
    if (!this.verboseEnabled) return;
    if (this.json) this.printJson('debug', message, fields);
    else this.print(this.color.dim(message));
  }

  warn(message: string, fields?: LogFields): void {
    if (this.json) this.printJson('warn', message, fields);
    else this.withHint(`${this.color.yellow('warning:')} ${message}`, fields);
  }

  /** A warning said at most once per key (per run). */
  warnOnce(key: string, message: string, fields?: LogFields): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.warn(message, fields);
  }

  error(message: string, hint?: string, fields?: LogFields): void {
    this.stopProgress();
    if (this.json) return this.printJson('error', message, { ...fields, hint });
    this.print(`${this.color.red('error:')} ${message}`);
    if (hint) this.print(`${this.color.dim('hint:')} ${hint}`);
  }

  /** A human line, and its hint indented under it. */
  private withHint(line: string, fields?: LogFields): void {
    this.print(line);
    if (fields?.hint) this.print(`  ${fields.hint}`);
  }

  startProgress(): void {
    this.started = Date.now();
    if (this.quiet || !this.isTTY) return;
    // ora (and what it pulls in) costs about 14 MB: load it only for a terminal.
    this.progressWanted = true;
    void import('ora').then(({ default: ora }) => {
      if (!this.progressWanted || this.spinner) return;
      const text = this.lastStatus ?? 'starting…';
      this.spinner = ora({ stream: this.stream, text, discardStdin: false, hideCursor: false }).start();
    });
  }

  /** The status line: animated in place on a terminal; elsewhere printed now and then. */
  status(line: string): void {
    if (this.quiet) return;
    this.lastStatus = line;
    if (this.spinner) {
      this.spinner.text = line;
      return;
    }
    if (this.progressWanted) return; // the spinner is on its way and will show this
    // Not a terminal: a plain line every 30 s so cron and CI logs show life, no animation.
    const now = Date.now();
    if (now - this.lastPlain >= 30_000 && now - this.started >= 30_000) {
      this.lastPlain = now;
      if (this.json) this.printJson('info', line, { event: 'progress', ...this.counters?.() });
      else this.print(line);
    }
  }

  stopProgress(): void {
    this.progressWanted = false;
    if (this.spinner) {
      this.spinner.stop();
      this.spinner = undefined;
    }
  }

  summary(line: string): void {
    this.stopProgress();
    if (this.quiet) return;
    if (this.json) this.printJson('info', line, { event: 'summary', seconds: Math.round(this.elapsedSeconds() * 10) / 10, ...this.counters?.() });
    else this.print(line);
  }

  elapsedSeconds(): number {
    return (Date.now() - this.started) / 1000;
  }
}
