/**
 * Durable global state against a real Apache Kafka broker, with real processes (runtime, agents,
 * GSP workers as `bin/intstream.js` children): ddos (the previous window's distribution) and
 * tcp-retrans (each flow's highest sequence number) keep keyed state across windows in their
 * global stage. Agents read their part of a generated capture (test/support/durable-traffic.ts)
 * from standard input, fed piece by piece; after some windows came out and the worker checkpointed,
 * the worker holding both tasks' partition is killed (SIGKILL) mid-run and a new one started.
 * The stored results must equal the uninterrupted `intstream run` (runTask) of the same task on
 * the same captures: the successor restores the checkpoint (counted as `restores`) before it
 * replays from the committed offset. Without checkpoints the first windows after the takeover
 * come out different or not at all: `INTSTREAM_GSP_CHECKPOINT=off npm test -- <this file>` runs
 * the same test with the workers' checkpoints off and fails on the results (the control).
 *
 * rtt is not here: its global stage keeps no state across windows (merge, flatMap, key, window,
 * transform: no process()), so a takeover loses nothing a replay does not rebuild, and it sends
 * probes, which GSP workers refuse.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadTask } from '../../src/apps/load-task.ts';
import { runTask, type TaskResult } from '../../src/run-task.ts';
import { ensureStateTopic, MAX_SNAPSHOT_BYTES, readSnapshots, stateTopic, writeSnapshot } from '../../src/global/state-changelog.ts';
import { createProducer, withAdmin } from '../../src/transport/kafka-client.ts';
import { kafkaAvailable, startKafka, type KafkaBroker } from '../support/kafka.ts';
import { durableTraffic, pcapBytes, pcapPieces } from '../support/durable-traffic.ts';
import { canonical, Cluster, waitFor, writeStdin } from '../control/cluster.ts';

const SECONDS = 60;
const PIECES = 12;
const TASKS = [{ app: 'ddos', params: { threshold: '0.3' } }, { app: 'tcp-retrans', params: { threshold: '3' } }];
const CHECKPOINTS = process.env.INTSTREAM_GSP_CHECKPOINT !== 'off';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const avail = kafkaAvailable();
describe('durable global state', { skip: avail.ok ? false : avail.reason }, () => {
  let kafka: KafkaBroker;
  let cluster: Cluster;
  const dir = mkdtempSync(join(tmpdir(), 'intstream-durable-'));
  const traffic = durableTraffic(SECONDS);
  const files = traffic.map((t, i) => { const f = join(dir, `part${i}.pcap`); writeFileSync(f, pcapBytes(t.records)); return f; });
  const expected = new Map<string, string[]>();
  before(async () => {
    for (const t of TASKS) {
      const { def } = await loadTask(t.app);
      const out: TaskResult[] = [];
      await runTask({ task: def, params: t.params, window: 1, sources: files.map((f) => `pcap:${f}`), onResult: (r) => { out.push(r); } });
      expected.set(t.app, canonical(out));
    }
    kafka = await startKafka({ port: 21292 });
    cluster = new Cluster(kafka.bootstrap);
    await cluster.startRuntime();
  });
  after(async () => {
    await cluster?.stopAll();
    await kafka?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the changelog: a compacted topic; snapshots of several MiB written and read back to the end, the latest per partition', async () => {
    const task = 'changelog-check';
    await ensureStateTopic(kafka.bootstrap, task);
    const configs = await withAdmin({ bootstrap: kafka.bootstrap }, 'describe', (admin) => admin.describeConfigs({ resources: [{ resourceType: 2, resourceName: stateTopic(task), configurationKeys: ['cleanup.policy', 'max.message.bytes'] }] }));
    const conf = Object.fromEntries(configs[0].configs.map((c) => [c.name, c.value]));
    assert.equal(conf['cleanup.policy'], 'compact');
    assert.ok(Number(conf['max.message.bytes']) > MAX_SNAPSHOT_BYTES);
    const producer = createProducer({ bootstrap: kafka.bootstrap });
    try {
      const big = Buffer.alloc(3 << 20, 7);
      await writeSnapshot(producer, { task, partition: 0, offset: 10n, state: Buffer.from('old') });
      await writeSnapshot(producer, { task, partition: 1, offset: 5n, state: Buffer.from('p1') });
      await writeSnapshot(producer, { task, partition: 0, offset: 20n, state: big });
      const got = await readSnapshots(kafka.bootstrap, task, new Set([0, 1]), 'durable-test');
      assert.deepEqual([...got.keys()].sort(), [0, 1]);
      assert.equal(got.get(0)!.offset, 20n);
      assert.ok(got.get(0)!.state.equals(big), 'the 3 MiB snapshot back whole');
      assert.deepEqual([got.get(1)!.offset, got.get(1)!.state.toString()], [5n, 'p1']);
      // only the partitions asked for
      assert.deepEqual([...(await readSnapshots(kafka.bootstrap, task, new Set([1]), 'durable-test')).keys()], [1]);
    } finally {
      await producer.close();
    }
  });

  const detail = async (id: string) => (await cluster.api('GET', `/tasks/${id}`)).data;
  const results = async (id: string) => (await cluster.api('GET', `/tasks/${id}/results?limit=100000`)).data.results as TaskResult[];

  test('the worker holding ddos and tcp-retrans killed mid-run: a new one restores their state, results as uninterrupted', async (t) => {
    for (const t of TASKS) assert.ok(expected.get(t.app)!.length > 50, `${t.app}: ${expected.get(t.app)!.length} results expected`);
    const agents = TASKS.map((t) => traffic.map((_, i) => cluster.agent(`${t.app}-${i}`, 'pcap:-', 'pipe')));
    const w1 = cluster.gsp('dw1');
    await waitFor(async () => (await cluster.api('GET', '/agents')).data.agents.filter((a: any) => a.up).length === 4, 20_000, 'agents up');
    await waitFor(async () => (await cluster.api('GET', '/workers')).data.workers.some((w: any) => w.name === 'dw1' && w.up), 20_000, 'dw1 up');
    const ids: string[] = [];
    for (const t of TASKS) {
      const sub = await cluster.api('POST', '/tasks', { app: t.app, params: t.params, window: 1, agents: { names: traffic.map((_, i) => `${t.app}-${i}`) } });
      assert.equal(sub.status, 201, JSON.stringify(sub.data));
      assert.equal(sub.data.partitions, 1, 'keyed state over all keys: one partition');
      ids.push(sub.data.id);
    }
    const pieces = traffic.map((t) => pcapPieces(t, SECONDS, PIECES));
    /** Piece k of the captures of `sources`, one source after the other (their records in that order), to the agents of every task. */
    const feed = async (k: number, sources = [0, 1]) => {
      for (const i of sources) {
        await Promise.all(agents.map((as) => writeStdin(as[i], pieces[i][k])));
        await sleep(300);
      }
    };
    let k = 0;
    for (; k < 5; k++) await feed(k);
    // some windows out, and (with checkpoints) the worker has checkpointed both tasks
    await waitFor(async () => {
      for (const id of ids) {
        const d = await detail(id);
        if (d.results < 10 || (CHECKPOINTS && d.stages.global.checkpoints < 2)) return false;
        if (!d.stages.global.workers.some((w: any) => w.name === 'dw1' && w.partitions.length === 1)) return false;
      }
      return true;
    }, 60_000, 'first results and checkpoints of both tasks');
    await feed(k++);
    // source 0 a piece ahead when the worker dies (as while data flows): its records up to the
    // last window released are committed, source 1's latest is not (the worker holds back each
    // source's latest), so the replay holds only source 1's part of that window, which a
    // successor without the state would take for the previous window (ddos), and no segment of
    // source 0's flows (tcp-retrans)
    await feed(k, [0]);
    await sleep(1500);
    for (const [i, id] of ids.entries()) {
      const d = await detail(id);
      assert.ok(d.results < expected.get(TASKS[i].app)!.length, `${TASKS[i].app} mid-run (${d.results} results)`);
    }
    await cluster.kill(w1);
    const killedAt = Date.now();
    const w2 = cluster.gsp('dw2');
    await feed(k++, [1]);
    for (; k < PIECES; k++) await feed(k);
    for (const as of agents) for (const a of as) a.child.stdin!.end();
    for (const [i, id] of ids.entries()) {
      const want = expected.get(TASKS[i].app)!;
      // all of them, or (wrong results: the control) none new for 15 s after the agents finished
      let last = -1, since = Date.now();
      await waitFor(async () => {
        const d = await detail(id);
        if (d.results !== last) { last = d.results; since = Date.now(); }
        return d.results >= want.length || (d.status === 'finished' && Date.now() - since > 15_000);
      }, 120_000, `all ${TASKS[i].app} results`);
    }
    t.diagnostic(`all results stored ${Date.now() - killedAt} ms after the kill`);
    await sleep(1500);
    // the stored results are the uninterrupted run's (each task's differences, both said at once)
    const wrong: string[] = [];
    for (const [i, id] of ids.entries()) {
      const app = TASKS[i].app, got = canonical(await results(id)), want = expected.get(app)!;
      const missing = want.filter((r) => !got.includes(r)), other = got.filter((r) => !want.includes(r));
      if (missing.length > 0 || other.length > 0) wrong.push(`${app}: ${missing.length} of ${want.length} results missing, ${other.length} not in the uninterrupted run (first: ${missing[0] ?? other[0]})`);
    }
    assert.deepEqual(wrong, []);
    for (const [i, id] of ids.entries()) {
      const app = TASKS[i].app;
      const d = await detail(id);
      const g = d.stages.global;
      t.diagnostic(`${app}: ${d.results} results; checkpoints ${g.checkpoints} (${g.checkpoint_bytes} bytes), skipped ${g.checkpoint_skipped}, restores ${g.restores}`);
      assert.deepEqual(d.stages.global.workers.filter((w: any) => w.up && w.partitions.length > 0).map((w: any) => w.name), ['dw2']);
      if (CHECKPOINTS) {
        assert.ok(d.stages.global.restores >= 1, `${app}: the successor restored the checkpoint (restores ${d.stages.global.restores})`);
        assert.ok(d.stages.global.checkpoint_bytes > 0);
        assert.equal(d.stages.global.checkpoint_skipped, 0);
      }
    }
    // deleting a task deletes its state changelog with its other topics
    await cluster.api('POST', `/tasks/${ids[0]}/stop`, {});
    const del = await cluster.api('DELETE', `/tasks/${ids[0]}`);
    assert.equal(del.status, 200);
    if (CHECKPOINTS) assert.equal(del.data.topics[stateTopic(ids[0])], true);
    for (const as of agents) for (const a of as) await cluster.kill(a, 'SIGTERM');
    await cluster.kill(w2, 'SIGTERM');
  });
});
