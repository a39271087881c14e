/** What the Kafka client may tell people (the run's reporter fits it; so does a sink's SinkNotices). */
export interface KafkaNotices {
  readonly verboseEnabled: boolean;
  info(message: string): void;
  warn(message: string): void;
  verbose(message: string): void;
}

/** kafkajs's log levels (its `logLevel` enum), so this file needs no kafkajs import. */
export const KAFKAJS_LEVEL = { NOTHING: 0, ERROR: 1, WARN: 2, INFO: 4, DEBUG: 5 } as const;

interface LogEntry {
  namespace: string;
  level: number;
  label: string;
  log: { message: string; broker?: string; error?: string; retryCount?: number; [k: string]: unknown };
}

/**
 * Where kafkajs's log lines go: never its JSON on stdout. With --verbose every line (info and
 * up) goes to the reporter, dimmed; otherwise kafkajs is silent while the sink opens (its errors
 * become one nowpipe error) and, mid-run, the first sign of broker trouble is one warning, and
 * the recovery one line, however many retries kafkajs logs in between. A KafkaLogs never
 * unmuted (the state store's consumers) speaks only with --verbose.
 */
export class KafkaLogs {
  private muted = true;
  private troubled = false;

  constructor(
    private readonly reporter: KafkaNotices,
    private readonly retries: number,
  ) {}

  get level(): number {
    return this.reporter.verboseEnabled ? KAFKAJS_LEVEL.INFO : KAFKAJS_LEVEL.WARN;
  }

  /** The `logCreator` kafkajs calls. */
  readonly creator = () => (entry: LogEntry) => this.log(entry);

  /** From now on broker trouble is worth a warning (the sink is open). */
  unmute(): void {
    this.muted = false;
  }

  mute(): void {
    this.muted = true;
  }

  /** A write was acknowledged: if there was trouble, say it is over. */
  delivered(): void {
    if (!this.troubled) return;
    this.troubled = false;
    this.reporter.info('kafka: the brokers acknowledge writes again');
  }

  private log(entry: LogEntry): void {
    const message = entry.log.message;
    // nowpipe bounds the idempotent producer's retries on purpose: a write that still fails ends
    // the run before the checkpoint moves, and the next run resends (at least once, in order).
    if (message.startsWith('Limiting retries for the idempotent producer')) return;
    // A transaction's first send while the brokers still write the last commit's markers: an
    // expected wait of milliseconds (--exactly-once), retried at once, not trouble.
    const benign = /concurrent operation on the same transaction|ongoing transaction on this transactionId/.test(`${message} ${entry.log.error ?? ''}`);
    if (this.reporter.verboseEnabled) {
      const extra = [entry.log.broker ? `broker ${entry.log.broker}` : '', entry.log.error && entry.log.error !== message ? String(entry.log.error) : '', entry.log.retryCount !== undefined ? `retry ${entry.log.retryCount}` : '']
        .filter(Boolean)
        .join(', ');
      this.reporter.verbose(`kafka ${entry.label.toLowerCase()}: [${entry.namespace}] ${message}${extra ? ` (${extra})` : ''}`);
      return;
    }
    if (benign || this.muted || entry.level > KAFKAJS_LEVEL.WARN || this.troubled) return;
    this.troubled = true;
    // "Response Produce(key: 0, version: 7)" says less than the error kafkajs attaches to it.
    const said = typeof entry.log.error === 'string' && entry.log.error ? entry.log.error : message;
    this.reporter.warn(`kafka: ${said.replace(/\s+/g, ' ')}; retrying (up to ${this.retries} times; --verbose shows each attempt)`);
  }
}
