// The flow-export sources end to end, against real exporters from Debian on loopback:
//   - softflowd -r CAPTURE exports NetFlow v5, v9 or IPFIX to `netflow:udp://127.0.0.1:PORT`
//     while a task sums flow.packets and flow.bytes per 5-tuple; the sums must equal an
//     independent count of the capture made by the tiny pcap reader of test/decode/flow, with
//     softflowd's counting rules (bytes = frame length - Ethernet/802.1Q header; QinQ and
//     non-IP frames ignored; v5 IPv4 only: see test/decode/flow/softflowd.test.ts).
//   - pmacctd (sfprobe plugin, 1-in-1) exports sFlow to `sflow:udp://127.0.0.1:PORT` while the
//     unchanged built-in tasks tcp-new-conn and super-spreader run on it; results must equal the
//     tshark-based references (test/support/reference.ts) for the capture. One window of 2^31 s
//     holds both the capture's times (references) and the arrival times (sFlow's event time).
//     pmacctd's shutdown flush repeats stale samples of its buffer (test/decode/flow/exporters.ts);
//     the capture is padded with 300 UDP frames 192.0.2.1 -> 192.0.2.2:9 after its own frames,
//     so that the repeats are padding: no SYN (tcp-new-conn), and one destination (distinct).
// Plus: record items through every field getter and the field-only filter, hand-checked.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { loadBuiltin } from '../../src/apps/index.ts';
import { FIELDS } from '../../src/decode/fields.ts';
import { FlowRecordView } from '../../src/decode/flow-record.ts';
import type { NetflowRecord, SflowCountersRecord } from '../../src/decode/flow/common.ts';
import { combine, count, defineTask, sum } from '../../src/index.ts';
import { interpretFilter, parseFilter } from '../../src/query/filter-expr.ts';
import { runTask, type RunStats } from '../../src/run-task.ts';
import { exporterUnavailable } from '../decode/flow/exporters.ts';
import { parsePacket, readPcap } from '../decode/flow/pcap.ts';
import * as R from '../support/reference.ts';
import { BIN, jsonl } from '../support/run-cli.ts';
import { freeUdpPort, pmacctdTo, softflowdTo, waitListening } from './flow-source-support.ts';

const CAPTURES = join(import.meta.dirname, '../captures');
const ONE_WINDOW = 2 ** 31;
const tmp = mkdtempSync(join(tmpdir(), 'intstream-flow-source-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// ---- record items: the view API and filters over it -------------------------------------------

function netflowRecord(over: Partial<NetflowRecord>): NetflowRecord {
  return {
    type: 'flow', 'flow.format': 'ipfix', 'flow.exporter': '127.0.0.1:5000', 'flow.domain': 7, 'flow.sequence': 1,
    'ip.version': 4, 'ip.src': '10.1.2.3', 'ip.dst': '192.0.2.9', 'ip.proto': 6, 'ip.tos': 0x28,
    'tcp.sport': 40000, 'tcp.dport': 443, 'udp.sport': null, 'udp.dport': null, 'tcp.flags': 0x02,
    'icmp.type': null, 'icmp.code': null, 'flow.packets': 3, 'flow.bytes': 180, 'flow.start': 1700000000.5,
    'flow.end': 1700000002.25, 'flow.input': 1, 'flow.output': 2, 'vlan.id': null, 'flow.sampling': null, ...over,
  };
}

describe('record items', () => {
  it('expose the fields tasks read, absent ones undefined; every getter runs', () => {
    const v = new FlowRecordView();
    v.setNetflow(netflowRecord({}), 1);
    assert.equal(v.ip?.src, '10.1.2.3');
    assert.equal(v.get('ip.dst'), '192.0.2.9');
    assert.equal(v.get('tcp.dport'), 443);
    assert.equal(v.get('tcp.syn'), true);
    assert.equal(v.get('tcp.ack_flag'), false);
    assert.equal(v.get('udp.dport'), undefined);
    assert.equal(v.get('ip.dscp'), 0x28 >> 2);
    assert.equal(v.get('flow.bytes'), 180);
    assert.equal(v.get('flow.packets'), 3);
    assert.equal(v.get('sample.rate'), 1);
    assert.equal(v.ts, 1700000002.25, 'event time is flow.end');
    assert.equal(v.get('len'), 180);
    assert.equal(v.get('eth.src'), undefined);
    assert.equal(v.get('ip.ttl'), undefined);
    assert.equal(v.get('tcp.seq'), undefined);
    assert.equal(v.get('flow'), true);
    for (const f of FIELDS.values()) f.get(v as any); // none throws
    const json = v.toJSON();
    assert.equal(json['flow.format'], 'ipfix');
    assert.equal(json['tcp.sport'], 40000);
    // a clone survives the source reusing the view
    const c = v.clone();
    v.setNetflow(netflowRecord({ 'ip.src': '2001:db8::1', 'ip.version': 6, 'ip.proto': 17, 'udp.sport': 53, 'udp.dport': 5353, 'flow.sampling': 100 }), 1);
    assert.equal(c.get('ip.src'), '10.1.2.3');
    assert.equal(c.get('flow.bytes'), 180);
    assert.equal(v.get('udp.dport'), 5353);
    assert.equal(v.get('tcp.dport'), undefined);
    assert.equal(v.get('sample.rate'), 100);
  });

  it('counters samples are records with if.* and no layers', () => {
    const v = new FlowRecordView();
    const r = { type: 'counters', 'flow.format': 'sflow5', 'flow.exporter': '127.0.0.1:1', 'sflow.agent': '10.0.0.1', 'sflow.sub_agent': 0,
      'sflow.sequence': 1, 'sflow.uptime': 1, 'sflow.sample_sequence': 1, 'sflow.source_type': 0, 'sflow.source_index': 3,
      'if.index': 3, 'if.type': 6, 'if.speed': 1e9, 'if.direction': 1, 'if.status': 3, 'if.in_octets': 1000, 'if.in_ucast': 10,
      'if.in_mcast': 0, 'if.in_bcast': 0, 'if.in_discards': 0, 'if.in_errors': 2, 'if.in_unknown': 0, 'if.out_octets': 2000,
      'if.out_ucast': 20, 'if.out_mcast': 0, 'if.out_bcast': 0, 'if.out_discards': 0, 'if.out_errors': 0, 'if.promisc': 0 } as SflowCountersRecord;
    v.setSflowCounters(r, 1700000000);
    assert.equal(v.get('if.in_octets'), 1000);
    assert.equal(v.get('if.index'), 3);
    assert.equal(v.get('flow.type'), 'counters');
    assert.equal(v.get('sflow.agent'), '10.0.0.1');
    assert.equal(v.ip, null);
    assert.equal(v.tcp, null);
    assert.equal(v.get('ip'), false);
    assert.equal(v.ts, 1700000000);
  });

  it('filters over records read the field getters (hand-checked truth table)', () => {
    const v = new FlowRecordView();
    v.setNetflow(netflowRecord({}), 1);
    const cases: [string, boolean][] = [
      ['tcp.syn and not tcp.ack_flag', true], ['ip.src in 10.0.0.0/8', true], ['ip.src in 10.2.0.0/16', false],
      ['ip.dst == 192.0.2.9', true], ['ip.dst != 192.0.2.9', false], ['tcp.dport in {80 443}', true], ['udp', false],
      ['tcp', true], ['flow.bytes > 100 and flow.packets == 3', true], ['tcp.flags & 0x12 == 0x02', true],
      ['ip.version == 6', false], ['not udp.dport == 53', true], ['flow.format == "ipfix"', true], ['sample.rate == 1', true],
    ];
    for (const [f, want] of cases) assert.equal(interpretFilter(parseFilter(f), true)(v as any), want, f);
    v.setNetflow(netflowRecord({ 'ip.version': 6, 'ip.src': '2001:db8::1', 'ip.dst': '2001:db8:1::2' }), 1);
    assert.equal(interpretFilter(parseFilter('ip.src in 2001:db8::/32'), true)(v as any), true);
    assert.equal(interpretFilter(parseFilter('ip.dst in 2001:db8::/48'), true)(v as any), false);
    assert.equal(interpretFilter(parseFilter('ip.src in 10.0.0.0/8'), true)(v as any), false);
  });
});

// ---- NetFlow v5 / v9 / IPFIX from softflowd ----------------------------------------------------

interface Sums { packets: number; bytes: number }

function fiveTuple(src: string, dst: string, proto: number, a: number, b: number): string {
  return `${src} ${dst} ${proto} ${a} ${b}`;
}

/** softflowd's flows counted from the capture (rules in test/decode/flow/softflowd.test.ts). */
function softflowdExpected(capture: string, version: number): Map<string, Sums> {
  const pc = readPcap(capture);
  const out = new Map<string, Sums>();
  for (const pk of pc.packets) {
    const r = parsePacket(pk.data, pc.linktype, pk.caplen);
    if (r.ipVersion === null || r.src === null || r.dst === null || r.proto === null) continue;
    if (r.vlanTags > 1) continue;
    if (version === 5 && r.ipVersion !== 4) continue;
    const icmp = r.proto === 1 || r.proto === 58;
    const k = fiveTuple(r.src, r.dst, r.proto, (icmp ? r.icmpType : r.sport) ?? 0, (icmp ? r.icmpCode : r.dport) ?? 0);
    const e = out.get(k) ?? { packets: 0, bytes: 0 };
    e.packets++;
    e.bytes += pk.origLen - 14 - 4 * r.vlanTags;
    out.set(k, e);
  }
  return out;
}

/** A task as a user would write it: bytes and packets per 5-tuple, from the view API. */
const perFlow = defineTask({
  name: 'flow-sums',
  description: 'flow.packets and flow.bytes per 5-tuple',
  params: {},
  query: (items: any) =>
    items
      .filter('ip')
      .key((r: any) => fiveTuple(r.ip.src, r.ip.dst, r.ip.proto,
        (r.icmp ? r.icmp.type : r.tcp?.sport ?? r.udp?.sport) ?? 0, (r.icmp ? r.icmp.code : r.tcp?.dport ?? r.udp?.dport) ?? 0))
      .window(ONE_WINDOW)
      .aggregate(combine({ packets: sum('flow.packets'), bytes: sum('flow.bytes'), records: count() }))
      .global()
      .merge(),
});

const softflowdMissing = exporterUnavailable('softflowd');

describe('netflow:udp:// with softflowd exporting', { skip: softflowdMissing ?? false }, () => {
  const cases: { capture: string; version: 5 | 9 | 10 }[] = [
    { capture: 'mixed/bro.org.pcap', version: 5 },
    { capture: 'mixed/bro.org.pcap', version: 9 },
    { capture: 'mixed/bro.org.pcap', version: 10 },
    { capture: 'mixed/many-protocols.pcap', version: 5 },
    { capture: 'mixed/many-protocols.pcap', version: 9 },
    { capture: 'mixed/many-protocols.pcap', version: 10 },
    { capture: 'mixed/DnsPackets.pcap', version: 10 },
  ];
  for (const c of cases) {
    const path = join(CAPTURES, c.capture);
    it(`v${c.version} ${c.capture}: per-5-tuple packets and bytes equal the capture's`, { skip: existsSync(path) ? false : `${path} missing` }, async () => {
      const port = await freeUdpPort();
      const got = new Map<string, Sums>();
      let records = 0;
      // Lateness: softflowd -r exports every flow when the file ends, flow ends in any order.
      const run = runTask({
        task: perFlow, sources: [`netflow:udp://127.0.0.1:${port}?idle=2`], lateness: 1e9,
        onResult: (r) => {
          const v = r.value as { packets: number; bytes: number; records: number };
          got.set(r.key as string, { packets: v.packets, bytes: v.bytes });
          records += v.records;
        },
      });
      await waitListening(port);
      const log = await softflowdTo(path, port, c.version);
      const stats = await run;
      const m = /Flows exported: \d+ \((\d+) records\) in (\d+) packets/.exec(log);
      assert.ok(m, log);
      assert.equal(stats.items_read, Number(m[1]), 'records read = records softflowd sent');
      assert.equal(stats.sources[0].counters?.datagrams, Number(m[2]), 'datagrams');
      assert.equal(records, stats.items_read);
      assert.deepEqual(stats.skipped, {});
      const exp = softflowdExpected(path, c.version);
      assert.deepEqual([...got].sort(), [...exp].sort());
    });
  }

  it('the CLI: a query file on netflow:udp://, ended by SIGTERM, JSON Lines and --stats', async () => {
    const path = join(CAPTURES, 'mixed/bro.org.pcap');
    const q = join(tmp, 'bytes-per-src.ts');
    writeFileSync(q, `import { defineTask, sum } from 'intstream';
export default defineTask({
  name: 'bytes-per-src',
  description: 'flow bytes per source address',
  params: {},
  query: (flows) => flows.filter('ip.version == 4').key('ip.src').window(${ONE_WINDOW}).aggregate(sum('flow.bytes')).global().merge(),
});
`);
    const port = await freeUdpPort();
    const statsFile = join(tmp, 'stats.json');
    const child = spawn(process.execPath, [BIN, 'run', q, '--source', `netflow:udp://127.0.0.1:${port}`, '--format', 'jsonl', '--lateness', '1000000000s', '--stats', statsFile, '--quiet'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((res) => child.once('close', (code) => res(code)));
    try {
      await waitListening(port);
      await softflowdTo(path, port, 9);
      await sleep(500);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, err);
    } finally {
      child.kill('SIGKILL');
    }
    const exp = new Map<string, number>();
    for (const [k, s] of softflowdExpected(path, 9)) {
      const src = k.split(' ')[0];
      if (src.includes(':')) continue;
      exp.set(src, (exp.get(src) ?? 0) + s.bytes);
    }
    const rows = jsonl(out);
    assert.deepEqual(rows.map((r) => [r.key, r.value]).sort(), [...exp].sort());
    for (const r of rows) assert.deepEqual(r.window, { start: 0, end: ONE_WINDOW });
    const st = JSON.parse(readFileSync(statsFile, 'utf8')) as RunStats;
    assert.ok((st.sources[0].counters?.datagrams ?? 0) > 0);
    assert.equal(st.sources[0].counters?.datagrams_dropped, 0);
  });
});

// ---- sFlow from pmacctd's sfprobe ---------------------------------------------------------------

/** The capture followed by `n` UDP frames 192.0.2.1:9999 -> 192.0.2.2:9 (same file format). */
function padCapture(src: string, n: number): string {
  const b = readFileSync(src);
  const le = b.readUInt32LE(0) === 0xa1b2c3d4 || b.readUInt32LE(0) === 0xa1b23c4d;
  const nano = b.readUInt32LE(0) === 0xa1b23c4d || b.readUInt32BE(0) === 0xa1b23c4d;
  const pc = readPcap(src);
  const last = pc.packets[pc.packets.length - 1]!.ts;
  const frame = Buffer.from(
    '02000000000202000000000108004500' + '001c0000400040110000c0000201c000' + '0202270f000900080000', 'hex');
  const parts: Buffer[] = [b];
  for (let i = 0; i < n; i++) {
    const h = Buffer.alloc(16);
    const t = last + 1 + i / 1000;
    const sec = Math.floor(t), frac = Math.round((t - sec) * (nano ? 1e9 : 1e6));
    const w = (v: number, at: number) => (le ? h.writeUInt32LE(v, at) : h.writeUInt32BE(v, at));
    w(sec, 0); w(frac, 4); w(frame.length, 8); w(frame.length, 12);
    parts.push(h, frame);
  }
  const out = join(tmp, `padded-${n}-${src.split('/').pop()}`);
  writeFileSync(out, Buffer.concat(parts));
  return out;
}

async function runOnSflow(task: Parameters<typeof runTask>[0]['task'], capture: string, params: Record<string, string>, rate = 1) {
  const port = await freeUdpPort();
  const results: { window: unknown; key: unknown; value: unknown }[] = [];
  let itemsSoFar = 0;
  const run = runTask({
    task, sources: [`sflow:udp://127.0.0.1:${port}?idle=6`], window: ONE_WINDOW, params,
    onResult: (r) => { results.push({ window: r.window, key: r.key, value: r.value }); },
    onProgress: (p) => { itemsSoFar = p.packets; },
  });
  await waitListening(port);
  await pmacctdTo(capture, port, () => itemsSoFar, rate);
  const stats = await run;
  return { results: R.canonical(results), stats };
}

const pmacctdMissing = exporterUnavailable('pmacctd');

describe('sflow:udp:// with pmacctd sfprobe exporting', { skip: pmacctdMissing ?? false }, () => {
  const path = join(CAPTURES, 'mixed/bro.org.pcap');
  const padded = existsSync(path) ? padCapture(path, 300) : '';
  const ipFrames = existsSync(path) ? readPcap(padded).packets.filter((p) => parsePacket(p.data, 1, p.caplen).ipVersion !== null).length : 0;

  for (const [name, ref] of [['tcp-new-conn', R.refTcpNewConn], ['super-spreader', R.refSuperSpreader]] as const) {
    it(`${name} on sFlow equals its tshark reference on the capture`, { skip: existsSync(path) ? false : `${path} missing` }, async () => {
      const task = (await loadBuiltin(name))!;
      const { results, stats } = await runOnSflow(task, padded, { threshold: '0' });
      const want = R.canonical(ref({ sources: [await R.framesOf(padded)], window: ONE_WINDOW, params: { threshold: 0 } }));
      assert.ok(want.length > 0);
      assert.deepEqual(results, want);
      // every IP frame sampled once (plus repeats of padding at shutdown), none malformed
      assert.ok(stats.items_read >= ipFrames, `${stats.items_read} samples for ${ipFrames} IP frames`);
      assert.deepEqual(stats.malformed, {});
      assert.equal(stats.sources[0].counters?.datagrams_dropped, 0);
    });
  }

  it('sample.rate weights: 1 at 1-in-1; at 1-in-10 every sample says 10', { skip: existsSync(path) ? false : `${path} missing` }, async () => {
    const weighted = defineTask({
      name: 'syn-weight', description: 'SYNs counted and weighted by sample.rate', params: {},
      query: (p: any) => p.filter('tcp.syn and not tcp.ack_flag').key('ip.dst').window(ONE_WINDOW)
        .aggregate(combine({ n: count(), w: sum('sample.rate') })).global().merge(),
    });
    const one = await runOnSflow(weighted, padded, {});
    const syn = R.refTcpNewConn({ sources: [await R.framesOf(padded)], window: ONE_WINDOW, params: { threshold: 0 } });
    assert.deepEqual(one.results.map((r: any) => [r.key, r.value.n, r.value.w]).sort(), syn.map((r) => [r.key, r.value, r.value]).sort());

    const rates = defineTask({
      name: 'rates', description: 'samples and their rates', params: {},
      query: (p: any) => p.filter('ip').key(() => 'all').window(ONE_WINDOW)
        .aggregate(combine({ n: count(), w: sum('sample.rate'), min: sum((x: any) => (x.get('sample.rate') === 10 ? 0 : 1)) })).global().merge(),
    });
    const ten = await runOnSflow(rates, padded, {}, 10);
    const v = ten.results[0]!.value as { n: number; w: number; min: number };
    assert.equal(v.min, 0, 'every sample carries rate 10');
    assert.equal(v.w, 10 * v.n);
    // 1-in-10 of the IP frames, within a wide statistical margin (sampling may be random)
    assert.ok(v.w > ipFrames * 0.5 && v.w < ipFrames * 1.5, `estimate ${v.w} for ${ipFrames} IP frames`);
  });
});

if (softflowdMissing || pmacctdMissing) {
  describe('flow exporters', () => {
    it('real-exporter tests', { skip: [softflowdMissing, pmacctdMissing].filter(Boolean).join('; ') }, () => {});
  });
}
