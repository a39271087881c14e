import { Chalk, type ChalkInstance } from 'chalk';
import type { Ora } from 'ora';
import { redact } from '../errors/redact.js';

export interface ReporterOptions {
  stream?: NodeJS.WriteStream;
  quiet?: boolean;
  verbose?: boolean;
  env?: NodeJS.ProcessEnv;
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
 * never with NO_COLOR.
 */
export class Reporter {
  readonly color: ChalkInstance;
  readonly isTTY: boolean;
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

  constructor(options: ReporterOptions = {}) {
    const env = options.env ?? process.env;
    this.stream = options.stream ?? process.stderr;
    // A terminal that reports no width (some CI pseudo-terminals, `docker -t`) would send ora's
    // line clearing into a loop: treat it like a pipe.
    this.isTTY = Boolean(this.stream.isTTY) && env.TERM !== 'dumb' && (this.stream.columns ?? 0) > 0;
    const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
    this.color = new Chalk({ level: this.isTTY && !noColor ? 1 : 0 });
    this.quiet = Boolean(options.quiet);
    this.verboseEnabled = Boolean(options.verbose);
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

  info(message: string): void {
    if (!this.quiet) this.print(message);
  }

  verbose(message: string): void {
    if (this.verboseEnabled) this.print(this.color.dim(message));
  }

  warn(message: string): void {
    this.print(`${this.color.yellow('warning:')} ${message}`);
  }

  /** A warning said at most once per key (per run). */
  warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.warn(message);
  }

  error(message: string, hint?: string): void {
    this.stopProgress();
    this.print(`${this.color.red('error:')} ${message}`);
    if (hint) this.print(`${this.color.dim('hint:')} ${hint}`);
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
      this.print(line);
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
    if (!this.quiet) this.print(line);
  }

  elapsedSeconds(): number {
    return (Date.now() - this.started) / 1000;
  }
}
