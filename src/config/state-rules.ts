import { parseBroker, resolveSecurity, topicProblem, type KafkaInput, type Problem } from './kafka-rules.js';

/**
 * The rules of --state kafka, --exactly-once and --group, pure (no I/O): reported with every
 * other problem before anything connects. The state topic's brokers use the Kafka sink's
 * credentials and TLS settings (--kafka-sasl, --kafka-username, KAFKA_PASSWORD, --kafka-tls,
 * --kafka-ca): one set of Kafka settings per run.
 */

export const DEFAULT_STATE_TOPIC = 'nowpipe.state';

/** The topic a group's members share the tables through: one partition per table. */
export const assignTopic = (group: string) => `nowpipe.assign.${group}`;

export interface StateInput extends KafkaInput {
  state?: 'file' | 'kafka';
  stateTopic?: string;
  stateBrokers?: string[];
  exactlyOnce?: boolean;
  group?: string;
  follow?: boolean;
  reset?: boolean;
  kafkaAcks?: 'all' | '1';
}

/** The brokers of the state topic: --state-brokers, else --brokers. */
export function stateBrokers(c: { stateBrokers?: string[]; brokers?: string[] }): string[] {
  return c.stateBrokers && c.stateBrokers.length > 0 ? c.stateBrokers : (c.brokers ?? []);
}

const sameBrokers = (a: string[], b: string[]) => {
  const norm = (l: string[]) => [...new Set(l.map((x) => parseBroker(x) ?? x))].sort().join(',');
  return norm(a) === norm(b);
};

export function stateProblems(c: StateInput): Problem[] {
  const problems: Problem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  if (c.state !== 'kafka') {
    for (const key of ['stateTopic', 'stateBrokers'] as const) if (c[key] !== undefined) add(key, 'only used with --state kafka');
  } else {
    const brokers = stateBrokers(c);
    if (brokers.length === 0) {
      add('stateBrokers', 'required with --state kafka: the brokers of the state topic, e.g. --brokers 127.0.0.1:9092 (or --state-brokers when they are not the sink\'s)');
    } else if (c.stateBrokers !== undefined) {
      const bad = c.stateBrokers.filter((b) => parseBroker(b) === undefined);
      if (bad.length > 0) add('stateBrokers', `${bad.map((b) => `"${b}"`).join(', ')} ${bad.length === 1 ? 'is' : 'are'} not host:port`);
    } else if (c.sink !== 'kafka') {
      // With --sink kafka the sink's rules judge --brokers already.
      const bad = brokers.filter((b) => parseBroker(b) === undefined);
      if (bad.length > 0) add('brokers', `${bad.map((b) => `"${b}"`).join(', ')} ${bad.length === 1 ? 'is' : 'are'} not host:port`);
    }
    if (c.stateTopic !== undefined) {
      const p = topicProblem(c.stateTopic);
      if (p) add('stateTopic', p);
    }
    // The credentials are the sink's: judged here when the sink does not judge them.
    if (c.sink !== 'kafka') problems.push(...resolveSecurity(c).problems);
  }
  if (c.exactlyOnce) {
    if (c.sink !== 'kafka' || c.state !== 'kafka') {
      add('exactlyOnce', 'needs --sink kafka and --state kafka: each batch and its checkpoint are written to Kafka in one transaction');
    } else if (c.stateBrokers !== undefined && c.brokers !== undefined && !sameBrokers(c.stateBrokers, c.brokers)) {
      add('exactlyOnce', 'needs the state topic on the sink\'s brokers (a transaction cannot span two clusters): drop --state-brokers');
    }
    if (c.kafkaAcks === '1') add('exactlyOnce', 'cannot be combined with --kafka-acks 1: transactions need acknowledgements from all in-sync replicas');
  }
  if (c.group !== undefined) {
    if (c.state !== 'kafka') add('group', 'needs --state kafka: the members resume each other\'s tables from the state in Kafka');
    if (!c.follow) add('group', 'needs --follow: a group shares the tables of long-running workers (a one-off export needs no group)');
    if (c.sink === 'file') add('group', 'cannot be combined with --sink file: a table moves between members, and its files would be left spread over their disks with a .part left open on the one it left; write to Kafka, stdout or a webhook');
    if (c.reset) add('reset', 'cannot be combined with --group (each member would start its tables over whenever it got them): run once with --reset and without --group');
    const p = topicProblem(assignTopic(c.group));
    if (p) add('group', p);
  }
  return problems;
}
