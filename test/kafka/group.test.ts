// --group end to end: three processes of the built CLI share six tables of one simulator through
// a Kafka consumer group, following them while rows change, with --exactly-once; one is killed
// (kill -9) and its tables are taken over. The simulator's request log (each process tagged by
// --user-agent) shows that no table was read by two processes at once, and the topic that every
// change arrived, once.
import { randomUUID } from 'node:crypto';
import kafkajs from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { startSimulator, type RecordedRequest, type Row, type Simulator } from '../../src/sim/index.js';
import { runCli, startCli, tempDir, waitFor, type StartedCli } from '../helpers/cli.js';
import { BROKERS, createTopic, deleteTopics, readTopic, requireBroker, setUpOnce, topicExists, uniqueTopic } from './helpers.js';

const TABLES = ['change_request', 'incident', 'kb_knowledge', 'problem', 'sc_req_item', 'sc_task'];
const SESSION_S = 6; // --lock-stale-after: also the group's session timeout (6 s is the brokers' minimum)
const env = { SERVICENOW_PASSWORD: 'admin' };
let sim: Simulator;
const topics: string[] = [];

const setup = setUpOnce(async () => {
  // Each request takes a while: a member that went on reading a table it gave up would be seen
  // serving a request while another member's is served.
  sim = await startSimulator({ rows: 300, rowBytes: 300, seed: 81, aclHiddenRatio: 0, latencyMs: 1000 });
  const day = Date.now() - 86_400_000;
  for (const t of TABLES.filter((x) => x !== 'incident')) {
    for (let i = 0; i < 300; i++) sim.insert(t, { number: `${t}-${i}`, short_description: `${t} ${i}` }, { stampedAt: new Date(day + i * 60_000) });
  }
});

afterAll(async () => {
  await setup.settled();
  await sim?.close();
  await deleteTopics(topics);
});

interface Member {
  name: string;
  cli: StartedCli;
  /** What it says it runs now, from its stderr. */
  runs: Set<string>;
  moved: string[];
}

/** Follows a member's stderr for "this member runs T" and "T moved to another member". */
function watch(name: string, cli: StartedCli, group: string): Member {
  const m: Member = { name, cli, runs: new Set(), moved: [] };
  let seen = 0;
  const scan = () => {
    const lines = cli.out.stderr.split(/[\r\n]+/);
    for (; seen < lines.length - 1; seen++) {
      const line = lines[seen]!;
      const ran = new RegExp(`^group ${group}: this member runs (\\w+)$`).exec(line);
      if (ran) m.runs.add(ran[1]!);
      const moved = new RegExp(`^group ${group}: (\\w+) moved to another member$`).exec(line);
      if (moved) {
        m.runs.delete(moved[1]!);
        m.moved.push(moved[1]!);
      }
    }
  };
  cli.child.stderr.on('data', () => setImmediate(scan));
  return m;
}

/** A table's requests, in time order, as runs of one process each. */
function runsOf(requests: RecordedRequest[], table: string): Array<{ agent: string; first: number; last: number; count: number }> {
  const out: Array<{ agent: string; first: number; last: number; count: number }> = [];
  for (const r of requests.filter((x) => x.path === `/api/now/table/${table}`).sort((a, b) => a.at - b.at)) {
    const last = out.at(-1);
    if (last !== undefined && last.agent === r.userAgent) {
      last.last = r.at;
      last.count += 1;
    } else out.push({ agent: r.userAgent ?? '?', first: r.at, last: r.at, count: 1 });
  }
  return out;
}

describe('--group (three processes, six tables, a real broker)', () => {
  it('shares the tables, takes over a killed member\'s within the session timeout, never runs a table twice at once, loses no change', async () => {
    await setup.required();
    await requireBroker();
    const group = `nowpipe-test-${randomUUID().slice(0, 8)}`;
    const data = uniqueTopic('group-data');
    const state = uniqueTopic('group-state');
    topics.push(data, state, `nowpipe.assign.${group}`);
    await createTopic(data, { partitions: 3 });
    const args = (agent: string) => [
      '--url', sim.url, '--table', TABLES.join(','), '--user', 'admin',
      '--sink', 'kafka', '--brokers', BROKERS.join(','), '--topic', data,
      '--state', 'kafka', '--state-topic', state, '--group', group, '--exactly-once',
      '--follow', '--poll-interval', '1', '--lock-stale-after', String(SESSION_S), '--user-agent', agent, '--batch-size', '100',
      '--metrics-port', '0',
    ];
    const members: Member[] = [];
    try {
      for (const name of ['member-a', 'member-b', 'member-c']) members.push(watch(name, startCli(args(name), { env, cwd: await tempDir() }), group));
      // Settled: every table run by someone, two each.
      await waitFor(() => members.every((m) => m.runs.size === 2) && new Set(members.flatMap((m) => [...m.runs])).size === 6, 90_000, 'two tables for each member');
      expect(await topicExists(`nowpipe.assign.${group}`)).toBe(true);
      // Each member's /healthz watches the tables it runs, not the others' (it would be 503 after
      // three poll intervals otherwise).
      await new Promise((r) => setTimeout(r, 4000));
      for (const m of members) {
        const url = /metrics on (http:\/\/\S+)\/metrics/.exec(m.cli.out.stderr)?.[1];
        const health = await fetch(`${url}/healthz`);
        const body = await health.text();
        expect(health.status, body).toBe(200);
        expect(body.split('\n').slice(1).filter(Boolean).map((l) => l.split(':')[0]).sort()).toEqual([...m.runs].sort());
      }

      // Rows change in every table while the group follows them, and through the kill.
      const changed: Array<{ table: string; row: Row }> = [];
      const stops = TABLES.map((table) => sim.startLiveChanges({ perSecond: 2, table, updateRatio: 0.5, onChange: (_op, row) => changed.push({ table, row }) }));
      await new Promise((r) => setTimeout(r, 4000));
      const victim = members[1]!;
      const orphans = [...victim.runs];
      const killedAt = Date.now();
      victim.cli.child.kill('SIGKILL');
      await victim.cli.code;
      const survivors = members.filter((m) => m !== victim);
      await waitFor(() => orphans.every((t) => survivors.some((m) => m.runs.has(t))), 60_000, `${orphans.join(', ')} taken over`);
      // The first request a survivor made for each orphan, after the kill.
      const firstAfterKill = (t: string) => sim.requests.find((r) => r.path === `/api/now/table/${t}` && r.at > killedAt && r.userAgent !== victim.name);
      await waitFor(() => orphans.every((t) => firstAfterKill(t) !== undefined), 30_000, 'requests for the tables taken over');
      const takenOver = orphans.map((t) => firstAfterKill(t)!.at - killedAt);
      console.info(`the killed member's tables ${orphans.join(', ')} were read again by another member ${takenOver.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')} after the kill (session timeout ${SESSION_S} s)`);
      // About the session timeout: then the rebalance, the lease taken over, a poll (slack for a busy machine).
      for (const ms of takenOver) expect(ms).toBeLessThan((SESSION_S + 6) * 1000);

      await new Promise((r) => setTimeout(r, 4000));
      for (const stop of stops) stop();
      // Every change made reached the topic: each changed row's last version, by sys_mod_count
      // (the survivors follow with --lag 1 and poll every second: wait for them, a minute at most).
      expect(changed.length).toBeGreaterThan(50);
      const finals = new Map<string, { table: string; row: Row }>();
      for (const c of changed) finals.set(`${c.table}|${String(c.row.sys_id)}`, c);
      let messages: Awaited<ReturnType<typeof readTopic>> = [];
      let missing: string[] = [];
      const deadline = Date.now() + 60_000;
      do {
        await new Promise((r) => setTimeout(r, 2000));
        messages = await readTopic(data, { timeoutMs: 120_000 });
        const versions = new Set(messages.map((m) => `${m.headers['nowpipe.table']}|${m.key}|${String((JSON.parse(m.value!) as Row).sys_mod_count)}`));
        missing = [...finals.values()].filter((c) => !versions.has(`${c.table}|${String(c.row.sys_id)}|${String(c.row.sys_mod_count)}`)).map((c) => `${c.table} ${String(c.row.sys_id)} v${String(c.row.sys_mod_count)}`);
      } while (missing.length > 0 && Date.now() < deadline);
      expect(missing).toEqual([]);
      for (const m of survivors) m.cli.child.kill('SIGTERM');
      for (const m of survivors) expect(await m.cli.code, m.cli.out.stderr).toBe(0);

      // No table was read by two members at once: no two requests for a table by different
      // members were served at the same time, and in each table's request log the reader changes
      // only where a member gave the table up (it says so) or was killed holding it.
      for (const table of TABLES) {
        const served = sim.requests.filter((r) => r.path === `/api/now/table/${table}`).sort((a, b) => a.at - b.at);
        for (const [i, r] of served.entries()) {
          const overlapping = served.slice(i + 1).find((o) => o.at < (r.doneAt ?? r.at) && o.userAgent !== r.userAgent);
          expect(overlapping, `${table}: ${r.userAgent} was served ${r.at}–${r.doneAt} while ${overlapping?.userAgent} started at ${overlapping?.at}`).toBeUndefined();
        }
        const runs = runsOf(sim.requests, table);
        const handovers = runs.length - 1;
        const givenUp = members.filter((m) => m !== victim).reduce((n, m) => n + m.moved.filter((t) => t === table).length, 0) + victim.moved.filter((t) => t === table).length;
        const killedHolding = orphans.includes(table) ? 1 : 0;
        expect(handovers, `${table}: ${runs.map((r) => `${r.agent}×${r.count}`).join(' → ')}`).toBeLessThanOrEqual(givenUp + killedHolding);
      }
      const versions = new Set(messages.map((m) => `${m.headers['nowpipe.table']}|${m.key}|${String((JSON.parse(m.value!) as Row).sys_mod_count)}`));
      // Once: with --exactly-once, the killed member's open transaction was aborted by the member
      // that took its tables over, which resumed from the last committed checkpoint.
      expect(messages.length - versions.size, 'row versions written twice').toBe(0);
      // And every row of every table is there (the backfill too).
      for (const table of TABLES) {
        const keys = new Set(messages.filter((m) => m.headers['nowpipe.table'] === table).map((m) => m.key));
        expect(sim.visibleRows(table).filter((r) => !keys.has(String(r.sys_id))).length, table).toBe(0);
      }
    } finally {
      for (const m of members) m.cli.child.kill('SIGKILL');
    }
  }, 300_000);

  it('a group id that other consumers use with another protocol: the member cannot join, and says so (exit 1, not a clean exit 0)', async () => {
    await setup.required();
    await requireBroker();
    const group = `nowpipe-test-${randomUUID().slice(0, 8)}`;
    const state = uniqueTopic('group-state');
    const other = uniqueTopic('group-other');
    topics.push(state, other, `nowpipe.assign.${group}`);
    await createTopic(other);
    // Another application's consumer holds the group id with kafkajs's own assigner.
    const kafka = new kafkajs.Kafka({ clientId: 'nowpipe-test-other', brokers: BROKERS, logLevel: kafkajs.logLevel.NOTHING });
    const squatter = kafka.consumer({ groupId: group });
    await squatter.connect();
    await squatter.subscribe({ topics: [other] });
    await squatter.run({ eachMessage: async () => undefined });
    try {
      const admin = kafka.admin();
      await admin.connect();
      try {
        for (const end = Date.now() + 60_000; (await admin.describeGroups([group])).groups[0]?.state !== 'Stable'; ) {
          if (Date.now() > end) throw new Error('the other consumer never joined its group');
          await new Promise((r) => setTimeout(r, 200));
        }
      } finally {
        await admin.disconnect();
      }
      const res = await runCli(['--url', sim.url, '--table', 'incident,problem', '--user', 'admin', '--state', 'kafka', '--state-topic', state, '--brokers', BROKERS.join(','), '--group', group, '--follow', '--lock-stale-after', String(SESSION_S)], { env, cwd: await tempDir(), timeoutMs: 90_000 });
      expect(res.code, res.stderr).toBe(1);
      expect(res.stderr).toMatch(/^error: .*INCONSISTENT_GROUP_PROTOCOL/m);
    } finally {
      await squatter.disconnect();
    }
  }, 150_000);

  it('a member started with another table list is refused (exit 2): another count, or the same count of other tables', async () => {
    await setup.required();
    await requireBroker();
    const group = `nowpipe-test-${randomUUID().slice(0, 8)}`;
    const state = uniqueTopic('group-state');
    topics.push(state, `nowpipe.assign.${group}`);
    const member = (tables: string) => ['--url', sim.url, '--table', tables, '--user', 'admin', '--state', 'kafka', '--state-topic', state, '--brokers', BROKERS.join(','), '--group', group, '--follow', '--lock-stale-after', String(SESSION_S)];
    const first = startCli(member('incident,problem,sc_task'), { env, cwd: await tempDir() });
    try {
      await waitFor(() => /this member runs sc_task/.test(first.out.stderr), 60_000, 'the first member running');
      const fewer = await runCli(member('incident,problem'), { env, cwd: await tempDir(), timeoutMs: 60_000 });
      expect(fewer.code).toBe(2);
      expect(fewer.stderr).toContain(`error: --group: topic nowpipe.assign.${group} has 3 partitions, one per table of the group; this process was started with 2 tables`);
      const other = await runCli(member('sc_task,problem,kb_knowledge'), { env, cwd: await tempDir(), timeoutMs: 60_000 });
      expect(other.code).toBe(2);
      expect(other.stderr).toContain(`error: --group ${group}: its members export incident, problem, sc_task; this process was started with --table kb_knowledge,problem,sc_task`);
      expect(other.stderr).toContain('hint: start every member of a group with the same --table list, or use another --group name');
      // Refused before joining: the first member went on undisturbed.
      expect(first.child.exitCode).toBeNull();
      expect(first.out.stderr).not.toMatch(/moved to another member/);
    } finally {
      first.child.kill('SIGTERM');
      await first.code;
    }
  }, 120_000);
});
