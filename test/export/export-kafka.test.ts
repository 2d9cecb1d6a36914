/**
 * Per-packet export (issue 13) against a real broker (test/support/kafka.ts):
 *
 *  - every row of captures exported with `intstream export`, fetched from the topic and read
 *    with pyarrow (test/export/read_records.py: an Arrow implementation independent of ours),
 *    equals tshark's dissection of the same capture (test/support/tshark.ts and the field model
 *    of test/decode/tshark-expect.ts), field by field; timestamps exactly, in ns;
 *  - tasks on `--source kafka://...` give the same results as on the capture (tcp-new-conn,
 *    port-scan, and tcp-retrans, whose window transform keeps the items);
 *  - `--filter 'tcp.syn and not tcp.ack_flag'` keeps exactly the packets tshark says are
 *    SYN without ACK;
 *  - the kafka:// source options (from=latest|OFFSET|TIME, a group that resumes, idle=) and
 *    a Kafka record that is not per-packet records (skipped and counted);
 *  - INT hop fields of a Telemetry Report capture (expected values from SOURCES.tsv).
 *
 * pyarrow comes from `npm run setup` (a venv in the cache dir); without it the pyarrow tests skip.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kafkaAvailable, startKafka, type KafkaBroker } from '../support/kafka.ts';
import { haveTshark, tsharkPackets } from '../support/tshark.ts';
import { CAPTURES, expectFromTshark, type Compared } from '../decode/tshark-expect.ts';
import { jsonl, runCli } from '../support/run-cli.ts';
import { runExport } from '../../src/export/exporter.ts';
import { runTask } from '../../src/run-task.ts';
import { loadBuiltin } from '../../src/apps/index.ts';
import { createConsumer, createProducer, createTopic } from '../../src/transport/kafka-client.ts';
import type { TaskResult } from '../../src/sinks/sink.ts';

const DEMO = fileURLToPath(new URL('../../samples/demo.pcap', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./read_records.py', import.meta.url));
const CACHE = process.env.INTSTREAM_CACHE ?? join(homedir(), '.cache', 'intstream');
const PYTHON = join(CACHE, 'pyarrow-venv', 'bin', 'python');

const kafka = kafkaAvailable();
const skipKafka = kafka.ok ? false : kafka.reason;
function pyarrowMissing(): string | false {
  if (!existsSync(PYTHON)) return `pyarrow not installed (${PYTHON}): npm run setup`;
  const r = spawnSync(PYTHON, ['-c', 'import pyarrow'], { encoding: 'utf8' });
  return r.status === 0 ? false : `pyarrow does not import: ${r.stderr.trim().split('\n').pop()}`;
}
const skipPy = skipKafka || (!haveTshark() && 'tshark not installed') || pyarrowMissing();

/** The columns of schema version 1, as pyarrow names their types (docs/per-packet-records.md). */
const SCHEMA_V1 = [
  'ts:timestamp[ns, tz=UTC] not null', 'source_id:uint16 not null', 'len:uint32 not null', 'caplen:uint32 not null',
  'ip.version:uint8', 'ip.src:dictionary<values=string, indices=int32, ordered=0>', 'ip.dst:dictionary<values=string, indices=int32, ordered=0>',
  'ip.proto:uint8', 'ip.ttl:uint8', 'ip.tos:uint8', 'sport:uint16', 'dport:uint16',
  'tcp.flags:uint16', 'tcp.seq:uint32', 'tcp.ack:uint32', 'tcp.payload_len:uint32', 'icmp.type:uint8', 'icmp.code:uint8',
  'vlan.id:uint16', 'tunnel.type:dictionary<values=string, indices=int8, ordered=0>', 'tunnel.id:uint32',
  'int.switch_id:uint32', 'int.hop_count:uint8', 'int.hop_switch_id:list<item: uint32>', 'int.hop_latency:list<item: uint32>',
];

/** The fields of tshark's model a record keeps (the rest: eth.*, ip.len, ip.fragment, tcp.window, udp.len, outer.*). */
const KEPT = ['vlan.id', 'ip.version', 'ip.src', 'ip.dst', 'ip.proto', 'ip.ttl', 'ip.tos', 'tcp.sport', 'tcp.dport', 'tcp.flags', 'tcp.seq', 'tcp.ack',
  'tcp.payload_len', 'udp.sport', 'udp.dport', 'icmp.type', 'icmp.code', 'tunnel.id'] as const;

/** A row read by pyarrow, projected onto the field names (how the record format maps to them). */
function rowFields(r: Record<string, any>): Compared {
  const o: Record<string, number | string> = {};
  const put = (k: string, v: unknown) => { if (v !== null && v !== undefined) o[k] = v as number | string; };
  put('vlan.id', r['vlan.id']);
  if (r['ip.version'] !== null) {
    for (const k of ['ip.version', 'ip.src', 'ip.dst', 'ip.proto', 'ip.ttl', 'ip.tos']) put(k, r[k]);
    if (r.sport !== null && r['ip.proto'] === 6) {
      put('tcp.sport', r.sport); put('tcp.dport', r.dport);
      for (const k of ['tcp.flags', 'tcp.seq', 'tcp.ack', 'tcp.payload_len']) put(k, r[k]);
    }
    if (r.sport !== null && r['ip.proto'] === 17) { put('udp.sport', r.sport); put('udp.dport', r.dport); }
    put('icmp.type', r['icmp.type']); put('icmp.code', r['icmp.code']);
  }
  put('tunnel.id', r['tunnel.id']);
  return o as Compared;
}

function keptOf(f: Compared): Compared {
  const o: Record<string, unknown> = {};
  for (const k of KEPT) if (f[k] !== undefined) o[k] = f[k];
  return o as Compared;
}

/** tshark's frame.time_epoch "SEC.FRACTION" as an exact ns count. */
function tsharkNs(text: string): bigint {
  const [s, f = ''] = text.split('.');
  return BigInt(s) * 1_000_000_000n + BigInt((f + '000000000').slice(0, 9));
}

describe('per-packet export through Kafka', { skip: skipKafka }, () => {
  let broker: KafkaBroker;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'intstream-export-'));
    broker = await startKafka({ port: 19692 });
  });
  after(async () => {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const url = (topic: string, q = '') => `kafka://${broker.bootstrap}/${topic}${q}`;

  /** The values of the topic's first `n` Kafka records, in order (one partition). */
  async function values(topic: string, n: number): Promise<Buffer[]> {
    const c = await createConsumer({ bootstrap: broker.bootstrap, groupId: `values-${topic}-${Date.now()}`, topics: [topic], fromBeginning: true });
    const out: Buffer[] = [];
    try {
      for await (const b of c) {
        for (const r of b.records) out.push(r.value);
        if (out.length >= n) break;
      }
    } finally { await c.close(); }
    return out;
  }

  /** The rows of a topic as pyarrow reads them, and the schema line of each Kafka record. */
  async function pyarrowRows(topic: string, records: number): Promise<{ heads: any[]; rows: any[] }> {
    const vals = await values(topic, records);
    const file = join(dir, `${topic}.values`);
    writeFileSync(file, Buffer.concat(vals.flatMap((v) => { const h = Buffer.alloc(4); h.writeUInt32LE(v.length); return [h, v]; })));
    const r = spawnSync(PYTHON, [SCRIPT, file], { encoding: 'utf8', maxBuffer: 1 << 28 });
    assert.equal(r.status, 0, r.stderr);
    const lines = jsonl(r.stdout);
    return { heads: lines.filter((l) => 'stream' in l), rows: lines.filter((l) => !('stream' in l)) };
  }

  const CASES: [string, string][] = [
    ['samples/demo.pcap', DEMO],
    ['edge/VlanPackets.pcap', join(CAPTURES, 'edge', 'VlanPackets.pcap')],
    ['edge/vlan-qinqinq.pcap', join(CAPTURES, 'edge', 'vlan-qinqinq.pcap')],
    ['mixed/tls2.pcap (IPv4 and IPv6)', join(CAPTURES, 'mixed', 'tls2.pcap')],
    ['edge/ip6_fragments.pcap', join(CAPTURES, 'edge', 'ip6_fragments.pcap')],
    ['attack/hs-icmpScan.pcap', join(CAPTURES, 'attack', 'hs-icmpScan.pcap')],
    ['tunnel/vxlan.pcap', join(CAPTURES, 'tunnel', 'vxlan.pcap')],
  ];
  CASES.forEach(([name, file], k) => {
    test(`${name}: every row read with pyarrow equals tshark's fields`, { skip: skipPy }, async () => {
      const topic = `rows-${k}`;
      const stats = await runExport({ sources: [`pcap:${file}`], to: url(topic), batch: 1000, sourceId: 7 });
      const frames = await tsharkPackets(file);
      assert.equal(stats.packets_read, frames.length);
      assert.equal(stats.exported, frames.length);
      assert.equal(stats.records, Math.ceil(frames.length / 1000));
      const { heads, rows } = await pyarrowRows(topic, stats.records);
      assert.equal(heads.length, stats.records);
      for (const h of heads) {
        assert.deepEqual(h.fields, SCHEMA_V1);
        assert.equal(h.metadata['intstream.format'], 'intstream.packet-records');
        assert.equal(h.metadata['intstream.schema_version'], '1');
        assert.equal(h.metadata['intstream.source'], `pcap:${file}`);
        assert.equal(h.batches, 1);
      }
      assert.equal(rows.length, frames.length);
      let tunnels = 0;
      for (let i = 0; i < frames.length; i++) {
        const t = frames[i], r = rows[i], at = `${name} frame ${t.number}`;
        assert.equal(BigInt(r.ts), tsharkNs(t.time), `${at}: ts`);
        assert.equal(r.source_id, 7, at);
        assert.equal(r.len, t.len, `${at}: len`);
        assert.equal(r.caplen, t.capLen, `${at}: caplen`);
        const exp = expectFromTshark(t);
        assert.deepEqual(rowFields(r), keptOf(exp.fields), at);
        // a tunnel: its type is set exactly when tshark saw an outer IP header
        assert.equal(r['tunnel.type'] !== null, exp.fields['outer.ip.src'] !== undefined, `${at}: tunnel.type ${r['tunnel.type']}`);
        if (r['tunnel.type'] !== null) tunnels++;
        assert.equal(r['int.hop_count'], null, at);
      }
      if (name.startsWith('tunnel/')) assert.ok(tunnels > 0);
    });
  });

  test('INT Telemetry Report: hop switch ids in traversal order, hop count (SOURCES.tsv: TR v0.5, switch ids 2, 3, 1 most recent first)', { skip: skipPy }, async () => {
    const file = join(CAPTURES, 'int', 'serkantul_prometheus_int_exporter__int_report.pcap');
    const stats = await runExport({ sources: [`pcap:${file}`], to: url('int'), params: { int_port: '1234' } });
    assert.equal(stats.exported, 1);
    const { rows } = await pyarrowRows('int', stats.records);
    assert.equal(rows.length, 1);
    const r = rows[0];
    assert.equal(r['int.hop_count'], 3);
    assert.deepEqual(r['int.hop_switch_id'], [1, 3, 2]);
    assert.equal(r['int.hop_latency'], null, 'InsCnt 1: switch id only');
    assert.equal(r['int.switch_id'], null, 'TR v0.5 names no reporting switch');
    assert.equal(r['tunnel.type'], 'int');
    assert.equal(r['ip.proto'], 6, 'ip.* is the monitored packet');
    // read back: the fields answer as on the capture
    const got: TaskResult[] = [];
    const task = { name: 'int-fields', description: '', query: (p: any) => p.map((x: any) => ({ path: x.get('int.path'), hops: x.get('int.hop_count'), latency: x.get('int.latency') ?? null })) };
    await runTask({ task: task as any, sources: [url('int', '?idle=1')], onResult: (x) => { got.push(x); } });
    assert.deepEqual(got.map((x) => x.value), [{ path: '1,3,2', hops: 3, latency: null }]);
  });

  test('records re-exported from kafka:// (the item path of the builder) equal the first export, row for row', { skip: skipPy }, async () => {
    const files = [join(CAPTURES, 'mixed', 'tls2.pcap'), join(CAPTURES, 'tunnel', 'vxlan.pcap'), join(CAPTURES, 'int', 'serkantul_prometheus_int_exporter__int_report.pcap')];
    for (const [k, file] of files.entries()) {
      const a = await runExport({ sources: [`pcap:${file}`], to: url(`re-a${k}`), params: { int_port: '1234' }, sourceId: 3 });
      const b = await runExport({ sources: [url(`re-a${k}`, '?idle=1')], to: url(`re-b${k}`), sourceId: 3 });
      assert.equal(b.exported, a.exported);
      const ra = await pyarrowRows(`re-a${k}`, a.records), rb = await pyarrowRows(`re-b${k}`, b.records);
      assert.equal(rb.rows.length, ra.rows.length);
      assert.deepEqual(rb.rows, ra.rows, file);
    }
  });

  async function results(app: string, source: string, params: Record<string, string> = {}): Promise<TaskResult[]> {
    const task = await loadBuiltin(app);
    const out: TaskResult[] = [];
    await runTask({ task: task!, params, sources: [source], onResult: (r) => { out.push(r); } });
    return out;
  }

  test('tcp-new-conn, port-scan and tcp-retrans on kafka:// equal the same tasks on the capture', async () => {
    const stats = await runExport({ sources: [`pcap:${DEMO}`], to: url('demo') });
    assert.equal(stats.exported, stats.packets_read);
    for (const [app, params] of [['tcp-new-conn', {}], ['port-scan', { threshold: '10' }], ['tcp-retrans', { threshold: '1' }]] as const) {
      const want = await results(app, `pcap:${DEMO}`, params);
      const got = await results(app, url('demo', '?idle=1'), params);
      assert.ok(want.length > 0, `${app} finds something in demo.pcap`);
      assert.deepEqual(got, want, app);
    }
    // IPv6 and IPv4 mixed
    const tls = join(CAPTURES, 'mixed', 'tls2.pcap');
    await runExport({ sources: [`pcap:${tls}`], to: url('tls2') });
    for (const app of ['heavy-hitter', 'super-spreader']) {
      assert.deepEqual(await results(app, url('tls2', '?idle=1'), { threshold: '5' }), await results(app, `pcap:${tls}`, { threshold: '5' }), app);
    }
  });

  test('a window transform keeps record items across Kafka records (items are cloned, not re-pointed)', async () => {
    // demo.pcap in Kafka records of 1,000 packets: every 10 s window spans several of them
    await runExport({ sources: [`pcap:${DEMO}`], to: url('small'), batch: 1000 });
    const { defineTask } = await import('../../src/query/task.ts');
    const task = defineTask({
      name: 'keep-items',
      description: 'every packet of a window, kept until the window closes',
      params: {},
      query: (packets) => packets
        .filter('tcp')
        .key('ip.dst')
        .window(10)
        .transform((items, out) => { out(items.map((x) => `${x.get('ip.src')}:${x.get('tcp.sport')}>${x.get('tcp.dport')} ${x.get('tcp.flags')} ${x.ts}`).join(',')); }),
    });
    const run = async (source: string) => {
      const out: TaskResult[] = [];
      await runTask({ task, sources: [source], onResult: (r) => { out.push(r); } });
      return out;
    };
    const want = await run(`pcap:${DEMO}`);
    assert.ok(want.length > 1);
    assert.deepEqual(await run(url('small', '?idle=1')), want);
  });

  test("export --filter 'tcp.syn and not tcp.ack_flag' keeps exactly tshark's SYNs without ACK", async () => {
    const stats = join(dir, 'syn-stats.json');
    const r = await runCli(['export', '--source', `pcap:${DEMO}`, '--to', url('syn'), '--filter', 'tcp.syn and not tcp.ack_flag', '--stats', stats, '--batch', '2000']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^export: 16,928 packets read · 0 malformed · \d[\d,]* exported \(filter: tcp\.syn and not tcp\.ack_flag\) · \d+ Kafka records · .* B\/packet\) · .* → kafka:\/\//m);
    const s = JSON.parse((await import('node:fs')).readFileSync(stats, 'utf8'));
    const frames = await tsharkPackets(DEMO);
    const syns = frames.filter((t) => { const f = expectFromTshark(t).fields['tcp.flags']; return f !== undefined && (Number(f) & 0x12) === 0x02; }).length;
    assert.ok(syns > 0);
    assert.equal(s.exported, syns);
    assert.equal(s.packets_read, frames.length);
    assert.equal(s.records, Math.ceil(syns / 2000));
    // what the topic holds: exactly those packets (read back through the kafka:// source)
    const got = await results('split', url('syn', '?idle=1'));
    assert.equal(got.reduce((a, x) => a + (x.value as number), 0), syns);
    const flags: number[] = [];
    const task = { name: 'flags', description: '', query: (p: any) => p.map((x: any) => x.get('tcp.flags')) };
    await runTask({ task: task as any, sources: [url('syn', '?idle=1')], onResult: (x) => { flags.push(x.value as number); } });
    assert.equal(flags.length, syns);
    assert.ok(flags.every((f) => (f & 0x12) === 0x02));
  });

  test('kafka:// options: from=latest, from=OFFSET, from=TIME, a group that resumes, idle=', async () => {
    const topic = 'opts';
    // three exports of demo.pcap: Kafka records 0..2, 3..5, 6..8 (8,000 packets per record)
    for (let k = 0; k < 3; k++) await runExport({ sources: [`pcap:${DEMO}`], to: url(topic), batch: 8000, sourceId: k });
    // the exports' times overlap (each starts again at demo.pcap's first packet): lateness covers them
    const count = async (q: string) => {
      const got = await results('split', url(topic, `${q}&lateness=100`));
      return got.reduce((a, x) => a + (x.value as number), 0);
    };
    const tcpUdp = (await results('split', `pcap:${DEMO}`)).reduce((a, x) => a + (x.value as number), 0);
    assert.equal(await count('?idle=1'), 3 * tcpUdp, 'default: from the earliest record');
    assert.equal(await count('?from=latest&idle=1'), 0);
    // offset 3: the second and third exports
    assert.equal(await count('?from=3&idle=1'), 2 * tcpUdp);
    // a time: packets at or after it (demo.pcap spans 1700000000 to 1700000020)
    const after10 = (await results('split', `pcap:${DEMO}`)).filter((x) => x.window!.start >= 1700000010).reduce((a, x) => a + (x.value as number), 0);
    assert.ok(after10 > 0 && after10 < tcpUdp);
    assert.equal(await count('?from=@1700000010&idle=1'), 3 * after10);
    assert.equal(await count('?from=2023-11-14T22:13:30Z&idle=1'), 3 * after10);
    // a named group commits what it read and goes on from there
    assert.equal(await count('?group=g1&idle=1'), 3 * tcpUdp);
    assert.equal(await count('?group=g1&idle=1'), 0);
    await runExport({ sources: [`pcap:${DEMO}`], to: url(topic), batch: 8000 });
    assert.equal(await count('?group=g1&idle=1'), tcpUdp);
    assert.equal(await count('?group=g1&from=earliest&idle=1'), 4 * tcpUdp);
  });

  test('a Kafka record that is not per-packet records is skipped, counted and named', async () => {
    const { tableFromArrays, tableToIPC } = await import('apache-arrow');
    await createTopic(broker.bootstrap, 'mixed', 1);
    const p = createProducer({ bootstrap: broker.bootstrap });
    await p.send('mixed', [{ key: 'x', value: '{"not":"arrow"}' }]); // offset 0
    const one = await runExport({ sources: [`pcap:${DEMO}`], to: url('mixed') });
    const other = tableToIPC(tableFromArrays({ a: Int32Array.from([1, 2, 3]) }), 'stream'); // Arrow, but not packet records
    await p.send('mixed', [{ key: 'x', value: Buffer.from(other) }]);
    await p.close();
    await runExport({ sources: [`pcap:${DEMO}`], to: url('mixed') });
    const task = await loadBuiltin('tcp-new-conn');
    const stats = await runTask({ task: task!, sources: [url('mixed', '?idle=1&lateness=100')], onResult: () => undefined });
    assert.equal(stats.items_read, 2 * 16928);
    assert.deepEqual(stats.sources[0].skipped, { record_corrupt: 1, record_not_packets: 1 });
    const w = stats.warnings.join('\n');
    assert.match(w, /partition 0 offset 0: not an Arrow IPC stream/);
    assert.match(w, new RegExp(`partition 0 offset ${1 + one.records}: an Arrow stream without intstream.format=intstream.packet-records`));
  });

  test('usage errors: a bad --to, a bad kafka:// option, a topic that does not exist', async () => {
    const a = await runCli(['export', '--source', `pcap:${DEMO}`, '--to', 'kafka://nohost/x']);
    assert.equal(a.code, 2);
    assert.match(a.stderr, /--to kafka:\/\/nohost\/x: expected kafka:\/\/HOST:PORT\/TOPIC/);
    const b = await runCli(['run', 'tcp-new-conn', '--source', `${url('demo')}?from=yesterday`]);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /unknown or bad option 'from=yesterday'/);
    const c = await runCli(['run', 'tcp-new-conn', '--source', `${url('no-such-topic')}?idle=1`]);
    assert.equal(c.code, 1);
    assert.match(c.stderr, /topic 'no-such-topic' does not exist at /);
  });
});
