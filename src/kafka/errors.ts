import { CheckpointError, NowpipeError, SinkError } from '../errors/index.js';

/** What the sink (or the state store) was doing when kafkajs failed, for a message that says what to fix. */
export interface KafkaErrorContext {
  brokers: string[];
  action: 'connect' | 'write' | 'create' | 'check' | 'read';
  /** Who failed: the Kafka sink (SinkError) or the checkpoint kept in Kafka (CheckpointError, exit 1). Default sink. */
  subject?: 'sink' | 'state';
  /** The table whose transactional producer failed, for a fencing message. */
  table?: string;
  topic?: string;
  retries?: number;
  sasl?: { mechanism: string; username: string };
}

interface KafkaLikeError extends Error {
  type?: string;
  code?: string | number;
  cause?: unknown;
  errors?: unknown[];
  topic?: string;
  retriable?: boolean;
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_|ERR_TLS|ERR_SSL|EPROTO/;

/** The error under kafkajs's wrappers (retries exceeded, non-retriable, aggregate). */
export function rootCause(err: unknown): { error: KafkaLikeError; exhausted: boolean } {
  let e = err as KafkaLikeError;
  let exhausted = false;
  for (let depth = 0; depth < 10; depth++) {
    if (e?.name === 'KafkaJSNumberOfRetriesExceeded') exhausted = true;
    if (e?.name === 'KafkaJSAggregateError' && Array.isArray(e.errors) && e.errors.length > 0) {
      e = e.errors[0] as KafkaLikeError;
      continue;
    }
    if ((e?.name === 'KafkaJSNumberOfRetriesExceeded' || e?.name === 'KafkaJSNonRetriableError') && e.cause instanceof Error && e.cause !== e) {
      e = e.cause;
      continue;
    }
    break;
  }
  return { error: e, exhausted };
}

function detail(e: KafkaLikeError): string {
  return (e.message ?? String(e)).replace(/^Connection error: /, '').replace(/\s+/g, ' ').trim();
}

/** Kafka's words for "a newer producer with this transactional id exists": this one was fenced. */
export function isFenced(err: unknown): boolean {
  const { error } = rootCause(err);
  return error?.type === 'INVALID_PRODUCER_EPOCH' || error?.type === 'PRODUCER_FENCED' || error?.code === 90;
}

/**
 * kafkajs's (or the network's) failure as an error a user can act on (a SinkError, or a
 * CheckpointError for the state kept in Kafka); a bug stays a bug.
 */
export function kafkaError(err: unknown, ctx: KafkaErrorContext): Error {
  if (err instanceof NowpipeError) return err;
  const { error: e, exhausted } = rootCause(err);
  const label = ctx.subject === 'state' ? 'kafka state' : 'kafka sink';
  const make = (message: string, hint?: string): NowpipeError =>
    ctx.subject === 'state' ? new CheckpointError(`${label}: ${message}`, { exitCode: 1, cause: err, hint }) : new SinkError(`${label}: ${message}`, { cause: err, hint });
  if (isFenced(err)) {
    return make(
      `the transactional producer of ${ctx.table ? `table ${ctx.table}` : 'this export'} was fenced: another nowpipe took the table over (or this run stalled past the transaction timeout); this run stops without committing (${detail(e)})`,
      'nothing is lost: the run that took over (or the next run) resumes from the last committed checkpoint',
    );
  }
  // kafkajs's decoder reading past the end of a response: the bytes were not Kafka's.
  if (e instanceof RangeError && /kafkajs[\\/]src[\\/]protocol[\\/]/.test(e.stack ?? '')) {
    return make(
      `the brokers ${ctx.brokers.join(',')} answered with bytes that are not the Kafka protocol (${e.message}): do they speak Kafka?`,
      'check --brokers: the host:port of a Kafka listener (not a web or other service), and --kafka-tls for a TLS listener',
    );
  }
  if (!(e instanceof Error) || ['TypeError', 'RangeError', 'ReferenceError', 'SyntaxError'].includes(e.name)) {
    return err instanceof Error ? err : new Error(String(err));
  }
  const brokers = ctx.brokers.join(',');
  const topic = e.topic ?? ctx.topic;

  if (e.name === 'KafkaJSSASLAuthenticationError' || e.type === 'SASL_AUTHENTICATION_FAILED') {
    const who = ctx.sasl ? `SASL ${ctx.sasl.mechanism.toUpperCase()} credentials of user "${ctx.sasl.username}"` : 'the SASL credentials';
    return make(`the brokers ${brokers} refused the ${who} (${detail(e).replace(/^SASL [\w -]+ authentication failed: /, '')})`, 'check --kafka-username and KAFKA_PASSWORD (on Confluent Cloud: the API key and secret) and --kafka-sasl');
  }
  if (e.type === 'UNSUPPORTED_SASL_MECHANISM' || e.name === 'KafkaJSSASLMechanismNotSupported') {
    return make(`the brokers ${brokers} do not offer SASL ${ctx.sasl?.mechanism.toUpperCase() ?? ''} (${detail(e)})`, 'choose another --kafka-sasl mechanism');
  }
  if (typeof e.code === 'string' && TLS_CODES.test(e.code)) {
    return make(`TLS to ${brokers} failed: ${detail(e)}`, "give the CA that signed the brokers' certificates with --kafka-ca <pem file>, or check that the listener speaks TLS");
  }
  switch (e.type) {
    case 'TOPIC_AUTHORIZATION_FAILED':
      return make(`not allowed to ${ctx.action === 'create' ? 'create' : 'write to'} topic ${topic ?? '(unknown)'}`, 'grant the Kafka user DESCRIBE and WRITE on the topic (CREATE for --create-topic)');
    case 'CLUSTER_AUTHORIZATION_FAILED':
      return make(
        ctx.action === 'create' ? 'not allowed to create topics on this cluster' : 'not allowed to use the idempotent producer on this cluster (IdempotentWrite)',
        ctx.action === 'create' ? 'create the topic beforehand, or grant CREATE' : 'grant IdempotentWrite on the cluster, or use --kafka-acks 1 (leader-only acknowledgements, not idempotent)',
      );
    case 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED':
      return make('not allowed to use transactional ids (--exactly-once)', 'grant the Kafka user WRITE and DESCRIBE on the transactional ids nowpipe-* (and IdempotentWrite on the cluster)');
    case 'UNKNOWN_TOPIC_OR_PARTITION':
      return make(`topic ${topic ?? '(unknown)'} does not exist on ${brokers}`, 'create it, or run with --create-topic');
    case 'INVALID_REPLICATION_FACTOR':
      return make(`cannot create topic ${topic}: ${detail(e)}`, '--topic-replication must not exceed the number of brokers');
    case 'INVALID_TIMESTAMP':
      return make(`topic ${topic ?? ''} refuses the records' timestamps (each is its row's sys_updated_on)`, 'the topic limits how old a timestamp may be (message.timestamp.before.max.ms / message.timestamp.difference.max.ms): lift the limit for this topic');
    case 'NOT_ENOUGH_REPLICAS':
    case 'NOT_ENOUGH_REPLICAS_AFTER_APPEND':
      return make(`fewer in-sync replicas than min.insync.replicas for topic ${topic ?? ''}; gave up after ${ctx.retries ?? 0} retries`, 'the checkpoint stays at the last acknowledged page; rerun when the cluster has recovered');
    default:
      break;
  }
  const transport = /^KafkaJS(Connection|ConnectionClosed|RequestTimeout|BrokerNotFound|LockTimeout|Timeout|MetadataNotLoaded)Error$|^KafkaJS(BrokerNotFound|LockTimeout|Timeout)$/.test(e.name) || ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH'].includes(String(e.code));
  if (transport || exhausted) {
    if (ctx.action === 'write') {
      return make(
        `the brokers ${brokers} did not acknowledge a write through ${ctx.retries ?? 0} retries (${detail(e)}); the checkpoint stays at the last acknowledged page`,
        'the next run resends from there; --kafka-retries gives the brokers longer',
      );
    }
    return make(`cannot reach the Kafka brokers ${brokers}: ${detail(e)}`, 'check --brokers (host:port of the bootstrap servers), that they are up, and --kafka-tls for a TLS listener');
  }
  const what = { connect: 'connecting', write: 'writing', create: `creating topic ${topic ?? ''}`, check: 'checking the topics', read: `reading topic ${topic ?? ''}` }[ctx.action];
  return make(`${what} failed: ${detail(e)}${e.type ? ` (${e.type})` : ''}`);
}
