// Real exporter: softflowd (Debian package) reads a public capture and exports NetFlow v5, v9 or
// IPFIX to a UDP socket on 127.0.0.1; the decoded flows are compared with an independent count
// made from the same capture by the tiny pcap reader in test support (pcap.ts).
//
// What softflowd 1.1.0 does, found by running it (the expectations below encode it):
//   - bytes: wire length of the frame minus the Ethernet header and any 802.1Q tag, i.e. the IP
//     packet *plus* Ethernet padding/trailers of short frames (not the IP total length). MPLS
//     label bytes are counted too.
//   - frames with two stacked VLAN tags (QinQ) and non-IP frames are ignored; NetFlow v5
//     carries IPv4 only, so IPv6 packets are not exported with -v 5.
//   - flows are bidirectional inside softflowd: the two records of a flow (one per direction)
//     carry the same start/end, the first/last packet in either direction.
//   - its IPFIX header sequence number counts flow records including those of the message
//     itself (RFC 7011 practice: records sent before the message).
//   - -r mode needs its control socket poked to make progress (see exporters.ts), and with -a
//     its clock follows the capture, so times can be checked against packet timestamps; v9's
//     header has whole seconds only, so v9 times are up to 1 s early.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { NetflowDecoder } from '../../../src/decode/flow/netflow.ts';
import type { NetflowRecord } from '../../../src/decode/flow/common.ts';
import { exporterUnavailable, runSoftflowd } from './exporters.ts';
import { parsePacket, readPcap } from './pcap.ts';

const CAPTURES = join(import.meta.dirname, '../../captures');

interface Agg {
  packets: number;
  bytes: number;
  first: number;
  last: number;
  flags: number;
  vlan: number | null;
}

function key(src: string, dst: string, proto: number, a: number, b: number): string {
  return `${src} ${dst} ${proto} ${a} ${b}`;
}

function reverse(k: string): string {
  const [s, d, p, a, b] = k.split(' ');
  return `${d} ${s} ${p} ${b} ${a}`;
}

/** Expected flows: softflowd's counting rules applied to the capture, packet by packet. */
function expected(capture: string, version: number): Map<string, Agg> {
  const pc = readPcap(capture);
  const out = new Map<string, Agg>();
  for (const pk of pc.packets) {
    const r = parsePacket(pk.data, pc.linktype, pk.caplen);
    if (r.ipVersion === null || r.src === null || r.dst === null || r.proto === null) continue;
    if (r.vlanTags > 1) continue; // QinQ: ignored by softflowd
    if (version === 5 && r.ipVersion !== 4) continue;
    const icmp = r.proto === 1 || r.proto === 58;
    const k = key(r.src, r.dst, r.proto, (icmp ? r.icmpType : r.sport) ?? 0, (icmp ? r.icmpCode : r.dport) ?? 0);
    let e = out.get(k);
    if (e === undefined) out.set(k, (e = { packets: 0, bytes: 0, first: Infinity, last: -Infinity, flags: 0, vlan: r.vlan }));
    e.packets++;
    e.bytes += pk.origLen - 14 - 4 * r.vlanTags;
    e.first = Math.min(e.first, pk.ts);
    e.last = Math.max(e.last, pk.ts);
    e.flags |= r.tcpFlags ?? 0;
  }
  return out;
}

function recordKey(r: NetflowRecord): string {
  const icmp = r['ip.proto'] === 1 || r['ip.proto'] === 58;
  const a = icmp ? r['icmp.type'] : (r['tcp.sport'] ?? r['udp.sport']);
  const b = icmp ? r['icmp.code'] : (r['tcp.dport'] ?? r['udp.dport']);
  return key(r['ip.src']!, r['ip.dst']!, r['ip.proto']!, a ?? 0, b ?? 0);
}

interface Case {
  capture: string;
  version: 5 | 9 | 10;
  extra?: string[];
  /** Check flow.start/end against packet times (captures recorded in one session). */
  times?: boolean;
  vlan?: boolean;
}

const CASES: Case[] = [
  { capture: 'mixed/bro.org.pcap', version: 5, times: true },
  { capture: 'mixed/many-protocols.pcap', version: 5 },
  { capture: 'mixed/bro.org.pcap', version: 9, times: true },
  { capture: 'mixed/tls2.pcap', version: 9, times: true },
  { capture: 'mixed/many-protocols.pcap', version: 9 },
  { capture: 'mixed/tls2.pcap', version: 10, times: true },
  { capture: 'mixed/DnsPackets.pcap', version: 10, times: true },
  { capture: 'mixed/many-protocols.pcap', version: 10 },
  { capture: 'edge/mixed-vlan-mpls.pcap', version: 9, extra: ['-T', 'vlan'], vlan: true },
  { capture: 'edge/mixed-vlan-mpls.pcap', version: 10, extra: ['-T', 'vlan'], vlan: true },
];

const unavailable = exporterUnavailable('softflowd');

describe('softflowd → NetFlow v5 / v9 / IPFIX', { skip: unavailable ?? false }, () => {
  for (const c of CASES) {
    const path = join(CAPTURES, c.capture);
    const name = `v${c.version} ${c.capture}${c.extra ? ' ' + c.extra.join(' ') : ''}`;
    it(name, { skip: existsSync(path) ? false : `capture ${path} not present` }, async () => {
      const col = await runSoftflowd(path, c.version, c.extra);
      assert.ok(col.datagrams.length > 0, `no datagrams:\n${col.log}`);
      const dec = new NetflowDecoder();
      const got = new Map<string, Agg & { n: number; start: number; end: number }>();
      const seqs: number[] = [];
      const perDatagram: number[] = [];
      for (const d of col.datagrams) {
        const before = dec.counters.records;
        const status = dec.decode(d, 0, d.length, col.exporter, (r) => {
          if (r.type !== 'flow') return;
          assert.equal(r['flow.exporter'], col.exporter);
          assert.equal(r['flow.format'], c.version === 5 ? 'netflow5' : c.version === 9 ? 'netflow9' : 'ipfix');
          const k = recordKey(r);
          let g = got.get(k);
          if (g === undefined) {
            got.set(k, (g = { packets: 0, bytes: 0, first: 0, last: 0, flags: 0, vlan: r['vlan.id'], n: 0, start: Infinity, end: -Infinity }));
          }
          g.packets += r['flow.packets']!;
          g.bytes += r['flow.bytes']!;
          g.flags |= r['tcp.flags'] ?? 0;
          g.n++;
          g.start = Math.min(g.start, r['flow.start']!);
          g.end = Math.max(g.end, r['flow.end']!);
        });
        assert.equal(status, 'ok');
        perDatagram.push(dec.counters.records - before);
        // header sequence number, read straight from the bytes
        const at = c.version === 5 ? 16 : c.version === 9 ? 12 : 8;
        seqs.push(Buffer.from(d).readUInt32BE(at));
      }
      // no datagram lost or reordered. v5 numbers flows sent before the datagram, v9 numbers
      // export packets. softflowd's IPFIX sequence number counts the flow records sent *including*
      // the current message (options data records not counted); RFC 7011 practice is the count
      // of data records sent before the message.
      for (let i = 1; i < seqs.length; i++) {
        const step = c.version === 9 ? 1 : c.version === 5 ? perDatagram[i - 1]! : perDatagram[i]!;
        assert.equal(seqs[i], (seqs[i - 1]! + step) >>> 0, `sequence of datagram ${i}`);
      }
      if (c.version === 10) assert.equal(seqs[0], perDatagram[0]);
      const k = dec.counters;
      assert.deepEqual(k.skipped, { truncated: 0, 'bad-version': 0, 'no-template': 0, 'unknown-record': 0, malformed: 0 });
      // softflowd's own tally: "Flows exported: F (R records) in P packets"
      const m = /Flows exported: \d+ \((\d+) records\) in (\d+) packets/.exec(col.log);
      assert.ok(m, col.log);
      assert.equal(k.records, Number(m[1]));
      assert.equal(k.datagrams, Number(m[2]));

      const exp = expected(path, c.version);
      const gotPB = [...got].map(([key, g]) => [key, g.packets, g.bytes] as const).sort();
      const expPB = [...exp].map(([key, e]) => [key, e.packets, e.bytes] as const).sort();
      assert.deepEqual(gotPB, expPB);

      for (const [key, g] of got) {
        const e = exp.get(key)!;
        if (key.split(' ')[2] === '6') assert.equal(g.flags, e.flags, `tcp flags of ${key}`);
        if (c.vlan) assert.equal(g.vlan, e.vlan ?? 0, `vlan of ${key}`);
        if (c.times) {
          // both directions of a softflowd flow carry the flow's first/last packet times
          const back = exp.get(reverse(key));
          const first = Math.min(e.first, back?.first ?? Infinity);
          const last = Math.max(e.last, back?.last ?? -Infinity);
          const early = c.version === 9 ? 1.001 : 0.002; // v9: export time in whole seconds
          assert.ok(g.start <= first + 0.002 && g.start >= first - early, `start of ${key}: ${g.start} vs ${first}`);
          assert.ok(g.end <= last + 0.002 && g.end >= last - early, `end of ${key}: ${g.end} vs ${last}`);
        }
      }
    });
  }
});

if (unavailable) {
  describe('softflowd', () => {
    it('real-exporter test', { skip: unavailable }, () => {});
  });
}
