import kafkajs from 'kafkajs';
import type { Admin } from 'kafkajs';
import { SinkError } from '../../errors/index.js';
import { kafkaError, rootCause, type KafkaErrorContext } from '../../kafka/errors.js';
import { snToMillis } from '../../servicenow/time.js';
import type { SinkNotices } from '../types.js';
import { BATCH_OVERHEAD } from './messages.js';
import { DEFAULT_MAX_MESSAGE_BYTES, type KafkaSettings } from './settings.js';

const { ConfigResourceTypes } = kafkajs;

type Context = (action: KafkaErrorContext['action'], topic?: string) => KafkaErrorContext;

function humanMs(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000} days`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} hours`;
  return `${ms} ms`;
}

/**
 * The topics' part of the sink's health check: each topic exists (or is created, compacted,
 * with --create-topic), and its max.message.bytes is read, which is returned per topic. A topic
 * that deletes records by age gets a warning: record timestamps are the rows' sys_updated_on.
 */
export async function checkTopics(admin: Admin, settings: KafkaSettings, reporter: SinkNotices, context: Context): Promise<Map<string, number>> {
  const topics = [...new Set(settings.topics.values())];
  const existing = new Set(
    await admin.listTopics().catch((err) => {
      throw kafkaError(err, context('check'));
    }),
  );
  const missing = topics.filter((t) => !existing.has(t));
  const brokers = settings.brokers.join(',');
  if (missing.length > 0 && !settings.createTopic) {
    const list = missing.join(', ');
    throw new SinkError(`kafka sink: topic${missing.length > 1 ? 's' : ''} ${list} ${missing.length > 1 ? 'do' : 'does'} not exist on ${brokers} (or this user may not describe ${missing.length > 1 ? 'them' : 'it'})`, {
      hint: 'create it (e.g. kafka-topics --create --topic <name> --config cleanup.policy=compact), or pass --create-topic (with --topic-partitions / --topic-replication)',
    });
  }
  if (missing.length > 0) {
    const { partitions, replication } = settings.createTopic!;
    for (const topic of missing) {
      await admin
        .createTopics({
          waitForLeaders: true,
          // A copy of a table: compaction keeps each row's latest version and drops deleted
          // rows (tombstones); time-based deletion would go by sys_updated_on (see docs).
          topics: [{ topic, numPartitions: partitions, replicationFactor: replication, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
        })
        .catch((err) => {
          throw kafkaError(err, context('create', topic));
        });
      reporter.info(`kafka: created topic ${topic} (${partitions > 0 ? partitions : 'default'} partitions, replication ${replication > 0 ? replication : 'default'}, cleanup.policy=compact)`);
    }
  }
  return readTopicConfigs(admin, topics, settings, reporter);
}

async function readTopicConfigs(admin: Admin, topics: string[], settings: KafkaSettings, reporter: SinkNotices): Promise<Map<string, number>> {
  const limits = new Map<string, number>();
  let entries = new Map<string, Map<string, string>>();
  try {
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: topics.map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configNames: ['max.message.bytes', 'cleanup.policy', 'retention.ms', 'message.timestamp.type'] })),
    });
    entries = new Map(described.resources.map((r) => [r.resourceName, new Map(r.configEntries.map((e) => [e.configName, e.configValue]))]));
  } catch (err) {
    reporter.verbose(`kafka: cannot read the topics' configs (${rootCause(err).error?.message}); assuming max.message.bytes ${DEFAULT_MAX_MESSAGE_BYTES}`);
  }
  for (const topic of topics) {
    const config = entries.get(topic);
    const max = Number(config?.get('max.message.bytes'));
    limits.set(topic, Number.isFinite(max) && max > BATCH_OVERHEAD ? max : DEFAULT_MAX_MESSAGE_BYTES);
    // Time-based retention goes by the record timestamps, which are the rows' sys_updated_on:
    // a backfill of rows older than retention.ms would be deleted as soon as their segment
    // closes. Said only when the run can write such rows.
    const retention = Number(config?.get('retention.ms'));
    const oldest = snToMillis(settings.oldestSince) ?? 0;
    if (
      config?.get('cleanup.policy')?.includes('delete') &&
      config.get('message.timestamp.type') !== 'LogAppendTime' &&
      Number.isFinite(retention) &&
      retention >= 0 &&
      oldest < Date.now() - retention
    ) {
      reporter.warn(
        `kafka: topic ${topic} deletes records by age (retention.ms ${humanMs(retention)}), and each record's timestamp is its row's sys_updated_on: rows updated before then can be deleted soon after they are written. For a copy of the table use cleanup.policy=compact or retention.ms=-1`,
      );
    }
    reporter.verbose(`kafka: topic ${topic}: max.message.bytes ${limits.get(topic)}`);
  }
  return limits;
}
