/**
 * The distributed path against a real Apache Kafka broker (scripts/kafka.sh): a runtime, three
 * agents on three interleaved parts of one capture, two GSP workers, each a real `intstream`
 * process. Expected values come from `runTask` over the whole capture in one process.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { loadTask } from '../../src/apps/load-task.ts';
import { runTask, type TaskResult } from '../../src/run-task.ts';
import { splitCapture } from '../apps/split-files.ts';
import { kafkaAvailable, startKafka, type KafkaBroker } from '../support/kafka.ts';
import { canonical, Cluster, READ_TOKEN, waitFor } from '../control/cluster.ts';
import { BIN } from '../support/run-cli.ts';

const DEMO = new URL('../../samples/demo.pcap', import.meta.url).pathname;
const PARAMS = { threshold: '5' };
/** The read-only CLI verbs with a reader's credential. */
const READER = { ...process.env, INTSTREAM_TOKEN: READ_TOKEN };

async function reference(app: string): Promise<TaskResult[]> {
  const { def } = await loadTask(app);
  const out: TaskResult[] = [];
  await runTask({ task: def, params: PARAMS, window: 1, sources: [`pcap:${DEMO}`], onResult: (r) => { out.push(r); } });
  return out;
}

const avail = kafkaAvailable();
describe('distributed: runtime, 3 agents, 2 GSP workers', { skip: avail.ok ? false : avail.reason }, () => {
  let kafka: KafkaBroker;
  let cluster: Cluster;
  let parts: string[];
  before(async () => {
    kafka = await startKafka({ port: 19292 });
    cluster = new Cluster(kafka.bootstrap);
    parts = splitCapture(DEMO, 3, (i) => i % 3);
    await cluster.startRuntime();
    parts.forEach((p, i) => cluster.agent(`a${i}`, `pcap:${p}`));
    cluster.gsp('w1');
    cluster.gsp('w2');
    await waitFor(async () => (await cluster.api('GET', '/agents')).data.agents.filter((a: any) => a.up).length === 3, 20_000, '3 agents up');
    await waitFor(async () => (await cluster.api('GET', '/workers')).data.workers.filter((w: any) => w.up).length === 2, 20_000, '2 workers up');
  });
  after(async () => {
    await cluster?.stopAll();
    await kafka?.stop();
  });

  test('mutating calls without the token get 401 and change nothing', async () => {
    const before = (await cluster.api('GET', '/tasks')).data.tasks.length;
    const r = await cluster.api('POST', '/tasks', { app: 'tcp-new-conn' }, null);
    assert.equal(r.status, 401);
    const wrong = await cluster.api('POST', '/tasks', { app: 'tcp-new-conn' }, 'wrong-token');
    assert.equal(wrong.status, 401);
    assert.equal((await cluster.api('GET', '/tasks')).data.tasks.length, before);
    const spec = await cluster.api('GET', '/openapi.json');
    assert.equal(spec.status, 200);
    assert.ok(spec.data.paths['/api/v1/tasks'], 'OpenAPI lists /api/v1/tasks');
  });

  test('agents report malformed and skipped (dropped) counts of bad input', async () => {
    // edge/truncated-header.pcap (Ethernet/IPv4 without options/TCP, snaplen 68): a packet is
    // malformed when the capture cuts its TCP header, i.e. cap_len < 14 + 20 + tcp.hdr_len by
    // tshark; malformed/test901.pcapng: 1 packet, then a section of pcapng version 2 that stops
    // the file (one counted corrupt_block).
    const caps = new URL('../captures/', import.meta.url).pathname;
    const rows = execFileSync('tshark', ['-r', `${caps}edge/truncated-header.pcap`, '-T', 'fields', '-e', 'frame.cap_len', '-e', 'tcp.hdr_len'], { encoding: 'utf8' })
      .trim().split('\n').map((l) => l.split('\t').map(Number));
    const cut = rows.filter(([cap, hl]) => cap < 14 + 20 + hl).length;
    cluster.agent('m0', `pcap:${caps}edge/truncated-header.pcap`);
    cluster.agent('m1', `pcap:${caps}malformed/test901.pcapng`);
    await waitFor(async () => (await cluster.api('GET', '/agents')).data.agents.filter((a: any) => a.up && a.name.startsWith('m')).length === 2, 20_000, 'agents up');
    const sub = await cluster.api('POST', '/tasks', { app: 'tcp-new-conn', params: PARAMS, window: 1, agents: { names: ['m0', 'm1'] } });
    const id = sub.data.id;
    await waitFor(async () => (await cluster.api('GET', `/tasks/${id}`)).data.status === 'finished', 60_000, 'finished');
    const d = (await cluster.api('GET', `/tasks/${id}`)).data;
    const m0 = d.agents_detail.find((a: any) => a.name === 'm0'), m1 = d.agents_detail.find((a: any) => a.name === 'm1');
    assert.deepEqual([m0.items_read, m0.malformed, m0.skipped], [rows.length, cut, 0]);
    assert.ok(cut > 0);
    assert.deepEqual([m1.items_read, m1.skipped], [1, 1]);
    assert.equal(d.stages.local.skipped, 1);
  });

  test('an agent whose source cannot be opened: the task ends, the agent shows failed with the reason', async () => {
    cluster.agent('f0', 'pcap:/nonexistent/missing.pcap');
    await waitFor(async () => (await cluster.api('GET', '/agents')).data.agents.some((a: any) => a.up && a.name === 'f0'), 20_000, 'agent up');
    const sub = await cluster.api('POST', '/tasks', { app: 'tcp-new-conn', params: PARAMS, window: 1, agents: { names: ['f0'] } });
    const id = sub.data.id;
    await waitFor(async () => (await cluster.api('GET', `/tasks/${id}`)).data.status === 'finished', 30_000, 'task ended');
    const d = (await cluster.api('GET', `/tasks/${id}`)).data;
    const f0 = d.agents_detail.find((a: any) => a.name === 'f0');
    assert.equal(f0.state, 'failed');
    assert.match(f0.error, /missing.pcap: cannot open \(ENOENT\)/);
    const cli = spawnSync(process.execPath, [BIN, 'tasks', id, '--runtime', cluster.runtimeUrl], { encoding: 'utf8', env: READER });
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /agent f0 \(up\) failed: .*\n {4}error: .*missing.pcap: cannot open \(ENOENT\)/);
  });

  for (const app of ['tcp-new-conn', 'super-spreader', 'heavy-hitter']) {
    test(`${app}: same results as intstream run over the whole capture`, async () => {
      const expected = canonical(await reference(app));
      assert.ok(expected.length > 10);
      const sub = await cluster.api('POST', '/tasks', { app, params: PARAMS, window: 1, agents: { names: ['a0', 'a1', 'a2'] } });
      assert.equal(sub.status, 201, JSON.stringify(sub.data));
      const id = sub.data.id;
      await waitFor(async () => (await cluster.api('GET', `/tasks/${id}`)).data.results >= expected.length, 60_000, `${app}: ${expected.length} results`);
      await new Promise((r) => setTimeout(r, 1000)); // nothing more may come
      const got = (await cluster.api('GET', `/tasks/${id}/results?limit=100000`)).data.results;
      assert.deepEqual(canonical(got), expected);
      // and from the CLI, as JSON Lines named by the task
      const cli = spawnSync(process.execPath, [BIN, 'results', id, '--runtime', cluster.runtimeUrl], { encoding: 'utf8', env: READER });
      assert.equal(cli.status, 0, cli.stderr);
      const lines = cli.stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(canonical(lines), expected);
      assert.deepEqual([...new Set(lines.map((l) => l.task))], [app]);
      // results --follow on the finished task prints them all, then ends by itself
      const follow = spawn(process.execPath, [BIN, 'results', id, '--follow', '--runtime', cluster.runtimeUrl], { stdio: ['ignore', 'pipe', 'pipe'], env: READER });
      let followed = '';
      follow.stdout.on('data', (b) => { followed += b; });
      const killer = setTimeout(() => follow.kill('SIGKILL'), 30_000);
      const [code, signal] = await once(follow, 'close');
      clearTimeout(killer);
      assert.equal(signal, null, 'results --follow did not end by itself within 30 s');
      assert.equal(code, 0);
      assert.deepEqual(canonical(followed.trim().split('\n').map((l) => JSON.parse(l))), expected);
      const d = (await cluster.api('GET', `/tasks/${id}`)).data;
      assert.equal(d.status, 'finished');
      assert.equal(d.stages.local.items_read, 3 * 0 + d.agents_detail.reduce((a: number, x: any) => a + x.items_read, 0));
      assert.ok(d.data_reduction > 0 && d.data_reduction < 1, `data reduction ${d.data_reduction}`);
      // the group spreads the task's partitions over both workers (a late joiner gets its share
      // at the next rebalance, which may come after the results on a loaded machine)
      if (d.partitions > 1) {
        await waitFor(async () => (await cluster.api('GET', `/tasks/${id}`)).data.stages.global.workers.filter((w: any) => w.partitions.length > 0).length === 2,
          30_000, 'both workers hold partitions');
      }
    });
  }
});
