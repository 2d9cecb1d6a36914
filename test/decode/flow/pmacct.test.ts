// Real exporter: pmacctd (Debian package pmacct) reads a public capture (pcap_savefile) and
// exports sFlow v5 with its sfprobe plugin at 1-in-1 sampling to a UDP socket on 127.0.0.1.
// The decoded samples are checked against the capture: the sampled header located by the
// decoder must be the start of the corresponding captured frame, and the count of sampled
// packets per IP protocol must equal tshark's count for the capture (pcap reader as fallback).
//
// What pmacctd 1.7.7 / sfprobe does, found by running it:
//   - only IP frames are sampled (also under QinQ tags); ARP and 802.3/LLC frames (CDP) are not.
//   - raw packet header records: header_protocol 1 (Ethernet), at most 128 bytes of the frame,
//     frame_length = captured wire length + 4 with stripped = 4 (an FCS it adds to the count).
//   - an extended_switch record comes with every sample, its VLAN being the frame's (outer)
//     802.1Q tag or 0; sample_pool = sample sequence number.
//   - the last partly filled core buffer only reaches the plugin when the daemon stops, and that
//     final flush also repeats stale entries of the buffer (samples sent earlier) — see
//     runPmacctSfprobe in exporters.ts. The test checks that the extra samples are exactly such
//     repeats.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { SflowDecoder } from '../../../src/decode/flow/sflow.ts';
import { exporterUnavailable, runPmacctSfprobe } from './exporters.ts';
import { parsePacket, readPcap } from './pcap.ts';

const CAPTURES = join(import.meta.dirname, '../../captures');

const PROTO_TOKENS: Record<string, number> = { icmp: 1, igmp: 2, tcp: 6, udp: 17, gre: 47, esp: 50, ah: 51, icmpv6: 58, ospf: 89, pim: 103, vrrp: 112, sctp: 132 };

/** Packets per "ipversion/protocol" according to tshark (null when tshark is missing). */
function tsharkProtocols(capture: string): Map<string, number> | null {
  const r = spawnSync('tshark', ['-n', '-r', capture, '-T', 'fields', '-E', 'separator=\t', '-e', 'frame.protocols', '-e', 'ip.proto'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error || r.status !== 0) return null;
  const out = new Map<string, number>();
  for (const line of r.stdout.split('\n')) {
    if (line === '') continue;
    const [protos, ipProto] = line.split('\t');
    const toks = protos!.split(':');
    const i4 = toks.indexOf('ip');
    const i6 = toks.indexOf('ipv6');
    if (i4 < 0 && i6 < 0) continue;
    const v = i6 >= 0 && (i4 < 0 || i6 < i4) ? 6 : 4;
    const start = v === 4 ? i4 : i6;
    let proto: number | undefined;
    for (const t of toks.slice(start + 1)) {
      if (t in PROTO_TOKENS) {
        proto = PROTO_TOKENS[t];
        break;
      }
    }
    if (proto === undefined) proto = v === 4 ? Number(ipProto!.split(',')[0]) : -1;
    const k = `${v}/${proto}`;
    out.set(k, (out.get(k) ?? 0) + 1);
  }
  return out;
}

const unavailable = exporterUnavailable('pmacctd');

describe('pmacctd sfprobe → sFlow v5', { skip: unavailable ?? false }, () => {
  for (const capture of ['mixed/bro.org.pcap', 'mixed/many-protocols.pcap']) {
    const path = join(CAPTURES, capture);
    it(capture, { skip: existsSync(path) ? false : `capture ${path} not present` }, async () => {
      const col = await runPmacctSfprobe(path);
      const dec = new SflowDecoder();
      interface S {
        header: Buffer;
        frameLength: number;
        stripped: number;
        seq: number;
        pool: number;
        vlan: number | null;
      }
      const samples: S[] = [];
      for (const d of col.datagrams) {
        const status = dec.decode(d, 0, d.length, col.exporter, (r) => {
          if (r.type !== 'sample') return;
          assert.equal(r['sflow.agent'], '127.0.0.1');
          assert.equal(r['flow.sampling'], 1);
          assert.equal(r['sflow.header_protocol'], 1);
          const o = r['sflow.header_offset']!;
          samples.push({
            header: Buffer.from(d.subarray(o, o + r['sflow.header_length']!)),
            frameLength: r['sflow.frame_length']!,
            stripped: r['sflow.stripped']!,
            seq: r['sflow.sample_sequence'],
            pool: r['sflow.sample_pool'],
            vlan: r['vlan.id'],
          });
        });
        assert.equal(status, 'ok');
      }
      assert.deepEqual(dec.counters.skipped, { truncated: 0, 'bad-version': 0, 'no-template': 0, 'unknown-record': 0, malformed: 0 });

      // the frames pmacctd samples: IP ones, in capture order
      const pc = readPcap(path);
      const ipFrames = pc.packets.filter((p) => parsePacket(p.data, pc.linktype, p.caplen).ipVersion !== null);
      assert.ok(samples.length >= ipFrames.length, `${samples.length} samples for ${ipFrames.length} IP frames`);
      for (let i = 0; i < ipFrames.length; i++) {
        const p = ipFrames[i]!;
        const s = samples[i]!;
        assert.equal(s.seq, i + 1);
        assert.equal(s.pool, i + 1);
        assert.ok(s.header.equals(Buffer.from(p.data.subarray(0, Math.min(p.caplen, 128)))), `sample ${i + 1}: header differs from frame`);
        assert.equal(s.frameLength - s.stripped, p.origLen, `sample ${i + 1}: frame length`);
        assert.equal(s.vlan, parsePacket(p.data, pc.linktype, p.caplen).vlan ?? 0, `sample ${i + 1}: vlan`);
      }
      // whatever follows are the stale repeats of the shutdown flush
      const seen = new Set(samples.slice(0, ipFrames.length).map((s) => s.header.toString('hex')));
      for (const s of samples.slice(ipFrames.length)) assert.ok(seen.has(s.header.toString('hex')), `sample ${s.seq} is not a repeat`);

      // per-protocol counts of the decoded sampled headers vs an independent count of the capture
      const decoded = new Map<string, number>();
      for (const s of samples.slice(0, ipFrames.length)) {
        const r = parsePacket(s.header, 1, s.header.length);
        const k = `${r.ipVersion}/${r.proto}`;
        decoded.set(k, (decoded.get(k) ?? 0) + 1);
      }
      let reference = tsharkProtocols(path);
      if (reference === null) {
        reference = new Map();
        for (const p of ipFrames) {
          const r = parsePacket(p.data, pc.linktype, p.caplen);
          const k = `${r.ipVersion}/${r.proto}`;
          reference.set(k, (reference.get(k) ?? 0) + 1);
        }
      }
      assert.deepEqual([...decoded].sort(), [...reference].sort());
    });
  }
});

if (unavailable) {
  describe('pmacctd', () => {
    it('real-exporter test', { skip: unavailable }, () => {});
  });
}
