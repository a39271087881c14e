import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const script = resolve(import.meta.dirname, '../scripts/kafka.sh');
let startedHere = false;

/**
 * `npm test` needs a real Kafka broker for the Kafka tests. Unless NOWPIPE_KAFKA_BROKERS points
 * at one, start the local broker (a no-op when it already runs). If that fails, say so loudly
 * and let the Kafka tests fail with their own message: they never skip.
 */
export function setup(): void {
  if (process.env.NOWPIPE_KAFKA_BROKERS) return;
  const status = spawnSync('bash', [script, 'status'], { stdio: 'ignore' });
  if (status.status === 0) return;
  const start = spawnSync('bash', [script, 'start'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (start.status === 0) startedHere = true;
  else process.stderr.write('\n*** could not start the local Kafka broker (bash scripts/kafka.sh start): Kafka tests will fail ***\n\n');
}

export function teardown(): void {
  if (startedHere) spawnSync('bash', [script, 'stop'], { stdio: 'ignore' });
}
