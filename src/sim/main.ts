// A standalone simulated instance: node dist/sim/main.js [--port 8080] [--rows 5000] [--live 2]
import { parseArgs } from 'node:util';
import { startSimulator } from './server.js';

const { values } = parseArgs({ options: { port: { type: 'string', default: '8080' }, rows: { type: 'string', default: '5000' }, live: { type: 'string' }, latency: { type: 'string' } } });
const sim = await startSimulator({ port: Number(values.port), rows: Number(values.rows), latencyMs: values.latency ? Number(values.latency) : undefined });
const stop = values.live ? sim.startLiveChanges({ perSecond: Number(values.live), deleteRatio: 0.1 }) : () => undefined;
process.stderr.write(`simulated instance at ${sim.url} (user admin, password admin)\n`);
const bye = () => {
  stop();
  void sim.close().then(() => process.exit(0));
};
process.on('SIGINT', bye);
process.on('SIGTERM', bye);
