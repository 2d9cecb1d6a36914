/**
 * Failures of the distributed path against a real Apache Kafka broker, with real processes:
 * agents read their part of the capture from standard input, which the test feeds in two halves
 * so that every failure happens mid-run.
 *
 * 1. A GSP worker is killed (SIGKILL) and the runtime restarted mid-run: the other worker takes
 *    all partitions, the task is still there and running, and the final results equal
 *    `intstream run` over the whole capture (none lost; the store keeps one copy per window and
 *    key, and a partial replayed copy would show as a wrong value).
 * 2. The broker is stopped for ten seconds mid-run and started again: agents pause (their sends
 *    retry; counted), nothing is lost.
 * 2b. A GSP worker joins while data flows: the rebalance loses nothing and no partial copy of a
 *    window gets out before the complete one.
 * 3. An agent killed mid-run is shown down within a few heartbeats, and after the grace time its
 *    seals no longer hold windows open: the later windows come out from the other agent alone.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadTask } from '../../src/apps/load-task.ts';
import { runTask, type TaskResult } from '../../src/run-task.ts';
import { splitCapture } from '../apps/split-files.ts';
import { kafkaAvailable, startKafka, type KafkaBroker } from '../support/kafka.ts';
import { canonical, Cluster, waitFor, writeStdin } from '../control/cluster.ts';

const DEMO = new URL('../../samples/demo.pcap', import.meta.url).pathname;
const SCRIPT = new URL('../../scripts/kafka.sh', import.meta.url).pathname;
const PARAMS = { threshold: '5' };

async function reference(sources: string[]): Promise<TaskResult[]> {
  const { def } = await loadTask('tcp-new-conn');
  const out: TaskResult[] = [];
  await runTask({ task: def, params: PARAMS, window: 1, sources, onResult: (r) => { out.push(r); } });
  return out;
}

/** A classic pcap split at a record boundary near `fraction`: [header + first records, the rest]. */
function halves(file: string, fraction = 0.5): [Buffer, Buffer, number] {
  const b = readFileSync(file);
  const le = b.readUInt32LE(0) === 0xa1b2c3d4 || b.readUInt32LE(0) === 0xa1b23c4d;
  let o = 24, lastTs = 0;
  while (o + 16 <= b.length && o < b.length * fraction) {
    lastTs = le ? b.readUInt32LE(o) : b.readUInt32BE(o);
    o += 16 + (le ? b.readUInt32LE(o + 8) : b.readUInt32BE(o + 8));
  }
  return [b.subarray(0, o), b.subarray(o), lastTs];
}

/** A classic pcap as `n` pieces at record boundaries, the file header in the first. */
function slices(file: string, n: number): Buffer[] {
  const b = readFileSync(file);
  const le = b.readUInt32LE(0) === 0xa1b2c3d4 || b.readUInt32LE(0) === 0xa1b23c4d;
  const out: Buffer[] = [];
  let from = 0, o = 24;
  for (let k = 1; k < n; k++) {
    while (o + 16 <= b.length && o < (b.length * k) / n) o += 16 + (le ? b.readUInt32LE(o + 8) : b.readUInt32BE(o + 8));
    out.push(b.subarray(from, o));
    from = o;
  }
  out.push(b.subarray(from));
  return out;
}

function kafkaScript(args: string[], dataDir: string): Promise<void> {
  return new Promise((res, rej) => execFile('bash', [SCRIPT, ...args], { env: { ...process.env, KAFKA_DATA: dataDir }, timeout: 120_000 }, (e) => (e ? rej(e) : res())));
}


const avail = kafkaAvailable();
describe('distributed failures', { skip: avail.ok ? false : avail.reason }, () => {
  let kafka: KafkaBroker;
  let dataDir: string;
  let cluster: Cluster;
  let parts: string[];
  let expected: string[];
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'intstream-kafka-fail-'));
    kafka = await startKafka({ port: 19392, dataDir });
    cluster = new Cluster(kafka.bootstrap);
    parts = splitCapture(DEMO, 3, (i) => i % 3);
    expected = canonical(await reference([`pcap:${DEMO}`]));
    await cluster.startRuntime();
  });
  after(async () => {
    await cluster?.stopAll();
    await kafka?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const results = async (id: string) => (await cluster.api('GET', `/tasks/${id}/results?limit=100000`)).data.results as TaskResult[];

  test('a GSP worker killed and the runtime restarted mid-run: complete, not doubled', async () => {
    const agents = parts.map((_, i) => cluster.agent(`k${i}`, 'pcap:-', 'pipe'));
    const w1 = cluster.gsp('kw1');
    cluster.gsp('kw2');
    await waitFor(async () => (await cluster.api('GET', '/agents')).data.agents.filter((a: any) => a.up && a.name.startsWith('k')).length === 3, 20_000, 'agents up');
    const sub = await cluster.api('POST', '/tasks', { app: 'tcp-new-conn', params: PARAMS, window: 1, agents: { names: ['k0', 'k1', 'k2'] } });
    assert.equal(sub.status, 201);
    const id = sub.data.id;
    const split = parts.map((p) => halves(p));
    await Promise.all(agents.map((a, i) => writeStdin(a, split[i][0])));
    await waitFor(async () => {
      const d = (await cluster.api('GET', `/tasks/${id}`)).data;
      return d.results > 0 && d.stages.global.workers.filter((w: any) => w.up && w.partitions.length > 0).length === 2;
    }, 60_000, 'first results, both workers holding partitions');
    const mid = (await cluster.api('GET', `/tasks/${id}`)).data.results;
    assert.ok(mid < expected.length, `mid-run (${mid} of ${expected.length})`);
    await cluster.kill(w1);
    // restart the runtime on the same port and store
    const rt = cluster.procs.find((p) => p.name === 'runtime' && p.child.exitCode === null && p.child.signalCode === null)!;
    await cluster.kill(rt, 'SIGTERM');
    await cluster.startRuntime();
    const t = (await cluster.api('GET', `/tasks/${id}`)).data;
    assert.equal(t.status, 'running');
    await Promise.all(agents.map((a, i) => writeStdin(a, split[i][1])));
    for (const a of agents) a.child.stdin!.end();
    await waitFor(async () => (await cluster.api('GET', `/tasks/${id}`)).data.results >= expected.length, 90_000, 'all results');
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(canonical(await results(id)), expected);
    const d = (await cluster.api('GET', `/tasks/${id}`)).data;
    const holding = d.stages.global.workers.filter((w: any) => w.up && w.partitions.length > 0);
    assert.deepEqual(holding.map((w: any) => [w.name, w.partitions.length]), [['kw2', 4]]);
    // counters stay right after the failover: what left the global stage is each result once,
    // however often the successor's replay emitted it again
    assert.equal(d.stages.global.out, expected.length);
    assert.ok(d.stages.global.emitted >= d.stages.global.out, `emitted ${d.stages.global.emitted}`);
    await cluster.api('POST', `/tasks/${id}/stop`, {});
    for (const a of agents) await cluster.kill(a, 'SIGTERM');
  });

  test('a GSP worker joining while data flows (a rebalance mid-run): complete, no partial copy first', async () => {
    // The joiner takes partitions the other workers were reading ahead on; a worker must neither
    // go on with records of a partition it lost nor start one later than where the group resumes
    // it (either releases windows without their earlier elements, and the store keeps the first copy).
    const agents = parts.map((_, i) => cluster.agent(`j${i}`, 'pcap:-', 'pipe'));
    const first = cluster.gsp('jw1');
    await waitFor(async () => (await cluster.api('GET', '/workers')).data.workers.some((w: any) => w.name === 'jw1' && w.up), 20_000, 'jw1 up');
    await waitFor(async () => (await cluster.api('GET', '/agents')).data.agents.filter((a: any) => a.up && a.name.startsWith('j')).length === 3, 20_000, 'agents up');
    const sub = await cluster.api('POST', '/tasks', { app: 'tcp-new-conn', params: PARAMS, window: 1, agents: { names: ['j0', 'j1', 'j2'] } });
    assert.equal(sub.status, 201);
    const id = sub.data.id;
    const pieces = parts.map((p) => slices(p, 5));
    await Promise.all(agents.map((a, i) => writeStdin(a, pieces[i][0])));
    await waitFor(async () => (await cluster.api('GET', `/tasks/${id}`)).data.results > 0, 60_000, 'first results');
    // the rest at once while the joiner starts: the workers read ahead as the group rebalances
    const joiner = cluster.gsp('jw3');
    try {
      await Promise.all(agents.map((a, i) => writeStdin(a, Buffer.concat(pieces[i].slice(1)))));
      await waitFor(async () => (await cluster.api('GET', `/tasks/${id}`)).data.stages.global.workers.some((w: any) => w.name === 'jw3' && w.partitions.length > 0),
        30_000, 'the joiner holds partitions');
      for (const a of agents) a.child.stdin!.end();
      await waitFor(async () => (await cluster.api('GET', `/tasks/${id}`)).data.results >= expected.length, 90_000, 'all results');
      await new Promise((r) => setTimeout(r, 1500));
      assert.deepEqual(canonical(await results(id)), expected);
    } finally {
      await cluster.api('POST', `/tasks/${id}/stop`, {});
      for (const a of agents) await cluster.kill(a, 'SIGTERM');
      await cluster.kill(joiner, 'SIGTERM');
      await cluster.kill(first, 'SIGTERM');
    }
  });

  test('broker stopped for 10 s mid-run: agents pause, nothing lost', async () => {
    const agents = parts.map((_, i) => cluster.agent(`b${i}`, 'pcap:-', 'pipe'));
    await waitFor(async () => (await cluster.api('GET', '/agents')).data.agents.filter((a: any) => a.up && a.name.startsWith('b')).length === 3, 20_000, 'agents up');
    const sub = await cluster.api('POST', '/tasks', { app: 'tcp-new-conn', params: PARAMS, window: 1, agents: { names: ['b0', 'b1', 'b2'] } });
    const id = sub.data.id;
    const split = parts.map((p) => halves(p));
    await Promise.all(agents.map((a, i) => writeStdin(a, split[i][0])));
    await waitFor(async () => (await cluster.api('GET', `/tasks/${id}`)).data.results > 0, 60_000, 'first results');
    await kafkaScript(['down', '--port', String(kafka.port)], dataDir);
    // Not awaited: a paused agent stops reading its standard input (backpressure), so these
    // writes complete only once the broker is back.
    const writes = Promise.all(agents.map((a, i) => writeStdin(a, split[i][1]).then(() => a.child.stdin!.end())));
    await new Promise((r) => setTimeout(r, 10_000));
    const during = (await cluster.api('GET', `/tasks/${id}`)).data;
    await kafkaScript(['up', '--port', String(kafka.port)], dataDir);
    await writes;
    await waitFor(async () => (await cluster.api('GET', `/tasks/${id}`)).data.results >= expected.length, 120_000, 'all results after the outage');
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(canonical(await results(id)), expected);
    const d = (await cluster.api('GET', `/tasks/${id}`)).data;
    assert.ok(during.stages.local.items_read <= d.stages.local.items_read);
    const retries = d.agents_detail.reduce((a: number, x: any) => a + (x.kafka_retries ?? 0), 0);
    assert.ok(retries > 0, 'agents retried (paused) during the outage');
    await cluster.api('POST', `/tasks/${id}/stop`, {});
  });

  test('an agent that disappears is shown down and stops holding windows after the grace time', async () => {
    const [head, , cutTs] = halves(parts[1], 0.4);
    const full = cluster.agent('g0', `pcap:${parts[0]}`);
    const dying = cluster.agent('g1', 'pcap:-', 'pipe');
    await waitFor(async () => (await cluster.api('GET', '/agents')).data.agents.filter((a: any) => a.up && a.name.startsWith('g')).length === 2, 20_000, 'agents up');
    const sub = await cluster.api('POST', '/tasks', { app: 'tcp-new-conn', params: PARAMS, window: 1, agents: { names: ['g0', 'g1'] }, grace_ms: 3000 });
    const id = sub.data.id;
    await writeStdin(dying, head);
    await waitFor(async () => ((await cluster.api('GET', `/tasks/${id}`)).data.agents_detail.find((a: any) => a.name === 'g1')?.items_read ?? 0) > 0, 30_000, 'g1 reading');
    await new Promise((r) => setTimeout(r, 1500));
    await cluster.kill(dying);
    const killedAt = Date.now();
    await waitFor(async () => (await cluster.api('GET', '/agents')).data.agents.find((a: any) => a.name === 'g1')?.up === false, 10_000, 'g1 shown down');
    assert.ok(Date.now() - killedAt < 8000, 'down within a few heartbeats');
    // windows after g1's last packet: from g0 alone
    const later = (rs: TaskResult[]) => canonical(rs.filter((r) => r.window!.start > cutTs + 1));
    const want = later(await reference([`pcap:${parts[0]}`]));
    assert.ok(want.length > 0);
    await waitFor(async () => later(await results(id)).length >= want.length, 60_000, 'later windows released after the grace time');
    assert.deepEqual(later(await results(id)), want);
    const d = (await cluster.api('GET', `/tasks/${id}`)).data;
    assert.ok(d.stages.global.grace_expiries > 0, 'grace expiry visible in the stats');
    assert.equal(d.agents_detail.find((a: any) => a.name === 'g1').up, false);
    await cluster.kill(full, 'SIGTERM');
  });
});
