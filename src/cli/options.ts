import { Option, type Command } from 'commander';

/**
 * `--help` lists options under the README's headings. An option joins the group named by the
 * last `.optionsGroup()` before it, and groups show in the order they first appear: a new flag
 * added in the middle of a run of options lands in that run's group.
 */
export const GROUP = {
  instance: 'The instance:',
  read: 'What to read:',
  where: 'Where it goes:',
  run: 'How it runs:',
  files: 'Writing files (--sink file):',
  kafka: 'Writing to Kafka (--sink kafka):',
  http: 'Sending to a webhook (--sink http):',
  state: 'Running many workers (--state kafka):',
  demo: 'The demo:',
  other: 'Other:',
} as const;

/** Flags that choose an instance or log in to one: demo has its own instance and refuses them. */
export const DEMO_REFUSED = ['--url', '--config', '--user', '--password', '--password-file', '--client-id', '--client-secret', '--refresh-token', '--oauth-token-url', '--oauth-scope'];

const URL_FLAG = 'instance URL, e.g. https://acme.service-now.com (env SERVICENOW_URL)';

/** Flags shared by every command that talks to an instance. */
export function connectionOptions(cmd: Command): Command {
  cmd
    .optionsGroup(GROUP.instance)
    .option('--url <url>', URL_FLAG)
    .option('--table <name>', 'table to export, e.g. incident (repeat or comma-separate for several)', (v: string, prev?: string[]) => [...(prev ?? []), v])
    .option('--user <name>', 'user name for basic auth (env SERVICENOW_USER)')
    .option('--password <secret>', 'password (env SERVICENOW_PASSWORD; prefer --password-file)')
    .option('--password-file <path>', 'read the password from this file')
    .option('--client-id <id>', 'OAuth client id (env SERVICENOW_CLIENT_ID)')
    .option('--client-secret <secret>', 'OAuth client secret (env SERVICENOW_CLIENT_SECRET)')
    .option('--refresh-token <token>', 'OAuth refresh token (env SERVICENOW_REFRESH_TOKEN)');
  return oauthEndpointOptions(transportOptions(cmd));
}

/** How requests reach the instance: timeouts, proxy, retries, TLS, User-Agent (rc keys: camelCase). */
function transportOptions(cmd: Command): Command {
  return cmd
    .option('--timeout <seconds>', 'per-request timeout (default 120)')
    .option('--proxy <url>', 'HTTPS proxy (env HTTPS_PROXY)')
    .option('--retries <n>', 'retries per request on 429/5xx/network errors (default 8)')
    .option('--ca <pem file>', 'CA certificate to trust besides the usual ones (an internal CA; NODE_EXTRA_CA_CERTS works too)')
    .option('--cert <pem file>', 'client certificate for mutual TLS (with --key)')
    .option('--key <pem file>', 'private key of --cert (unencrypted PEM)')
    .option('--user-agent <text>', 'User-Agent header (default nowpipe/<version>)');
}

/** Custom OAuth setups. */
function oauthEndpointOptions(cmd: Command): Command {
  return cmd
    .option('--oauth-token-url <url>', 'OAuth token endpoint (default <url>/oauth_token.do)')
    .option('--oauth-scope <scope>', 'OAuth scope to ask for (sent as scope in the grant)');
}

// ---- nowpipe login / logout (terminal OAuth, issue 13 item 2) --------------------------------

/** `nowpipe login`: the OAuth client, where the browser goes and comes back, and the transport. */
export function loginOptions(cmd: Command): Command {
  cmd
    .optionsGroup(GROUP.instance)
    .option('--url <url>', URL_FLAG)
    .option('--client-id <id>', 'OAuth client id of the application (env SERVICENOW_CLIENT_ID)')
    .option('--client-secret <secret>', 'its client secret, for a confidential client (env SERVICENOW_CLIENT_SECRET)');
  oauthEndpointOptions(cmd)
    .option('--oauth-authorize-url <url>', 'OAuth authorize page (default <url>/oauth_auth.do)')
    .option('--redirect-port <n>', "listen on this port of 127.0.0.1 (default: a free one); the application's Redirect URL must be http://127.0.0.1:<n>/callback")
    .option('--no-browser', 'only print the URL to open, never open a browser')
    .option('--login-timeout <seconds>', 'how long to wait for the browser (default 300)');
  return transportOptions(cmd);
}

/** `nowpipe logout`: which stored login to remove. */
export function logoutOptions(cmd: Command): Command {
  return cmd
    .optionsGroup(GROUP.instance)
    .option('--url <url>', URL_FLAG)
    .option('--client-id <id>', "remove only this client's login (default: every login stored for the instance)");
}

/** Flags of the export itself (the default command and demo). */
export function exportOptions(cmd: Command): Command {
  return cmd
    .optionsGroup(GROUP.read)
    .option('--since <date>', 'start: yyyy-MM-dd, "yyyy-MM-dd HH:mm:ss" or ISO 8601, UTC (default: everything)')
    .option('--until <date>', 'stop before this time (UTC, exclusive)')
    .option('--batch-size <rows>', 'rows per request (default 10000)')
    .option('--fields <a,b,c>', 'only these columns (cursor fields are always added)')
    .option('--query <encoded>', 'extra encoded-query filter ANDed in, e.g. active=true^priority=1')
    .addOption(new Option('--display-value <mode>', 'false (raw, default), true or all').choices(['false', 'true', 'all']))
    .option('--cursor-field <field>', 'date-time field to page and follow by, e.g. sys_created_on for append-only tables (default sys_updated_on)')
    .optionsGroup(GROUP.where)
    .addOption(new Option('--sink <name>', 'where rows go (default stdout)').choices(['stdout', 'file', 'kafka', 'http']))
    .addOption(new Option('--format <name>', 'raw rows (default), change envelopes, or connect-json (Kafka Connect JsonConverter envelopes, with --sink kafka; implies --types)').choices(['raw', 'envelope', 'connect-json']))
    .option('--types', "typed values from the table's dictionary: numbers, booleans, ISO 8601 UTC dates, references as sys_ids, empty as null (see nowpipe schema)")
    .option('--checkpoint <file>', 'checkpoint file (default ./.nowpipe/checkpoint.json)')
    .option('--reset', 'ignore and replace the checkpoint: start from --since')
    .option('--lock-stale-after <seconds>', 'take over a lock (checkpoint, output folder) its run has not refreshed for this long, whatever its host (default 30)')
    // Bad rows (issue 13, item 7): rows a sink cannot write (too big for a Kafka message or a POST).
    .addOption(new Option('--on-bad-row <policy>', 'a row the sink cannot write: fail (default: stop, naming it) or skip (set it aside in --dead-letter)').choices(['fail', 'skip']))
    .option('--dead-letter <file>', 'with --on-bad-row skip: append each row set aside here, one JSON line with the reason (required with skip)')
    .optionsGroup(GROUP.run)
    .option('--follow', 'after the backfill, keep polling for changes until stopped')
    .option('--once', 'one catch-up and exit (the default without --follow)')
    .option('--poll-interval <seconds>', 'seconds between polls in --follow (min 1, default 20)')
    .option('--lag <seconds>', 'safety lag behind the instance clock (default 1)')
    .option('--overlap <seconds>', 're-read window behind the cursor on each poll (default 5)')
    .optionsGroup(GROUP.read)
    .option('--deletes', 'also emit deletes, from sys_audit_delete')
    .optionsGroup(GROUP.files)
    .option('--output <dir>', 'with --sink file: folder for the files (<dir>/<table>/, created if missing)')
    .option('--file-max-rows <n>', 'with --sink file: close a file after this many rows (default 1000000)')
    .option('--file-max-bytes <n>', 'with --sink file: close a file before it passes this many bytes on disk (default 134217728)')
    .option('--file-max-age <seconds>', 'with --sink file: close a file this long after its first row, even if quiet (default 300)')
    .addOption(new Option('--compress <codec>', 'with --sink file: gzip or none (default none)').choices(['none', 'gzip']))
    .optionsGroup(GROUP.kafka)
    .option('--brokers <host:port,...>', 'with --sink kafka: bootstrap servers (rc kafka.bootstrap.servers)')
    .option('--topic <name>', 'with --sink kafka: topic; {table} becomes the table name (default servicenow.{table})')
    .option('--kafka-client-id <id>', 'with --sink kafka: client id the brokers see (default nowpipe)')
    .addOption(new Option('--kafka-sasl <mechanism>', 'with --sink kafka: SASL mechanism').choices(['plain', 'scram-sha-256', 'scram-sha-512']))
    .option('--kafka-username <name>', 'with --sink kafka: SASL user name, the API key on Confluent Cloud (env KAFKA_USERNAME)')
    .option('--kafka-password <secret>', 'with --sink kafka: SASL password, the API secret on Confluent Cloud (env KAFKA_PASSWORD; prefer the env)')
    .option('--kafka-tls', 'with --sink kafka: connect with TLS (on by itself with --kafka-ca or security.protocol SSL/SASL_SSL)')
    .option('--kafka-ca <file>', 'with --sink kafka: PEM file of the CA that signed the brokers\' certificates (default: the system CAs)')
    .option('--kafka-acks <acks>', 'with --sink kafka: all (default, idempotent producer) or 1 (leader only, not idempotent)')
    .option('--kafka-retries <n>', 'with --sink kafka: retries of a write while the brokers are in trouble (default 10, about 2 minutes)')
    .addOption(new Option('--compression <codec>', 'with --sink kafka: none (default) or gzip').choices(['none', 'gzip']))
    .option('--create-topic', 'with --sink kafka: create missing topics (compacted) before reading')
    .option('--topic-partitions <n>', 'with --create-topic: partitions (default: the broker\'s num.partitions)')
    .option('--topic-replication <n>', 'with --create-topic: replication factor (default: the broker\'s default.replication.factor)')
    .option('--skip-oversized', 'with --sink kafka: an alias of --on-bad-row skip (rows over the topic\'s max.message.bytes go to --dead-letter)')
    // Webhook sink (issue 13, item 1).
    .optionsGroup(GROUP.http)
    .option('--http-url <url>', 'with --sink http: the receiver; rows are POSTed there as NDJSON batches (required)')
    .option('--http-secret <secret>', 'with --sink http: sign each body: x-nowpipe-signature: sha256=<HMAC> (env NOWPIPE_HTTP_SECRET; prefer the env)')
    .option('--http-header <Name: value>', 'with --sink http: a header to send, e.g. an API key (repeat for several; never printed)', (v: string, prev?: string[]) => [...(prev ?? []), v])
    .option('--http-max-bytes <n>', 'with --sink http: split a batch into POSTs of at most this many bytes (default 4194304)')
    .option('--http-retries <n>', 'with --sink http: retries of a POST on 429/5xx/network errors, honouring Retry-After (default 8)')
    // State in Kafka, exactly once, many workers (part 9).
    .optionsGroup(GROUP.state)
    .addOption(new Option('--state <where>', 'where the checkpoint lives: file (--checkpoint, the default) or kafka (a compacted topic)').choices(['file', 'kafka']))
    .option('--state-topic <name>', 'with --state kafka: the topic (default nowpipe.state, created compacted if missing)')
    .option('--state-brokers <host:port,...>', 'with --state kafka: its brokers, when not --brokers (same --kafka-* credentials)')
    .option('--exactly-once', 'with --sink kafka --state kafka: each batch and its checkpoint in one Kafka transaction')
    .option('--group <name>', 'with --state kafka --follow: share the --table list among every process started with this group')
    .optionsGroup(GROUP.run)
    .option('--concurrency <n>', 'requests in flight for the whole run, and slices of a large backfill (default: up to 4, slicing only a slow instance)')
    .option('--max-requests-per-hour <n>', 'pace requests below the instance rate-limit rule')
    .option('--max-requests-per-second <n>', 'pace requests per second')
    .option('--continue-on-error', 'with several tables, let the others go on when one fails (exit 1 at the end)')
    // Metrics and health (src/metrics/, wired in cli/observers.ts).
    .option('--metrics-port <port>', 'serve Prometheus metrics on /metrics and a health check on /healthz at this port')
    .option('--metrics-host <address>', 'address the metrics server listens on (default 127.0.0.1; 0.0.0.0 for every interface, e.g. in Kubernetes)');
}

/** Flags every command has: where settings come from and how much it says. */
export function runOptions(cmd: Command): Command {
  return cmd
    .optionsGroup(GROUP.run)
    .option('--config <file>', 'rc file or Kafka Connect connector JSON to read settings from')
    .option('-q, --quiet', 'only errors and warnings on stderr')
    .option('-v, --verbose', 'log every request (never credentials)')
    .addOption(new Option('--log-format <format>', 'stderr as text for people (human, the default) or one JSON object per line (json, for log shippers; env NOWPIPE_LOG_FORMAT)').choices(['human', 'json']));
}

/** -h (and -V on the root) last, under their own heading. */
export function otherOptions(cmd: Command): Command {
  return cmd.optionsGroup(GROUP.other).helpOption('-h, --help', 'show this help');
}
