/**
 * `npm run bench:kafka`: local results through a real Apache Kafka broker into the GSP, with one
 * and with two GSP worker processes (`intstream gsp`, a consumer group), and the delay from a
 * window's end to its global result.
 *
 * The local side runs in this process: three local stages (tcp-new-conn, 1 s windows, threshold
 * 0 so every (window, key) is a result) over three interleaved parts of a capture replayed at
 * full speed, sending record format v1 to the task's topic (4 partitions). Reported:
 *   - local results/s: partial results sent / (first send → last global result in the results topic)
 *   - delay: per window, the wall time from the moment every source had sealed past its end (in
 *     source time) to its first global result arriving in the results topic; median and p95.
 * Not a pass/fail test. INTSTREAM_BENCH_PACKETS caps the packets per run (default 600,000).
 */
import { closeSync, existsSync, fstatSync, mkdtempSync, openSync, readSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTask } from '../src/apps/load-task.ts';
import { LocalProcessor } from '../src/local/local-processor.ts';
import type { StageEnv } from '../src/query/operator.ts';
import { splitPlan } from '../src/query/pipeline.ts';
import { buildPlan, resolveParams } from '../src/query/task.ts';
import { SkipCounters } from '../src/decode/skip-counters.ts';
import { openSourceSpec } from '../src/sources/source-spec.ts';
import { createConsumer } from '../src/transport/kafka-client.ts';
import { KafkaStageSender, resultsTopic } from '../src/transport/kafka-transport.ts';
import { splitCapture } from '../test/apps/split-files.ts';
import { Cluster, TOKEN, waitFor } from '../test/control/cluster.ts';
import { startKafka } from '../test/support/kafka.ts';

const BIG = new URL('./data/bench-5000000.pcap', import.meta.url).pathname;
const DEMO = new URL('../samples/demo.pcap', import.meta.url).pathname;
const LIMIT = Number(process.env.INTSTREAM_BENCH_PACKETS ?? 600_000);

/** The first `limit` packets of a classic pcap. */
function head(file: string, limit: number): string {
  const h = openSync(file, 'r');
  const fd = Buffer.alloc(Math.min(fstatSync(h).size, limit * 512));
  readSync(h, fd, 0, fd.length, 0);
  closeSync(h);
  const le = fd.readUInt32LE(0) === 0xa1b2c3d4 || fd.readUInt32LE(0) === 0xa1b23c4d;
  let o = 24, n = 0;
  while (o + 16 <= fd.length && n < limit) { o += 16 + (le ? fd.readUInt32LE(o + 8) : fd.readUInt32BE(o + 8)); n++; }
  const out = join(mkdtempSync(join(tmpdir(), 'intstream-bench-')), 'head.pcap');
  writeFileSync(out, fd.subarray(0, Math.min(o, fd.length)));
  return out;
}

const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN; };

async function one(cluster: Cluster, workers: number, parts: string[], round: number) {
  const gsps = Array.from({ length: workers }, (_, i) => cluster.gsp(`bench${round}-${i}`));
  await waitFor(async () => (await cluster.api('GET', '/workers')).data.workers.filter((w: any) => w.up && w.name.startsWith(`bench${round}-`)).length === workers, 30_000, 'workers up');
  const names = parts.map((_, i) => `src${i}`);
  for (const n of names) await cluster.api('POST', '/agents', { name: n, source: 'bench' }, cluster.tokenFor('agent', n));
  const sub = await cluster.api('POST', '/tasks', { app: 'tcp-new-conn', params: { threshold: '0' }, window: 1, agents: { names }, partitions: 4 });
  if (sub.status !== 201) throw new Error(JSON.stringify(sub.data));
  const spec = sub.data;
  // wait until each worker joined the task's group
  await waitFor(async () => ((await cluster.api('GET', `/tasks/${spec.id}`)).data.stages.global.workers.filter((w: any) => w.partitions.length > 0).length === workers), 60_000, 'partitions assigned');

  const arrivals = new Map<number, number>(); // window end -> first result wall ms
  let results = 0, lastResult = 0;
  const consumer = await createConsumer({ bootstrap: cluster.kafka, groupId: `bench-${spec.id}`, topics: [resultsTopic(spec.id)], fromBeginning: true, maxWaitMs: 20 });
  const reading = (async () => {
    for await (const b of consumer) {
      const now = Date.now();
      for (const r of b.records) {
        const v = JSON.parse(r.value.toString());
        results++; lastResult = now;
        if (!arrivals.has(v.window.end)) arrivals.set(v.window.end, now);
      }
    }
  })();

  const { def } = await loadTask('tcp-new-conn');
  const split = splitPlan(buildPlan(def, resolveParams(def, { threshold: '0' }), { window: 1 }));
  const sender = new KafkaStageSender(cluster.kafka, spec.id, parts.length, spec.partitions);
  const sealed: Map<number, number>[] = parts.map(() => new Map()); // per source: window end -> wall ms sealed
  let sent = 0;
  const started = Date.now();
  const locals = await Promise.all(parts.map(async (p, i) => {
    const s = await openSourceSpec(`pcap:${p}`);
    await s.open();
    const env: StageEnv = { skipped: new SkipCounters(), lateness: 0, sendProbe: async () => ({ ok: false }) };
    let lastWm = -Infinity;
    return new LocalProcessor(i, s, split, env, async (m) => {
      sent += m.items.length;
      await sender.send(m);
      const now = Date.now();
      const wm = m.end ? Math.ceil(lastWm) + 3600 : m.watermark;
      for (let e = Math.floor(lastWm) + 1; e <= wm && e - lastWm < 7200; e++) if (!sealed[i].has(e)) sealed[i].set(e, now);
      if (Number.isFinite(wm)) lastWm = Math.max(lastWm, wm);
    });
  }));
  await Promise.all(locals.map((l) => l.run()));
  // every window's results: wait until no new result for 3 s
  await waitFor(() => lastResult > 0 && Date.now() - lastResult > 3000, 300_000, 'results settle');
  await consumer.close();
  await reading.catch(() => undefined);
  await sender.close();
  const delays: number[] = [];
  for (const [end, at] of arrivals) {
    let sealAt = 0, all = true;
    for (const m of sealed) { const t = m.get(end); if (t === undefined) { all = false; break; } sealAt = Math.max(sealAt, t); }
    if (all) delays.push(at - sealAt);
  }
  const elapsed = (lastResult - started) / 1000;
  await cluster.api('POST', `/tasks/${spec.id}/stop`, {});
  for (const g of gsps) await cluster.kill(g, 'SIGTERM');
  return { workers, partials: sent, results, elapsed_s: +elapsed.toFixed(2), partials_per_s: Math.round(sent / elapsed), windows: delays.length, delay_ms_median: pct(delays, 0.5), delay_ms_p95: pct(delays, 0.95) };
}

const kafka = await startKafka({ port: 19492 });
const cluster = new Cluster(kafka.bootstrap);
try {
  await cluster.startRuntime();
  const input = existsSync(BIG) ? head(BIG, LIMIT) : DEMO;
  const parts = splitCapture(input, 3, (i) => i % 3);
  process.stderr.write(`input: ${input} (${existsSync(BIG) ? `${LIMIT} packets of bench-5000000.pcap` : 'demo'}), 3 local stages, tcp-new-conn, 1 s windows, threshold 0, 4 partitions\n`);
  const rows = [];
  for (const [round, w] of [1, 2].entries()) rows.push(await one(cluster, w, parts, round));
  console.table(rows);
  console.log(JSON.stringify(rows));
} finally {
  await cluster.stopAll();
  await kafka.stop();
}
void TOKEN;
