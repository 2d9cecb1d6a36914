/**
 * Per-window stage counters (GET /api/v1/tasks/{id}/windows) against a real Kafka broker: a
 * runtime, two agents on the two halves of the demo capture (alternate packets, so every window
 * has packets of both), one GSP worker, each a real `intstream` process. The expected counts come
 * from tshark over each agent's file, counted here per 1 s window: frames read, SYNs without ACK
 * (tcp-new-conn's pushed-down filter), distinct (window, ip.dst) with a SYN per agent (the local
 * stage's partial counts), and hosts whose SYNs over both agents exceed the threshold (results).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { splitCapture } from '../apps/split-files.ts';
import { kafkaAvailable, startKafka, type KafkaBroker } from '../support/kafka.ts';
import { Cluster, waitFor } from '../control/cluster.ts';

const DEMO = new URL('../../samples/demo.pcap', import.meta.url).pathname;
const THRESHOLD = 5;

interface Win { read: number; after_filter: number; local_out: number; global_out: number }

/** Per 1 s window of one file, by tshark: frames, SYN-without-ACK frames, and SYNs per ip.dst. */
function tsharkWindows(file: string): Map<number, { read: number; syn: number; dsts: Map<string, number> }> {
  const r = spawnSync('tshark', ['-n', '-r', file, '-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE', '-T', 'fields', '-E', 'separator=\t',
    '-e', 'frame.time_epoch', '-e', 'frame.protocols', '-e', 'tcp.flags.syn', '-e', 'tcp.flags.ack', '-e', 'ip.dst', '-e', 'ipv6.dst'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, r.stderr);
  const out = new Map<number, { read: number; syn: number; dsts: Map<string, number> }>();
  for (const line of r.stdout.split('\n')) {
    if (!line) continue;
    const [t, protos, syn, ack, ip4, ip6] = line.split('\t');
    const w = Math.floor(Number(t));
    let e = out.get(w);
    if (!e) out.set(w, (e = { read: 0, syn: 0, dsts: new Map() }));
    e.read++;
    // a TCP header quoted in an ICMP error is not the packet's own
    if (syn !== '1' || ack !== '0' || /(^|:)icmp/.test(protos)) continue;
    e.syn++;
    const dst = (ip4 || ip6).split(',')[0];
    e.dsts.set(dst, (e.dsts.get(dst) ?? 0) + 1);
  }
  return out;
}

function expectedWindows(files: string[]): Map<number, Win> {
  const per = files.map(tsharkWindows);
  const out = new Map<number, Win>();
  const total = new Map<number, Map<string, number>>();
  for (const m of per) {
    for (const [w, e] of m) {
      const x = out.get(w) ?? { read: 0, after_filter: 0, local_out: 0, global_out: 0 };
      x.read += e.read; x.after_filter += e.syn; x.local_out += e.dsts.size;
      out.set(w, x);
      const t = total.get(w) ?? new Map<string, number>();
      for (const [d, n] of e.dsts) t.set(d, (t.get(d) ?? 0) + n);
      total.set(w, t);
    }
  }
  for (const [w, t] of total) out.get(w)!.global_out = [...t.values()].filter((n) => n > THRESHOLD).length;
  return out;
}

const avail = kafkaAvailable();
const tshark = spawnSync('tshark', ['-v']).status === 0;
describe('per-window stage counters: 2 agents, 1 GSP worker', { skip: !avail.ok ? avail.reason : !tshark ? 'tshark not found' : false }, () => {
  let kafka: KafkaBroker;
  let cluster: Cluster;
  let parts: string[];
  before(async () => {
    kafka = await startKafka({ port: 19592 });
    cluster = new Cluster(kafka.bootstrap);
    parts = splitCapture(DEMO, 2, (i) => i % 2);
    await cluster.startRuntime();
    parts.forEach((p, i) => cluster.agent(`w${i}`, `pcap:${p}`));
    cluster.gsp('g1');
    await waitFor(async () => (await cluster.api('GET', '/agents')).data.agents.filter((a: any) => a.up).length === 2, 20_000, '2 agents up');
    await waitFor(async () => (await cluster.api('GET', '/workers')).data.workers.filter((w: any) => w.up).length === 1, 20_000, 'worker up');
  });
  after(async () => {
    await cluster?.stopAll();
    await kafka?.stop();
  });

  test('tcp-new-conn: read, after filter, local out and global out per 1 s window equal tshark counts', async () => {
    const expected = expectedWindows(parts);
    assert.ok(expected.size >= 10, `windows in the demo capture: ${expected.size}`);
    const wantResults = [...expected.values()].reduce((a, w) => a + w.global_out, 0);
    assert.ok(wantResults > 5, `results expected: ${wantResults}`);

    const sub = await cluster.api('POST', '/tasks', { app: 'tcp-new-conn', params: { threshold: String(THRESHOLD) }, window: 1, agents: { names: ['w0', 'w1'] } });
    assert.equal(sub.status, 201, JSON.stringify(sub.data));
    const id = sub.data.id;
    await waitFor(async () => {
      const d = (await cluster.api('GET', `/tasks/${id}`)).data;
      return d.status === 'finished' && d.results >= wantResults;
    }, 90_000, `task finished with ${wantResults} results`);
    await new Promise((r) => setTimeout(r, 1500)); // a last heartbeat; nothing may change

    const r = await cluster.api('GET', `/tasks/${id}/windows`);
    assert.equal(r.status, 200);
    assert.equal(r.data.window, 1);
    const got = r.data.windows as { start: number; end: number; read: number; after_filter: number; local_out: number; global_out: number; reduction: number | null }[];
    assert.deepEqual(got.map((w) => w.start), [...expected.keys()].sort((a, b) => a - b), 'the same windows');
    for (const w of got) {
      const e = expected.get(w.start)!;
      assert.equal(w.end, w.start + 1);
      assert.deepEqual({ read: w.read, after_filter: w.after_filter, local_out: w.local_out, global_out: w.global_out }, e, `window ${w.start}`);
      assert.equal(w.reduction, 1 - e.local_out / e.read);
    }
    // the windows add up to the task's totals
    const d = (await cluster.api('GET', `/tasks/${id}`)).data;
    assert.equal(got.reduce((a, w) => a + w.read, 0), d.stages.local.items_read);
    assert.equal(got.reduce((a, w) => a + w.after_filter, 0), d.stages.local.items_read - d.stages.local.filtered);
    assert.equal(got.reduce((a, w) => a + w.local_out, 0), d.stages.local.emitted);
    assert.equal(got.reduce((a, w) => a + w.global_out, 0), d.results);

    const spec = (await cluster.api('GET', '/openapi.json')).data;
    assert.ok(spec.paths['/api/v1/tasks/{id}/windows']?.get, 'OpenAPI lists GET /api/v1/tasks/{id}/windows');
    assert.equal((await cluster.api('GET', '/tasks/no-such-task/windows')).status, 404);
  });
});
