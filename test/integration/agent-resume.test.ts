/**
 * Restarts and failures of the distributed path against a real Apache Kafka broker (port 21492),
 * with real processes, compared with an uninterrupted in-process run of the same task on the
 * same files (`intstream run`'s runTask):
 *
 * 1. Agent resume (src/control/resume-point.ts): an agent on a 60-window pcapng file is SIGKILLed
 *    mid-task, a quarter second after a heartbeat carried its resume point (so it had sent windows
 *    past it), and restarted with the same name. A second agent, fed by a pipe, lags behind, so
 *    the GSP still holds every window the first agent sends: a window sent twice would be counted
 *    twice. The final results equal the uninterrupted run's; the restarted agent opened the file
 *    at the stored resume point (its items_read is the file's packets after it, fewer than the
 *    file holds), and the GSP dropped what it sent again (`resent` > 0).
 * 2. A GSP worker SIGKILLed mid-task and a replacement started: the finished task's detail shows
 *    global out == stored results == `intstream results` lines == the uninterrupted run's count;
 *    the dead worker is listed down, then gone from GET /workers and the task's workers list once
 *    the runtime's --forget-after (8 s here) has passed.
 * 3. What the runtime sets aside is counted: an event stream whose client does not read is
 *    closed once a megabyte waits for it (`sse_clients_dropped`) while a reading client gets every
 *    result, a client resuming with `after` gets every result after it (not just 1000), and results
 *    forgotten by --retention are counted in `results_expired` (global out still counts them).
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadTask } from '../../src/apps/load-task.ts';
import { runTask, type TaskResult } from '../../src/run-task.ts';
import { createConsumer, createProducer } from '../../src/transport/kafka-client.ts';
import { resultsTopic } from '../../src/transport/kafka-transport.ts';
import { kafkaAvailable, startKafka, type KafkaBroker } from '../support/kafka.ts';
import { runCli } from '../support/run-cli.ts';
import { synCapture } from '../support/syn-capture.ts';
import { canonical, Cluster, TOKEN, waitFor, writeStdin } from '../control/cluster.ts';

/** SYNs per destination and window, made slow on purpose (busy `spin_us` per packet) so that a kill lands mid-file. */
const QUERY = `import { defineTask, count } from 'intstream';

export default defineTask({
  name: 'slow-syn',
  description: 'SYNs per destination, spending spin_us per packet',
  params: { spin_us: { default: 0, description: 'busy time per packet, microseconds' } },
  query: (packets, p) =>
    packets
      .filter('tcp.syn and not tcp.ack_flag')
      .filter(() => { const until = performance.now() + p.spin_us / 1000; while (performance.now() < until); return true; })
      .key('ip.dst')
      .window(p.window)
      .aggregate(count())
      .global()
      .merge(),
});
`;
const PARAMS = { spin_us: '60' };
const N0 = 50_000;
/** The pcapng's SHB and IDB: a resume point past them has read packets. */
const NG_HEADER = 48;

/** Records in a topic, read from its start by a group of its own until none came for 3 s. */
async function topicRecords(topic: string): Promise<number> {
  const consumer = await createConsumer({ bootstrap: kafkaBootstrap, groupId: `count-${Date.now()}-${Math.random()}`, topics: [topic], fromBeginning: true, maxWaitMs: 200 });
  let n = 0, last = Date.now();
  // the iteration waits for records: closing the consumer ends it (3 s after the last record, 15 s before the first)
  const quiet = setInterval(() => { if (Date.now() - last > (n > 0 ? 3000 : 15_000)) void consumer.close().catch(() => undefined); }, 200);
  try {
    for await (const batch of consumer) { n += batch.records.length; last = Date.now(); }
  } finally {
    clearInterval(quiet);
    await consumer.close().catch(() => undefined);
  }
  return n;
}
let kafkaBootstrap = '';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const avail = kafkaAvailable();
describe('agent resume and the runtime counters under failure', { skip: avail.ok ? false : avail.reason }, () => {
  let kafka: KafkaBroker;
  let cluster: Cluster;
  let file0: string, file1: string, queryFile: string;
  let bytes1: Buffer;
  let expectedBoth: string[], expected0: string[];

  const detail = async (id: string) => (await cluster.api('GET', `/tasks/${id}`)).data;
  const results = async (id: string) => (await cluster.api('GET', `/tasks/${id}/results?limit=100000`)).data.results as TaskResult[];
  const agentOf = (d: any, name: string) => d.agents_detail.find((a: any) => a.name === name);

  before(async () => {
    kafka = await startKafka({ port: 21492 });
    kafkaBootstrap = kafka.bootstrap;
    cluster = new Cluster(kafka.bootstrap);
    file0 = join(cluster.dir, 'edge0.pcapng');
    file1 = join(cluster.dir, 'edge1.pcap');
    queryFile = join(cluster.dir, 'slow-syn.ts');
    writeFileSync(file0, synCapture({ packets: N0, seconds: 60, dsts: 20, format: 'pcapng', seed: 11 }).bytes);
    bytes1 = synCapture({ packets: 3000, seconds: 60, dsts: 20, seed: 12 }).bytes;
    writeFileSync(file1, bytes1);
    writeFileSync(queryFile, QUERY);
    const { def } = await loadTask(queryFile);
    const reference = async (sources: string[]) => {
      const out: TaskResult[] = [];
      await runTask({ task: def, params: PARAMS, window: 1, sources, onResult: (r) => { out.push(r); } });
      return canonical(out);
    };
    expectedBoth = await reference([`pcap:${file0}`, `pcap:${file1}`]);
    expected0 = await reference([`pcap:${file0}`]);
    await cluster.startRuntime(['--forget-after', '8s', '--stream-stall', '3s']);
    cluster.gsp('w1', ['--allow-code']);
  });
  after(async () => {
    await cluster?.stopAll();
    await kafka?.stop();
  });

  test('an agent SIGKILLed mid-file and restarted resumes after its last acknowledged window: exact results', async () => {
    const agentArgs = ['--allow-code'];
    let r0 = cluster.agent('r0', `pcap:${file0}`, 'ignore', agentArgs);
    const r1 = cluster.agent('r1', 'pcap:-', 'pipe', agentArgs);
    await waitFor(async () => (await cluster.api('GET', '/agents')).data.agents.filter((a: any) => a.up && /^r[01]$/.test(a.name)).length === 2, 20_000, 'agents up');
    const sub = await cluster.api('POST', '/tasks', { code: QUERY, params: PARAMS, window: 1, agents: { names: ['r0', 'r1'] }, grace_ms: 600_000 });
    assert.equal(sub.status, 201, JSON.stringify(sub.data));
    const id = sub.data.id;
    // the second source's first 5 s only: the GSP holds every later window of r0
    const cut = 24 + Math.floor(3000 / 12) * 70;
    await writeStdin(r1, bytes1.subarray(0, cut));
    // a resume point past the header, then the next one (a heartbeat just arrived), then 250 ms of sending
    let seen = -1;
    await waitFor(async () => { seen = agentOf(await detail(id), 'r0')?.checkpoint?.offset ?? -1; return seen > NG_HEADER; }, 60_000, 'r0 reports a resume point');
    await waitFor(async () => (agentOf(await detail(id), 'r0')?.checkpoint?.offset ?? -1) !== seen, 20_000, 'r0 reports the next resume point');
    await sleep(250);
    await cluster.kill(r0);
    const atKill = agentOf(await detail(id), 'r0');
    assert.equal(atKill.state, 'running', 'killed mid-file');
    const ck = atKill.checkpoint;
    assert.ok(ck.offset > NG_HEADER && ck.items_before > 0 && ck.items_before < N0, JSON.stringify(ck));
    assert.ok(atKill.items_read < N0, `read ${atKill.items_read} of ${N0} when killed`);

    r0 = cluster.agent('r0', `pcap:${file0}`, 'ignore', agentArgs);
    await waitFor(async () => agentOf(await detail(id), 'r0')?.state === 'finished', 90_000, 'the restarted r0 finishes');
    // now the lagging source catches up, and every window closes
    await writeStdin(r1, bytes1.subarray(cut));
    r1.child.stdin!.end();
    await waitFor(async () => { const d = await detail(id); return d.status === 'finished' && d.results >= expectedBoth.length; }, 90_000, 'all results');
    await sleep(1500);
    assert.deepEqual(canonical(await results(id)), expectedBoth);

    const d = await detail(id);
    const a0 = agentOf(d, 'r0');
    assert.equal(a0.resumed_at_offset, ck.offset, 'opened at the stored resume point');
    assert.equal(a0.resumed_items_before, ck.items_before);
    assert.ok(a0.items_read < N0, `items read after the restart: ${a0.items_read} of ${N0}`);
    assert.equal(a0.items_read + a0.resumed_items_before, N0, 'the packets after the resume point, each read once');
    assert.ok(d.stages.global.resent > 0, `the GSP dropped what the resumed agent sent again: ${d.stages.global.resent}`);
    assert.match(r0.log.join(''), new RegExp(`resuming .*edge0\\.pcapng at offset ${ck.offset}`));
    process.stderr.write(`# resume: killed at ${atKill.items_read}/${N0} packets; resumed at offset ${ck.offset} (${ck.items_before} packets before it); read ${a0.items_read} after the restart; GSP dropped ${d.stages.global.resent} elements sent again\n`);
    await cluster.kill(r0, 'SIGTERM');
    await cluster.kill(r1, 'SIGTERM');
  });

  test('a GSP worker SIGKILLed mid-task and replaced: global out = stored = `intstream results` = the uninterrupted count; the dead worker is forgotten', async () => {
    const w2 = cluster.gsp('w2', ['--allow-code']);
    const s0 = cluster.agent('s0', `pcap:${file0}`, 'ignore', ['--allow-code']);
    await waitFor(async () => (await cluster.api('GET', '/agents')).data.agents.some((a: any) => a.up && a.name === 's0'), 20_000, 's0 up');
    await waitFor(async () => (await cluster.api('GET', '/workers')).data.workers.filter((w: any) => w.up).length === 2, 20_000, 'two workers up');
    const sub = await cluster.api('POST', '/tasks', { code: QUERY, params: PARAMS, window: 1, agents: { names: ['s0'] } });
    assert.equal(sub.status, 201, JSON.stringify(sub.data));
    const id = sub.data.id;
    await waitFor(async () => {
      const d = await detail(id);
      return d.results > 0 && d.stages.global.workers.filter((w: any) => w.up && w.partitions.length > 0).length === 2;
    }, 60_000, 'first results, both workers holding partitions');
    const mid = await detail(id);
    assert.ok(mid.status === 'running' && mid.results < expected0.length, `mid-task: ${mid.results} of ${expected0.length}`);
    await cluster.kill(w2);
    const w3 = cluster.gsp('w3', ['--allow-code']);
    // the dead worker: listed down (3 s), then forgotten 8 s after its last heartbeat
    const listed = async () => ({
      workers: (await cluster.api('GET', '/workers')).data.workers.find((w: any) => w.name === 'w2'),
      task: (await detail(id)).stages.global.workers.find((w: any) => w.name === 'w2'),
    });
    let lastSeen = 0;
    await waitFor(async () => { const x = await listed(); lastSeen = x.workers?.last_seen ?? 0; return x.workers?.up === false && x.task?.up === false; }, 10_000, 'w2 listed down');
    await waitFor(async () => { const x = await listed(); return x.workers === undefined && x.task === undefined; }, 30_000, 'w2 forgotten');
    const forgotten = Date.now() - lastSeen;
    assert.ok(forgotten >= 8000 && forgotten < 12_000, `forgotten ${forgotten} ms after its last heartbeat`);
    let last: any = null;
    await waitFor(async () => { const d = last = await detail(id); return d.status === 'finished' && d.results >= expected0.length; }, 120_000,
      // where it got to (a timeout once under a full suite's load, never alone): the task, the workers, their last lines
      () => `finished with all ${expected0.length} results; reached: status ${last?.status}, results ${last?.results}, agents ${JSON.stringify(last?.agents)}, ` +
        `global ${JSON.stringify(last?.stages?.global)}; w3 log: ${w3.log.join('').slice(-1500)}; s0 log: ${s0.log.join('').slice(-800)}`);
    await sleep(2000);
    const d = await detail(id);
    const stored = await results(id);
    assert.deepEqual(canonical(stored), expected0);
    const cli = await runCli(['results', id, '--runtime', cluster.runtimeUrl, '--token', TOKEN]);
    assert.equal(cli.code, 0, cli.stderr);
    const lines = cli.stdout.split('\n').filter(Boolean).length;
    assert.deepEqual([d.stages.global.out, d.results, stored.length, lines], [expected0.length, expected0.length, expected0.length, expected0.length]);
    // what the workers produced, replays included: every record of the results topic, counted here by reading it
    assert.equal(d.stages.global.emitted, await topicRecords(resultsTopic(id)));
    assert.equal(d.stages.global.emitted, d.results + d.results_duplicates);
    process.stderr.write(`# failover: ${expected0.length} results; workers emitted ${d.stages.global.emitted}; copies kept out ${d.results_duplicates}; w2 forgotten ${forgotten} ms after its last heartbeat\n`);
    await cluster.kill(s0, 'SIGTERM');
  });

  test('the runtime counts what it sets aside: a slow event-stream client, results after `after`, retention', async () => {
    // an agent on a pipe that stays open: the task keeps running, so its event streams stay open
    const q0 = cluster.agent('q0', 'pcap:-', 'pipe');
    await waitFor(async () => (await cluster.api('GET', '/agents')).data.agents.some((a: any) => a.up && a.name === 'q0'), 20_000, 'q0 up');
    // a task that emits nothing itself: its results are the ones this test writes to its results topic
    const sub = await cluster.api('POST', '/tasks', { app: 'tcp-new-conn', params: { threshold: '1000000000' }, window: 1, agents: { names: ['q0'] } });
    assert.equal(sub.status, 201);
    const id = sub.data.id;
    const url = new URL(cluster.runtimeUrl);
    // a client that reads every event, and one that reads nothing
    const reader = new AbortController();
    let got = 0;
    const reading = (async () => {
      const res = await fetch(`${cluster.runtimeUrl}/api/v1/tasks/${id}/events`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: reader.signal });
      const dec = new TextDecoder();
      let buf = '';
      for await (const chunk of res.body as any as AsyncIterable<Uint8Array>) {
        buf += dec.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) { if (/^event: result$/m.test(buf.slice(0, i))) got++; buf = buf.slice(i + 2); }
      }
    })().catch(() => undefined);
    const slow = connect(Number(url.port), url.hostname);
    let slowClosed = false;
    slow.on('close', () => { slowClosed = true; }).on('error', () => undefined);
    slow.write(`GET /api/v1/tasks/${id}/events HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${TOKEN}\r\nAccept: text/event-stream\r\n\r\n`);
    slow.pause();
    await sleep(1000);
    const N = 100_000;
    const producer = createProducer({ bootstrap: kafka.bootstrap, clientId: 'resume-test' });
    for (let i = 0; i < N; i += 5000) {
      const recs = [];
      for (let k = i; k < Math.min(N, i + 5000); k++) {
        const r = { v: 1, task: 'tcp-new-conn', window: { start: 1_700_000_000 + k, end: 1_700_000_001 + k }, key: `10.1.${k >> 8}.${k & 255}`, value: k };
        recs.push({ key: JSON.stringify([r.window.start, r.window.end, r.key]), value: JSON.stringify(r) });
      }
      await producer.send(resultsTopic(id), recs);
    }
    await producer.close();
    await waitFor(async () => (await detail(id)).results === N, 60_000, 'every result stored');
    await waitFor(() => got === N, 30_000, `the reading client gets every result (${got})`);
    await waitFor(async () => (await detail(id)).sse_clients_dropped === 1, 30_000, 'the slow client dropped and counted');
    slow.resume();
    await waitFor(() => slowClosed, 10_000, 'the slow client is closed');
    reader.abort();
    await reading;
    // a client resuming with `after` gets everything after it, in pages
    const page = (await cluster.api('GET', `/tasks/${id}/results?after=0&limit=10`)).data.results;
    const ac = new AbortController();
    let resumed = 0;
    const res = await fetch(`${cluster.runtimeUrl}/api/v1/tasks/${id}/events?after=${page[9].seq}`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: ac.signal });
    const dec = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body as any as AsyncIterable<Uint8Array>) {
        buf += dec.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) { if (/^event: result$/m.test(buf.slice(0, i))) resumed++; buf = buf.slice(i + 2); }
        if (resumed >= N - 10) break;
      }
    } finally { ac.abort(); }
    assert.equal(resumed, N - 10);
    const d = await detail(id);
    assert.deepEqual([d.results, d.stages.global.out, d.sse_clients_dropped, d.results_expired], [N, N, 1, 0]);
    // retention: the runtime restarted with --retention 1s forgets them, and counts them
    const rt = cluster.procs.find((p) => p.name === 'runtime' && p.child.exitCode === null && p.child.signalCode === null)!;
    await cluster.kill(rt, 'SIGTERM');
    await cluster.startRuntime(['--forget-after', '8s', '--stream-stall', '3s', '--retention', '1s']);
    await waitFor(async () => (await detail(id)).results === 0, 30_000, 'results forgotten');
    const e = await detail(id);
    assert.deepEqual([e.results, e.results_expired, e.stages.global.out, e.sse_clients_dropped], [0, N, N, 1]);
    q0.child.stdin!.end();
    await cluster.kill(q0, 'SIGTERM');
  });
});
