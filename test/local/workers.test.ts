/**
 * `--workers N`: every built-in application gives the same results, items read and items past
 * the filter on 2 and 3 local-stage threads per source as on one (the plain in-thread run, the
 * independent answer here), on captures that make the threads' split matter:
 *
 * - the generated capture with every planted anomaly (120 k packets: many batches per thread);
 * - a copy in which every other packet is moved a window (10 s) back in time, read with
 *   lateness 0: whether such a packet is late depends on the source's time, which a thread
 *   dealt whole batches only knows from the batch's clock (the `late` counts must be equal too);
 * - one busy flow and a few sparse ones whose packets come 10 s late: a thread dealt records by
 *   flow knows the source's time only through the cut it makes at such a record;
 * - a copy with every timestamp cut to the whole second: equal timestamps everywhere, so
 *   tcp-retrans's order "by source, then by position" is only kept by flow dealing;
 * - real captures: a spoofed SYN flood, Linux SLL2 link headers;
 * - INT reports from int-gen with int_port (int-collector keeps state per source: one thread,
 *   said once), and a query file counting INT reports on threads.
 *
 * Also: the agent's form (the threads combined into one stream, merged by a one-source global
 * stage as its GSP does), and the CLI flag with its errors.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinNames, loadBuiltin } from '../../src/apps/index.ts';
import { runTask, type RunStats } from '../../src/run-task.ts';
import { openLocalStageThreads } from '../../src/local/local-stage.ts';
import { openGlobalStage } from '../../src/global/global-processor.ts';
import { splitPlan } from '../../src/query/pipeline.ts';
import { buildPlan, resolveParams } from '../../src/query/task.ts';
import { toResult } from '../../src/sinks/sink.ts';
import { encodeReport, encodeReportFrame, pcapFile } from '../../src/gen/int-gen.ts';
import { flowPerPathSeries } from '../../src/int/gen-series.ts';
import type { TaskRef } from '../../src/local/workers/task-ref.ts';
import { Slot, SLOT_BYTES, SLOT_RECORDS } from '../../src/local/workers/slots.ts';
import { PacketBatch } from '../../src/sources/packet-batch.ts';
import { createServer } from 'node:net';
import { execFile, spawnSync } from 'node:child_process';
import { generatedCapture, GENERATED } from '../apps/generated.ts';
import { TASKS } from '../apps/helpers.ts';
import { CAPTURES, runCli } from '../support/run-cli.ts';
import { sendAll, udpPayloads } from '../support/datagrams.ts';

const hasTshark = spawnSync('sh', ['-c', 'command -v tshark']).status === 0;
/** A UDP port nobody listens on now (the OS's choice for a TCP listener, closed again). */
const freePort = () => new Promise<number>((res) => { const srv = createServer(); srv.listen(0, '127.0.0.1', () => { const p = (srv.address() as any).port; srv.close(() => res(p)); }); });

/** Results as sorted JSON lines: a total order, so equal multisets compare equal. */
const canon = (rs: unknown[]): string[] => rs.map((r) => JSON.stringify(r)).sort();

interface Outcome { results: string[]; stats: RunStats; notices: string[] }

async function run(app: string | TaskRef, file: string, params: Record<string, string>, workers: number): Promise<Outcome> {
  const ref: TaskRef = typeof app === 'string' ? { kind: 'task', task: app } : app;
  const task = typeof app === 'string' ? (await loadBuiltin(app))! : (await (await import('../../src/apps/load-task.ts')).loadTask((app as { task: string }).task)).def;
  const results: unknown[] = [];
  const notices: string[] = [];
  const stats = await runTask({
    task, params, sources: [`pcap:${file}`], workers, taskRef: ref, onNotice: (l) => notices.push(l),
    onResult: (r) => { results.push({ window: r.window, key: r.key, value: r.value }); },
  });
  return { results: canon(results), stats, notices };
}

/** Classic pcap (little-endian, µs) rewritten record by record: `ts(i, sec, usec)` gives the new [sec, usec]. */
function retime(file: string, out: string, ts: (i: number, sec: number, usec: number) => [number, number]): string {
  const b = readFileSync(file);
  assert.equal(b.readUInt32LE(0), 0xa1b2c3d4, 'a little-endian µs pcap');
  const o = Buffer.from(b);
  for (let at = 24, i = 0; at + 16 <= o.length; i++) {
    const [s, u] = ts(i, o.readUInt32LE(at), o.readUInt32LE(at + 4));
    o.writeUInt32LE(s, at); o.writeUInt32LE(u, at + 4);
    at += 16 + o.readUInt32LE(at + 8);
  }
  writeFileSync(out, o);
  return out;
}

/**
 * A capture (Ethernet, IPv4, TCP with 100-byte payloads, µs): flow A 10.0.0.1:1000 -> 10.0.0.2:80
 * every 2 ms for 40 s, and six sparse flows 10.1.0.k:2000 -> 10.0.0.3:443, one packet every 3 s
 * each, stamped 10 s before the busy flow's time; every third sparse packet repeats the
 * previous one's sequence number (a retransmission).
 */
function lateFlows(out: string): string {
  const recs: Buffer[] = [];
  const seqs = new Map<number, number>();
  const packet = (t: number, src: number, sport: number, dst: number, dport: number, seq: number): Buffer => {
    const b = Buffer.alloc(16 + 14 + 20 + 20 + 100);
    const sec = Math.floor(t), usec = Math.round((t - sec) * 1e6);
    b.writeUInt32LE(sec, 0); b.writeUInt32LE(usec, 4); b.writeUInt32LE(154, 8); b.writeUInt32LE(154, 12);
    b.writeUInt16BE(0x0800, 16 + 12);
    const ip = 30;
    b[ip] = 0x45; b.writeUInt16BE(140, ip + 2); b[ip + 8] = 64; b[ip + 9] = 6;
    b.writeUInt32BE(src, ip + 12); b.writeUInt32BE(dst, ip + 16);
    const tcp = ip + 20;
    b.writeUInt16BE(sport, tcp); b.writeUInt16BE(dport, tcp + 2); b.writeUInt32BE(seq >>> 0, tcp + 4);
    b[tcp + 12] = 0x50; b[tcp + 13] = 0x18;
    return b;
  };
  const start = 1_700_000_000;
  for (let i = 0; i < 20_000; i++) {
    const t = start + 10 + i * 0.002;
    recs.push(packet(t, 0x0a000001, 1000, 0x0a000002, 80, 1 + 100 * i));
    if (i % 1500 === 0) {
      for (let k = 1; k <= 6; k++) {
        const n = (seqs.get(k) ?? 0) + 1;
        seqs.set(k, n);
        recs.push(packet(t - 10 + k * 0.01, 0x0a010000 + k, 2000, 0x0a000003, 443, 1 + 100 * (n % 3 === 0 ? n - 1 : n)));
      }
    }
  }
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0); hdr.writeUInt16LE(2, 4); hdr.writeUInt16LE(4, 6); hdr.writeUInt32LE(65535, 16); hdr.writeUInt32LE(1, 20);
  writeFileSync(out, Buffer.concat([hdr, ...recs]));
  return out;
}

/** Parameters that make each application report on small captures. */
function paramsFor(app: string, int: boolean): Record<string, string> {
  const low = TASKS.find((t) => t.name === app)?.low ?? {};
  const p: Record<string, string> = Object.fromEntries(Object.entries(low).map(([k, v]) => [k, String(v)]));
  if (app === 'rtt') p.targets = '192.0.2.1,2001:db8::1';
  if (app === 'int-collector' || int) p.int_port = '32766';
  return p;
}

const tmp = mkdtempSync(join(tmpdir(), 'intstream-workers-'));
const files: Record<string, string> = {};

before(async () => {
  files.generated = await generatedCapture();
  const small = await generatedCapture({ ...GENERATED, packets: 30_000, seconds: 30, seed: 11 });
  files.disordered = retime(small, join(tmp, 'disordered.pcap'), (i, s, u) => (i % 2 === 1 ? [s - 10, u] : [s, u]));
  files.lateFlows = lateFlows(join(tmp, 'late-flows.pcap'));
  files.sameSecond = retime(small, join(tmp, 'same-second.pcap'), (_i, s) => [s, 0]);
  files.synflood = join(CAPTURES, 'attack', 'pkt.TCP.synflood.spoofed.pcap');
  files.sll2 = join(CAPTURES, 'edge', 'suricata-verify_decode-sll2-02.pcap');
  const next = flowPerPathSeries({ version: '2.0', hops: 4, seed: 5, paths: 8 });
  const frames = Array.from({ length: 6000 }, (_, k) => encodeReportFrame(encodeReport(structuredClone(next(k))).bytes, { srcPort: 50000 + (k % 5) }));
  files.int = join(tmp, 'int.pcap');
  writeFileSync(files.int, pcapFile(frames, 1_700_000_000_000_000, 7000));
  files.intCount = join(tmp, 'int-count.ts');
  writeFileSync(files.intCount, `import { count, defineTask, INT_DECODE_PARAMS } from 'intstream';
export default defineTask({
  name: 'int-count', description: 'INT reports per switch and window', params: { ...INT_DECODE_PARAMS },
  query: (packets, p) => packets.filter('int').key('int.switch_id').window(p.window).aggregate(count()).global().merge(),
});
`);
});

const PACKETS = ['generated', 'disordered', 'lateFlows', 'sameSecond', 'synflood', 'sll2'];

describe('--workers: the same results on 1, 2 and 3 threads', () => {
  for (const app of builtinNames()) {
    test(app, async () => {
      const on = app === 'int-collector' ? ['int'] : PACKETS;
      let nonEmpty = 0;
      for (const name of on) {
        const file = files[name];
        const params = paramsFor(app, false);
        const one = await run(app, file, params, 1);
        assert.deepEqual(one.stats.threads, [1]);
        if (one.results.length > 0) nonEmpty++;
        for (const w of [2, 3]) {
          const many = await run(app, file, params, w);
          const where = `${app} on ${name} with ${w} threads`;
          if (app === 'int-collector') {
            // one collector per source: its stage stays on one thread, and says so once
            assert.deepEqual(many.stats.threads, [1], where);
            assert.equal(many.notices.length, 1, where);
            assert.match(many.notices[0], /one thread: the task keeps keyed state in its local stage/);
          } else {
            assert.deepEqual(many.stats.threads, [w], where);
            assert.deepEqual(many.notices, [], where);
          }
          assert.equal(many.results.length, one.results.length, `${where}: result count`);
          assert.deepEqual(many.results, one.results, where);
          assert.equal(many.stats.items_read, one.stats.items_read, `${where}: items_read`);
          assert.equal(many.stats.after_filter, one.stats.after_filter, `${where}: after_filter`);
          assert.deepEqual(many.stats.malformed, one.stats.malformed, `${where}: malformed`);
          assert.deepEqual(many.stats.skipped, one.stats.skipped, `${where}: skipped (late included)`);
        }
      }
      assert.ok(nonEmpty > 0, `${app}: some capture gave results`);
    });
  }

  test('the disordered copy has late packets, and the same-second copy changes tcp-retrans when split by batch', async () => {
    // the two copies test what they are meant to: packets late by the source's time ...
    const late = await run('tcp-new-conn', files.disordered, { threshold: '0' }, 1);
    assert.ok((late.stats.skipped.late ?? 0) > 50, `late packets: ${JSON.stringify(late.stats.skipped)}`);
    // ... and ties that a split by batches orders differently: two sources cut at every batch
    // (what dealing whole batches to two threads would give) differ from one source
    const whole = await run('tcp-retrans', files.sameSecond, { threshold: '0' }, 1);
    const b = readFileSync(files.sameSecond);
    const parts: Buffer[][] = [[b.subarray(0, 24)], [b.subarray(0, 24)]];
    for (let at = 24, i = 0; at + 16 <= b.length; i++) {
      const len = 16 + b.readUInt32LE(at + 8);
      parts[Math.floor(i / 2048) % 2].push(b.subarray(at, at + len));
      at += len;
    }
    const halves = parts.map((p, k) => { const f = join(tmp, `half${k}.pcap`); writeFileSync(f, Buffer.concat(p)); return `pcap:${f}`; });
    const results: unknown[] = [];
    await runTask({ task: (await loadBuiltin('tcp-retrans'))!, params: { threshold: '0' }, sources: halves, onResult: (r) => { results.push({ window: r.window, key: r.key, value: r.value }); } });
    assert.notDeepEqual(canon(results), whole.results, 'the ties matter on this copy');
  });

  test('INT reports on threads: a query file counting reports per switch', async () => {
    const ref: TaskRef = { kind: 'task', task: files.intCount };
    const one = await run(ref, files.int, { int_port: '32766' }, 1);
    assert.ok(one.results.length > 0 && one.stats.after_filter >= 6000, `reports: ${one.stats.after_filter}`);
    for (const w of [2, 3]) {
      const many = await run(ref, files.int, { int_port: '32766' }, w);
      assert.deepEqual(many.stats.threads, [w]);
      assert.deepEqual(many.results, one.results);
      assert.equal(many.stats.after_filter, one.stats.after_filter);
      assert.deepEqual(many.stats.malformed, one.stats.malformed);
    }
  });

  test('an INT receiver (int:udp://) on threads: every report sent is counted once', async () => {
    const port = await new Promise<number>((res) => { const srv = createServer(); srv.listen(0, '127.0.0.1', () => { const p = (srv.address() as any).port; srv.close(() => res(p)); }); });
    const { loadTask } = await import('../../src/apps/load-task.ts');
    const results: { value: number }[] = [];
    const run = runTask({
      task: (await loadTask(files.intCount)).def, taskRef: { kind: 'task', task: files.intCount }, workers: 2, window: 3600,
      sources: [`int:udp://127.0.0.1:${port}?max=3000&idle=5`], onResult: (r) => { results.push(r as any); },
    });
    await new Promise((r) => setTimeout(r, 1500)); // the threads start while the receiver listens
    const bin = new URL('../../bin/intstream.js', import.meta.url).pathname;
    const out = await new Promise<string>((res, rej) => execFile(process.execPath, [bin, 'int-gen', '--report-version', '2.0', '--hops', '3', '--reports', '3000', '--paths', '6', '--udp', `127.0.0.1:${port}`, '--rate', '4000'], (e, so, se) => (e ? rej(new Error(se)) : res(so))));
    assert.match(out, /sent 3000 TR/);
    const stats = await run;
    assert.deepEqual(stats.threads, [2]);
    assert.equal(stats.items_read, 3000);
    assert.equal(stats.after_filter, 3000);
    assert.equal(results.reduce((a, r) => a + r.value, 0), 3000, 'the counts add up to the reports sent');
  });

  test('several sources: each on its own threads, merged as sources', async () => {
    const task = (await loadBuiltin('tcp-retrans'))!;
    const go = async (workers: number) => {
      const results: unknown[] = [];
      const stats = await runTask({ task, params: { threshold: '0' }, sources: [`pcap:${files.sameSecond}`, `pcap:${files.disordered}`], workers, onResult: (r) => { results.push({ window: r.window, key: r.key, value: r.value }); } });
      return { results: canon(results), stats };
    };
    const one = await go(1), two = await go(2);
    assert.deepEqual(two.stats.threads, [2, 2]);
    assert.ok(one.results.length > 0);
    assert.deepEqual(two.results, one.results);
    assert.equal(two.stats.items_read, one.stats.items_read);
  });
});

/**
 * Flow-export receivers on threads: the records are decoded by the receiving thread and dealt in
 * whole batches (their values copied into the deal). The datagrams of real exporters' captures
 * (softflowd's IPFIX, pmacctd's sFlow; payloads as tshark dissects them) are sent 2 ms apart,
 * so batches are small and every thread gets some; the reference is the same run on one
 * thread. NetFlow/IPFIX windows run on the exporter's clock: results must be equal as they
 * are. sFlow is stamped on arrival: each run's windows depend on when it ran, so what must be
 * equal is each host's total over the windows.
 */
describe('--workers on flow-export receivers', { skip: !hasTshark && 'tshark not installed (npm run setup): the datagrams are taken from captures with it' }, () => {
  const FLOWS = join(import.meta.dirname, '..', 'fixtures', 'flow');
  async function onUdp(app: string, proto: 'netflow' | 'sflow', datagrams: Buffer[], workers: number): Promise<Outcome> {
    const port = await freePort();
    const results: unknown[] = [];
    const notices: string[] = [];
    const done = runTask({
      task: (await loadBuiltin(app))!, taskRef: { kind: 'task', task: app }, params: { threshold: '0' }, workers, window: 3600,
      sources: [`${proto}:udp://127.0.0.1:${port}?idle=1.5`], onNotice: (l) => notices.push(l),
      onResult: (r) => { results.push({ window: r.window, key: r.key, value: r.value }); },
    });
    await new Promise((r) => setTimeout(r, 1000)); // the threads start while the receiver listens
    await sendAll(port, datagrams);
    const stats = await done;
    return { results: canon(results), stats, notices };
  }
  /** Each key's values summed over its windows. */
  const totals = (o: Outcome) => canon(Object.entries(o.results.map((l) => JSON.parse(l)).reduce((m: Record<string, number>, r) => { m[r.key] = (m[r.key] ?? 0) + r.value; return m; }, {})));

  for (const [proto, file, apps] of [
    ['netflow', 'softflowd-ipfix-tls2.pcap', ['heavy-hitter', 'super-spreader']],
    ['sflow', 'pmacct-sflow-many-protocols.pcap', ['heavy-hitter']],
  ] as const) {
    test(`${proto}:udp:// (${file}): ${apps.join(', ')} on 1, 2 and 3 threads`, async () => {
      const datagrams = udpPayloads(join(FLOWS, file));
      assert.ok(datagrams.length >= 10, `datagrams: ${datagrams.length}`);
      for (const app of apps) {
        const [one, two, three] = await Promise.all([1, 2, 3].map((w) => onUdp(app, proto, datagrams, w)));
        assert.ok(one.results.length > 0 && one.stats.items_read > 50, `${app}: ${one.results.length} results of ${one.stats.items_read} records`);
        for (const [w, many] of [[2, two], [3, three]] as const) {
          const where = `${app} on ${w} threads`;
          assert.deepEqual(many.stats.threads, [w], where);
          assert.deepEqual(many.notices, [], where);
          if (proto === 'netflow') assert.deepEqual(many.results, one.results, where);
          else assert.deepEqual(totals(many), totals(one), where);
          assert.equal(many.stats.items_read, one.stats.items_read, `${where}: items_read`);
          assert.equal(many.stats.after_filter, one.stats.after_filter, `${where}: after_filter`);
          assert.deepEqual(many.stats.skipped, one.stats.skipped, `${where}: skipped`);
        }
      }
    });
  }

  test('a task that reads `source` stays on one thread over flow records, and says why', async () => {
    const datagrams = udpPayloads(join(FLOWS, 'softflowd-ipfix-tls2.pcap'));
    const [one, two] = await Promise.all([1, 2].map((w) => onUdp('tcp-retrans', 'netflow', datagrams, w)));
    assert.deepEqual(two.stats.threads, [1]);
    assert.equal(two.notices.length, 1, two.notices.join('\n'));
    assert.match(two.notices[0], /runs on one thread: the task reads `source`/);
    assert.deepEqual(two.results, one.results);
  });
});

describe('shared slots', () => {
  /** A source batch of `n` records of `len` bytes, `gap` bytes apart, record i's bytes all (i & 255), time 100 + i. */
  function batch(n: number, len: number, gap = 0): PacketBatch {
    const b = new PacketBatch(n);
    b.buf = new Uint8Array(n * (len + gap) + 16);
    for (let i = 0; i < n; i++) {
      const at = 16 + i * (len + gap);
      b.dataOff[i] = at; b.capLen[i] = len; b.wireLen[i] = len + 1; b.ts[i] = 100 + i; b.linkType[i] = 1;
      b.buf.fill(i & 255, at, at + len);
    }
    b.count = n;
    return b;
  }
  const sameBytes = (s: Slot, k: number, b: PacketBatch, i: number) =>
    Buffer.compare(Buffer.from(s.bytes.subarray(s.dataOff[k], s.dataOff[k] + s.capLen[k])), Buffer.from(b.buf.subarray(b.dataOff[i], b.dataOff[i] + b.capLen[i]))) === 0;

  test('a slot fills up by records and by bytes, grows for one large record, and copies what it takes', () => {
    const small = batch(SLOT_RECORDS + 1000, 60);
    const s = new Slot(0); s.reset(50);
    assert.equal(s.append(small, 0, 1, false), SLOT_RECORDS);
    assert.equal(s.append(small, SLOT_RECORDS, 1, false), -1, 'full by records');
    assert.equal(s.maxTs, 100 + SLOT_RECORDS - 1);
    for (const k of [0, 1, 4097, SLOT_RECORDS - 1]) assert.ok(sameBytes(s, k, small, k), `record ${k}`);
    s.reset(s.maxTs);
    assert.equal(s.append(small, SLOT_RECORDS, 1, false), SLOT_RECORDS + 1000);
    assert.ok(sameBytes(s, 999, small, SLOT_RECORDS + 999));

    const big = batch(3000, 1500);
    const t = new Slot(1); t.reset(0);
    const fit = Math.floor(SLOT_BYTES / 1500); // contiguous records: as many whole ones as the bytes hold
    assert.equal(t.append(big, 0, 1, false), fit);
    assert.equal(t.used, fit * 1500);
    assert.ok(sameBytes(t, fit - 1, big, fit - 1));

    const huge = batch(2, SLOT_BYTES + 5000);
    const u = new Slot(2); u.reset(0);
    assert.equal(u.append(big, 0, 1, false), fit);
    assert.equal(u.append(huge, 0, 1, false), -1, 'a large record waits for an empty slot');
    u.reset(0);
    assert.equal(u.append(huge, 0, 1, false), 1, 'which grows for it');
    assert.ok(u.grown && u.bytes.length >= SLOT_BYTES + 5000);
    assert.ok(sameBytes(u, 0, huge, 0));
  });

  test('a batch with left-out records goes whole, sparse records are packed, left-out times carry over', () => {
    const a = batch(100, 70, 900); // sparse: most bytes between them were left out
    a.leftOut = 40; a.leftOutWindow = 90;
    for (let i = 0; i < 100; i++) a.leftOutTs[i] = i % 10 === 0 ? 99 + i : -Infinity;
    a.leftOutTailTs = 250;
    const s = new Slot(0); s.reset(10);
    assert.equal(s.append(a, 0, 1, true), 100);
    assert.equal(s.used, 100 * 70, 'only the records\' own bytes');
    assert.ok(sameBytes(s, 57, a, 57));
    assert.equal(s.leftOut, 40);
    assert.equal(s.leftOutTail, 250);
    assert.equal(s.maxTs, 250);
    const b2 = batch(10, 70);
    b2.leftOut = 3; b2.leftOutWindow = 90; b2.leftOutTs.fill(-Infinity); b2.leftOutTs[0] = 120; b2.leftOutTailTs = -Infinity;
    assert.equal(s.append(b2, 0, 1, true), 10);
    assert.equal(s.leftOutTs[100], 250, 'the previous batch\'s tail comes before the next record');
    assert.equal(s.leftOutTail, -Infinity);
    assert.equal(s.leftOut, 43);
    const other = batch(10, 70); other.leftOut = 1; other.leftOutWindow = 100; other.leftOutTs.fill(-Infinity);
    assert.equal(s.append(other, 0, 1, true), -1, 'left-out records of another window: another slot');
    assert.equal(s.append(other, 0, 1, false), 10, 'unless no per-window counters');
    const full = new Slot(1); full.reset(0);
    assert.equal(full.append(batch(SLOT_RECORDS - 5, 10), 0, 1, false), SLOT_RECORDS - 5);
    assert.equal(full.append(b2, 0, 1, false), -1, 'not split: 10 records do not fit in 5');
  });
});

describe('--workers in an agent: the threads as one stream', () => {
  /** The agent's composition (first: null) into a one-source global stage, as its GSP merges it. */
  async function agentRun(app: string, file: string, params: Record<string, string>, workers: number): Promise<string[]> {
    const def = (await loadBuiltin(app))!;
    const p = resolveParams(def, params);
    const split = splitPlan(buildPlan(def, p, { window: 10 }));
    const gsp = openGlobalStage(split.global, 1);
    const results: unknown[] = [];
    let chain = Promise.resolve();
    let ended = 0;
    const stage = await openLocalStageThreads(`pcap:${file}`, {
      index: 0, split, params: p, sendProbe: async () => ({ ok: false, error: 'no' }), windowSize: 10,
      send: async (m) => {
        if (m.end) ended++;
        chain = chain.then(async () => {
          const out = await gsp.accept(m);
          for (let i = 0; i < out.items.length; i++) { const r = toResult(app, out.items[i], out.keys[i]); results.push({ window: r.window, key: r.key, value: r.value }); }
        });
        await chain;
      },
    }, { count: workers, task: { kind: 'spec', app, code: null }, params, window: 10, first: null });
    assert.equal('threads' in stage ? stage.threads : 1, workers);
    await stage.run();
    await stage.source.close();
    assert.equal(ended, 1, 'one end for the stream');
    const windows = stage.takeWindows();
    assert.equal(windows.reduce((a, w) => a + w[1], 0), stage.stats().items_read, 'per-window counters add up to the items read');
    return canon(results);
  }

  for (const app of ['tcp-new-conn', 'tcp-retrans', 'ddos']) {
    test(app, async () => {
      const params = paramsFor(app, false);
      const one = await agentRun(app, files.generated, params, 1);
      assert.ok(one.length > 0);
      assert.deepEqual(await agentRun(app, files.generated, params, 2), one);
      assert.deepEqual(await agentRun(app, files.disordered, params, 3), await agentRun(app, files.disordered, params, 1));
    });
  }
});

describe('--workers on the command line', () => {
  test('run --workers 2 prints what --workers 1 prints; bad values are usage errors', async () => {
    const file = join(CAPTURES, 'attack', 'pkt.TCP.synflood.spoofed.pcap');
    const args = ['run', 'syn-flood', '-s', `pcap:${file}`, '-p', 'threshold=0', '--format', 'jsonl', '-q'];
    const one = await runCli([...args, '--workers', '1']);
    const two = await runCli([...args, '--workers', '2']);
    const auto = await runCli([...args, '--workers', 'auto']);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(two.code, 0, two.stderr);
    assert.equal(auto.code, 0, auto.stderr);
    assert.ok(one.stdout.length > 0);
    assert.deepEqual(canon(one.stdout.split('\n').filter(Boolean)), canon(two.stdout.split('\n').filter(Boolean)));
    assert.deepEqual(canon(one.stdout.split('\n').filter(Boolean)), canon(auto.stdout.split('\n').filter(Boolean)));
    for (const bad of ['0', '65', 'x', '1.5', '-2']) {
      const r = await runCli([...args, '--workers', bad]);
      assert.equal(r.code, 2, `--workers ${bad}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`--workers ${bad.replace('.', '\\.')}: expected an integer from 1 to 64, or auto`));
    }
    const agent = await runCli(['agent', '-s', `pcap:${file}`, '--workers', '0', '--runtime', 'http://127.0.0.1:9', '--token', 'x']);
    assert.equal(agent.code, 2, agent.stderr);
    assert.match(agent.stderr, /--workers 0: expected an integer from 1 to 64, or auto/);
  });

  test("a task's error in a thread ends the run with its message and its line in the query file", async () => {
    const query = join(tmp, 'throws.ts');
    writeFileSync(query, `import { count, defineTask } from 'intstream';
export default defineTask({
  name: 'throws', description: 'fails on the 20000th packet it keys', params: {},
  query: (packets, p) => {
    let seen = 0;
    return packets.filter('ip.version').key((x) => {
      if (++seen === 20000) throw new Error('boom at the 20000th packet');
      return x.ip!.src;
    }).window(p.window).aggregate(count()).global().merge();
  },
});
`);
    const args = ['run', query, '-s', `pcap:${files.generated}`, '--format', 'jsonl', '-q'];
    const one = await runCli([...args, '--workers', '1']);
    const two = await runCli([...args, '--workers', '2']);
    assert.equal(one.code, 1, one.stderr);
    assert.equal(two.code, 1, two.stderr);
    assert.match(one.stderr, /throws\.ts:7:\d+: task throws failed: Error: boom at the 20000th packet/);
    assert.equal(two.stderr, one.stderr);
  });

  test('a task that keeps per-source state says once that it runs on one thread', async () => {
    const r = await runCli(['run', 'int-collector', '-s', `pcap:${files.int}`, '-s', `pcap:${files.int}`, '-p', 'int_port=32766', '--format', 'jsonl', '-q', '--workers', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.match(/runs on one thread: the task keeps keyed state/g)?.length, 1, r.stderr); // the same source twice: one line
  });
});
