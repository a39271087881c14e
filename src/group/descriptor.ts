import { groupKey, groupMessage } from '../checkpoint/kafka/records.js';
import type { KafkaState } from '../checkpoint/kafka/state.js';
import { ConfigError } from '../errors/index.js';
import { kafkaError } from '../kafka/errors.js';

/**
 * A group's table list, recorded in the state topic by its first member: partition i of the
 * assignment topic means table i of that list, so a member started with another list would run
 * the wrong tables; it is refused (exit 2). Each member first reads the topic up to now; the
 * first finds no list and records its own, the others find it (two first members started in
 * the same instant with different lists are not caught: the first list in the topic counts).
 */
export async function checkGroupTables(state: KafkaState, group: string, tables: readonly string[]): Promise<void> {
  const key = groupKey(group);
  const partition = state.partitionOf(key);
  await state.barrier(partition);
  let known = state.groupTables(key);
  if (!known) {
    const mine = await state.write(groupMessage(group, partition, [...tables])).catch((err: unknown) => {
      throw kafkaError(err, state.context('write'));
    });
    await state.leasesPassed(mine.partition, mine.offset);
    known = state.groupTables(key);
  }
  if (known && known.join(',') !== tables.join(',')) {
    throw new ConfigError(`--group ${group}: its members export ${known.join(', ')}; this process was started with --table ${tables.join(',')}`, {
      hint: 'start every member of a group with the same --table list, or use another --group name',
    });
  }
}
