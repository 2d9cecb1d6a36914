/**
 * `npm run bench:export`: per-packet export into a real Kafka broker and back. Not a test: it
 * prints figures; it exits 1 only when the results read back differ from the capture's.
 *
 *   1. the capture: bench/data/bench-PACKETS.pcap, generated once as bench/newconn.ts does
 *      (tools/gen-traffic.ts: 60 s, 100,000 hosts, anomalies); --file uses another
 *   2. encoders, in this process: the same packets (the first 1 M) encoded as Arrow IPC by the
 *      hand-written writer export uses (src/export/ipc-writer.ts), by apache-arrow's
 *      RecordBatchStreamWriter over the same columns, and as hand-built JSON Lines (one object
 *      per packet, the same fields): ns per packet and bytes per packet of each
 *   3. export: `intstream export`'s code (runExport) in a child process, to a new topic of one
 *      partition, acks from all in-sync replicas: packets/s (wall), packets per CPU-second
 *      (process.cpuUsage of the child over the export, user + system, all its threads: the
 *      Kafka client, the GC), peak RSS of the child (getrusage), bytes per packet in the
 *      Kafka records, and bytes per packet in the broker's log (DescribeLogDirs: the partition's
 *      size on disk, Kafka's record framing included)
 *   4. read back: tcp-new-conn on --source kafka://.../TOPIC?idle=2 in a child process: rows/s
 *      (from the first to the last row), rows per CPU-second (over the run, the idle wait and the
 *      group join included), peak RSS; then the same task on the capture, and whether the two
 *      gave identical results (they must)
 *
 * The broker: --bootstrap HOST:PORT, else one started here (test/support/kafka.ts) and stopped at
 * the end. It shares the machine: on 2 cores its JVM competes with the exporter, so wall-clock
 * rates move from run to run; per-CPU-second figures are steadier. Each phase runs --runs times
 * (default 3, a new topic each time); the best of each figure is printed, and every run's too.
 *
 * Options: --packets N (default 5000000), --file PATH, --batch N (8192), --compression
 * none|lz4|zstd|gzip|snappy (none), --runs N (3), --bootstrap HOST:PORT.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const self = fileURLToPath(import.meta.url);

// ---- child processes: one phase each, measured from the inside -------------------------------------

interface Measured { wallS: number; cpuS: number; userS: number; sysS: number; totalCpuS: number; maxRssKb: number }

function measure<T>(started: number, c0: NodeJS.CpuUsage, extra: T): Measured & T {
  const c = process.cpuUsage(c0), all = process.cpuUsage();
  return {
    wallS: (performance.now() - started) / 1000,
    cpuS: (c.user + c.system) / 1e6, userS: c.user / 1e6, sysS: c.system / 1e6,
    totalCpuS: (all.user + all.system) / 1e6,
    maxRssKb: process.resourceUsage().maxRSS,
    ...extra,
  };
}

if (process.argv[2] === '--child') {
  const [, , , phase, a, b, c, d] = process.argv;
  if (phase === 'export') {
    const { runExport } = await import('../src/export/exporter.ts');
    const started = performance.now(), c0 = process.cpuUsage();
    const s = await runExport({ sources: [`pcap:${a}`], to: b, batch: Number(c), compression: d as any });
    process.stdout.write(JSON.stringify(measure(started, c0, { packets: s.packets_read, exported: s.exported, records: s.records, bytes: s.bytes })));
  } else {
    const { runTask } = await import('../src/run-task.ts');
    const { loadBuiltin } = await import('../src/apps/index.ts');
    const task = (await loadBuiltin('tcp-new-conn'))!;
    const lines: string[] = [];
    let first = 0, last = 0, seen = 0;
    const started = performance.now(), c0 = process.cpuUsage();
    const s = await runTask({
      task, sources: [a], onResult: (r) => { lines.push(JSON.stringify(r)); },
      onProgress: (p) => {
        if (p.packets > seen) { if (seen === 0) first = p.elapsedMs; last = p.elapsedMs; seen = p.packets; }
      },
    });
    writeFileSync(b, lines.join('\n') + '\n');
    process.stdout.write(JSON.stringify(measure(started, c0, { rows: s.items_read, results: lines.length, firstMs: first, lastMs: last })));
  }
  process.exit(0);
}

// ---- the parent -------------------------------------------------------------------------------------

const { values } = parseArgs({
  options: {
    packets: { type: 'string', default: '5000000' }, file: { type: 'string' }, batch: { type: 'string', default: '8192' },
    compression: { type: 'string', default: 'none' }, runs: { type: 'string', default: '3' }, bootstrap: { type: 'string' },
  },
});
const packets = Number(values.packets), runs = Number(values.runs), batch = Number(values.batch);
const data = join(root, 'bench', 'data');
mkdirSync(data, { recursive: true });
const file = values.file ? resolve(values.file) : join(data, `bench-${packets}.pcap`);
if (!existsSync(file)) {
  process.stderr.write(`generating ${file} (${packets} packets)...\n`);
  const { generate } = await import('../tools/gen-traffic.ts');
  await generate(file, { packets, seconds: 60, seed: 1, start: 1700000000, hosts: 100000, anomalies: true });
}
readFileSync(file); // page cache warm
const fmt = (x: number, d = 2) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const M = (x: number) => `${fmt(x / 1e6)} M`;

// 2. encoders
async function encoders(): Promise<string[]> {
  const { openSourceSpec } = await import('../src/sources/source-spec.ts');
  const { decodePacket } = await import('../src/decode/decoder.ts');
  const { Packet } = await import('../src/decode/packet.ts');
  const { PacketRecordBuilder } = await import('../src/export/record-builder.ts');
  const { ipv4Text, ipv6Text } = await import('../src/decode/address-text.ts');
  const LIMIT = 1_000_000;
  const src = await openSourceSpec(`pcap:${file}`);
  await src.open();
  const p = new Packet();
  const b = new PacketRecordBuilder(batch);
  const res = { hand: { ns: 0, bytes: 0 }, arrowjs: { ns: 0, bytes: 0 }, json: { ns: 0, bytes: 0 } };
  let n = 0, jsonParts: string[] = [];
  // JSON Lines by hand: the same fields, null where absent, ts as an integer of ns in a string
  const json = (q: InstanceType<typeof Packet>): string => {
    const tcp = q.tcp, udp = q.udp, ip = q.ip;
    const ts = `${Math.floor(q.ts)}${String(Math.round((q.ts - Math.floor(q.ts)) * 1e6)).padStart(6, '0')}000`;
    return `{"ts":"${ts}","source_id":0,"len":${q.len},"caplen":${q.caplen},"ip.version":${ip ? ip.version : null},` +
      `"ip.src":${ip ? `"${ip.version === 4 ? ipv4Text(q.buf, q.l3Off + 12) : ipv6Text(q.buf, q.l3Off + 8)}"` : null},` +
      `"ip.dst":${ip ? `"${ip.version === 4 ? ipv4Text(q.buf, q.l3Off + 16) : ipv6Text(q.buf, q.l3Off + 24)}"` : null},` +
      `"ip.proto":${ip ? ip.proto : null},"ip.ttl":${ip ? ip.ttl : null},"ip.tos":${ip ? ip.tos : null},` +
      `"sport":${tcp ? tcp.sport : udp ? udp.sport : null},"dport":${tcp ? tcp.dport : udp ? udp.dport : null},` +
      `"tcp.flags":${tcp ? tcp.flags : null},"tcp.seq":${tcp ? tcp.seq : null},"tcp.ack":${tcp ? tcp.ack : null},"tcp.payload_len":${tcp ? tcp.payload_len : null},` +
      `"icmp.type":${q.icmp ? q.icmp.type : null},"icmp.code":${q.icmp ? q.icmp.code : null},"vlan.id":${q.vlan ? q.vlan.id : null},` +
      `"tunnel.type":${q.tunnel ? `"${q.tunnel.type}"` : null},"tunnel.id":${q.tunnel && q.tunnel.id >= 0 ? q.tunnel.id : null},` +
      `"int.switch_id":null,"int.hop_count":null,"int.hop_switch_id":null,"int.hop_latency":null}\n`;
  };
  // each packet is filled once; every full batch is encoded three ways (the arrays are re-filled
  // from a copy of the packets for the second and third way)
  const held: InstanceType<typeof Packet>[] = [];
  const flush = () => {
    if (held.length === 0) return;
    for (const mode of ['hand', 'arrowjs'] as const) {
      for (const q of held) b.addPacket(q);
      const t0 = performance.now();
      const out = mode === 'hand' ? b.encode() : b.encodeWithArrowJs();
      res[mode].ns += (performance.now() - t0) * 1e6;
      res[mode].bytes += out.byteLength;
    }
    const t0 = performance.now();
    jsonParts = held.map(json);
    const buf = Buffer.from(jsonParts.join(''));
    res.json.ns += (performance.now() - t0) * 1e6;
    res.json.bytes += buf.byteLength;
    held.length = 0;
  };
  for (let bt; n < LIMIT && (bt = await src.nextBatch());) {
    for (let i = 0; i < bt.count && n < LIMIT; i++, n++) {
      decodePacket(p, bt.buf, bt.dataOff[i], bt.capLen[i], bt.wireLen[i], bt.ts[i], bt.linkType[i]);
      held.push(p.clone());
      if (held.length === batch) flush();
    }
  }
  flush();
  await src.close();
  return [
    `encoders, ${n.toLocaleString('en-US')} packets, batches of ${batch} (the same columns; fill time not included):`,
    `  hand-written Arrow IPC writer (export's)  ${fmt(res.hand.ns / n, 1).padStart(7)} ns/packet  ${fmt(res.hand.bytes / n, 1)} B/packet`,
    `  apache-arrow RecordBatchStreamWriter       ${fmt(res.arrowjs.ns / n, 1).padStart(7)} ns/packet  ${fmt(res.arrowjs.bytes / n, 1)} B/packet`,
    `  JSON Lines built by hand                   ${fmt(res.json.ns / n, 1).padStart(7)} ns/packet  ${fmt(res.json.bytes / n, 1)} B/packet`,
  ];
}

function child(args: string[]): any {
  const r = spawnSync(process.execPath, [self, '--child', ...args], { encoding: 'utf8', maxBuffer: 1 << 26, cwd: root });
  if (r.status !== 0) throw new Error(`child ${args[0]} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const { startKafka } = await import('../test/support/kafka.ts');
const { Admin } = await import('@platformatic/kafka');
let broker: { bootstrap: string; stop(): Promise<void> } | null = null;
const bootstrap = values.bootstrap ?? (broker = await startKafka({ port: 19792 })).bootstrap;
const tmp = mkdtempSync(join(tmpdir(), 'intstream-bench-export-'));
let failed = false;
try {
  const lines = await encoders();
  const exp: any[] = [], back: any[] = [];
  // the reference: tcp-new-conn on the capture
  const refFile = join(tmp, 'ref.jsonl');
  const ref = child(['read', `pcap:${file}`, refFile]);
  const refText = readFileSync(refFile, 'utf8');
  for (let r = 0; r < runs; r++) {
    const topic = `bench-export-${process.pid}-${r}`;
    const e = child(['export', file, `kafka://${bootstrap}/${topic}`, String(batch), values.compression!]);
    const admin = new Admin({ clientId: 'bench-export', bootstrapBrokers: [bootstrap] });
    try {
      const dirs = await admin.describeLogDirs({ topics: [{ name: topic, partitions: [0] }] });
      e.logBytes = dirs.flatMap((d) => d.results.flatMap((x) => x.topics.filter((t) => t.name === topic).flatMap((t) => t.partitions.map((p) => Number(p.partitionSize))))).reduce((a, x) => a + x, 0);
    } finally { await admin.close(); }
    exp.push(e);
    const outFile = join(tmp, `back-${r}.jsonl`);
    const k = child(['read', `kafka://${bootstrap}/${topic}?idle=2`, outFile]);
    k.same = readFileSync(outFile, 'utf8') === refText;
    if (!k.same) failed = true;
    back.push(k);
  }
  const best = (xs: any[], f: (x: any) => number) => Math.max(...xs.map(f));
  const low = (xs: any[], f: (x: any) => number) => Math.min(...xs.map(f));
  const e0 = exp[0];
  lines.push(
    '',
    `capture ${file} (${(statSync(file).size / 1e6).toFixed(0)} MB, ${e0.packets.toLocaleString('en-US')} packets); broker ${bootstrap}${broker ? ' (started here)' : ''}; batch ${batch}; compression ${values.compression}; ${runs} run(s), best of each:`,
    `export (intstream export → Kafka, acks=all):`,
    `  packets/s (wall)              ${M(best(exp, (x) => x.packets / x.wallS))}   runs: ${exp.map((x) => M(x.packets / x.wallS)).join(', ')}`,
    `  packets per CPU-second        ${M(best(exp, (x) => x.packets / x.cpuS))}   runs: ${exp.map((x) => M(x.packets / x.cpuS)).join(', ')}   (goal 2.10 M)`,
    `  CPU seconds (user + sys)      ${fmt(low(exp, (x) => x.cpuS))} s   process total with start-up ${fmt(low(exp, (x) => x.totalCpuS))} s`,
    `  bytes/packet in the records   ${fmt(e0.bytes / e0.exported, 1)}   (${e0.records.toLocaleString('en-US')} Kafka records)`,
    `  bytes/packet on the broker    ${fmt(e0.logBytes / e0.exported, 1)}   (log size ${(e0.logBytes / 1e6).toFixed(1)} MB, capture ${(statSync(file).size / e0.packets).toFixed(1)} B/packet)`,
    `  peak RSS                      ${(low(exp, (x) => x.maxRssKb) / 1024).toFixed(0)} MB`,
    `read back (tcp-new-conn on kafka://…?idle=2):`,
    `  rows/s (first to last row)    ${M(best(back, (x) => x.rows / Math.max(1e-3, (x.lastMs - x.firstMs) / 1000)))}   (progress sampled every 200 ms)`,
    `  rows per CPU-second           ${M(best(back, (x) => x.rows / x.cpuS))}   runs: ${back.map((x) => M(x.rows / x.cpuS)).join(', ')}`,
    `  peak RSS                      ${(low(back, (x) => x.maxRssKb) / 1024).toFixed(0)} MB`,
    `  results identical to the capture's: ${back.every((x) => x.same) ? 'yes' : 'NO'} (${back[0].results} results; on the capture: ${ref.results} results, ${M(ref.rows / ref.cpuS)} packets per CPU-second)`,
  );
  process.stdout.write(lines.join('\n') + '\n');
} finally {
  rmSync(tmp, { recursive: true, force: true });
  await broker?.stop();
}
process.exit(failed ? 1 : 0);
